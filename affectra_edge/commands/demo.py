"""``affectra-edge demo``: the whole appliance on the built-in scene — no camera, no broker,
no configuration needed. Sessions are printed as they end; the web UI is on port 8080."""

from __future__ import annotations

import argparse
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

from affectra_edge.commands import add_config_argument, load
from affectra_edge.commands._output import session_printer

logger = logging.getLogger(__name__)

NAME = "demo"
HELP = "run the whole appliance on a built-in scene (no camera or broker needed)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_argument(p)
    p.add_argument("--port", type=int, help="web UI port (default: [web] port, 8080)")
    p.add_argument("--host", help="web UI address (default: [web] host)")
    p.add_argument("--no-web", action="store_true", help="do not start the web UI")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--json", action="store_true", help="print sessions as JSON lines")


def run(args: argparse.Namespace) -> int:
    from affectra_edge.app import Appliance
    from affectra_edge.commands._runtime import serve
    from affectra_edge.preflight import require_runnable

    cfg = load(args)
    cfg = replace(cfg, camera=replace(cfg.camera, type="demo"))
    web = cfg.web
    if args.port is not None:
        web = replace(web, port=args.port)
    if args.host is not None:
        web = replace(web, host=args.host)
    tmp = tempfile.TemporaryDirectory(prefix="affectra-demo-")
    users_file = None
    if "storage" not in cfg.present:
        # Nothing configured: a throw-away encrypted store so the dashboard has data to show.
        cfg = replace(
            cfg,
            storage=replace(
                cfg.storage,
                path=str(Path(tmp.name) / "demo.db"),
                key_file=str(Path(tmp.name) / "db.key"),
            ),
        )
    if "web" not in cfg.present or not Path(cfg.web.users_file).exists():
        users_file = Path(tmp.name) / "users.json"
    with_web = not args.no_web and cfg.web.enabled
    cfg = replace(cfg, web=replace(web, enabled=with_web))
    require_runnable(cfg)  # the TLS pair, the store's directory and key: as `run` would
    app = Appliance.from_config(cfg, with_web=with_web, users_file=users_file)

    app.add_session_listener(session_printer(args.json))

    def started(app: Appliance) -> None:
        if app.web is None:
            print("demo running without the web UI; Ctrl-C stops it", flush=True)
            return
        from affectra_edge.webui import ensure_demo_admin

        host = cfg.web.host if cfg.web.host not in ("0.0.0.0", "::") else "localhost"
        scheme = "https" if cfg.web.tls_cert else "http"
        users = app.web.users if users_file is not None else None  # our throw-away file
        password = ensure_demo_admin(users) if users is not None else None
        print(f"web UI: {scheme}://{host}:{app.web.port}/", flush=True)
        if password:
            print(f"log in as admin with password: {password}", flush=True)
        print("sessions are printed as visitors leave; Ctrl-C stops the demo", flush=True)

    try:
        return serve(app, duration=args.duration, on_started=started)
    finally:
        tmp.cleanup()
