"""The on-device web UI and JSON API (Bottle app served by cheroot).

``create_app(appliance, users=...)`` builds the application, ``WebServer(app, web_cfg)`` serves
it; ``UserStore`` holds the web users and ``ensure_demo_admin`` gives the demo its admin.
"""

from affectra_edge.webui.server import WebServer, WebServerError
from affectra_edge.webui.users import User, UserStore, UserStoreError, ensure_demo_admin
from affectra_edge.webui.webapp import ApplianceLike, WebApp, create_app

__all__ = [
    "ApplianceLike",
    "User",
    "UserStore",
    "UserStoreError",
    "WebApp",
    "WebServer",
    "WebServerError",
    "create_app",
    "ensure_demo_admin",
]
