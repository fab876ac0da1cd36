"""Running a batch: skip the complete items, run the rest through one per-item function (here, in
worker processes or on a Ray cluster), report each item, and sum up.

`process(item)` is the per-item function: the item's task writes its outputs, then its completeness
record is written. It never raises for a bad item: a failure is an Outcome carrying the one-line
message, so one broken photo does not stop the rest.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brushwork.batch import manifest
from brushwork.batch.items import Item
from brushwork.batch.tasks import PaintTask, StyleTask, Task, settings_record
from brushwork.errors import BrushworkError

if TYPE_CHECKING:
    from brushwork.stylize import Models

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Outcome:
    name: str
    source: Path
    status: str  # "done", "skipped" (complete from an earlier run) or "failed"
    seconds: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class Summary:
    outcomes: tuple[Outcome, ...]
    seconds: float

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def line(self, verb: str) -> str:
        """`12 painted, 3 skipped (complete), 1 failed in 5 min 3 s (2.4 items/min)`."""
        done = self.count("done")
        rate = f" ({60 * done / self.seconds:.1f} items/min)" if done and self.seconds > 0 else ""
        minutes, seconds = divmod(round(self.seconds), 60)
        took = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
        return (f"{done} {verb}, {self.count('skipped')} skipped (complete), {self.count('failed')} failed "
                f"in {took}{rate}")


def is_complete(item: Item) -> bool:
    return manifest.is_complete(item.record, settings_record(item.task), item.task.inputs(), item.task.outputs())


def record(item: Item) -> None:
    manifest.write(item.record, settings_record(item.task), item.task.inputs(), item.task.outputs())


def attempt(name: str, task: Task, **run_args: Any) -> Outcome:
    """Run one task (`run_args` go to its run); a failure becomes the Outcome's one-line message
    (KeyboardInterrupt and a cancelled painting are not failures: they stop the batch)."""
    started = time.perf_counter()
    try:
        if isinstance(task, PaintTask):
            if task.run(**run_args).cancelled:
                raise KeyboardInterrupt
        elif isinstance(task, StyleTask):
            task.run(models=_models(task.vgg, task.decoder), **run_args)
        else:
            task.run(**run_args)
    except BrushworkError as exc:
        return Outcome(name, _source(task), "failed", time.perf_counter() - started, str(exc))
    except Exception as exc:  # a bug or an unreadable file: reported with the item, the rest go on
        return Outcome(name, _source(task), "failed", time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    return Outcome(name, _source(task), "done", time.perf_counter() - started)


def process(item: Item) -> Outcome:
    """The per-item function: outputs on disk, then the completeness record."""
    outcome = attempt(item.name, item.task)
    if outcome.status == "done":
        try:
            record(item)
        except BrushworkError as exc:
            return Outcome(item.name, outcome.source, "failed", outcome.seconds, str(exc))
    return outcome


def _source(task: Task) -> Path:
    return task.inputs()[0]


@functools.lru_cache(maxsize=1)
def _models(vgg: Path | None, decoder: Path | None) -> Models:
    """The style networks of a worker process, loaded once for all its items (the Models object keeps
    them per device), as a server worker does."""
    return StyleTask(Path(), (), Path(), vgg=vgg, decoder=decoder).models()


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Torch threads for each of `workers` processes sharing this machine's cores: cores // workers,
    at least one, so N workers do not oversubscribe the CPU (each would otherwise take them all)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def _start_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_local(items: Sequence[Item], jobs: int) -> Iterator[Outcome]:
    """Outcomes as items finish: in this process for one job, else in `jobs` spawned worker processes
    with threads_per_worker(jobs) torch threads each."""
    if jobs <= 1:
        for item in items:
            yield process(item)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: torch must be imported fresh in each worker (the server's workers do the same).
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(threads_per_worker(jobs),))
    try:
        futures = [pool.submit(process, item) for item in items]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_batch(items: Sequence[Item], *, executor: str = "local", jobs: int = 1, address: str | None = None,
              force: bool = False, device: str = "auto",
              on_outcome: Callable[[Outcome], None] | None = None) -> Summary:
    """Run every item that is not complete already (all of them with `force`): `executor` "local" runs
    them here (`jobs` worker processes), "ray" as Ray tasks on the cluster at `address` (a GPU per task
    when `device` is cuda). `on_outcome` hears of each item as it finishes, the skipped ones first."""
    if executor not in EXECUTORS:
        raise BrushworkError(f"--executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    if jobs < 1:
        raise BrushworkError(f"--jobs {jobs}: expected a whole number >= 1")
    if address is not None and executor != "ray":
        raise BrushworkError("--address names a Ray cluster: use it with --executor ray")
    for item in items:
        item.task.check()  # every item's settings and outputs, before the first one runs
    started = time.perf_counter()
    outcomes: list[Outcome] = []

    def report(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    todo: list[Item] = []
    for item in items:
        if not force and is_complete(item):
            report(Outcome(item.name, _source(item.task), "skipped"))
        else:
            item.record.unlink(missing_ok=True)  # incomplete until its outputs are all written again
            todo.append(item)
    if todo:
        finished: Iterable[Outcome]
        if executor == "ray":
            from brushwork.batch.ray_cluster import run_on_ray

            finished = run_on_ray(todo, address, device)
        else:
            finished = run_local(todo, jobs)
        for outcome in finished:
            report(outcome)
    return Summary(tuple(outcomes), time.perf_counter() - started)
