"""``affectra-edge run --config FILE``: the daemon, in the foreground (what systemd starts)."""

from __future__ import annotations

import argparse

from affectra_edge.config import DEFAULT_CONFIG_PATH

NAME = "run"
HELP = "run the appliance daemon in the foreground"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        default=str(DEFAULT_CONFIG_PATH),
        help=f"TOML configuration (default {DEFAULT_CONFIG_PATH})",
    )
    p.add_argument("--duration", type=float, metavar="S", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from affectra_edge import __version__
    from affectra_edge.app import Appliance
    from affectra_edge.commands._runtime import serve
    from affectra_edge.config import load_config
    from affectra_edge.logs import configure, set_context
    from affectra_edge.memory import limit_allocator_retention
    from affectra_edge.preflight import require_runnable

    cfg = load_config(args.config)
    if not args.verbose:  # cli.main set up logging already; with -v it stays at debug
        configure(cfg.logging.level)
    # journald fields on every record: `journalctl DEVICE_ID=...` across a fleet's exports
    set_context(DEVICE_ID=cfg.device.id, AFFECTRA_VERSION=__version__)
    # What check-config (ExecStartPre) refuses is refused here too, before anything starts.
    require_runnable(cfg)
    # before any thread allocates: web workers must not each keep a login's 16 MiB
    limit_allocator_retention()
    app = Appliance.from_config(cfg)
    return serve(app, duration=args.duration)
