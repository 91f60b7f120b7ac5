% rebase('base.tpl')
<h1 class="visually-hidden">Dashboard</h1>
% if not store:
<div class="flash warn">Storage is disabled: figures cover this run only.</div>
% end
<section class="kpis" aria-live="polite">
  <div class="kpi"><span class="label">Visitors today</span><span class="value" data-k="visitors_today">{{snap['visitors_today']}}</span></div>
  <div class="kpi"><span class="label">Visitors in total</span><span class="value" data-k="visitors_total">{{snap['visitors_total']}}</span></div>
  <div class="kpi"><span class="label">Viewers now</span><span class="value" data-k="viewers_now">{{snap['viewers_now']}}</span></div>
  <div class="kpi"><span class="label">Average dwell</span><span class="value"><span data-k="avg_dwell_s">{{'%.1f' % snap['avg_dwell_s']}}</span><small> s</small></span></div>
  <div class="kpi"><span class="label">Most frequent emotion</span><span class="value emo" data-k="dominant">{{snap['dominant'] or '—'}}</span></div>
  <div class="kpi small"><span class="label">Pipeline</span><span class="value"><span data-k="fps">{{'%.1f' % snap['fps']}}</span><small> fps</small></span><span class="sub">camera <span data-k="camera">{{snap['camera']}}</span> · <span class="live-dot" id="live-dot" title="live updates"></span></span></div>
</section>
<div class="grid two">
  <section class="card">
    <div class="card-head">
      <h2>Visitors over time</h2>
      <div class="seg" role="group" aria-label="Period">
        <button type="button" class="seg-btn active" data-bucket="hour">Today</button>
        <button type="button" class="seg-btn" data-bucket="day">14 days</button>
      </div>
    </div>
    <div id="chart" class="chart-wrap">{{!chart}}</div>
  </section>
  <section class="card">
    <h2>Emotions today</h2>
    <div id="dist">{{!dist}}</div>
  </section>
</div>
<section class="card">
  <div class="card-head"><h2>Recent visitors</h2><span class="muted small">newest first</span></div>
  <div class="table-wrap">
  <table class="sessions">
    <thead><tr><th>Ended</th><th>Dwell</th><th>Emotion</th><th class="hide-sm">Mix</th></tr></thead>
    <tbody id="recent">
    % if not recent:
      <tr class="empty"><td colspan="4">No visitors yet.</td></tr>
    % end
    % for s in recent:
      <tr><td><time datetime="{{s['ended_at']}}">{{local_time(s['ended_at'])}}</time></td><td>{{'%.1f' % s['duration_s']}} s</td><td><span class="tag e-{{s['dominant']}}">{{s['dominant']}}</span></td><td class="hide-sm"><span class="mix">
      % for e, v in s['emotions'].items():
        % if v >= 0.05:
        <span class="mix-part e-{{e}} w{{min(20, int(round(v * 20)))}}" title="{{e}} {{'%.0f' % (v * 100)}}%"></span>
        % end
      % end
      </span></td></tr>
    % end
    </tbody>
  </table>
  </div>
</section>
