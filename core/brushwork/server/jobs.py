"""The job queue: one job runs at a time in the worker process, the others wait in order.

A runner thread feeds jobs to the worker (server/worker.py) and records its progress messages.
Cancelling a queued job removes it; cancelling the running one kills the worker, which stops it
at once whatever it is doing, and a fresh worker is started for the next job.

What the queue accepts and keeps is bounded by `Limits` (documented in the README's bridge section;
the API answers 413 or 429 with what to do): jobs waiting, the worker memory one job may need, the
pictures waiting jobs hold, and how long and how much finished jobs' results are kept.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any, Literal

from brushwork.server.worker import (
    BatchDone,
    JobDone,
    JobFailed,
    JobProgress,
    Picture,
    WorkerJob,
    main as worker_main,
    probe_devices,
)

MB = 1 << 20

JobKind = Literal["paint", "stylize", "batch"]


class JobState(StrEnum):
    """Where a job is; str-valued, so the API's JSON says the same words."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (JobState.DONE, JobState.FAILED, JobState.CANCELLED)

# Peak growth of the worker's memory per pixel of the picture, by job kind (stylize: by method),
# measured as the worker's peak RSS at 1.5, 6 and 24 MP on a CPU build and rounded up by about 20 %.
# gatys optimises at full resolution at the end: it needs about 30 times what painting does.
# trained (Johnson, width 16): the picture as float tensors (input, padded copy, output: 36 B) and the
# quarter-resolution middle (64 channels / 16 = 16 B a tensor, about three alive): estimated, not measured.
WORKER_BYTES_PER_PIXEL = {"paint": 40, "adain": 80, "wct": 128, "gatys": 1800, "microast": 192, "trained": 128}
STYLE_BYTES_PER_PIXEL = 48  # the style picture is converted whole before the stylizer resizes it


@dataclass(frozen=True)
class Limits:
    """The bridge's bounds. The defaults are documented in the README (bridge section) and the API's
    413/429 answers; `brushwork serve` uses them."""

    # Jobs waiting behind the running one. Editors submit one job per dialog; more than this is a
    # runaway script, and each waiting job holds its picture in the server.
    max_queued: int = 16
    # Estimated worker memory one job may need (WORKER_BYTES_PER_PIXEL): 2 GiB paints about 53 MP,
    # stylizes about 27 MP with adain, 16 MP with wct, 1.2 MP with gatys.
    job_bytes: int = 2048 * MB
    # Pictures (4 bytes a pixel) held by waiting jobs together; a job's are freed as the worker takes it.
    queued_bytes: int = 1024 * MB
    # Finished jobs (and their results) are forgotten this long after they finish, fetched or not.
    keep_seconds: float = 3600.0
    # Results (PNG, SVG, preview) kept together; past it the oldest results that were already fetched
    # are dropped first, then the oldest unfetched ones (their result calls answer 410).
    result_bytes: int = 1024 * MB
    # Finished jobs remembered at most (their status records; tiny once their results are gone).
    max_finished: int = 1000

    def __post_init__(self) -> None:
        for name in ("max_queued", "job_bytes", "queued_bytes", "result_bytes", "max_finished"):
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1, got {getattr(self, name)}")
        if not self.keep_seconds > 0:
            raise ValueError(f"Limits.keep_seconds must be more than 0, got {self.keep_seconds}")


def describe(params: dict[str, Any], image: Picture | None, style: Picture | None) -> str:
    """One line of what a job was asked to do, for the server log: its picture sizes and parameters
    (never pixels; long values cut short)."""
    parts = (([f"{image.width}x{image.height} px"] if image else [])
             + ([f"style {style.width}x{style.height} px"] if style else []))
    for name, value in sorted(params.items()):
        text = repr(value)
        parts.append(f"{name}={text if len(text) <= 40 else text[:37] + '...'}")
    return ", ".join(parts)


def trained_style(params: dict[str, Any]) -> bool:
    """Whether stylize parameters name a trained style (`model`; an editor's empty field names none)."""
    model = params.get("model")
    return isinstance(model, str) and bool(model.strip())


def job_method(kind: str, params: dict[str, Any]) -> str:
    """What a job's memory is estimated by: paint, or the stylize method (`trained` when a trained style
    is named, as `StyleOptions.validate` picks it)."""
    if kind != "stylize":
        return "paint"
    return "trained" if trained_style(params) else params["method"]


