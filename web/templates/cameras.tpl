% rebase('base.tpl')
% type_names = {'demo': _('Demo scene'), 'file': _('Video file / image folder'), 'usb': _('USB webcam'), 'picamera': _('Raspberry Pi camera'), 'esp32': _('ESP32-CAM (Wi-Fi)')}
<section class="card">
  <h1>{{_('Camera')}}</h1>
  <dl class="facts">
    <dt>{{_('Source')}}</dt><dd>{{type_names.get(camera['type'], camera['type'])}}
    % if camera['source'] and camera['source'] != camera['type']:
      <code>{{camera['source']}}</code>
    % end
    </dd>
    <dt>{{_('State')}}</dt><dd><span class="state s-{{camera['state']}}">{{_(camera['state'])}}</span> {{_('for {d}').format(d=loc.duration(camera['since_s'] or 0))}}{{' — ' + camera['error'] if camera['error'] else ''}}</dd>
    <dt>{{_('Frame rate')}}</dt><dd><span data-k="fps">{{loc.number(stats['fps'], 1)}}</span> {{_('frames per second analyzed')}}</dd>
    <dt>{{_('Frames')}}</dt><dd><span class="nowrap">{{_('{n} captured').format(n=loc.number(camera['frames']))}}</span> · <span class="nowrap">{{_('{n} dropped').format(n=loc.number(camera['dropped']))}}</span> · <span class="nowrap">{{_('{n} corrupt').format(n=loc.number(camera['corrupt']))}}</span> · <span class="nowrap">{{_('{n} reconnects').format(n=loc.number(camera['reconnects']))}}</span></dd>
    <dt>{{_('Last frame')}}</dt><dd>{{'—' if camera['last_frame_age_s'] is None else _('{d} ago').format(d=loc.duration(camera['last_frame_age_s']))}}</dd>
  </dl>
</section>
<section class="card">
  <h2>{{_('Building system (MQTT)')}}</h2>
  % include('mqtt_state.tpl', mqtt=mqtt)
</section>
<section class="card">
  <h2>{{_('Switch source')}}</h2>
  % if session.role != 'admin':
  <p class="muted">{{_('Only administrators can switch the camera.')}}</p>
  % else:
  <form method="post" action="/cameras" class="stack cam-form">
    <input type="hidden" name="csrf_token" value="{{session.csrf}}">
    <label>{{_('Type')}}
      <select name="type" id="cam-type">
      % for t in types:
        <option value="{{t}}"{{!' selected' if t == cam_cfg.type else ''}}>{{type_names[t]}}</option>
      % end
      </select>
    </label>
    <label data-for="esp32">{{_('ESP32-CAM stream URL')}} <input name="url" type="url" inputmode="url" placeholder="http://192.168.1.50:81/stream" value="{{cam_cfg.url}}" maxlength="300"></label>
    <label data-for="file">{{_('Path on the device')}} <input name="path" value="{{cam_cfg.path}}" maxlength="1024" placeholder="/var/lib/affectra-edge/clip.mp4"></label>
    <label data-for="usb">{{_('Device')}} <input name="device" value="{{cam_cfg.device}}" maxlength="64" placeholder="/dev/video0"></label>
    <button type="submit" class="btn primary">{{_('Switch camera')}}</button>
    <p class="muted small">{{_('The switch lasts until the daemon restarts; make it permanent in the configuration file.')}}</p>
  </form>
  % end
</section>
