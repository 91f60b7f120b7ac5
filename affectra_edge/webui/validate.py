"""Typed, bounded, allow-listed input parsing for query strings, forms and JSON bodies."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from affectra_edge.config import FieldSpec
from affectra_edge.types import parse_iso_utc

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_URL_PATH = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")

C = TypeVar("C", bound=str)


class InvalidInput(ValueError):
    """One input is not acceptable; ``field`` names it, ``str()`` says why."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def as_int(value: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise InvalidInput(field, "must be an integer")
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"[+-]?\d{1,12}", value):
            raise InvalidInput(field, f"must be an integer, not {value[:40]!r}")
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise InvalidInput(field, "must be an integer")
    if not lo <= value <= hi:
        raise InvalidInput(field, f"must be between {lo} and {hi}")
    return value


def as_float(value: Any, field: str, lo: float, hi: float) -> float:
    if isinstance(value, bool):
        raise InvalidInput(field, "must be a number")
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"[+-]?(\d{1,12}(\.\d{0,12})?|\.\d{1,12})", value):
            raise InvalidInput(field, f"must be a number, not {value[:40]!r}")
        value = float(value)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(field, "must be a number")
    if not lo <= value <= hi:
        raise InvalidInput(field, f"must be between {lo:g} and {hi:g}")
    return float(value)


def as_text(value: Any, field: str, max_len: int, *, min_len: int = 0) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text")
    value = value.strip()
    if _CONTROL.search(value):
        raise InvalidInput(field, "must not contain control characters")
    if not min_len <= len(value) <= max_len:
        raise InvalidInput(field, f"must be {min_len}–{max_len} characters long")
    return value


def as_choice(value: Any, field: str, choices: Sequence[C]) -> C:
    """``value`` if it is one of ``choices`` (typed as the choice it equals)."""
    for choice in choices:
        if isinstance(value, str) and value == choice:
            return choice
    raise InvalidInput(field, f"must be one of {', '.join(choices)}")


def as_field(value: Any, field: str, spec: FieldSpec) -> Any:
    """A form or JSON value for a configuration key, within that key's own limits."""
    if spec.choices:
        return as_choice(value, field, spec.choices)
    lo = -math.inf if spec.minimum is None else spec.minimum
    hi = math.inf if spec.maximum is None else spec.maximum
    if spec.type is float:
        return as_float(value, field, lo, hi)
    if spec.type is int:
        return as_int(value, field, lo, hi)  # type: ignore[arg-type]
    if spec.type is str:
        min_len, max_len = spec.length or (0, 1000)
        return as_text(value, field, max_len, min_len=min_len)
    raise InvalidInput(field, "cannot be changed here")


def as_time(value: Any, field: str) -> float:
    """Epoch seconds or ISO-8601 (``Z``/offset; naive = UTC)."""
    if isinstance(value, str):
        v = value.strip()
        if re.fullmatch(r"\d{1,12}(\.\d+)?", v):
            return as_float(v, field, 0, 32503680000)
        if len(v) > 40:
            raise InvalidInput(field, "is too long for a timestamp")
        try:
            return parse_iso_utc(v)
        except ValueError:
            raise InvalidInput(field, f"must be ISO-8601 or epoch seconds, not {v!r}") from None
    return as_float(value, field, 0, 32503680000)


def camera_url(value: Any, field: str = "url") -> str:
    """An ESP32-CAM stream URL: http(s), a host name or IP, an optional port, no credentials."""
    url = as_text(value, field, 300, min_len=1)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise InvalidInput(field, "port must be between 1 and 65535") from None
        raise InvalidInput(field, f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(field, "must start with http:// or https://")
    if parts.username or parts.password:
        raise InvalidInput(field, "must not contain a user name or password")
    host = parts.hostname or ""
    if not host:
        raise InvalidInput(field, "has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.fullmatch(host):
            raise InvalidInput(field, f"host {host!r} is not a valid host name or IP") from None
    if port is not None and not 1 <= port <= 65535:
        raise InvalidInput(field, "port must be between 1 and 65535")
    if parts.fragment or not _URL_PATH.fullmatch(parts.path or "/"):
        raise InvalidInput(field, "path contains characters that are not allowed")
    if parts.query and not _URL_PATH.fullmatch(parts.query.replace("?", "")):
        raise InvalidInput(field, "query contains characters that are not allowed")
    return url
