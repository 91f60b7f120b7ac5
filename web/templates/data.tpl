% rebase('base.tpl')
<section class="card">
  <h1>Data</h1>
  % if not store:
  <p class="flash warn">Storage is disabled on this device.</p>
  % end
  <p><strong data-k="visitors_total">{{total}}</strong> viewer sessions are stored (encrypted) on this device.</p>
  % if session.role == 'admin':
  <p><a class="btn" href="/api/export.csv" download>Download all sessions as CSV</a></p>
  % else:
  <p class="muted">Only administrators can export or delete data.</p>
  % end
</section>
% if session.role == 'admin':
<section class="card danger">
  <h2>Delete all visitor data</h2>
  <p>This removes every stored viewer session and cannot be undone. Type <code>{{confirm_word}}</code> to confirm.</p>
  <form method="post" action="/data/clear" class="inline" id="clear-form">
    <input type="hidden" name="csrf_token" value="{{session.csrf}}">
    <label class="visually-hidden" for="confirm">Confirmation</label>
    <input id="confirm" name="confirm" autocomplete="off" placeholder="{{confirm_word}}" data-word="{{confirm_word}}" maxlength="20">
    <button type="submit" class="btn danger" id="clear-btn">Delete everything</button>
  </form>
</section>
% end
