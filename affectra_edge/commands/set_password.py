"""``affectra-edge set-password USER``: create a web user or change their password/role."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from affectra_edge.commands import add_config_argument, load
from affectra_edge.errors import UsageError

NAME = "set-password"
HELP = "create a web UI user or set their password (scrypt hash in [web] users_file)"


class PasswordInputError(UsageError):
    """No password to set: no terminal, an unreadable --password-file, two that differ."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("user", metavar="USER", help="user name (letters, digits, _ . @ -)")
    p.add_argument(
        "--role",
        choices=("admin", "viewer"),
        help="admin may change settings and delete data; viewer only looks "
        "(default: keep the current role; new users are viewers)",
    )
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the password from the first line of FILE ('-' = standard input) "
        "instead of asking",
    )
    p.add_argument("--users-file", metavar="FILE", help="override [web] users_file")
    p.add_argument("--delete", action="store_true", help="remove the user instead")
    add_config_argument(p)


def _usage(check: Callable[[str], str], value: str) -> str:
    """``value`` when ``check`` takes it; its complaint as a usage error (exit 64) otherwise."""
    from affectra_edge.webui.users import UserStoreError

    try:
        return check(value)
    except UserStoreError as exc:
        raise UsageError(str(exc)) from None


def _read_password(args: argparse.Namespace) -> str:
    if args.password_file:
        try:
            if args.password_file == "-":
                text = sys.stdin.readline()
            else:
                with open(args.password_file, encoding="utf-8") as fh:
                    text = fh.readline()
        except OSError as exc:
            raise PasswordInputError(
                f"--password-file {args.password_file}: {exc.strerror or exc}"
            ) from None
        return text.rstrip("\r\n")
    import getpass

    if not sys.stdin.isatty():
        raise PasswordInputError("no terminal to ask for the password: use --password-file")
    first = getpass.getpass(f"New password for {args.user}: ")
    second = getpass.getpass("Repeat it: ")
    if first != second:
        raise PasswordInputError("the two passwords differ; nothing was changed")
    return first


def run(args: argparse.Namespace) -> int:
    from affectra_edge.webui.users import UserStore, check_password, check_username

    _usage(check_username, args.user)
    cfg = load(args)
    users = UserStore(args.users_file or cfg.web.users_file)
    if args.delete:
        if not users.delete(args.user):
            print(f"no such user: {args.user}", file=sys.stderr)
            return 1
        print(f"deleted web user {args.user} from {users.path}")
        return 0
    password = _usage(check_password, _read_password(args))
    user = users.set_password(args.user, password, role=args.role)
    print(f"password set for {user.name} ({user.role}) in {users.path}")
    return 0
