<!doctype html>
<html lang="{{loc.lang}}"{{!' data-theme="%s"' % theme if theme else ''}}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="csrf-token" content="{{session.csrf if session else ''}}">
<title>{{title}} · {{device.name}}</title>
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
% import json
<body class="page-{{active or 'plain'}}" data-i18n="{{json.dumps(loc.js_strings(), ensure_ascii=False)}}">
<header class="top">
  <a class="brand" href="/"><img src="/static/icon.svg" alt="" width="28" height="28"><span>{{device.name}}</span></a>
  % if session:
  <nav aria-label="{{_('Main')}}">
    % for href, key, label in (("/", "dashboard", _("Dashboard")), ("/live", "live", _("Live")), ("/analyze", "analyze", _("Analyze")), ("/cameras", "cameras", _("Cameras")), ("/settings", "settings", _("Settings")), ("/data", "data", _("Data")), ("/fleet", "fleet", _("Fleet"))):
    <a href="{{href}}"{{!' aria-current="page" class="active"' if active == key else ''}}>{{label}}</a>
    % end
  </nav>
  % end
  <div class="tools">
    <button type="button" class="icon-btn" id="theme-toggle" title="{{_('Switch light or dark mode')}}" aria-label="{{_('Switch light or dark mode')}}"><span class="sun">☀</span><span class="moon">☾</span></button>
    % if session:
    <form method="post" action="/logout" class="logout">
      <input type="hidden" name="csrf_token" value="{{session.csrf}}">
      <span class="who" title="{{session.role}}">{{session.user}}</span>
      <button type="submit" class="link-btn">{{_('Log out')}}</button>
    </form>
    % end
  </div>
</header>
<main>
  % if msg:
  <div class="flash ok" role="status">{{msg}}</div>
  % end
  % if error:
  <div class="flash err" role="alert">{{error}}</div>
  % end
  {{!base}}
</main>
<footer>Affectra Edge
% if session:
{{version}} · <span class="room" title="{{_('device id')}}: {{device.id}}">{{device.name}}</span>
%   if device.artwork:
 · {{_('artwork')}} <em>{{device.artwork}}</em>
%   end
% end
 · {{_('no image or face ever leaves this device')}}</footer>
</body>
</html>
