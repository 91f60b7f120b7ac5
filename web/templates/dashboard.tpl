% rebase('base.tpl')
<h1 class="visually-hidden">{{_('Dashboard')}}</h1>
% if not store:
<div class="flash warn">{{_('Storage is disabled: figures cover this run only.')}}</div>
% end
<section class="kpis" aria-live="polite">
  <div class="kpi"><span class="label">{{_('Visitors today')}}</span><span class="value" data-k="visitors_today">{{loc.number(snap['visitors_today'])}}</span></div>
  <div class="kpi"><span class="label">{{_('Visitors in total')}}</span><span class="value" data-k="visitors_total">{{loc.number(snap['visitors_total'])}}</span></div>
  <div class="kpi"><span class="label">{{_('Viewers now')}}</span><span class="value" data-k="viewers_now">{{loc.number(snap['viewers_now'])}}</span></div>
  <div class="kpi"><span class="label">{{_('Average dwell')}}</span><span class="value" data-k="avg_dwell">{{loc.duration(snap['avg_dwell_s'])}}</span></div>
  <div class="kpi"><span class="label">{{_('Most frequent emotion')}}</span><span class="value emo" data-k="dominant">{{loc.emotion(snap['dominant'])}}</span></div>
  % mq = mqtt.get('state', 'disabled')
  <div class="kpi small"><span class="label">{{_('Status')}}</span><span class="value cam{{' ok' if snap['camera'] == 'streaming' else ''}}" data-k="camera_words">{{loc.camera(snap['camera'])}}</span><span class="sub">
  % if mq != 'disabled':
  <span data-mqtt="{{mq}}">{{_('Building system connected') if mq == 'connected' else _('Building system not connected')}}</span> ·
  % end
  <span class="live-dot" id="live-dot" title="{{_('live updates')}}"></span></span></div>
</section>
% def _num(v, fmt):
%   return '—' if v is None else fmt % v
% end
<section class="kpis measures" aria-label="{{_('Visitor-studies measures, today')}}">
  <div class="kpi"><span class="label">{{_('Attraction power')}}</span><span class="value" data-k="attraction_power">{{_num(None if snap['attraction_power'] is None else snap['attraction_power'] * 100, '%.0f %%')}}</span><span class="sub">{{!esc(_('share of the people who passed that stopped to look ({n} passed by)')).format(n='<span data-k="passers_by">%d</span>' % snap['passers_by'])}}</span></div>
  <div class="kpi"><span class="label">{{_('Holding power')}}</span><span class="value" data-k="holding_power">{{_num(snap['holding_power'], '%.2f')}}</span><span class="sub">{{!esc(_('average dwell ÷ the {s} s the work needs; 1 = long enough')).format(s='<span data-k="expected_dwell_s">%g</span>' % snap['expected_dwell_s'])}}</span></div>
  <div class="kpi"><span class="label">{{_('Median dwell')}}</span><span class="value"><span data-k="median_dwell_s">{{'%.1f' % snap['median_dwell_s']}}</span><small> s</small></span><span class="sub">{{_('half the viewers stayed longer than this')}}</span></div>
  <div class="kpi"><span class="label">{{_('Valence')}}</span><span class="value" data-k="valence">{{_num(snap['valence'], '%+.2f')}}</span><span class="sub">{{_('how pleasant the faces looked, −1 to +1')}}</span></div>
  <div class="kpi"><span class="label">{{_('Arousal')}}</span><span class="value" data-k="arousal">{{_num(snap['arousal'], '%+.2f')}}</span><span class="sub">{{_('how excited, from calm (−1) to aroused (+1)')}}</span></div>
</section>
<div class="grid two">
  <section class="card">
    <div class="card-head">
      <h2>{{_('Visitors over time')}}</h2>
      <div class="seg" role="group" aria-label="{{_('Period')}}">
        <button type="button" class="seg-btn active" data-bucket="hour">{{_('Today')}}</button>
        <button type="button" class="seg-btn" data-bucket="day">{{_('14 days')}}</button>
      </div>
    </div>
    <div id="chart" class="chart-wrap">{{!chart}}</div>
    <p class="muted small legend-note">{{_('Each bar is split by the visitors’ emotions:')}}</p>
    {{!legend}}
  </section>
  <section class="card">
    <h2>{{_('Emotions today')}}</h2>
    <div id="dist">{{!dist}}</div>
  </section>
</div>
<div class="grid two">
  <section class="card" id="dwell">
    <div class="card-head"><h2>{{_('How long visitors stayed today')}}</h2><span class="muted small">{{_('visitors')}}</span></div>
    {{!dwell}}
  </section>
  <section class="card" id="compare">
    <h2>{{_('Today compared')}}</h2>
    <dl class="insights">
      % def change(c):
      %   if c is None:
      %     return
      %   end
      %   pct = c.change_pct
      <dd>{{_('{n} visitors by this time').format(n=loc.number(c.visitors))}}
      %   if pct is not None:
        <span class="{{'up' if pct > 0 else 'down' if pct < 0 else ''}}">({{'+' if pct > 0 else ''}}{{loc.number(pct)}}{{loc.style.percent_space}}%)</span>
      %   end
      </dd>
      % end
      <dt>{{_('Today so far')}}</dt><dd>{{loc.number(insights.today)}}</dd>
      <dt>{{_('Yesterday')}}</dt>
      % change(insights.yesterday)
      % if insights.last_week is not None:
      <dt>{{_('Last {weekday}').format(weekday=loc.weekday(insights.last_week.day_start + 43200))}}</dt>
      % change(insights.last_week)
      % end
      <dt>{{_('Busiest hour today')}}</dt>
      % if insights.busiest_hour:
      <dd>{{loc.hour(insights.busiest_hour[0] + tz_offset)}}–{{loc.hour(insights.busiest_hour[0] + tz_offset + 3600)}} · {{loc.ngettext('{n} visitor', '{n} visitors', insights.busiest_hour[1]).format(n=loc.number(insights.busiest_hour[1]))}}</dd>
      % else:
      <dd>—</dd>
      % end
    </dl>
  </section>
</div>
<section class="card">
  <div class="card-head"><h2>{{_('Recent visitors')}}</h2><span class="muted small">{{_('newest first; “Mix” uses the colours above')}}</span></div>
  <div class="table-wrap">
  <table class="sessions">
    <thead><tr><th>{{_('Ended')}}</th><th>{{_('Dwell')}}</th><th>{{_('Emotion')}}</th><th>{{_('Mix')}}</th></tr></thead>
    <tbody id="recent">
    % include('recent_rows.tpl')
    </tbody>
  </table>
  </div>
</section>
