% rebase('base.tpl')
% import time
% sort, order = fleet.get('sort', 'room'), fleet.get('order', 'asc')
% def head(key, label, cls=''):
%   new = 'desc' if key == sort and order == 'asc' else 'asc'
%   mark = (' ▲' if order == 'asc' else ' ▼') if key == sort else ''
<th scope="col"{{!' class="%s"' % cls if cls else ''}}{{!' aria-sort="%s"' % ('ascending' if order == 'asc' else 'descending') if key == sort else ''}}><a href="/fleet?sort={{key}}&amp;order={{new}}">{{label}}{{mark}}</a></th>
% end
<section class="card">
  <h1>{{_('Fleet')}}</h1>
  % if not fleet['enabled']:
  <p class="flash warn">{{_(fleet['reason'])}}</p>
  % else:
  <p class="muted">{{_('Every box under {root} on the broker: {count} devices, {online} online.').format(root=fleet['root'] + '/', count=loc.number(fleet['count']), online=loc.number(fleet['online']))}}
  % if not fleet['connected']:
  <strong>{{_('Not connected to the broker: these figures may be out of date.')}}</strong>
  % end
  </p>
  <div class="table-wrap">
  <table class="fleet" id="fleet-table">
    <thead><tr>
      % head('room', _('Room'))
      % head('artwork', _('Artwork'))
      % head('online', _('Status'))
      % head('last_seen', _('Last seen'))
      % head('visitors_today', _('Visitors today'), 'figure')
      % head('avg_dwell_s', _('Average dwell'), 'figure')
      % head('attraction_power', _('Attraction power'), 'figure')
      % head('holding_power', _('Holding power'), 'figure')
      % head('valence', _('Valence'), 'figure')
      % head('dominant', _('Main emotion'))
    </tr></thead>
    <tbody>
    % for d in fleet['devices']:
    %   state = _('online') if d['online'] else (_('offline') if d['online'] is False else _('unknown'))
    %   seen = '—' if not d['last_seen'] else loc.day(d['last_seen'] + time.localtime(d['last_seen']).tm_gmtoff) + time.strftime(' %H:%M', time.localtime(d['last_seen']))
    <tr data-device="{{d['device_id']}}"{{!' class="self"' if d['self'] else ''}}>
      <td>{{d['room'] or d['device_id']}}{{(' ' + _('(this box)')) if d['self'] else ''}}</td>
      <td>{{d['artwork'] or '—'}}</td>
      <td class="state-{{'on' if d['online'] else 'off'}}" data-online="{{'true' if d['online'] else ('false' if d['online'] is False else '')}}">{{state}}</td>
      <td>{{seen}}</td>
      <td class="figure">{{'—' if d['visitors_today'] is None else loc.number(d['visitors_today'])}}{{(' ' + _('(earlier day)')) if d['stale'] else ''}}</td>
      <td class="figure">{{'—' if d['avg_dwell_s'] is None else loc.duration(d['avg_dwell_s'])}}</td>
      <td class="figure">{{'—' if d['attraction_power'] is None else loc.percent(d['attraction_power'])}}</td>
      <td class="figure">{{'—' if d['holding_power'] is None else loc.number(d['holding_power'], 2)}}</td>
      <td class="figure">{{'—' if d['valence'] is None else ('+' if d['valence'] > 0 else '') + loc.number(d['valence'], 2)}}</td>
      <td>{{loc.emotion(d['dominant']) if d['dominant'] else '—'}}</td>
    </tr>
    % end
    </tbody>
  </table>
  </div>
  % end
</section>
