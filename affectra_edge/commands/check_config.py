"""``affectra-edge check-config FILE``: validate a configuration without starting anything.

Besides the schema it checks what ``run`` would open on this machine (certificates, the camera
file, the database key, the state directory; :mod:`affectra_edge.preflight`), unless
``--schema-only`` says the file is meant for another machine."""

from __future__ import annotations

import argparse
import json

NAME = "check-config"
HELP = "validate a configuration file (exit 2 with the key and the problem when invalid)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", nargs="?", help="TOML file (or use --config)")
    p.add_argument("--config", "-c", metavar="FILE", dest="config_opt", help=argparse.SUPPRESS)
    p.add_argument("--show", action="store_true", help="print the effective configuration as JSON")
    p.add_argument(
        "--schema-only",
        action="store_true",
        help="check the file only, not the files and directories it names (for a "
        "configuration prepared for another machine)",
    )


def run(args: argparse.Namespace) -> int:
    from affectra_edge.config import DEFAULT_CONFIG_PATH, config_as_dict, load_config
    from affectra_edge.errors import EXIT_CONFIG
    from affectra_edge.preflight import require_runnable

    path = args.file or args.config_opt or str(DEFAULT_CONFIG_PATH)
    cfg = load_config(path)
    if not args.schema_only:
        require_runnable(cfg, exit_code=EXIT_CONFIG)
    if args.show:
        print(json.dumps(config_as_dict(cfg), indent=2, sort_keys=True))
    else:
        print(f"{path}: OK (camera: {cfg.camera.type}, device id: {cfg.device.id})")
    return 0
