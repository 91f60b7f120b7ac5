"""Errors an operator can act on, each with its own process exit code."""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_MODEL = 3
EXIT_STORE = 4
EXIT_SOURCE = 5
EXIT_USAGE = 64  # sysexits.h EX_USAGE: keeps argparse's own errors apart from config errors


class AffectraError(Exception):
    """Base class: ``str()`` is a one-line message meant for the operator."""

    exit_code = EXIT_FAILURE


class UsageError(AffectraError):
    """A command was given arguments it cannot use (a bad option value, a missing --yes)."""

    exit_code = EXIT_USAGE


class ModelError(AffectraError):
    """A model file is missing or does not match its pinned checksum."""

    exit_code = EXIT_MODEL


class StoreError(AffectraError):
    """The database cannot be opened (wrong key, not ours, unreadable, disk full)."""

    exit_code = EXIT_STORE
