% import time
% from affectra_edge.types import parse_iso_utc
% state = mqtt.get('state', 'disabled')
% if state == 'disabled':
<p class="muted" data-mqtt="disabled">{{_('Not set up: this device sends nothing to a building system.')}}</p>
% else:
<p data-mqtt="{{state}}"><span class="state s-{{'streaming' if state == 'connected' else 'connecting' if state == 'connecting' else 'error'}}">{{_('Connected') if state == 'connected' else _('Connecting') if state == 'connecting' else _('Not connected')}}</span>
% last = mqtt.get('last_sent_at')
% if last:
 · {{_('last message {d} ago').format(d=loc.duration(max(0.0, time.time() - parse_iso_utc(last))))}}
% else:
 · {{_('no message sent yet')}}
% end
% if mqtt.get('outbox_depth'):
 · {{_('{n} waiting to be sent').format(n=loc.number(mqtt['outbox_depth']))}}
% end
</p>
% if mqtt.get('broker'):
<p class="muted small">{{_('Broker')}} <code>{{mqtt['broker']}}</code></p>
% end
% end
