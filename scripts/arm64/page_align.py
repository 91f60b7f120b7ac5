#!/usr/bin/env python3
"""Every aarch64 shared object in SITE must load on a kernel with 16 KiB pages.

Raspberry Pi OS Bookworm boots the Pi 5 with a 16 KiB-page kernel (kernel_2712.img), and an ELF
whose PT_LOAD segments are aligned to less than the page size fails to load there. qemu-user
runs with the host's 4 KiB pages and cannot show that, so the segments are read directly.

    page_align.py SITE [--page 16384]
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

PT_LOAD = 1
EM_AARCH64 = 183


def min_load_align(path: Path) -> int | None:
    """The smallest PT_LOAD alignment of a 64-bit little-endian aarch64 ELF, else None."""
    with path.open("rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None
        (machine,) = struct.unpack_from("<H", head, 18)
        if machine != EM_AARCH64:
            return None
        phoff, phentsize, phnum = (
            struct.unpack_from("<Q", head, 32)[0],
            *struct.unpack_from("<HH", head, 54),
        )
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    aligns = [
        struct.unpack_from("<Q", table, i * phentsize + 48)[0]
        for i in range(phnum)
        if struct.unpack_from("<I", table, i * phentsize)[0] == PT_LOAD
    ]
    return min(aligns) if aligns else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--page", type=int, default=16384)
    args = parser.parse_args(argv)
    checked, bad = 0, []
    for path in sorted(args.site.rglob("*.so*")):
        if not path.is_file():
            continue
        align = min_load_align(path)
        if align is None:
            continue
        checked += 1
        if align < args.page:
            bad.append(f"{path.relative_to(args.site)}: PT_LOAD aligned to {align:#x}")
    for line in bad:
        print(f"  too small for {args.page // 1024} KiB pages: {line}")
    print(
        f"  {checked} aarch64 shared objects, {len(bad)} that a {args.page // 1024} KiB-page kernel cannot load"
    )
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
