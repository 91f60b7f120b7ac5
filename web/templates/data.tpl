% rebase('base.tpl')
<section class="card">
  <h1>{{_('Data')}}</h1>
  % if not store:
  <p class="flash warn">{{_('Storage is disabled on this device.')}}</p>
  % end
  <p>{{!esc(_('{n} viewer sessions are stored (encrypted) on this device.')).format(n='<strong data-k="visitors_total">%s</strong>' % loc.number(total))}}</p>
  <h2>{{_('Download as CSV')}}</h2>
  <form method="get" action="/data/measures.csv" class="inline export-form">
    <label>{{_('From')}} <input type="date" name="from_day" value="{{from_day}}" max="{{today}}"></label>
    <label>{{_('To (including)')}} <input type="date" name="to_day" value="{{to_day}}" max="{{today}}"></label>
    <button type="submit" class="btn" id="measures-csv">{{_('Measures per day')}}</button>
    % if session.role == 'admin':
    <button type="submit" class="btn primary" formaction="/data/export.csv">{{_('Download')}}</button>
    % end
  </form>
  % if session.role == 'admin':
  <p class="muted small">{{_('Days are local days of this device. Leave both empty for everything.')}} <a href="/api/export.csv" download>{{_('Download all sessions as CSV')}}</a></p>
  % else:
  <p class="muted">{{_('Only administrators can export or delete data.')}}</p>
  % end
</section>
% if session.role == 'admin':
<section class="card danger">
  <h2>{{_('Delete all visitor data')}}</h2>
  <p>{{!esc(_('This removes every stored viewer session and cannot be undone. Type {word} to confirm.')).format(word='<code>%s</code>' % confirm_word)}}</p>
  <form method="post" action="/data/clear" class="inline" id="clear-form">
    <input type="hidden" name="csrf_token" value="{{session.csrf}}">
    <label class="visually-hidden" for="confirm">{{_('Confirmation')}}</label>
    <input id="confirm" name="confirm" autocomplete="off" placeholder="{{confirm_word}}" data-word="{{confirm_word}}" maxlength="20">
    <button type="submit" class="btn danger" id="clear-btn">{{_('Delete everything')}}</button>
  </form>
</section>
% end
