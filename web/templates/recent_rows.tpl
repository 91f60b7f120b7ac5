% if not recent:
<tr class="empty"><td colspan="4">{{_('No visitors yet.')}}</td></tr>
% end
% for s in recent:
<tr><td><time datetime="{{s['ended_at']}}">{{local_time(s['ended_at'])}}</time></td><td>{{loc.duration(s['duration_s'])}}</td><td><span class="tag e-{{s['dominant']}}">{{loc.emotion(s['dominant'])}}</span></td><td><span class="mix" role="img" aria-label="{{', '.join('%s %s' % (loc.emotion(e), loc.percent(v)) for e, v in s['emotions'].items() if v >= 0.05)}}">
% for e, v in s['emotions'].items():
%   if v >= 0.05:
<span class="mix-part e-{{e}} w{{min(20, int(round(v * 20)))}}" title="{{loc.emotion(e)}} {{loc.percent(v)}}"></span>
%   end
% end
</span></td></tr>
% end
