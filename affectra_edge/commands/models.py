"""``affectra-edge models verify``: check that every model file is present and intact."""

from __future__ import annotations

import argparse

NAME = "models"
HELP = "verify the installed model files against their pinned SHA-256 sums"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["verify", "list"], nargs="?", default="verify")


def run(args: argparse.Namespace) -> int:
    from affectra_edge.models import MODELS, absent_test_file, locate, verify_all

    if args.action == "list":
        for key, m in MODELS.items():
            if absent_test_file(m):
                continue
            print(f"{key:12} {m.sha256[:16]}…  {locate(key)}  ({m.what})")
        return 0
    for key, path in verify_all():
        print(f"ok  {key:12} {path}")
    return 0
