% rebase('base.tpl')
% privacy_names = {'off': _('Off — no image'), 'boxes': _('Boxes only'), 'blurred': _('Blurred faces'), 'full': _('Full image (installation)')}
% def overrides(key):
<span class="hint toml">{{_('overrides {key} in the configuration file').format(key=toml_keys[key])}}</span>
% end
<section class="card">
  <h1>{{_('Settings')}}</h1>
  % ro = session.role != 'admin'
  % if ro:
  <p class="muted">{{_('Only administrators can change settings.')}}</p>
  % end
  % if persistent:
  <p class="muted small" id="settings-scope">{{_('Saved on this device: these values replace the ones in the configuration file and stay after a restart.')}}
  % if config_source:
  ({{_('configuration file')}} <code>{{config_source}}</code>)
  % end
  {{_('A camera switch on the Cameras page lasts only until the daemon restarts.')}}</p>
  % else:
  <p class="flash warn" id="settings-scope">{{_('Storage is disabled, so changes here last only until the daemon restarts; then the configuration file’s values apply again.')}}</p>
  % end
  <form method="post" action="/settings" class="stack settings-form">
    <input type="hidden" name="csrf_token" value="{{session.csrf}}">
    <fieldset{{!' disabled' if ro else ''}}>
    <label>{{_('Device name')}} <span class="hint">{{_('shown at the top of every page, e.g. the room')}}</span>
      % overrides('device_name')
      <input name="device_name" value="{{settings['device_name']}}" required maxlength="{{limits['device_name']['max']}}"></label>
    <label>{{_('Artwork (name or id)')}}
      % overrides('artwork')
      <input name="artwork" value="{{settings['artwork']}}" maxlength="{{limits['artwork']['max']}}"></label>
    <label>{{_('Confidence threshold')}} <span class="hint" id="threshold-help">{{_('How sure the model must be of a face’s emotion for that moment to count in the visitor’s emotion mix ({lo}–{hi}). 0 (the default) counts every moment. Around 0.4–0.5 leaves out moments where the face is turned or blurred, so the mix shows clear expressions. Visitors are counted either way.').format(lo=limits['threshold']['min'], hi=limits['threshold']['max'])}}</span>
      % overrides('threshold')
      <input name="threshold" type="number" min="{{limits['threshold']['min']}}" max="{{limits['threshold']['max']}}" step="0.01" value="{{settings['threshold']}}" aria-describedby="threshold-help"></label>
    <label>{{_('Keep data for (days)')}} <span class="hint">{{_('0 = forever')}}</span>
      % overrides('retention_days')
      <input name="retention_days" type="number" min="{{limits['retention_days']['min']}}" max="{{limits['retention_days']['max']}}" step="1" value="{{settings['retention_days']}}"></label>
    <label>{{_('Keep at most (sessions)')}} <span class="hint">{{_('0 = no limit; now {n}').format(n=loc.number(settings['max_sessions']))}}</span>
      % overrides('max_sessions')
      <input name="max_sessions" type="number" min="{{limits['max_sessions']['min']}}" max="{{limits['max_sessions']['max']}}" step="1" value="{{settings['max_sessions']}}"></label>
    <label>{{_('Live view privacy')}}
      % overrides('privacy')
      <select name="privacy">
      % for m in modes:
        <option value="{{m}}"{{!' selected' if m == settings['privacy'] else ''}}>{{privacy_names[m]}}</option>
      % end
      </select>
    </label>
    <button type="submit" class="btn primary">{{_('Save')}}</button>
    </fieldset>
  </form>
</section>
