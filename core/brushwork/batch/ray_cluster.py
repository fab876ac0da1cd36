"""`--executor ray`: a batch's items as Ray tasks on a cluster (Ray is the optional extra `brushwork[ray]`).

Each task runs the same per-item work as a local batch (`run.attempt`); a video is cut into chunks of
consecutive frames (`chunks`), a task each, and the driver writes the video from their paintings as
they come back, in order. The nodes need brushwork
installed, not the files: the driver sends each item's input files to its task through Ray's object
store (a style image once for all items), the task works in a temporary folder and sends the output
files back, and the driver writes them into the output folder atomically, then the item's
completeness record. So a cluster needs no shared file system, and what is on disk is only ever
written on the machine that asked for it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from brushwork.batch.chunks import chunks, paint_chunk
from brushwork.batch.items import Item
from brushwork.batch.run import Outcome, attempt, record
from brushwork.batch.tasks import ClipTask, Task
from brushwork.errors import BrushworkError
from brushwork.files import atomic_write

CPUS_PER_TASK = 1  # torch threads of a task: the cluster's scheduler packs one task per CPU it has


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BrushworkError("--executor ray needs Ray, an optional extra: pip install 'brushwork[ray]'") from None
    return ray


def _moved(task: Task, places: dict[Path, Path]) -> Task:
    """`task` with every path (inputs and outputs) replaced by its place in `places`."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(task):
        value = getattr(task, f.name)
        if isinstance(value, Path):
            changes[f.name] = places[value]
        elif isinstance(value, tuple) and value and isinstance(value[0], Path):
            changes[f.name] = tuple(places[p] for p in value)
    return dataclasses.replace(task, **changes)


def run_item_remote(name: str, task: Task, threads: int, *blobs: bytes) -> tuple[Outcome, dict[str, bytes]]:
    """The Ray task: the inputs' bytes (`blobs`, in `task.inputs()` order) laid out in a temporary
    folder, the task run there, and its outputs' bytes by file name (none when it failed)."""
    import torch

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="brushwork-batch-") as folder:
        root = Path(folder)
        places: dict[Path, Path] = {}
        for index, (path, blob) in enumerate(zip(task.inputs(), blobs, strict=True)):
            places[path] = root / "in" / str(index) / path.name  # the name kept: its suffix says the type
            places[path].parent.mkdir(parents=True)
            places[path].write_bytes(blob)
        (root / "out").mkdir()
        places.update({path: root / "out" / path.name for path in task.outputs()})
        here = _moved(task, places)
        outcome = attempt(name, here)
        files = {path.name: path.read_bytes() for path in here.outputs()} if outcome.status == "done" else {}
    return dataclasses.replace(outcome, source=task.inputs()[0]), files


def paint_chunk_remote(frames: list, settings: Any, start: int, threads: int) -> list:
    """The Ray task of a video's chunk: its frames' paintings (`chunks.paint_chunk`)."""
    import torch

    torch.set_num_threads(threads)
    return paint_chunk(frames, settings, start)


def _chunk_painter(remote: Any, ray: Any, size: int | None, ahead: int) -> Any:
    """A FramePainter (`video.clip_jobs`) whose chunks are Ray tasks, at most `ahead` of them in flight
    (the frames wait in the object store), the paintings yielded in frame order."""
    from collections import deque

    def paint(frames: Any, settings: Any) -> Iterator[Any]:
        pending: deque = deque()
        for start, part in chunks(frames, size or 2**62):
            pending.append(remote.remote(part, settings, start, CPUS_PER_TASK))
            if len(pending) >= ahead:
                yield from ray.get(pending.popleft())
        while pending:
            yield from ray.get(pending.popleft())

    return paint


def run_on_ray(items: Sequence[Item], address: str | None, device: str) -> Iterator[Outcome]:
    """Outcomes as the cluster finishes items. `address` is the cluster's (HOST:PORT of its head);
    None joins the one RAY_ADDRESS names, or starts Ray on this machine."""
    ray = _ray()
    joined = not ray.is_initialized()
    if joined:
        try:
            ray.init(address=address, logging_level="WARNING", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise BrushworkError(f"--address {address}: cannot join the Ray cluster ({exc})") from None
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        if device.startswith("cuda") and not gpus:
            raise BrushworkError(f"--device {device}: the Ray cluster has no GPUs (its resources: "
                                 f"{ray.cluster_resources()})")
        if device.startswith("cuda:") and device != "cuda:0":
            raise BrushworkError(f"--device {device}: a Ray task sees only the GPU the cluster gives it (as cuda:0); "
                                 "use --device cuda")
        # A GPU per task where the device is one, or may be one (auto takes CUDA first) and the cluster has them.
        per_task = {"num_cpus": CPUS_PER_TASK, "num_gpus": 1 if device.startswith("cuda") or (device == "auto" and gpus)
                    else 0}
        remote = ray.remote(run_item_remote).options(**per_task, max_retries=1)
        sent: dict[Path, Any] = {}  # each distinct input file goes into the object store once

        def ref(path: Path) -> Any:
            if path not in sent:
                try:
                    sent[path] = ray.put(path.read_bytes())
                except OSError as exc:
                    raise BrushworkError(f"{path}: cannot read ({exc.strerror or exc})") from None
            return sent[path]

        pending: dict[Any, Item] = {}
        early: list[Outcome] = []
        clips = [item for item in items if isinstance(item.task, ClipTask)]
        for item in items:
            if isinstance(item.task, ClipTask):
                continue
            try:
                blobs = [ref(path) for path in item.task.inputs()]
            except BrushworkError as exc:
                early.append(Outcome(item.name, item.task.inputs()[0], "failed", 0.0, str(exc)))
                continue
            pending[remote.remote(item.name, item.task, CPUS_PER_TASK, *blobs)] = item
            if item.task.inputs()[0] in sent:
                del sent[item.task.inputs()[0]]  # the item's own picture: no later item needs it
        yield from early
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                item = pending.pop(ready[0])
                yield _landed(item, ready[0], ray)
        except BaseException:
            for waiting in pending:
                ray.cancel(waiting, force=True)
            raise
        chunk = ray.remote(paint_chunk_remote).options(**per_task, max_retries=1)
        ahead = max(2, 2 * int(ray.cluster_resources().get("GPU" if per_task["num_gpus"] else "CPU", 1)))
        for item in clips:  # read here, painted there chunk by chunk, written here
            assert isinstance(item.task, ClipTask)
            outcome = attempt(item.name, item.task, paint=_chunk_painter(chunk, ray, item.task.chunk, ahead))
            if outcome.status == "done":
                record(item)
            yield outcome
    finally:
        if joined:
            ray.shutdown()


def _landed(item: Item, ref: Any, ray: Any) -> Outcome:
    """Write a finished task's outputs where the item's task names them, then its record."""
    try:
        outcome, files = ray.get(ref)
    except ray.exceptions.RayError as exc:  # the worker died, or the task could not be run
        return Outcome(item.name, item.task.inputs()[0], "failed", 0.0, f"Ray: {str(exc).splitlines()[0]}")
    if outcome.status != "done":
        return outcome
    try:
        for path in item.task.outputs():
            atomic_write(path, files[path.name])
        record(item)
    except BrushworkError as exc:
        return dataclasses.replace(outcome, status="failed", message=str(exc))
    return outcome
