% rebase('base.tpl')
% privacy_names = {'off': _('Off — no image'), 'boxes': _('Boxes only'), 'blurred': _('Blurred faces'), 'full': _('Full image (installation)')}
<section class="card">
  <div class="card-head">
    <h1>{{_('Live view')}}</h1>
    <span class="muted small">{{_('Privacy')}}: <strong>{{privacy_names.get(privacy, privacy)}}</strong> · {{_('camera')}} <span class="state s-{{camera['state']}}">{{_(camera['state'])}}</span></span>
  </div>
  <div class="live-frame">
    <img id="live" src="/stream.mjpg" alt="{{_('Live camera view with face boxes and emotion labels')}}" width="640" height="480">
  </div>
  <p class="muted small">
  % if privacy == 'off':
    {{_('The live image is switched off (privacy setting “off”). An administrator can change it under Settings.')}}
  % elif privacy == 'boxes':
    {{_('Only boxes and labels are drawn; no camera image is shown.')}}
  % elif privacy == 'blurred':
    {{_('Faces are blurred. Frames are never stored or sent anywhere.')}}
  % else:
    {{_('Full image (for installation only). Frames are never stored or sent anywhere.')}}
  % end
  </p>
</section>
