"""Decoding an uploaded picture within a memory and CPU budget.

Any viewer may upload, so a picture is judged from its header before a single pixel is
decoded: a small file can still ask for gigabytes (a 309 KB PNG of 6300×6300 16-bit pixels
decodes to 300 MB) or for minutes of CPU (a 458 KB progressive JPEG whose last scan is repeated
3000 times decodes for over a minute, and nothing can stop ``cv2.imdecode`` once it runs). So:

- JPEGs larger than :data:`MAX_DECODED_PIXELS` are decoded at 1/2, 1/4 or 1/8 size by libjpeg
  itself (``IMREAD_REDUCED_*``), which never holds the full-size picture; faces are found on a
  detector input of a few hundred pixels anyway.
- Progressive JPEGs keep every coefficient of the full-size picture while they decode, whatever
  the output size, so they are held to :data:`MAX_DECODED_PIXELS` at full size, and to
  :data:`MAX_SCANS` scans (an encoder writes about 10; each extra one is another pass over
  the whole picture).
- PNGs cannot be decoded reduced: what libpng holds (width × height × channels × bytes per
  sample) must fit :data:`MAX_DECODED_BYTES`.
- :class:`DecodeSlots` bounds how many pictures are decoded and analyzed at once, so the
  budget above is per slot, not per web worker.
"""

from __future__ import annotations

import math
import struct
import threading
from dataclasses import dataclass

import numpy as np

from affectra_edge.jpeg import frame_header
from affectra_edge.webui.validate import InvalidInput

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: refused outright, whatever the format
MAX_HEADER_PIXELS = 40_000_000
#: a 12-megapixel picture (a phone photo) is far more than face analysis needs
MAX_DECODED_PIXELS = 12_000_000
#: what one PNG decode may hold: 12 MP of 8-bit RGBA
MAX_DECODED_BYTES = 4 * MAX_DECODED_PIXELS
#: libjpeg's default progressive script has 10 scans; a few more for odd encoders
MAX_SCANS = 40
#: pictures decoded and analyzed at once (each up to ~MAX_DECODED_BYTES plus the analysis)
DECODE_SLOTS = 2
#: how long an upload waits for a free slot before it gets a 503
SLOT_WAIT_S = 2.0

_REDUCED = {
    1: None,
    2: "IMREAD_REDUCED_COLOR_2",
    4: "IMREAD_REDUCED_COLOR_4",
    8: "IMREAD_REDUCED_COLOR_8",
}
# PNG colour type → channels libpng produces (a palette expands to RGB)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


@dataclass(frozen=True)
class Header:
    """What a picture's header says, read without decoding it."""

    kind: str  # "jpeg" or "png"
    width: int
    height: int
    #: JPEG: a progressive (multi-scan) frame
    progressive: bool = False
    #: PNG: bits per sample (1, 2, 4, 8 or 16); JPEG: 8
    bit_depth: int = 8
    channels: int = 3

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class Decoded:
    """A decoded picture: ``image`` is ``1/scale`` of the original ``width``×``height``."""

    image: np.ndarray
    width: int
    height: int
    scale: int


class Busy(Exception):
    """Every decode slot stayed taken for :data:`SLOT_WAIT_S`: answer 503 and retry later."""


class DecodeSlots:
    """At most ``n`` uploads decoded and analyzed at once; the others wait briefly, then are
    refused (a worker thread waiting for longer would be one fewer for everybody else)."""

    def __init__(self, n: int = DECODE_SLOTS, wait_s: float = SLOT_WAIT_S):
        self._sem = threading.BoundedSemaphore(n)
        self._wait_s = wait_s

    def __enter__(self) -> DecodeSlots:
        if not self._sem.acquire(timeout=self._wait_s):
            raise Busy("another picture is being analyzed; try again in a few seconds")
        return self

    def __exit__(self, *exc: object) -> None:
        self._sem.release()


def image_kind(data: bytes) -> str | None:
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    return None


