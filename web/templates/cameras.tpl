% rebase('base.tpl')
<section class="card">
  <h1>Camera</h1>
  <dl class="facts">
    <dt>Source</dt><dd>{{camera['type']}} <code>{{camera['source']}}</code></dd>
    <dt>State</dt><dd><span class="state s-{{camera['state']}}">{{camera['state']}}</span> for {{camera['since_s']}} s{{' — ' + camera['error'] if camera['error'] else ''}}</dd>
    <dt>Frames</dt><dd>{{camera['frames']}} captured · {{camera['dropped']}} dropped · {{camera['corrupt']}} corrupt · {{camera['reconnects']}} reconnects</dd>
    <dt>Last frame</dt><dd>{{'—' if camera['last_frame_age_s'] is None else '%s s ago' % camera['last_frame_age_s']}}</dd>
  </dl>
</section>
<section class="card">
  <h2>Switch source</h2>
  % if session.role != 'admin':
  <p class="muted">Only administrators can switch the camera.</p>
  % else:
  <form method="post" action="/cameras" class="stack cam-form">
    <input type="hidden" name="csrf_token" value="{{session.csrf}}">
    <label>Type
      <select name="type" id="cam-type">
      % for t in types:
        <option value="{{t}}"{{!' selected' if t == cam_cfg.type else ''}}>{{ {'demo': 'Demo scene', 'file': 'Video file / image folder', 'usb': 'USB webcam', 'picamera': 'Raspberry Pi camera', 'esp32': 'ESP32-CAM (Wi-Fi)'}[t] }}</option>
      % end
      </select>
    </label>
    <label data-for="esp32">ESP32-CAM stream URL <input name="url" type="url" inputmode="url" placeholder="http://192.168.1.50:81/stream" value="{{cam_cfg.url}}" maxlength="300"></label>
    <label data-for="file">Path on the device <input name="path" value="{{cam_cfg.path}}" maxlength="1024" placeholder="/var/lib/affectra-edge/clip.mp4"></label>
    <label data-for="usb">Device <input name="device" value="{{cam_cfg.device}}" maxlength="64" placeholder="/dev/video0"></label>
    <button type="submit" class="btn primary">Switch camera</button>
    <p class="muted small">The switch lasts until the daemon restarts; make it permanent in the configuration file.</p>
  </form>
  % end
</section>
