"""How many threads the painter's tensor work uses: torch's count on an idle machine, fewer on a
busy one.

Torch splits a CPU kernel over a team of threads that waits for its slowest member. When other
programs hold the cores (an editor, a browser: where a plug-in always runs), a worker that the
system has switched out stalls the rest of the team, which spin while they wait: measured on 2 cores
at load average 15-19, a 200-stroke painting at 256 px took 16 CPU s (134 s wall) on one thread, and
on two had not finished after 140 CPU s (23 minutes wall). So the painter keeps to the cores nobody
else uses, counted when a painting starts.

The count is of the tasks runnable at that moment (Linux's /proc/loadavg, a few readings) less this
process's own (its threads in /proc/self/task: right after torch work its idle workers still spin for
a while, runnable). The one-minute load average lags a minute behind a program that has just started,
which then takes a core the painter counted as free, and right after a painting it still counts that
painting's own threads, so that every painting of a batch after the first would run on one thread.
Where there is no /proc/loadavg (macOS) the load average is all there is; Windows has neither, and
there torch's count is kept. $BRUSHWORK_THREADS=N pins the count whatever the load: the same seed then
gives the same painting on every run (with fewer threads torch adds its sums up in another order).
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from brushwork.errors import BrushworkError

THREADS_ENV = "BRUSHWORK_THREADS"
PROC_LOADAVG = Path("/proc/loadavg")
PROC_SELF_TASKS = Path("/proc/self/task")  # a folder per thread of this process
# Readings of the runnable tasks, READING_GAP seconds apart: their median rides out a passing blip,
# and all of them take about 5 ms (stylizing a video reads them for every frame).
READINGS = 5
READING_GAP = 0.001


def threads_for_load(available: int, cores: int, load: float) -> int:
    """Threads to use, at most `available`: the `cores` less the other work (`load`, the runnable
    processes besides this one, rounded), at least one."""
    return max(1, min(available, cores - math.floor(load + 0.5)))


def runnable(loadavg: str) -> int:
    """The tasks runnable at the moment /proc/loadavg's text was read (its fourth field,
    'runnable/existing'), the one reading it included."""
    return int(loadavg.split()[3].split("/")[0])


def runnable_here() -> int:
    """This process's threads that are running or waiting for a core (state R in their stat line,
    after the name in parentheses, which may itself hold any character)."""
    count = 0
    for stat in PROC_SELF_TASKS.glob("*/stat"):
        with contextlib.suppress(OSError):  # a thread that has just ended
            count += stat.read_text().rsplit(")", 1)[1].split()[0] == "R"
    return count


def other_work() -> float | None:
    """The tasks of other processes that want a core now (see the module docstring), or None where
    the system does not say."""
    try:
        readings = []
        for reading in range(READINGS):
            if reading:
                time.sleep(READING_GAP)
            readings.append(runnable(PROC_LOADAVG.read_text()) - max(1, runnable_here()))
        return max(0, statistics.median(readings))
    except (OSError, ValueError, IndexError):  # not Linux, or a /proc of another shape
        getloadavg = getattr(os, "getloadavg", None)
        return None if getloadavg is None else getloadavg()[0]


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may run on (containers, taskset)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pinned_threads() -> int | None:
    """The thread count $BRUSHWORK_THREADS pins (None: unset). The count changes the last bits of
    torch's sums, and through them the painting, so runs that must repeat exactly pin it."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise BrushworkError(f"{THREADS_ENV}={text!r}: expected a whole number of threads, 1 or more")
    return int(text)


def threads_now(available: int) -> int:
    """Threads to use now: the pinned count if there is one, else at most `available`, for the other
    work on the machine (`other_work`)."""
    pinned = pinned_threads()
    if pinned is not None:
        return pinned
    load = other_work()
    return available if load is None else threads_for_load(available, _cores(), load)


@contextlib.contextmanager
def load_aware_threads() -> Iterator[int]:
    """Torch's thread count lowered for the other work on the machine (`other_work`, read once)
    while the block runs, then restored. A long job can recount with `threads_now` as it goes."""
    available = torch.get_num_threads()
    threads = threads_now(available)
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(available)
