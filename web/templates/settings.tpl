% rebase('base.tpl')
<section class="card">
  <h1>Settings</h1>
  % ro = session.role != 'admin'
  % if ro:
  <p class="muted">Only administrators can change settings.</p>
  % end
  <form method="post" action="/settings" class="stack settings-form">
    <input type="hidden" name="csrf_token" value="{{session.csrf}}">
    <fieldset{{!' disabled' if ro else ''}}>
    <label>Device name <input name="device_name" value="{{settings['device_name']}}" required maxlength="{{limits['device_name']['max']}}"></label>
    <label>Artwork (name or id) <input name="artwork" value="{{settings['artwork']}}" maxlength="{{limits['artwork']['max']}}"></label>
    <label>Confidence threshold <span class="hint">frames whose top emotion is less certain do not count ({{limits['threshold']['min']}}–{{limits['threshold']['max']}})</span>
      <input name="threshold" type="number" min="{{limits['threshold']['min']}}" max="{{limits['threshold']['max']}}" step="0.01" value="{{settings['threshold']}}"></label>
    <label>Keep data for (days) <span class="hint">0 = forever</span>
      <input name="retention_days" type="number" min="{{limits['retention_days']['min']}}" max="{{limits['retention_days']['max']}}" step="1" value="{{settings['retention_days']}}"></label>
    <label>Keep at most (sessions) <span class="hint">0 = no limit</span>
      <input name="max_sessions" type="number" min="{{limits['max_sessions']['min']}}" max="{{limits['max_sessions']['max']}}" step="1" value="{{settings['max_sessions']}}"></label>
    <label>Live view privacy
      <select name="privacy">
      % for m in modes:
        <option value="{{m}}"{{!' selected' if m == settings['privacy'] else ''}}>{{ {'off': 'Off — no image', 'boxes': 'Boxes only', 'blurred': 'Blurred faces', 'full': 'Full image (installation)'}[m] }}</option>
      % end
      </select>
    </label>
    <button type="submit" class="btn primary">Save</button>
    </fieldset>
  </form>
</section>
