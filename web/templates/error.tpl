% rebase('base.tpl')
<section class="card narrow center">
  <h1 class="big-status">{{status}}</h1>
  <p>{{message}}</p>
  <p><a class="btn" href="/">{{_('Back to the dashboard')}}</a></p>
</section>
