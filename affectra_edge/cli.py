"""``affectra-edge`` command line.

Each sub-command lives in its own module under :mod:`affectra_edge.commands` and defines
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Modules import their
heavy dependencies inside ``run`` so that ``--help`` and ``check-config`` stay instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from affectra_edge import __version__, commands
from affectra_edge.errors import EXIT_FAILURE, EXIT_USAGE, AffectraError

logger = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2, which is reserved for config errors
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{commands.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="affectra-edge", description="Dwell time and emotion analytics for one artwork."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def setup_logging(verbose: bool = False, level: str | None = None) -> None:
    from affectra_edge.logs import configure

    configure("debug" if verbose else (level or "info"))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args._run(args) or 0)
    except AffectraError as exc:
        for line in str(exc).splitlines() or [""]:  # several problems: one line each
            print(f"affectra-edge: error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_FAILURE
    except OSError as exc:
        # The operating system refused something no command turned into its own message (a
        # read-only file system, a permission): one line naming the file, not a traceback.
        logger.debug("unhandled OSError", exc_info=True)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"affectra-edge: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
