% rebase('base.tpl')
<section class="card">
  <div class="card-head">
    <h1>Live view</h1>
    <span class="muted small">privacy: <strong>{{privacy}}</strong> · camera {{camera['type']}} <span class="state s-{{camera['state']}}">{{camera['state']}}</span></span>
  </div>
  <div class="live-frame">
    <img id="live" src="/stream.mjpg" alt="Live camera view with face boxes and emotion labels" width="640" height="480">
  </div>
  <p class="muted small">
  % if privacy == 'off':
    The live image is switched off (privacy setting “off”). An administrator can change it under Settings.
  % elif privacy == 'boxes':
    Only boxes and labels are drawn; no camera image is shown.
  % elif privacy == 'blurred':
    Faces are blurred. Frames are never stored or sent anywhere.
  % else:
    Full image (for installation only). Frames are never stored or sent anywhere.
  % end
  </p>
</section>