def read_header(data: bytes) -> Header | None:
    """The header of a JPEG or PNG, or None when there is none to read."""
    kind = image_kind(data)
    if kind == "png":
        if len(data) < 29 or data[12:16] != b"IHDR":
            return None
        w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
        return Header("png", w, h, bit_depth=depth, channels=_PNG_CHANNELS.get(ctype, 4))
    if kind == "jpeg":
        return _jpeg_header(data)
    return None


def _jpeg_header(data: bytes) -> Header | None:
    head = frame_header(data)
    if head is None:
        return None
    return Header("jpeg", head.width, head.height, head.progressive, channels=head.components)


def scan_count(data: bytes) -> int:
    """SOS markers in a JPEG, an upper bound on its scans.

    Inside entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so
    every ``FF DA`` is a real SOS (or one in an embedded thumbnail: a few at most). Counted at
    C speed: a 5 MB file costs a millisecond."""
    return data.count(b"\xff\xda")


def jpeg_scale(header: Header) -> int:
    """The smallest libjpeg reduction (1, 2, 4 or 8) that fits :data:`MAX_DECODED_PIXELS`."""
    for scale in (1, 2, 4, 8):
        if math.ceil(header.width / scale) * math.ceil(header.height / scale) <= MAX_DECODED_PIXELS:
            return scale
    return 8


def check(data: bytes, max_bytes: int) -> tuple[Header, int]:
    """The header and the reduction to decode with; :class:`InvalidInput` when the picture
    is refused. Reads the bytes only, never decodes."""
    if not data:
        raise InvalidInput("image", "no image was uploaded")
    if len(data) > max_bytes:
        raise InvalidInput("image", f"is larger than {max_bytes / 1e6:.1f} MB")
    kind = image_kind(data)
    if kind is None:
        raise InvalidInput("image", "is not a JPEG or PNG file")
    head = read_header(data)
    if head is None:
        raise InvalidInput("image", f"is a damaged {kind.upper()} file (no size in its header)")
    size = f"{head.width}×{head.height} pixels"
    if head.width < 1 or head.height < 1 or head.pixels > MAX_HEADER_PIXELS:
        raise InvalidInput("image", f"is {size}; at most {MAX_HEADER_PIXELS // 10**6} megapixels")
    mp = MAX_DECODED_PIXELS // 10**6
    if head.kind == "png":
        need = head.pixels * head.channels * (2 if head.bit_depth == 16 else 1)
        if need > MAX_DECODED_BYTES:
            depth = f"{head.bit_depth}-bit " if head.bit_depth == 16 else ""
            raise InvalidInput(
                "image",
                f"is a {depth}PNG of {size}, too large to decode here (at most {mp} megapixels "
                "of 8-bit colour); send a JPEG or a smaller picture",
            )
        return head, 1
    scans = scan_count(data)
    if scans > MAX_SCANS:
        raise InvalidInput(
            "image", f"is a JPEG with {scans} scans (at most {MAX_SCANS}); save it again"
        )
    if head.progressive and head.pixels > MAX_DECODED_PIXELS:
        raise InvalidInput(
            "image",
            f"is a progressive JPEG of {size}; at most {mp} megapixels (or save it as a "
            "baseline JPEG)",
        )
    return head, jpeg_scale(head)


def decode(data: bytes, max_bytes: int) -> Decoded:
    """The picture as BGR, within the budget above; :class:`InvalidInput` when refused or
    undecodable."""
    import cv2

    head, scale = check(data, max_bytes)
    flag = cv2.IMREAD_COLOR if scale == 1 else getattr(cv2, _REDUCED[scale] or "")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if img is None or img.size == 0:
        raise InvalidInput("image", f"could not be decoded as {head.kind.upper()}")
    width, height = head.width, head.height
    if img.shape[1] != math.ceil(width / scale):
        # an EXIF orientation turned it: the API reports the picture as decoded
        width, height = height, width
    if scale == 1:
        height, width = img.shape[:2]
    return Decoded(img, width, height, scale)