def job_rate(kind: str, params: dict[str, Any]) -> int:
    """Estimated peak worker memory of a job, bytes per pixel of its picture (WORKER_BYTES_PER_PIXEL)."""
    rate = WORKER_BYTES_PER_PIXEL[job_method(kind, params)]
    if kind == "paint" and trained_style(params):  # the whole picture is stylized first, then painted
        rate = max(rate, WORKER_BYTES_PER_PIXEL["trained"])
    return rate


def job_memory(kind: str, params: dict[str, Any], pixels: int, style_pixels: int = 0) -> int:
    """Estimated peak worker memory (bytes) of a job on a picture of `pixels` pixels."""
    return pixels * job_rate(kind, params) + style_pixels * STYLE_BYTES_PER_PIXEL


class QueueFull(Exception):
    """The queue cannot take the job now (too many jobs, or their pictures too large); the message
    says what to do. The API answers 429."""


@dataclass(eq=False)  # identity, not field-by-field: comparing two jobs must never compare their pixels
class Job:
    id: str
    kind: JobKind
    # The input (pictures and parameters): dropped as soon as the worker has it or the job ends.
    spec: WorkerJob | None = field(repr=False)
    state: JobState = JobState.QUEUED
    fraction: float = 0.0
    message: str = "queued"
    error: str | None = None
    preview: bytes | None = field(default=None, repr=False)
    preview_serial: int = 0
    png: bytes | None = field(default=None, repr=False)
    svg: str | None = field(default=None, repr=False)
    width: int = 0
    height: int = 0
    created: float = field(default_factory=time.time)
    finished_at: float | None = None  # JobManager clock; starts the keep_seconds countdown
    fetched: bool = False  # a result was served: such results are dropped first when memory is short
    dropped: str | None = None  # why the result is gone although the job is done
    summary: str = ""  # what it was asked to do, for the server log (`describe`)
    items: list[dict[str, Any]] = field(default_factory=list)  # a batch's finished items (worker.JobProgress.item)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def input_bytes(self) -> int:
        if self.spec is None:
            return 0
        return sum(len(picture.rgba) for picture in (self.spec.image, self.spec.style) if picture is not None)

    @property
    def result_bytes(self) -> int:
        return len(self.png or b"") + len(self.svg or "") + len(self.preview or b"")


class Worker:
    """The child process and its pipe; (re)started on demand."""

    def __init__(self) -> None:
        # spawn, not fork: the server has threads (uvicorn, the runner), and torch must be imported fresh
        self._context = multiprocessing.get_context("spawn")
        self.process: SpawnProcess | None = None
        self.conn: Connection | None = None

    def ensure(self) -> None:
        if self.process is not None and self.process.is_alive():
            return
        parent, child = self._context.Pipe()
        process = self._context.Process(target=worker_main, args=(child,), name="brushwork-worker", daemon=True)
        process.start()
        child.close()
        self.process, self.conn = process, parent

    def terminate_now(self) -> None:
        """SIGKILL without waiting; the runner thread reaps it and closes the pipe (`kill`)."""
        if self.process is not None:
            self.process.kill()

    def kill(self) -> int | None:
        """Stop the process (if it still runs), reap it, close the pipe; returns its exit code."""
        code = None
        if self.process is not None:
            if self.process.is_alive():
                self.process.join(0.2)  # it may be exiting on its own (a crash): keep its real code
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
            code = self.process.exitcode
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None
        return code


