"""brushwork jobs on Krita documents, and the docker's queue of them: what to send, the live preview,
and what to do with the results. No Qt widgets (ui.py shows the queue and ticks it from a UI timer),
so all of this runs against a stand-in `krita` module in the tests.

Threads: Krita's document API is called on the UI thread only (from `JobQueue.tick` and the docker's
buttons). Everything that can wait (encoding the picture, every request to the server, cancelling
on the server, decoding and scaling previews) runs in other threads, so that the UI thread never
waits on the network, not even when the server hangs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import document
from .bridge_client import Bridge, BridgeError, EngineOptions, JobRunner, encode_image, encode_png
from .model import (
    PAINT_LAYER,
    STYLIZE_LAYER,
    VECTOR_LAYER,
    History,
    HistoryEntry,
    PaintOptions,
    Region,
    Settings,
    StylizeOptions,
    Timings,
    fits,
    install_info,
    job_title,
    queue_row,
    unique_name,
)

POLL_INTERVAL = 0.1  # seconds between a job thread's status requests
LEFTOVER_SECONDS = 10.0  # how long removing a preview layer that Krita has not taken in yet is retried

_bridge: Bridge | None = None


def bridge() -> Bridge:
    """One bridge per Krita session: it remembers the server it found or started."""
    global _bridge
    if _bridge is None:
        _bridge = Bridge(install_info(Path(__file__).parent).get("python"))
    return _bridge


def use_engine(python: str) -> None:
    """Start servers with this interpreter from now on (the engine the docker set up or was shown);
    $BRUSHWORK_PYTHON still wins, as everywhere."""
    bridge().python = os.environ.get("BRUSHWORK_PYTHON") or python


def server_options() -> EngineOptions | None:
    """The options document of the server the bridge is connected to, with the devices its machine
    has; None when no server is connected (none is started or restarted for this: the jobs do that).
    Blocks: call it off the UI thread."""
    if not bridge().connected:
        return None
    return EngineOptions(bridge().options(restart=False))


# A preview decoder: PNG bytes → BGRA8 bytes scaled to width x height, or None if unreadable. It runs in
# a worker thread (ui.py's uses QImage, which is safe off the UI thread).
PreviewDecoder = Callable[[bytes, int, int], "bytes | None"]


@dataclass(eq=False)
class DocumentJob:
    """A job on `region` of `doc`. Its runner works in its own thread (`start()`); the queue reads its
    progress from the UI thread."""

    doc: object
    region: Region
    runner: JobRunner
    title: str
    options: PaintOptions | StylizeOptions
    pixels: bytes = field(repr=False)  # the region's BGRA8 pixels; encoded for the server in the job's thread
    vector_layer: bool = False
    style_loader: Callable[[str], bytes] | None = None  # reads the style image (in the job's thread)
    cancelled: bool = False  # Cancel was pressed: the job is gone from the queue whatever the server does
    created: float = field(default_factory=time.monotonic)
    running_since: float | None = None  # when the server started on it (what estimates are measured from)
    preview_group: object = None  # the layer group the preview is in (the result's, once done)
    preview_node: object = None  # the preview layer, once there is one (the painting, once done)
    preview_seen: bytes | None = field(default=None, repr=False)
    preview_pending: Future | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return self.runner.kind

    @property
    def phase(self) -> str:
        """starting (the server or the upload) | waiting (in the server's queue) | running | done |
        failed | cancelled."""
        if self.cancelled:
            return "cancelled"
        state, message = self.runner.state, self.runner.message
        if state == "connecting":
            return "starting"
        if state == "submitted":
            # JobRunner's words for a job in the server's queue (core/brushwork/client.py)
            return "waiting" if message == "queued" or message.startswith("waiting for") else "running"
        return state

    def row(self) -> str:
        runner = self.runner
        return queue_row(self.title, self.phase, runner.message, runner.fraction)

    def start(self) -> None:
        threading.Thread(target=self._work, name="brushwork-job", daemon=True).start()

    def _work(self) -> None:
        try:
            # reading a large style image and base64 of a large region take a while: not on the UI thread
            if self.style_loader is not None:
                self.runner.params = {**self.runner.params, "style": encode_png(self.style_loader(self.options.style))}
            self.runner.image = encode_image(self.pixels, self.region.width, self.region.height, "BGRA8")
        except BridgeError as exc:
            self.runner.state, self.runner.error, self.runner.message = "failed", str(exc), str(exc)
            return
        self.pixels = b""
        self.runner.wait(POLL_INTERVAL)

    def cancel(self) -> None:
        """Returns at once: the server is told in a thread of its own (it may not answer for a while)."""
        if self.cancelled:
            return
        self.cancelled = True
        threading.Thread(target=self.runner.cancel, name="brushwork-cancel", daemon=True).start()

    def entry(self, seconds: float = 0.0) -> HistoryEntry:
        """The finished job's result, as the history keeps it."""
        result = self.runner.result
        assert result is not None
        if (result.width, result.height) != (self.region.width, self.region.height):
            raise BridgeError(f"the server returned {result.width}x{result.height} pixels for a "
                              f"{self.region.width}x{self.region.height} region")
        return HistoryEntry(self.title, self.kind, self.region, result.pixels,
                            result.svg if self.vector_layer else None, seconds)

    def apply(self) -> list:
        """Put the finished job's result into its document (see `apply_result`)."""
        return apply_result(self.doc, self.entry(), (self.preview_group, self.preview_node))


def apply_result(doc, entry: HistoryEntry, preview: tuple = (None, None)) -> list:
    """A result into `doc`: a layer group named after the job (its name made unique) holding the
    painting and, for strokes, a vector layer above it. `preview`: the job's preview group and layer,
    which become the result's (when the user has left them where they were). Returns the group and the
    new layers."""
    r = entry.region
    if len(entry.pixels) != r.width * r.height * 4:
        raise BridgeError(f"the result has {len(entry.pixels)} bytes for a {r.width}x{r.height} region")
    if not fits(r, doc.width(), doc.height()):
        raise BridgeError(f"the result covers {r.width}x{r.height} pixels at {r.x},{r.y}; this image is only "
                          f"{doc.width()}x{doc.height()}")
    name = PAINT_LAYER if entry.kind == "paint" else STYLIZE_LAYER
    group, node = preview
    if node is not None and document.take_preview(doc, group, node, name, entry.pixels, r, entry.title):
        nodes = [group, node]
    else:
        if group is not None:  # the user deleted or moved the preview layer: its group goes, a new one comes
            document.remove_node(doc, group)
        group = document.add_group(doc, unique_name(entry.title, document.layer_names(doc)))
        nodes = [group, document.add_paint_layer(doc, group, name, entry.pixels, r)]
    if entry.svg is not None:
        nodes.append(document.add_vector_layer(doc, group, VECTOR_LAYER, entry.svg, nodes[1]))
    document.finish(doc)
    return nodes


def _prepare(doc, active_layer: bool) -> tuple[Region, bytes]:
    problem = document.check_document(doc)
    if problem is not None:
        raise BridgeError(problem)
    region = document.region_of(doc)
    try:
        pixels = document.read_pixels(doc, region, active_layer)
    except ValueError as exc:
        raise BridgeError(str(exc)) from None
    return region, pixels


def start_paint(doc, options: PaintOptions, engine: EngineOptions, device: str = "",
                load_style: Callable[[str], bytes] | None = None) -> DocumentJob:
    """A paint job on the selection (or the whole canvas) of `doc`, not started yet; its parameters
    are named as `engine`'s options document names them, `device` ("": the engine's default) among them.
    With a style image (`options.style`), `load_style` turns its path into PNG bytes in the job's thread."""
    region, pixels = _prepare(doc, options.active_layer)
    # the strokes come as plain shapes already at the region's place (Krita mangles <use> and masks)
    runner = JobRunner(bridge(), "paint", {}, options.params(engine, device), channels="BGRA8",
                       svg_flavour="flat" if options.vector_layer else None, svg_origin=(region.x, region.y))
    return DocumentJob(doc, region, runner, job_title("paint", options, engine), options, pixels,
                       options.vector_layer, style_loader=load_style if options.style else None)


def start_stylize(doc, options: StylizeOptions, load_style: Callable[[str], bytes], engine: EngineOptions,
                  device: str = "") -> DocumentJob:
    """A stylize job on the selection (or the whole canvas) of `doc`, not started yet. `load_style`
    turns the style image's path into PNG bytes (BridgeError when it cannot); it runs in the job's thread.
    A job with a trained style sends no style image: it needs none."""
    region, pixels = _prepare(doc, options.active_layer)
    runner = JobRunner(bridge(), "stylize", {}, options.params(engine, device), channels="BGRA8")
    return DocumentJob(doc, region, runner, job_title("stylize", options, engine), options, pixels,
                       style_loader=None if options.trained_style() else load_style)


@dataclass
class Outcome:
    """What became of a job that left the queue, for the docker to show."""

    job: DocumentJob
    state: str  # done | failed | cancelled
    message: str
    nodes: list = field(default_factory=list)  # the layers added (done)


class JobQueue:
    """The docker's jobs: started as they are added (the server queues them and runs one at a time),
    shown with a live preview while they run, cancelled at once, and on success put into their
    document and the history. `tick()` is called by a UI timer; nothing here blocks."""

    def __init__(self, settings: Settings, decode_preview: PreviewDecoder,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs: list[DocumentJob] = []  # not finished, oldest first
        self.history = History()
        self._settings, self._decode, self._clock = settings, decode_preview, clock
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brushwork-preview")
        self._leftovers: list[tuple[object, object, float]] = []  # (doc, preview layer, give up at): see _discard
        self._ticking = False

    def add(self, job: DocumentJob) -> None:
        job.created = self._clock()
        self.jobs.append(job)
        job.start()

    def cancel(self, job: DocumentJob) -> Outcome:
        """Cancel a waiting or running job: it leaves the queue and its preview goes at once; the
        server is told in the background."""
        job.cancel()
        self._drop_preview(job)
        if job in self.jobs:
            self.jobs.remove(job)
        return Outcome(job, "cancelled", f"{job.title}: cancelled")

    def timings(self) -> Timings:
        return self._settings.load(Timings)

    def tick(self) -> list[Outcome]:
        """Follow every job: note when it starts running, show new previews, and finish the jobs
        that have ended. Returns what became of those."""
        # Some Krita calls run the event loop while they work (seen: adding a layer), so this timer may
        # fire again inside them, and Cancel may be pressed: neither must see a job half-handled.
        if self._ticking:
            return []
        self._ticking = True
        try:
            return self._tick()
        finally:
            self._ticking = False

    def _tick(self) -> list[Outcome]:
        outcomes = []
        now = self._clock()
        self._leftovers = [(doc, node, until) for doc, node, until in self._leftovers
                           if now < until and document.is_shown(doc) and not document.remove_node(doc, node)]
        for job in list(self.jobs):
            if job not in self.jobs:  # cancelled meanwhile (see tick)
                continue
            phase = job.phase
            if phase == "running" and job.running_since is None:
                job.running_since = now
            elif phase == "starting":  # (again: the server was restarted and the job starts over)
                job.running_since = None
            if job.runner.finished:
                self.jobs.remove(job)
                outcomes.append(self._finish(job, now))
            else:
                self._follow_preview(job)
        return outcomes

    def _follow_preview(self, job: DocumentJob) -> None:
        pending = job.preview_pending
        if pending is not None and pending.done():
            job.preview_pending = None
            try:
                bgra = pending.result()
            except Exception:  # noqa: BLE001 (an unreadable preview is skipped; the job goes on)
                bgra = None
            if bgra is not None and document.is_shown(job.doc):
                group, node = document.show_preview(job.doc, job.preview_group, job.preview_node, bgra, job.region,
                                                     job.title)
                if job in self.jobs:
                    job.preview_group, job.preview_node = group, node
                else:  # cancelled while Krita was adding the layers (see tick)
                    self._discard(job.doc, group)
                    return
        png = job.runner.preview_png
        if png is not None and png is not job.preview_seen and job.preview_pending is None:
            job.preview_seen = png
            job.preview_pending = self._decoder.submit(self._decode, png, job.region.width, job.region.height)

    def _drop_preview(self, job: DocumentJob) -> None:
        job.preview_pending = None
        if job.preview_group is not None:
            self._discard(job.doc, job.preview_group)
        job.preview_group = job.preview_node = None

    def _discard(self, doc, node) -> None:
        """Remove a preview's group; one Krita cannot remove yet (not in the layer stack yet) is tried
        again on the next ticks, for a while."""
        if document.is_shown(doc) and not document.remove_node(doc, node):
            self._leftovers.append((doc, node, self._clock() + LEFTOVER_SECONDS))

    def _finish(self, job: DocumentJob, now: float) -> Outcome:
        runner = job.runner
        job.preview_pending = None
        if runner.state != "done" or not document.is_shown(job.doc):
            self._drop_preview(job)
        if runner.state == "failed":
            return Outcome(job, "failed", f"{job.title}: {runner.error or 'the job failed'}")
        if runner.state != "done":
            return Outcome(job, "cancelled", f"{job.title}: cancelled")
        seconds = now - (job.running_since if job.running_since is not None else job.created)
        try:
            entry = job.entry(seconds)
        except BridgeError as exc:
            self._drop_preview(job)
            return Outcome(job, "failed", f"{job.title}: {exc}")
        self._record(job, seconds)
        self.history.add(entry)
        if not document.is_shown(job.doc):
            return Outcome(job, "done", f"{job.title}: done, but its image was closed; apply it from the history")
        try:
            nodes = apply_result(job.doc, entry, (job.preview_group, job.preview_node))
        except BridgeError as exc:
            self._drop_preview(job)
            return Outcome(job, "failed", f"{job.title}: {exc}")
        job.preview_group = job.preview_node = None  # the result's now (or gone, see apply_result)
        return Outcome(job, "done", f"{job.title}: done in {seconds:.0f} s", nodes)

    def _record(self, job: DocumentJob, seconds: float) -> None:
        """This machine's speed, for the estimates."""
        timings = self.timings()
        if isinstance(job.options, PaintOptions):
            timings.add_paint(job.options, seconds)
        else:
            timings.add_stylize(job.options.method, job.region.megapixels, seconds)
        self._settings.save(timings)

    def reapply(self, entry: HistoryEntry, doc) -> list:
        """A result from the history into `doc` (at the region it was made for)."""
        problem = document.check_document(doc)
        if problem is not None:
            raise BridgeError(problem)
        return apply_result(doc, entry)

    def close(self) -> None:
        """Cancel every job (the docker is going away)."""
        for job in list(self.jobs):
            self.cancel(job)
        self._decoder.shutdown(wait=False)


__all__ = ["DocumentJob", "JobQueue", "Outcome", "apply_result", "bridge", "server_options", "start_paint",
           "start_stylize"]
