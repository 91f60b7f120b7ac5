% rebase('base.tpl')
<section class="card narrow login">
  <h1>{{_('Log in')}}</h1>
  <p class="muted">{{device.name}}</p>
  % if no_users:
  <p class="flash warn">{{_('No web users yet. On the device run')}} <code>affectra-edge set-password admin --role admin</code>.</p>
  % end
  <form method="post" action="/login" class="stack">
    <input type="hidden" name="csrf_token" value="{{login_token}}">
    <input type="hidden" name="next" value="{{next}}">
    <label>{{_('User name')}} <input name="username" autocomplete="username" required maxlength="64" value="{{username}}" autofocus></label>
    <label>{{_('Password')}} <input name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
    <button type="submit" class="btn primary">{{_('Log in')}}</button>
  </form>
</section>
