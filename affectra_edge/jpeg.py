"""What a JPEG's header says, read without decoding a pixel (uploads, camera frames)."""

from __future__ import annotations

import struct
from typing import NamedTuple

# SOF markers (C0–CF but DHT, JPG and DAC); C2, C6, CA, CE are progressive
_PROGRESSIVE_SOF = (0xC2, 0xC6, 0xCA, 0xCE)


class FrameHeader(NamedTuple):
    width: int
    height: int
    #: a progressive (multi-scan) frame
    progressive: bool
    components: int


def frame_header(data: bytes) -> FrameHeader | None:
    """The JPEG's frame (SOF) header, or None when there is none to read."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            comps = data[i + 9] if i + 9 < len(data) else 3
            return FrameHeader(w, h, marker in _PROGRESSIVE_SOF, comps)
        i += 2 + seg_len
    return None
