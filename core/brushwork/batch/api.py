"""`brushwork.batch(...)`: a batch from Python, as `brushwork batch paint|stylize` runs it, with a
progress callback that can cancel.

    summary = brushwork.batch("paint", ["photos/"], "out", PaintSettings(strokes=300),
                              progress=lambda fraction, message: print(f"{fraction:.0%} {message}"))

The callback follows `brushwork.stylize`'s convention: `progress(fraction, message)` after every item
(fraction of the items finished, never decreasing); an exception it raises, or returning False, cancels.
Cancelling stops between items: every item finished by then is complete (outputs written atomically,
then its record), so a rerun skips it; `BatchCancelled.summary` says what was done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from brushwork.batch.items import Item, paint_items, pictures, style_items
from brushwork.batch.run import Outcome, Summary, run_batch
from brushwork.batch.tasks import PaintTask, StyleTask
from brushwork.errors import BrushworkError
from brushwork.settings import PaintSettings, StyleOptions, validate_settings

# progress(fraction of the items finished, what just finished); False or an exception cancels.
BatchProgress = Callable[[float, str], bool | None]


class BatchCancelled(BrushworkError):
    """The progress callback stopped the batch; `.summary` holds the items finished before it."""

    def __init__(self, summary: Summary) -> None:
        super().__init__(f"cancelled after {len(summary.outcomes)} items ({summary.count('done')} written, "
                         f"{summary.count('skipped')} skipped, {summary.count('failed')} failed)")
        self.summary = summary


class _Stop(Exception):
    """Raised out of run_batch's outcome hook to stop the batch between items."""


def plan(kind: Literal["paint", "stylize"], inputs: Sequence[str | os.PathLike], output_dir: str | os.PathLike,
         settings: PaintSettings | StyleOptions | None = None, *, styles: Sequence[str | os.PathLike] = (),
         image_format: str = "png", png: bool = False, json: bool = False) -> list[Item]:
    """The batch's items (`items.paint_items` / `style_items`), every name and setting checked before
    any folder is made; a paint batch takes videos too (painted into OUTDIR/<name>.mp4)."""
    outdir = Path(output_dir)
    style_paths = tuple(Path(s) for s in styles)
    if kind == "paint":
        chosen = settings if settings is not None else PaintSettings()
        if not isinstance(chosen, PaintSettings):
            raise BrushworkError(f"settings: a paint batch takes PaintSettings, not {type(chosen).__name__}")
        validate_settings(chosen)
        template = PaintTask(Path(), Path(), chosen, png=png, json=json, styles=style_paths)
        return paint_items(pictures(inputs, videos=True), outdir, template)
    if kind == "stylize":
        options = settings if settings is not None else StyleOptions()
        if not isinstance(options, StyleOptions):
            raise BrushworkError(f"settings: a stylize batch takes StyleOptions, not {type(options).__name__}")
        if png or json:
            raise BrushworkError("png and json are paint outputs; a stylize batch writes OUTDIR/<name>.<image_format>")
        options.validate(len(style_paths))
        return style_items(pictures(inputs), outdir, StyleTask(Path(), style_paths, Path(), options), image_format)
    raise BrushworkError(f"kind {kind!r}: expected 'paint' or 'stylize'")


def run_pictures(kind: Literal["paint", "stylize"], inputs: Sequence[str | os.PathLike],
                 output_dir: str | os.PathLike, settings: PaintSettings | StyleOptions | None = None, *,
                 styles: Sequence[str | os.PathLike] = (), image_format: str = "png", png: bool = False,
                 json: bool = False, progress: BatchProgress | None = None, jobs: int = 1, executor: str = "local",
                 address: str | None = None, force: bool = False,
                 on_outcome: Callable[[Outcome], None] | None = None) -> Summary:
    """Paint or stylize every picture named by `inputs` (files, folders, globs) into `output_dir` (made
    if missing), as `brushwork batch paint|stylize` does: `photo.jpg` -> `OUTDIR/photo.svg` (paint; plus
    .png / .json with `png` / `json`; `styles` paints in their style) or `OUTDIR/photo.<image_format>`
    (stylize with `styles`). Items complete from an earlier run are skipped (`force` redoes them); a
    failed item is in the summary and the rest go on. `jobs`, `executor`, `address`: as `run_batch`.
    `progress` (see the module) may cancel: BatchCancelled, carrying the summary so far. `on_outcome`
    hears of each item's Outcome first (the bridge's batch job reports them)."""
    items = plan(kind, inputs, output_dir, settings, styles=styles, image_format=image_format, png=png, json=json)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    started = time.perf_counter()

    def heard(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
        if progress is None:
            return
        message = f"{outcome.name}: {outcome.status}" + (f" ({outcome.message})" if outcome.message else "")
        try:
            answer = progress(len(outcomes) / len(items), message)
        except Exception as exc:
            raise _Stop from exc
        if answer is False:
            raise _Stop

    device = settings.device if settings is not None else "auto"
    try:
        return run_batch(items, executor=executor, jobs=jobs, address=address, force=force, device=device,
                         on_outcome=heard)
    except _Stop as stop:
        cancelled = BatchCancelled(Summary(tuple(outcomes), time.perf_counter() - started))
        raise cancelled from stop.__cause__
