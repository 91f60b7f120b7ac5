"""Keep glibc from holding on to large freed buffers in every thread's malloc arena.

glibc raises its mmap threshold to the size of the largest block freed so far (up to 32 MiB),
after which such blocks come from the calling thread's arena and stay resident when freed.
A login's scrypt needs 16 MiB: every web worker that ever checked a password then kept 16 MiB
(16 workers: +256 MiB that never came back, the "RSS rises in steps" of the soak and the
496 MB after a login storm in the hostile-input review). A fixed threshold sends blocks of
:data:`MMAP_THRESHOLD` and more straight to ``mmap`` and back to the system on ``free``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

#: above a 1080p BGR frame (6.2 MB, reused every frame), below scrypt's 16 MiB and an
#: upload's decode buffers
MMAP_THRESHOLD = 8 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


def limit_allocator_retention(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold for this process; False where there is no glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, macOS: nothing to tune
        logger.debug("memory: no glibc mallopt; allocator left as it is")
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    logger.debug("memory: mmap threshold fixed at %d bytes: %s", threshold, ok)
    return ok
