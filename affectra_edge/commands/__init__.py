"""Sub-commands of ``affectra-edge``, one module each (see :mod:`affectra_edge.cli`)."""

from __future__ import annotations

import argparse


def add_config_argument(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        required=required,
        help="TOML configuration file (default: built-in defaults)",
    )


def load(args: argparse.Namespace):
    """The validated configuration named by ``--config`` (defaults when absent)."""
    from affectra_edge.config import load_config

    return load_config(getattr(args, "config", None))
