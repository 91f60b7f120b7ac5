"""An incremental ``multipart/x-mixed-replace`` parser for MJPEG-over-HTTP cameras.

Pure (no I/O, no threads): feed it the HTTP body as bytes arrive, get complete parts back.
It is written for what real ESP32-CAM firmwares send, which is less tidy than RFC 2046:

* Espressif's stock CameraWebServer sends ``"\\r\\n--" BOUNDARY "\\r\\n"`` *before* every part,
  so the body starts with a CRLF and a part's payload is followed directly by the next
  delimiter's CRLF;
* many tutorial sketches send the part headers first and the delimiter *after* the JPEG, so
  the body starts with ``Content-Type:`` and no delimiter at all;
* part headers come with or without ``Content-Length`` and ``X-Timestamp``;
* Wi-Fi hiccups and buggy firmware leave garbage or truncated parts in the stream.

Robustness rules: garbage is skipped by searching for the next delimiter (a *resync*); a
``Content-Length`` that does not line up with the next delimiter is distrusted and the
delimiter wins; the buffer never grows beyond ``max_part_bytes`` plus the header limit — a
part without a delimiter in sight is discarded (an *overflow*) and the search starts again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: the stock CameraWebServer boundary (app_httpd.cpp, ``PART_BOUNDARY``)
ESP32_BOUNDARY = "123456789000000000000987654321"

DEFAULT_MAX_PART_BYTES = 4 << 20  # an ESP32-CAM UXGA JPEG at best quality is < 1 MB
DEFAULT_MAX_HEADER_BYTES = 8 << 10

_HEADER_START = re.compile(rb"[A-Za-z][A-Za-z0-9-]*:")
_BOUNDARY_PARAM = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Part:
    """One body part: its headers (names lower-cased) and its payload bytes."""

    headers: dict[str, str]
    payload: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def timestamp(self) -> float | None:
        """``X-Timestamp`` (``seconds.micros`` in the stock firmware), if present and sane."""
        raw = self.headers.get("x-timestamp")
        if raw is None:
            return None
        try:
            value = float(raw.strip())
        except ValueError:
            return None
        return value if value >= 0 and value == value and value != float("inf") else None


@dataclass
class ParserStats:
    """What the parser had to put up with (all monotonically increasing)."""

    parts: int = 0
    #: times the parser lost its place and searched for the next delimiter
    resyncs: int = 0
    #: bytes thrown away while resynchronising (garbage, broken headers, overflows)
    skipped_bytes: int = 0
    #: parts discarded because no delimiter appeared within ``max_part_bytes``
    overflows: int = 0
    #: header blocks that were too long or not headers at all
    bad_headers: int = 0
    #: parts whose Content-Length did not match where the next delimiter was
    length_mismatches: int = 0


def boundary_from_content_type(content_type: str) -> str | None:
    """``multipart/x-mixed-replace;boundary=XYZ`` → ``XYZ`` (quotes and a leading ``--`` removed)."""
    m = _BOUNDARY_PARAM.search(content_type or "")
    if not m:
        return None
    value = (m.group(1) or m.group(2)).strip()
    # Some servers (and some tutorials) put the dashes into the parameter too.
    if value.startswith("--") and len(value) > 2:
        value = value[2:]
    return value or None


# Parser states
_SEEK = 0  # looking for a delimiter (start of stream, or after trouble)
_HEADERS = 1  # after a delimiter line: reading part headers up to the blank line
_BODY = 2  # reading the payload
_DONE = 3  # saw the close delimiter ``--boundary--``

#: feed() works through big inputs in slices so the buffer stays bounded by the limits
_SLICE = 64 << 10
_AUTO_BOUNDARY = re.compile(rb"(?:^|\n)--([!-~]{1,70}?)(--)?\r?\n")


class MultipartParser:
    """Feed bytes, get :class:`Part` objects. Not thread-safe (one reader thread owns it).

    ``boundary`` may be None when the response did not declare one: the first line that
    starts with ``--`` is then taken as the delimiter.
    """

    def __init__(
        self,
        boundary: str | bytes | None = ESP32_BOUNDARY,
        *,
        max_part_bytes: int = DEFAULT_MAX_PART_BYTES,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    ):
        if isinstance(boundary, str):
            boundary = boundary.encode("latin-1")
        if boundary is not None and not boundary:
            raise ValueError("empty multipart boundary")
        self.max_part_bytes = int(max_part_bytes)
        self.max_header_bytes = int(max_header_bytes)
        self.stats = ParserStats()
        self._buf = bytearray()
        self._delim: bytes | None = None if boundary is None else b"--" + boundary
        self._state = _SEEK
        #: True until the first part has started: allows a body that opens with headers
        self._at_start = True
        #: inside a resync episode (counted once, cleared when a delimiter is found)
        self._in_trouble = False
        self._headers: dict[str, str] = {}
        self._length: int | None = None
        #: where the next delimiter search resumes (avoids rescanning a growing payload)
        self._scan_from = 0

    # ---- public ----------------------------------------------------------------------------
    @property
    def boundary(self) -> bytes | None:
        return None if self._delim is None else self._delim[2:]

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a part (bounded, see the module docstring)."""
        return len(self._buf)

    @property
    def max_buffered(self) -> int:
        """The most the parser can ever hold between two feed() slices."""
        return self.max_part_bytes + self.max_header_bytes + _SLICE + 256

    @property
    def finished(self) -> bool:
        """The close delimiter ``--boundary--`` has been seen."""
        return self._state == _DONE

    def feed(self, data: bytes | bytearray | memoryview) -> list[Part]:
        """Add bytes from the body; return every part completed by them, in order."""
        parts: list[Part] = []
        view = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
        for off in range(0, len(view), _SLICE):
            if self._state == _DONE:
                break
            self._buf += view[off : off + _SLICE]
            while True:
                before = (self._state, len(self._buf))
                part = self._step()
                if part is not None:
                    parts.append(part)
                elif (self._state, len(self._buf)) == before:
                    break  # needs more data
                if self._state == _DONE:
                    self._buf.clear()
                    break
        return parts

    def close(self) -> int:
        """End of the body: drop whatever is left; returns how many bytes were incomplete."""
        left = len(self._buf)
        self.stats.skipped_bytes += left
        self._buf.clear()
        if self._state != _DONE:
            self._state = _SEEK
        self._headers, self._length, self._scan_from = {}, None, 0
        return left

    # ---- internals -------------------------------------------------------------------------
    def _discard(self, n: int) -> None:
        del self._buf[:n]
        self._scan_from = 0

    def _trouble(self) -> None:
        if not self._in_trouble:
            self._in_trouble = True
            self.stats.resyncs += 1

    def _resync(self, skip: int) -> None:
        """Lost our place: throw ``skip`` bytes away and look for the next delimiter."""
        self._trouble()
        self.stats.skipped_bytes += skip
        self._discard(skip)
        self._state = _SEEK
        self._headers, self._length = {}, None
        self._at_start = False

    def _keep(self) -> int:
        """Tail to keep while searching: enough for a delimiter split across two feeds."""
        return len(self._delim) + 2 if self._delim is not None else 80

    def _find_delimiter(self, start: int, stop: int | None = None) -> tuple[int, int] | None:
        """(start, end) of the next complete delimiter line beginning in ``[start, stop)``.

        ``end`` is just past its line break (or past the ``--`` of a close delimiter).
        Returns None when there is none yet.
        """
        buf = self._buf
        if self._delim is None:
            # No declared boundary: the first "--token" line defines it.
            m = _AUTO_BOUNDARY.search(buf, start)
            if not m:
                return None
            self._delim = b"--" + m.group(1)
        delim = self._delim
        pos = start
        limit = len(buf) if stop is None else min(len(buf), stop)
        while pos < limit:
            i = buf.find(delim, pos)
            if i < 0 or i >= limit:
                return None
            j = i + len(delim)
            if len(buf) < j + 2:
                return None  # need to see what follows the boundary token
            if buf[j : j + 2] in (b"--", b"\r\n"):
                return i, j + 2
            if buf[j : j + 1] == b"\n":
                return i, j + 1
            pos = i + 1  # "--boundary" followed by something else (a longer token): not ours
        return None

    def _step(self) -> Part | None:
        if self._state == _SEEK:
            self._step_seek()
        elif self._state == _HEADERS:
            self._step_headers()
        elif self._state == _BODY:
            return self._step_body()
        return None

    def _step_seek(self) -> None:
        buf = self._buf
        if self._at_start:
            # Stock firmware: CRLF then the delimiter. Tutorial firmware: headers first.
            k = 0
            while k < len(buf) and buf[k] in b"\r\n \t":
                k += 1
            if k == len(buf):
                return
            if _HEADER_START.match(buf, k):
                self.stats.skipped_bytes += k
                self._discard(k)
                self._state = _HEADERS
                self._at_start = False
                return
        found = self._find_delimiter(0)
        if found is None:
            keep = self._keep()
            if len(buf) > keep:
                drop = len(buf) - keep
                if self._junk(buf[:drop]):
                    self._trouble()
                    self._at_start = False
                self.stats.skipped_bytes += drop
                self._discard(drop)
            return
        i, end = found
        if i and self._junk(buf[:i]):
            self._trouble()
        self.stats.skipped_bytes += i
        self._at_start = False
        self._in_trouble = False
        closing = buf[end - 2 : end] == b"--"
        self._discard(end)
        self._state = _DONE if closing else _HEADERS

    @staticmethod
    def _junk(data: bytes | bytearray) -> bool:
        """Is a skipped span more than the line breaks that legitimately sit between parts?"""
        return bool(bytes(data).strip(b"\r\n"))

    def _step_headers(self) -> None:
        buf = self._buf
        if buf[:2] == b"\r\n":  # no headers at all (allowed by RFC 2046)
            end, sep = 0, 2
        elif buf[:1] == b"\n":
            end, sep = 0, 1
        else:
            end, sep = buf.find(b"\r\n\r\n"), 4
            lf = buf.find(b"\n\n")
            if lf >= 0 and (end < 0 or lf < end):
                end, sep = lf, 2
        if end < 0:
            if len(buf) > self.max_header_bytes:
                self.stats.bad_headers += 1
                self._resync(0)
            return
        if end > self.max_header_bytes:
            self.stats.bad_headers += 1
            self._resync(0)
            return
        headers: dict[str, str] = {}
        block = bytes(buf[:end]).decode("latin-1")
        for line in block.replace("\r\n", "\n").split("\n"):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            name = name.strip()
            if not colon or not name or not _HEADER_START.match((name + ":").encode("latin-1")):
                # Not a header block: we were not where we thought we were.
                self.stats.bad_headers += 1
                self._resync(0)
                return
            headers[name.lower()] = value.strip()
        self._discard(end + sep)
        self._headers = headers
        self._length = None
        raw_len = headers.get("content-length")
        if raw_len is not None:
            try:
                n = int(raw_len.strip())
            except ValueError:
                n = -1
            if n > self.max_part_bytes:
                # Never wait for what a corrupted header promises; skip to the next part.
                self.stats.overflows += 1
                self._resync(0)
                return
            self._length = n if n >= 0 else None
        self._state = _BODY

    def _emit(self, payload: bytes, consumed: int) -> Part:
        part = Part(self._headers, payload)
        self.stats.parts += 1
        self._discard(consumed)
        self._headers, self._length = {}, None
        self._state = _SEEK
        return part

    @staticmethod
    def _strip_eol(payload: bytes) -> bytes:
        # the line break before "--boundary" belongs to the delimiter, not to the payload
        if payload.endswith(b"\r\n"):
            return payload[:-2]
        if payload.endswith(b"\n"):
            return payload[:-1]
        return payload

    def _step_body(self) -> Part | None:
        buf = self._buf
        n = self._length
        if n is not None:
            # Emit as soon as Content-Length bytes are in: with the stock firmware the next
            # delimiter only comes with the *next* frame, and waiting for it would add a frame
            # of latency and hold the last frame during a stall. A delimiter *inside* those
            # bytes means the length lied (a truncated part): the delimiter wins.
            if self._delim is not None:
                found = self._find_delimiter(self._scan_from, stop=n)
                if found is not None:
                    self.stats.length_mismatches += 1
                    i = found[0]
                    return self._emit(self._strip_eol(bytes(buf[:i])), i)
                self._scan_from = max(0, min(len(buf), n) - len(self._delim) - 2)
            if len(buf) < n:
                return None
            return self._emit(bytes(buf[:n]), n)
        # No length: the payload runs up to the next delimiter.
        found = self._find_delimiter(self._scan_from)
        if found is None:
            if len(buf) > self.max_part_bytes:
                # Larger than anything a camera sends: the delimiter was lost.
                self.stats.overflows += 1
                self._resync(len(buf) - self._keep())
                return None
            if self._delim is not None:
                self._scan_from = max(0, len(buf) - len(self._delim) - 2)
            return None
        i = found[0]
        return self._emit(self._strip_eol(bytes(buf[:i])), i)


def is_complete_jpeg(data: bytes) -> bool:
    """Starts with SOI and ends with EOI (ignoring padding some sensors append)?

    libjpeg happily decodes a truncated JPEG into a half-grey picture with only a warning,
    so truncation has to be caught before decoding.
    """
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        return False
    end = data.rstrip(b"\x00\r\n")
    return end.endswith(b"\xff\xd9")
