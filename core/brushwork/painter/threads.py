"""How many threads the painter's tensor work uses: torch's count on an idle machine, fewer on a
busy one.

Torch splits a CPU kernel over a team of threads that waits for its slowest member. When other
programs hold the cores (an editor, a browser: where a plug-in always runs), a worker that the
system has switched out stalls the rest of the team, which spin while they wait: measured on 2 cores
at load average 15-19, a 200-stroke painting at 256 px took 16 CPU s (134 s wall) on one thread, and
on two had not finished after 140 CPU s (23 minutes wall). So the painter keeps to the cores nobody
else uses. The load average is read once, when a painting starts: it lags by a minute, and right after
a painting it still counts that one's threads.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

import torch


def threads_for_load(available: int, cores: int, load: float) -> int:
    """Threads to use, at most `available`: the `cores` less the other work (`load`, the runnable
    processes besides this one, rounded), at least one."""
    return max(1, min(available, cores - math.floor(load + 0.5)))


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may run on (containers, taskset)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.contextmanager
def load_aware_threads() -> Iterator[int]:
    """Torch's thread count lowered for the machine's load (its one-minute average, read once:
    Windows has none, and there the count is kept) while the block runs, then restored."""
    available = torch.get_num_threads()
    getloadavg = getattr(os, "getloadavg", None)
    threads = available if getloadavg is None else threads_for_load(available, _cores(), getloadavg()[0])
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(available)