class JobManager:
    """The jobs the server knows: queued (in order), the running one, and finished ones until they
    are forgotten (`Limits.keep_seconds`). All state is guarded by `lock`."""

    def __init__(self, preview_interval: float = 2.0, limits: Limits = Limits(), *, default_device: str = "auto",
                 clock: Callable[[], float] = time.monotonic, worker: Worker | None = None,
                 devices: Callable[[], list[str]] = probe_devices) -> None:
        self.preview_interval = preview_interval
        self.limits = limits
        self.default_device = default_device  # for jobs that do not ask for one (`brushwork serve --device`)
        self._probe_devices = devices
        self._devices: list[str] | None = None
        self._devices_lock = threading.Lock()
        self.clock = clock  # for keep_seconds; tests pass their own to age jobs without waiting
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.queue: deque[Job] = deque()
        self.running: Job | None = None
        self.lock = threading.Condition()
        self.worker = worker or Worker()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="brushwork-jobs", daemon=True)

    def start(self) -> None:
        with self.lock:
            self.worker.ensure()  # warm: the worker imports torch while nobody waits for it yet
        self._thread.start()
        # the devices too, for the editors' first GET /v1/options
        threading.Thread(target=self.available_devices, name="brushwork-devices", daemon=True).start()

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self.lock.notify_all()
            self.worker.kill()

    def available_devices(self) -> list[str]:
        """The device names jobs can ask for here besides auto, best first: what the machine has
        (asked once, of a Python that imports torch), with `cuda` before the first cuda:N, so that the
        options document's names (auto, cpu, cuda, mps) can be looked up in it."""
        with self._devices_lock:  # not `lock`: the probe takes seconds, status calls must not wait on it
            if self._devices is None:
                found = self._probe_devices()
                self._devices = [name for device in found
                                 for name in (["cuda"] if device == "cuda:0" else []) + [device]]
            return list(self._devices)

    @property
    def busy(self) -> bool:
        return self.running is not None or bool(self.queue)

    # -- submitting ------------------------------------------------------------------------------

    def admit(self, input_bytes: int) -> None:
        """Raise QueueFull if a job holding `input_bytes` of pictures could not be queued now: asked
        before the upload is decoded, so a full queue costs no decoding."""
        with self.lock:
            self._check_room(input_bytes)

    def _check_room(self, input_bytes: int) -> None:
        waiting = len(self.queue)
        if waiting >= self.limits.max_queued:
            raise QueueFull(f"the queue is full ({waiting} jobs waiting, the most it takes); wait for one to "
                            "finish or cancel one, then submit again")
        held = sum(job.input_bytes for job in self.queue)
        # An empty queue takes any job (the worker takes it next), so no picture is refused forever.
        if waiting and held + input_bytes > self.limits.queued_bytes:
            raise QueueFull(f"the {waiting} waiting jobs hold {held / MB:.0f} MB of pictures; this job's "
                            f"{input_bytes / MB:.0f} MB more would pass the queue's {self.limits.queued_bytes / MB:.0f}"
                            " MB; wait for a job to finish or cancel one, then submit again")

    def submit(self, kind: JobKind, params: dict[str, Any], image: Picture | None, style: Picture | None) -> Job:
        """Queue a job (a batch has no pictures: it reads files); QueueFull when there is no room for it
        (`Limits`)."""
        spec = WorkerJob(uuid.uuid4().hex, kind, params, image, style, self.preview_interval)
        job = Job(spec.id, kind, spec, summary=describe(params, image, style))
        with self.lock:
            self._tidy()
            self._check_room(job.input_bytes)
            self.jobs[job.id] = job
            self.queue.append(job)
            self.lock.notify_all()
        return job

    # -- reading ---------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        """The job, or None when there is none (any more)."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None and self._expired(job):
                del self.jobs[job_id]
                return None
            return job

    def position(self, job: Job) -> int:
        """1-based place in the queue; 0 when running or finished."""
        with self.lock:
            # By identity, over at most max_queued jobs: deque.index compared jobs field by field
            # and, on a miss, built its error message from a repr of the job's pixels.
            for place, queued in enumerate(self.queue, 1):
                if queued is job:
                    return place
            return 0

    def listing(self) -> list[tuple[Job, int]]:
        """Every job the server remembers with its queue position, oldest first."""
        with self.lock:
            self._tidy()
            places = {queued.id: place for place, queued in enumerate(self.queue, 1)}
            return [(job, places.get(job.id, 0)) for job in self.jobs.values()]

    def mark_fetched(self, job: Job) -> None:
        """A result of `job` was served: when results must be dropped, fetched ones go first."""
        with self.lock:
            job.fetched = True

    # -- cancelling and forgetting ---------------------------------------------------------------

    def cancel(self, job: Job) -> None:
        with self.lock:
            if job.finished:
                return
            if job.state == JobState.QUEUED:
                self.queue.remove(job)  # identity comparison (Job has eq=False)
            elif job is self.running:
                self.worker.terminate_now()  # stops torch mid-step; the runner thread sees the pipe close
            self._finish(job, JobState.CANCELLED, "cancelled")
            job.preview = None
            self._tidy()

    def _finish(self, job: Job, state: JobState, message: str, error: str | None = None) -> None:
        """Under the lock: the job is over; its pictures go at once (they were most of its memory)."""
        job.state, job.message, job.error = state, message, error
        job.spec = None
        job.finished_at = self.clock()
        if state == JobState.FAILED:  # one line in the server log (its stderr) that says what failed and why
            reason = " | ".join(line.strip() for line in (error or message).splitlines() if line.strip())
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} job {job.id} failed: {job.kind} ({job.summary}): {reason}",
                  file=sys.stderr, flush=True)

    def _expired(self, job: Job) -> bool:
        return job.finished_at is not None and self.clock() - job.finished_at > self.limits.keep_seconds

    def _tidy(self) -> None:
        """Under the lock: forget jobs past keep_seconds or past max_finished (oldest first), then
        drop results past result_bytes (fetched ones first, oldest first)."""
        finished = sorted((job for job in self.jobs.values() if job.finished), key=lambda j: j.finished_at or 0.0)
        surplus = len(finished) - self.limits.max_finished
        kept = []
        for number, job in enumerate(finished):
            if number < surplus or self._expired(job):
                del self.jobs[job.id]
            else:
                kept.append(job)
        holding = [job for job in kept if job.result_bytes]
        total = sum(job.result_bytes for job in holding)
        if total <= self.limits.result_bytes:
            return
        for job in sorted(holding, key=lambda j: not j.fetched):  # stable: oldest first within each group
            if total <= self.limits.result_bytes:
                break
            total -= job.result_bytes
            job.png = job.svg = job.preview = None
            job.dropped = (f"its result was dropped to keep the server's memory bounded (finished jobs' results "
                           f"may take {self.limits.result_bytes / MB:.0f} MB together; fetched ones go first); "
                           "run the job again, and fetch its result soon after it finishes")

    # -- the runner thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self.lock:
                while not self.queue and not self._closed:
                    # Wake now and then so that old results are freed even when nobody calls.
                    self.lock.wait(timeout=60.0)
                    self._tidy()
                if self._closed:
                    return
                job = self.queue.popleft()
                self.running = job
                job.state, job.message = JobState.RUNNING, "starting"
                self.worker.ensure()
                conn = self.worker.conn
                assert conn is not None  # ensure() made one
            try:
                self._feed(job, conn)
            finally:
                with self.lock:
                    self.running = None
                    self._tidy()

    def _feed(self, job: Job, conn: Connection) -> None:
        with self.lock:
            spec, job.spec = job.spec, None  # the worker gets the pictures; the server need not keep them
            if spec is None:  # cancelled between leaving the queue and reaching the worker, which
                self.worker.kill()  # cancel killed: reap it and close its pipe
                return
        try:
            conn.send(spec)
            del spec
            while True:
                message = conn.recv()
                with self.lock:
                    if job.state == JobState.CANCELLED:
                        self.worker.kill()
                        return
                    if isinstance(message, JobProgress):
                        job.fraction, job.message = message.fraction, message.message
                        if message.preview is not None:
                            job.preview, job.preview_serial = message.preview, job.preview_serial + 1
                        if message.item is not None:
                            job.items.append(message.item)
                    elif isinstance(message, JobDone):
                        job.png, job.svg = message.png, message.svg
                        job.width, job.height = message.width, message.height
                        job.fraction = 1.0
                        self._finish(job, JobState.DONE, "done")
                        return
                    elif isinstance(message, BatchDone):
                        job.fraction = 1.0
                        self._finish(job, JobState.DONE, message.summary)
                        return
                    elif isinstance(message, JobFailed):
                        self._finish(job, JobState.FAILED, message.message, error=message.message)
                        return
        except (EOFError, OSError, BrokenPipeError):
            with self.lock:
                code = self.worker.kill()
                if job.state == JobState.CANCELLED or self._closed:
                    return
                error = (f"the worker process died (exit code {code}) while running this job; see the "
                         "server log")
                self._finish(job, JobState.FAILED, error, error=error)
