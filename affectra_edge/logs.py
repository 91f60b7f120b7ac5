"""Logging set-up: the journal with structured fields under systemd, plain stderr otherwise.

* Under systemd with systemd-python installed: records go to journald natively with
  ``PRIORITY``, ``LOGGER``, ``THREAD_NAME``, ``CODE_*``, the context fields set with
  :func:`set_context` (``DEVICE_ID``, ``AFFECTRA_VERSION``) and any upper-case ``extra=`` key
  of the call, e.g. ``logger.warning("camera lost", extra={"CAMERA": "esp32"})``, so that
  ``journalctl -u affectra-edge CAMERA=esp32`` or ``-o json`` finds them.
* Under systemd without systemd-python: stderr is connected to the journal
  (``$JOURNAL_STREAM`` names it), so lines carry a ``<N>`` syslog priority prefix that journald
  turns into ``PRIORITY=``; the structured fields follow the message as ``key=value``.
* Elsewhere: ``time LEVEL logger: message key=value`` on stderr.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any

_FIELD = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
#: fields added to every record (see :func:`set_context`)
_context: dict[str, str] = {}

#: logging level → syslog priority (journald's PRIORITY=)
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def priority(levelno: int) -> int:
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


def set_context(**fields: Any) -> None:
    """Fields every later record carries (e.g. ``DEVICE_ID``). Names must be journal fields:
    upper case letters, digits and underscores. ``None`` removes a field."""
    for key, value in fields.items():
        if not _FIELD.match(key):
            raise ValueError(f"invalid journal field name: {key!r}")
        if value is None:
            _context.pop(key, None)
        else:
            _context[key] = str(value)


def record_fields(record: logging.LogRecord) -> dict[str, str]:
    """The structured fields of one record: the context, then its upper-case extras."""
    fields = dict(_context)
    for key, value in record.__dict__.items():
        if _FIELD.match(key) and value is not None:
            fields[key] = str(value)
    return fields


class JournalHandler(logging.Handler):
    """Native journald records with structured fields (needs systemd-python).

    Only well-formed upper-case fields are sent, unlike systemd-python's own handler which
    forwards every attribute of the record."""

    def __init__(self, identifier: str = "affectra-edge", sender: Callable | None = None):
        super().__init__()
        if sender is None:
            from systemd import journal

            sender = journal.send
        self.identifier = identifier
        self._send = sender

    def fields_for(self, record: logging.LogRecord) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "MESSAGE": record.getMessage(),
            "PRIORITY": str(priority(record.levelno)),
            "SYSLOG_IDENTIFIER": self.identifier,
            "LOGGER": record.name,
            "THREAD_NAME": record.threadName or "",
            "CODE_FILE": record.pathname,
            "CODE_LINE": str(record.lineno),
            "CODE_FUNC": record.funcName,
        }
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info))
            fields["EXCEPTION_TEXT"] = text
            # journalctl shows only MESSAGE by default: keep the traceback visible there too
            fields["MESSAGE"] = f"{fields['MESSAGE']}\n{text.rstrip()}"
        fields.update(record_fields(record))
        return fields

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = self.fields_for(record)
            message = fields.pop("MESSAGE")
            self._send(message, **fields)
        except Exception:
            self.handleError(record)


class TextFormatter(logging.Formatter):
    """Human text with the structured fields appended as ``key=value``.

    ``journal=True`` prefixes ``<N>`` (journald reads the priority from it) and leaves the
    time out (journald stamps every line)."""

    def __init__(self, journal: bool = False):
        fmt = "%(levelname)s %(name)s: %(message)s"
        super().__init__(fmt if journal else "%(asctime)s " + fmt)
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = record_fields(record)
        # The context is the same on every line; print only what this call added.
        extra = {k: v for k, v in fields.items() if _context.get(k) != v}
        if extra:
            head, sep, tail = text.partition("\n")
            head += " " + " ".join(f"{k.lower()}={_quote(v)}" for k, v in extra.items())
            text = head + sep + tail
        if self.journal:
            prefix = f"<{priority(record.levelno)}>"
            text = "\n".join(prefix + line for line in text.split("\n"))
        return text


def _quote(value: str) -> str:
    return (
        value
        if value and not re.search(r'[\s"=]', value)
        else '"' + value.replace('"', r"\"") + '"'
    )


def stderr_is_journal(environ: dict[str, str] | None = None) -> bool:
    """True when stderr is the journal stream systemd connected (``$JOURNAL_STREAM`` is its
    ``device:inode``; a redirected stderr no longer matches)."""
    env = os.environ if environ is None else environ
    stream = env.get("JOURNAL_STREAM", "")
    if not stream:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def build_handler(environ: dict[str, str] | None = None) -> logging.Handler:
    if stderr_is_journal(environ):
        try:
            return JournalHandler()
        except ImportError:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(TextFormatter(journal=True))
            return handler
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter(journal=False))
    return handler


def configure(level: str = "info") -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(build_handler())
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
