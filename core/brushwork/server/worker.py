"""The job worker: a child process that runs paint, stylize and batch jobs, one at a time.

Jobs run outside the server process so that cancelling one is immediate (the process is killed,
whatever torch is doing; stylize has no progress hook to stop at) and a crash in a job (out of
memory, a native fault) fails that job instead of taking the server down. The worker imports torch
once when it starts and keeps stylize models loaded between jobs.

Messages over the pipe (records, pickled by multiprocessing):
    server -> worker  WorkerJob
    worker -> server  JobProgress, then JobDone (BatchDone for a batch) or JobFailed
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

PREVIEW_SIDE = 256  # long side of progress previews, px: enough for a dialog, cheap to send


@dataclass(frozen=True)
class Picture:
    """Straight-alpha RGBA8 pixels, row-major."""

    width: int
    height: int
    # repr=False: a repr of a job must never spell out its pixels (for a 12 MP picture that was
    # 138 MB of text, built on every status call)
    rgba: bytes = field(repr=False)


@dataclass(frozen=True)
class WorkerJob:
    id: str
    kind: str  # paint | stylize | batch
    # PaintSettings / StyleOptions fields the job sets (the others take their defaults); a batch's are
    # under "settings", beside its paths (`run_batch_job`)
    params: dict[str, Any]
    image: Picture | None  # None for a batch: it reads its pictures from files
    style: Picture | None = None
    preview_interval: float = 2.0


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    fraction: float  # 0..1
    message: str  # what the job is doing, for the user
    preview: bytes | None = field(default=None, repr=False)  # a small PNG of the painting so far
    item: dict[str, Any] | None = None  # a batch item just finished: name, source, status, seconds, message


@dataclass(frozen=True)
class JobDone:
    job_id: str
    png: bytes = field(repr=False)  # the result picture at the input's size
    svg: str | None = field(repr=False)  # the strokes of a paint job; None for stylize
    width: int
    height: int


@dataclass(frozen=True)
class BatchDone:
    """A batch ran to its end (its items were reported one by one); `summary` is its one-line sum."""

    job_id: str
    summary: str


@dataclass(frozen=True)
class JobFailed:
    job_id: str
    message: str  # why, for the user


WorkerMessage = JobProgress | JobDone | BatchDone | JobFailed


def probe_devices() -> list[str]:
    """The devices the worker's machine can use (`brushwork.device.available_devices`), asked of a
    short-lived Python: the server process itself never imports torch."""
    code = "import json; from brushwork.device import available_devices; print(json.dumps(available_devices()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"could not list the devices: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def _png(pixels) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _small_png(pixels) -> bytes:
    from PIL import Image

    image = Image.fromarray(pixels)
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _rgba(picture: Picture):
    import numpy as np

    return np.frombuffer(picture.rgba, np.uint8).reshape(picture.height, picture.width, 4)


def run_paint(job: WorkerJob, send) -> None:
    from brushwork import raster, svg
    from brushwork.images import composite_over
    from brushwork.painter import paint
    from brushwork.previews import PreviewPacer
    from brushwork.settings import PaintSettings

    assert job.image is not None
    target = composite_over(_rgba(job.image))
    params = dict(job.params)
    brush = params.pop("brushes", PaintSettings().brushes)
    # A preview costs a render: every few seconds, less often where it would take over 5 % of the time.
    pacer = PreviewPacer(every_seconds=job.preview_interval)

    def callback(progress) -> None:
        preview = None
        if pacer.due():
            with pacer.drawing():
                preview = _small_png(progress.preview())
        send(JobProgress(job.id, float(progress.fraction),
                         f"painting: {progress.strokes} of {progress.total} strokes, level {progress.level} of "
                         f"{progress.levels}", preview))

    send(JobProgress(job.id, 0.0, "loading the stroke renderers"))
    styles = [composite_over(_rgba(job.style))] if job.style is not None else []
    strokes = paint(target, brush=brush, callback=callback, styles=styles, **params)
    send(JobProgress(job.id, 1.0, "drawing the result"))
    pixels = raster.render(strokes)
    send(JobDone(job.id, _png(pixels), svg.write(strokes), strokes.width, strokes.height))


class _Stylizer:
    """Keeps the encoder/decoder models between jobs (loading them is most of a small job's time)."""

    def __init__(self) -> None:
        self.models: Any = None  # CD16xModels once loaded (imported with torch, in the worker only)

    def run(self, job: WorkerJob, send) -> None:
        import numpy as np

        from brushwork.images import composite_over
        from brushwork.settings import StyleOptions
        from brushwork.stylize import CD16xModels, stylize

        params = dict(job.params)
        assert job.image is not None
        # a job with a trained style (`model`) may come without a style picture: it needs none
        styles = [composite_over(_rgba(job.style), dtype=np.uint8)] if job.style is not None else []
        options = StyleOptions(**params)
        chosen = options.validate(len(styles))  # bad options fail before the models load
        content = _rgba(job.image)
        if self.models is None:
            send(JobProgress(job.id, 0.0, "loading the style models"))
            self.models = CD16xModels()
        send(JobProgress(job.id, 0.0, f"stylizing ({chosen.model or chosen.method})"))

        def progress(fraction: float, stage: str) -> None:  # after every level, tile or Gatys step
            send(JobProgress(job.id, float(fraction), f"stylizing: {stage}"))

        result = stylize(composite_over(content, dtype=np.uint8), styles, options, models=self.models,
                         progress=progress)
        if result.shape[:2] == content.shape[:2]:
            # transparent parts of the layer stay transparent: the style changes colours, not coverage
            result = np.concatenate([result, content[..., 3:4]], axis=2)
        send(JobDone(job.id, _png(result), None, result.shape[1], result.shape[0]))


def run_batch_job(job: WorkerJob, send) -> None:
    """A batch over files on this machine (`brushwork.batch.run_pictures`, as `brushwork batch` runs it):
    params are task (paint | stylize), inputs, output_dir, styles, force, png, json, image_format and
    settings (PaintSettings / StyleOptions fields). Each finished item is reported with the fraction of
    items done; cancelling kills this process, which leaves the items finished so far complete."""
    from dataclasses import asdict

    from brushwork.batch import run_pictures
    from brushwork.settings import PaintSettings, StyleOptions

    params = dict(job.params)
    task = params.pop("task")
    # JSON has lists where the settings hold tuples (brushes, levels, colours)
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in params.pop("settings").items()}
    settings = PaintSettings(**values) if task == "paint" else StyleOptions(**values)
    finished: list[dict[str, Any]] = []

    def on_outcome(outcome) -> None:  # heard just before progress, for the same item
        finished.append({**asdict(outcome), "source": str(outcome.source)})

    def progress(fraction: float, message: str) -> None:
        send(JobProgress(job.id, float(fraction), f"{task}: {len(finished)} items finished, the last {message}",
                         item=finished[-1]))

    send(JobProgress(job.id, 0.0, f"{task}: finding the pictures"))
    summary = run_pictures(task, params.pop("inputs"), params.pop("output_dir"), settings, progress=progress,
                           on_outcome=on_outcome, **params)
    send(BatchDone(job.id, summary.line("painted" if task == "paint" else "stylized")))


def main(conn: Connection) -> None:
    """The worker process: serve jobs until the pipe closes."""
    import brushwork.painter  # noqa: F401  # the imports (torch) happen now, while nothing waits
    from brushwork.errors import BrushworkError

    stylizer = _Stylizer()
    while True:
        try:
            job: WorkerJob = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if job.kind == "paint":
                run_paint(job, conn.send)
            elif job.kind == "batch":
                run_batch_job(job, conn.send)
            else:
                stylizer.run(job, conn.send)
        except BrushworkError as exc:
            conn.send(JobFailed(job.id, str(exc)))
        except MemoryError:
            conn.send(JobFailed(job.id, "out of memory: try a smaller image, selection or working size"))
        except Exception as exc:  # a bug: the user sees one line, the log has the traceback
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            conn.send(JobFailed(job.id, f"internal error ({type(exc).__name__}: {exc}); see the server log"))
