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
    fetch("/api/sessions?limit=10", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (doc) {
        var rows = [];
        doc.sessions.forEach(function (s) {
          var tr = document.createElement("tr");
          var t = document.createElement("td");
          var time = document.createElement("time");
          time.dateTime = s.ended_at;
          time.textContent = new Date(s.ended_at).toLocaleTimeString([], {
            hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
          });
          t.appendChild(time);
          var d = document.createElement("td");
          d.textContent = s.duration_s.toFixed(1) + " s";
          var e = document.createElement("td");
          var tag = document.createElement("span");
          tag.className = "tag e-" + s.dominant;
          tag.textContent = s.dominant;
          e.appendChild(tag);
          var m = document.createElement("td");
          m.className = "hide-sm";
          var mix = document.createElement("span");
          mix.className = "mix";
          Object.keys(s.emotions).forEach(function (k) {
            var v = s.emotions[k];
            if (v < 0.05) return;
            var part = document.createElement("span");
            part.className = "mix-part e-" + k + " w" + Math.min(20, Math.round(v * 20));
            part.title = k + " " + Math.round(v * 100) + "%";
            mix.appendChild(part);
          });
          m.appendChild(mix);
          tr.append(t, d, e, m);
          rows.push(tr);
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
      var bar = dist.querySelector("rect.bar.e-" + k);
      var track = dist.querySelector("rect.track");
      if (bar && track) bar.setAttribute("width", (v * track.getAttribute("width")).toFixed(1));
      var txt = dist.querySelector('text[data-emotion="' + k + '"]');
      if (txt) txt.textContent = Math.round(v * 100) + "%";
    });
  }

  var dot = document.getElementById("live-dot");
  if (document.querySelector("[data-k]") && window.EventSource) {
    var lastTotal = null;
    var lastChart = Date.now();
    var es = new EventSource("/api/events");
    es.addEventListener("stats", function (ev) {
      var s = JSON.parse(ev.data);
      if (dot) dot.classList.add("on");
      ["visitors_today", "visitors_total", "viewers_now", "camera"].forEach(function (k) {
        if (k in s) setText(k, s[k]);
      });
      if ("avg_dwell_s" in s) setText("avg_dwell_s", Number(s.avg_dwell_s).toFixed(1));
      if ("fps" in s) setText("fps", Number(s.fps).toFixed(1));
      setText("dominant", s.dominant || "—");
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
