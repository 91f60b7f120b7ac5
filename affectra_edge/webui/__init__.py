"""The on-device web UI and JSON API (Bottle app served by cheroot).

``create_app(deps, users, web_cfg)`` builds the application from what it needs (``WebDeps``),
``WebServer(app, web_cfg, users=users)`` serves it; ``UserStore`` holds the web users and
``ensure_demo_admin`` gives the demo its admin.
"""

from affectra_edge.webui.deps import WebDeps
from affectra_edge.webui.server import WebServer, WebServerError
from affectra_edge.webui.users import User, UserStore, UserStoreError, ensure_demo_admin
from affectra_edge.webui.webapp import create_app

__all__ = [
    "User",
    "UserStore",
    "UserStoreError",
    "WebDeps",
    "WebServer",
    "WebServerError",
    "create_app",
    "ensure_demo_admin",
]
