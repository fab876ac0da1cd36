"""The job queue: one job runs at a time in the worker process, the others wait in order.

A runner thread feeds jobs to the worker (server/worker.py) and records its progress messages.
Cancelling a queued job removes it; cancelling the running one kills the worker, which stops it
at once whatever it is doing, and a fresh worker is started for the next job.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from brushwork.server.worker import Picture, WorkerJob, main as worker_main

KEEP_FINISHED = 8  # finished jobs (and their results, tens of MB for large canvases) kept to be fetched


@dataclass
class Job:
    spec: WorkerJob
    state: str = "queued"  # queued | running | done | failed | cancelled
    fraction: float = 0.0
    message: str = "queued"
    error: str | None = None
    preview: bytes | None = None
    preview_serial: int = 0
    png: bytes | None = None
    svg: str | None = None
    width: int = 0
    height: int = 0
    created: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


class Worker:
    """The child process and its pipe; (re)started on demand."""

    def __init__(self) -> None:
        # spawn, not fork: the server has threads (uvicorn, the runner), and torch must be imported fresh
        self._context = multiprocessing.get_context("spawn")
        self.process = None
        self.conn = None

    def ensure(self) -> None:
        if self.process is not None and self.process.is_alive():
            return
        parent, child = self._context.Pipe()
        self.process = self._context.Process(target=worker_main, args=(child,), name="brushwork-worker",
                                             daemon=True)
        self.process.start()
        child.close()
        self.conn = parent

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
    def __init__(self, preview_interval: float = 2.0) -> None:
        self.preview_interval = preview_interval
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.queue: deque[Job] = deque()
        self.running: Job | None = None
        self.lock = threading.Condition()
        self.worker = Worker()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="brushwork-jobs", daemon=True)

    def start(self) -> None:
        with self.lock:
            self.worker.ensure()  # warm: the worker imports torch while nobody waits for it yet
        self._thread.start()

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self.lock.notify_all()
            self.worker.kill()

    @property
    def busy(self) -> bool:
        return self.running is not None or bool(self.queue)

    def submit(self, kind: str, params: dict[str, Any], image: Picture, style: Picture | None) -> Job:
        job = Job(WorkerJob(uuid.uuid4().hex, kind, params, image, style, self.preview_interval))
        with self.lock:
            self.jobs[job.id] = job
            self.queue.append(job)
            self._forget_old()
            self.lock.notify_all()
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def position(self, job: Job) -> int:
        """1-based place in the queue; 0 when running or finished."""
        with self.lock:
            try:
                return self.queue.index(job) + 1
            except ValueError:
                return 0

    def cancel(self, job: Job) -> None:
        with self.lock:
            if job.finished:
                return
            if job in self.queue:
                self.queue.remove(job)
            elif job is self.running:
                self.worker.terminate_now()  # stops torch mid-step; the runner thread sees the pipe close
            job.state, job.message = "cancelled", "cancelled"
            job.preview = None
            self._forget_old()

    def _forget_old(self) -> None:
        finished = [j for j in self.jobs.values() if j.finished]
        for job in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del self.jobs[job.id]

    def _run(self) -> None:
        while True:
            with self.lock:
                while not self.queue and not self._closed:
                    self.lock.wait()
                if self._closed:
                    return
                job = self.queue.popleft()
                self.running = job
                job.state, job.message = "running", "starting"
                self.worker.ensure()
                conn = self.worker.conn
            try:
                self._feed(job, conn)
            finally:
                with self.lock:
                    self.running = None
                    self._forget_old()

    def _feed(self, job: Job, conn) -> None:
        try:
            conn.send(("job", job.spec))
            while True:
                message = conn.recv()
                with self.lock:
                    if job.state == "cancelled":
                        self.worker.kill()
                        return
                    if message[0] == "progress":
                        _, _, job.fraction, job.message, preview = message
                        if preview is not None:
                            job.preview, job.preview_serial = preview, job.preview_serial + 1
                    elif message[0] == "done":
                        _, _, job.png, job.svg, job.width, job.height = message
                        job.state, job.fraction, job.message = "done", 1.0, "done"
                        return
                    elif message[0] == "error":
                        job.state, job.error, job.message = "failed", message[2], message[2]
                        return
        except (EOFError, OSError, BrokenPipeError):
            with self.lock:
                code = self.worker.kill()
                if job.state == "cancelled" or self._closed:
                    return
                job.state = "failed"
                job.error = job.message = (f"the worker process died (exit code {code}) while running this "
                                           "job; see the server log")
