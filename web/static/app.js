// Affectra Edge web UI: small progressive enhancements. Pages work without JavaScript;
// this adds the theme toggle, live dashboard figures (server-sent events), chart switching
// and a few form niceties. Loaded as a file: the CSP forbids inline scripts.
(function () {
  "use strict";
  var root = document.documentElement;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // ---- theme -------------------------------------------------------------------------------
  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var dark = root.dataset.theme
        ? root.dataset.theme === "dark"
        : window.matchMedia("(prefers-color-scheme: dark)").matches;
      var next = dark ? "light" : "dark";
      root.dataset.theme = next;
      // a cookie (not localStorage) so the server renders the right theme without a flash
      document.cookie = "theme=" + next + "; Path=/; Max-Age=31536000; SameSite=Strict";
    });
  }

  function setText(key, value) {
    document.querySelectorAll('[data-k="' + key + '"]').forEach(function (el) {
      el.textContent = value;
    });
  }

  // ---- the page's language: live figures read as the server renders them ---------------------
  var i18n = {};
  try { i18n = JSON.parse(document.body.dataset.i18n || "{}"); } catch (err) { i18n = {}; }
  var lang = root.lang || "en";
  function num(v, digits) {
    return new Intl.NumberFormat(lang, {
      minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0,
    }).format(Number(v) || 0);
  }
  function pct(v) {
    return new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 }).format(v);
  }
  // the same words as i18n.Locale.duration: 4.2 s, 45 s, 2 min, 1 h 5 min
  function duration(sec) {
    var s = Math.max(0, Number(sec) || 0);
    if (s < 10 && Math.round(s * 10) % 10 !== 0) return num(s, 1) + " s";
    if (s < 60) return num(s) + " s";
    var m = Math.round(s / 60);
    if (m < 60) return m + " " + i18n.min;
    var h = Math.floor(m / 60), r = m % 60;
    return h + " " + i18n.h + (r ? " " + r + " " + i18n.min : "");
  }
  function emotionName(k) { return k ? (i18n.emotions || {})[k] || k : "—"; }

  // ---- dashboard ---------------------------------------------------------------------------
  var chart = document.getElementById("chart");
  var bucket = "hour";
  function refreshChart() {
    if (!chart) return;
    fetch("/chart.svg?bucket=" + bucket, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (svg) {
        var doc = new DOMParser().parseFromString(svg, "image/svg+xml");
        var el = doc.documentElement;
        if (el && el.nodeName === "svg") chart.replaceChildren(document.importNode(el, true));
      })
      .catch(function () {});
  }
  document.querySelectorAll(".seg-btn[data-bucket]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      bucket = btn.dataset.bucket;
      document.querySelectorAll(".seg-btn").forEach(function (b) {
        b.classList.toggle("active", b === btn);
      });
      refreshChart();
    });
  });

  var recent = document.getElementById("recent");
  function refreshRecent() {
    if (!recent) return;
    // rendered by the server (language, durations, colours), parsed inert, then moved in
    fetch("/recent.html", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(
          "<table><tbody>" + html + "</tbody></table>", "text/html");
        var rows = Array.prototype.map.call(doc.querySelectorAll("tbody > tr"), function (tr) {
          return document.importNode(tr, true);
        });
        if (rows.length) recent.replaceChildren.apply(recent, rows);
      })
      .catch(function () {});
  }

  var dist = document.getElementById("dist");
  function updateDist(emotions) {
    if (!dist) return;
    Object.keys(emotions).forEach(function (k) {
      var v = Math.max(0, Math.min(1, emotions[k] || 0));
      var row = dist.querySelector('li[data-emotion="' + k + '"]');
      if (!row) return;
      var bar = row.querySelector(".bf");
      if (bar) bar.className = "bf e-" + k + " w" + Math.round(v * 20);
      var txt = row.querySelector(".bv");
      if (txt) txt.textContent = pct(v);
    });
  }

  // the visitor-studies measures (docs/measures.md); null means nothing to measure yet
  function fixed(v, digits, signed) {
    if (v === null || v === undefined) return "—";
    var t = Number(v).toFixed(digits);
    return signed && Number(v) >= 0 ? "+" + t : t;
  }
  function updateMeasures(s) {
    if ("attraction_power" in s) {
      var a = s.attraction_power;
      setText("attraction_power", a === null ? "—" : Math.round(a * 100) + " %");
    }
    if ("passers_by" in s) setText("passers_by", s.passers_by);
    if ("holding_power" in s) setText("holding_power", fixed(s.holding_power, 2, false));
    if ("median_dwell_s" in s) setText("median_dwell_s", fixed(s.median_dwell_s, 1, false));
    if ("valence" in s) setText("valence", fixed(s.valence, 2, true));
    if ("arousal" in s) setText("arousal", fixed(s.arousal, 2, true));
  }

  var dot = document.getElementById("live-dot");
  if (document.querySelector("[data-k]") && window.EventSource) {
    var lastTotal = null;
    var lastChart = Date.now();
    var es = new EventSource("/api/events");
    es.addEventListener("stats", function (ev) {
      var s = JSON.parse(ev.data);
      if (dot) dot.classList.add("on");
      ["visitors_today", "visitors_total", "viewers_now"].forEach(function (k) {
        if (k in s) setText(k, num(s[k]));
      });
      if ("camera" in s) {
        setText("camera", s.camera);
        setText("camera_words", (i18n.camera || {})[s.camera] || s.camera);
        document.querySelectorAll('[data-k="camera_words"]').forEach(function (el) {
          el.classList.toggle("ok", s.camera === "streaming");
        });
      }
      if ("avg_dwell_s" in s) {
        setText("avg_dwell_s", num(s.avg_dwell_s, 1));
        setText("avg_dwell", duration(s.avg_dwell_s));
      }
      if ("fps" in s) setText("fps", num(s.fps, 1));
      setText("dominant", emotionName(s.dominant));
      updateMeasures(s);
      if (s.emotions) updateDist(s.emotions);
      if (lastTotal !== null && s.visitors_total !== lastTotal) {
        refreshRecent();
        refreshChart();
        lastChart = Date.now();
      } else if (Date.now() - lastChart > 60000) {
        refreshChart();
        lastChart = Date.now();
      }
      lastTotal = s.visitors_total;
    });
    es.addEventListener("logout", function () { window.location = "/login?msg=expired"; });
    es.onerror = function () { if (dot) dot.classList.remove("on"); };
  }

  // ---- live view: reconnect the stream if it drops -------------------------------------
  var live = document.getElementById("live");
  if (live) {
    live.addEventListener("error", function () {
      setTimeout(function () { live.src = "/stream.mjpg?t=" + Date.now(); }, 2000);
    });
  }

  // ---- cameras: show only the field the chosen type needs -----------------------------
  var camType = document.getElementById("cam-type");
  function showCamFields() {
    document.querySelectorAll(".cam-form [data-for]").forEach(function (el) {
      el.hidden = el.dataset.for !== camType.value;
    });
  }
  if (camType) { camType.addEventListener("change", showCamFields); showCamFields(); }

  // ---- data: the delete button works only once the word is typed ----------------------
  var confirmInput = document.getElementById("confirm");
  var clearBtn = document.getElementById("clear-btn");
  if (confirmInput && clearBtn) {
    var sync = function () { clearBtn.disabled = confirmInput.value !== confirmInput.dataset.word; };
    confirmInput.addEventListener("input", sync);
    sync();
  }
  void csrf;
})();
