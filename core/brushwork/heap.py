"""Freed memory kept in the process for reuse while a long tensor computation runs (glibc only).

An optimisation step frees its intermediate tensors and allocates the same sizes again in the next
step. glibc gives freed blocks above its trim threshold back to the kernel (and serves the largest
from fresh mappings), so each new tensor then costs a page fault and a zeroed page per 4 KiB: on a
1,000-stroke marker-pen painting on two cores that was 15.4 -> 13.6 s (tubingen.jpg, the same
strokes). Within `reused_heap()` freed memory stays in the process; on leaving it, what is free goes
back to the system (`malloc_trim`), so a long-lived process (the editors' bridge) does not keep a
painting's peak. Elsewhere (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import platform
from collections.abc import Iterator

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
# glibc's own dynamic thresholds rise to at most these (64-bit): restored on leaving.
DYNAMIC_MMAP_MAX = 32 << 20
DYNAMIC_TRIM_MAX = 2 * DYNAMIC_MMAP_MAX
KEEP_ALL = 2**31 - 1  # mallopt takes a C int


@functools.cache  # the C library does not change; finding it reads files and runs ldconfig
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


@contextlib.contextmanager
def reused_heap() -> Iterator[None]:
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(M_MMAP_THRESHOLD, KEEP_ALL)
    libc.mallopt(M_TRIM_THRESHOLD, KEEP_ALL)
    try:
        yield
    finally:
        libc.mallopt(M_MMAP_THRESHOLD, DYNAMIC_MMAP_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, DYNAMIC_TRIM_MAX)
        libc.malloc_trim(0)
