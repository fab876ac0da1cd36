"""The progressive stroke optimiser (Stylized Neural Painting's painter, on overlapping blocks), as
a pipeline of stages.

For each pass of `plan`, coarse to fine, new strokes start at the error peaks of the painting so
far and are optimised through the neural renderer (`level`). Then the pass's strokes are measured
on the exact renderer (strokes that remove almost no error give their budget to the next pass,
`pruning`) and drawn for good, which is the canvas the next pass starts from. Then all new strokes
are refined together on the whole canvas (`refine`, through the analytic renderer `soft`; the
strokes that earn nothing are started again where the error is largest, `relocate`), and
finally every stroke gets the colours that fit the photo best for its final shape (`colours`).
Every tensor lives on the device the settings name; models move there once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from brushwork import raster, renderers
from brushwork.device import resolve_device
from brushwork.errors import BrushworkError
from brushwork.heap import reused_heap
from brushwork.images import resize
from brushwork.painter.colours import refit_colours
from brushwork.painter.level import ExtraLoss, cut_blocks, optimise_level, share, start_strokes, to_working
from brushwork.painter.plan import Level, plan_levels
from brushwork.painter.pruning import removal_gains
from brushwork.painter.refine import RefineLimits, default_iterations, refine
from brushwork.painter.threads import load_aware_threads, threads_now
from brushwork.settings import PaintSettings, validate_settings
from brushwork.strokes import Stroke, StrokeList, field_range

__all__ = ["ExtraLoss", "PaintCancelled", "PaintJob", "PaintState", "Painter", "Progress", "paint_array"]

# Progress counts stroke-steps of the optimiser; a refinement step costs this many level steps per
# stroke (about 1.0 at 1,000 strokes and 1.9 at 200, timed on tubingen.jpg and astronaut.png): one
# figure for both, nearer the larger paintings, whose progress bars are watched longest.
REFINE_STEP_COST = 1.2


@dataclass
class Progress:
    """What a progress callback receives. `preview()` draws the painting so far (RGB uint8, at
    the working size) with the exact renderer; it costs a render, so call it only when shown, and
    within the callback (it draws over the painter's canvas, which moves on). Within
    a pass the painting grows stroke by stroke: its strokes appear in paint order as its steps go by,
    each as optimised so far."""

    fraction: float
    strokes: int  # strokes in the painting so far: those the preview shows, and a cancel keeps
    total: int  # strokes the painting will have
    level: int
    levels: int
    preview: Callable[[], np.ndarray] = field(repr=False)


class PaintCancelled(BrushworkError):
    """Painting stopped early (callback or Ctrl-C); `.strokes` holds what was painted so far."""

    def __init__(self, strokes: StrokeList) -> None:
        super().__init__(f"painting cancelled after {len(strokes)} strokes")
        self.strokes = strokes


class _Cancelled(Exception):
    """The progress callback asked to stop: `Painter.run` turns it into PaintCancelled."""


@dataclass(frozen=True)
class PaintJob:
    """What one painting works from, fixed at set-up; pictures and strokes in working pixels
    unless said otherwise."""

    settings: PaintSettings
    device: torch.device
    working: np.ndarray  # the photo at the working size, (h, w, 3) float RGB
    base: np.ndarray  # what the new strokes are painted over: the paper and a resumed painting
    paper: torch.Tensor  # (1, 3, 1, 1): the canvas colour, on the device
    background: tuple[float, float, float]
    models: dict[str, torch.nn.Module]  # the neural renderer of each brush kind, on the device
    passes: tuple[Level, ...]  # the planned passes, coarse to fine
    kept: tuple[Stroke, ...]  # a resumed painting's strokes, untouched (output pixels)
    kept_working: tuple[Stroke, ...]  # the same in working pixels
    output_size: tuple[int, int]
    refine_iterations: int
    work_total: float  # progress units of the whole painting (level stroke-steps)
    extra_loss: ExtraLoss | None

    @property
    def to_output(self) -> float:
        """Output pixels per working pixel."""
        return self.output_size[0] / self.working.shape[1]

    @property
    def total_strokes(self) -> int:
        return len(self.kept) + self.settings.strokes


@dataclass
class PaintState:
    """What changes while painting. `painted` is replaced, never changed in place, so a list
    handed out (`so_far`, a preview) stays as it was."""

    frozen: raster.RasterCanvas  # the painting so far, working pixels: each pass starts from it
    generator: torch.Generator  # seeded, on the CPU: where the strokes start, the same on every device
    placed: dict[str, int]  # new strokes per kind so far (the kinds of a mix keep even shares)
    painted: list[Stroke] = field(default_factory=list)  # new strokes drawn for good, working pixels
    passes: int = 0  # the plan's passes, plus one when pruned budget gets an extra pass
    work_done: float = 0.0  # in the units of `PaintJob.work_total`
    # The new strokes to keep if the painting stops now (working pixels): what a preview shows.
    so_far: Callable[[], list[Stroke]] = lambda: []
    # How many of so_far()'s first strokes `frozen` shows already, so that a preview draws only the
    # rest over a copy of it; None while refining, when `frozen` is out of date.
    drawn: int | None = 0


class Painter:
    """One painting as a pipeline of stages: set-up (here), `paint_passes` (each a level of the
    plan: strokes start at the error peaks, are optimised through the neural renderer and drawn for
    good, the useless ones pruned), `refine`, `refit_colours`, `finished`. `run` calls them in turn;
    each is a method so it can be timed or replaced on its own."""

    def __init__(self, target: np.ndarray, settings: PaintSettings, *, resume: StrokeList | None = None,
                 callback: Callable[[Progress], bool | None] | None = None,
                 extra_loss: ExtraLoss | None = None) -> None:
        validate_settings(settings)
        device = resolve_device(settings.device)
        height0, width0 = target.shape[:2]
        out_w, out_h = (resume.width, resume.height) if resume is not None else (width0, height0)
        factor = min(1.0, settings.working_size / max(width0, height0))
        work_w, work_h = max(1, round(width0 * factor)), max(1, round(height0 * factor))
        generator = torch.Generator().manual_seed(settings.seed)
        models = {kind: renderers.load(kind, device=device).requires_grad_(False)
                  for kind in dict.fromkeys(settings.brushes)}
        block = next(iter(models.values())).size
        if any(m.size != block for m in models.values()):
            raise BrushworkError("the renderers of a brush mix must share one output size")

        r, g, b = settings.background  # checked: an RGB triple
        background = resume.background if resume is not None and resume.background is not None else (r, g, b)
        kept = resume.strokes if resume is not None else ()
        kept_working = tuple(stroke.transformed(work_w / out_w) for stroke in kept)
        frozen = raster.RasterCanvas(work_w, work_h, background=background)
        for stroke in kept_working:
            frozen.draw(stroke)
        passes = tuple(plan_levels(work_w, work_h, settings.strokes, block))
        refining = settings.refine_iterations
        if extra_loss is not None:
            refining = 0
        elif refining is None:
            refining = default_iterations(settings.strokes, settings.brushes)
        self.callback = callback
        self.threads = torch.get_num_threads()  # the most a pass may use
        self.job = PaintJob(
            settings=settings,
            device=device,
            working=resize(target, work_w, work_h),
            base=frozen.to_rgb().astype(np.float32) / 255,
            paper=torch.tensor(background, dtype=torch.float32, device=device).reshape(1, 3, 1, 1),
            background=background,
            models=models,
            passes=passes,
            kept=kept,
            kept_working=kept_working,
            output_size=(out_w, out_h),
            refine_iterations=refining,
            work_total=(sum(level.strokes for level in passes) * settings.iterations
                        + REFINE_STEP_COST * settings.strokes * refining),
            extra_loss=extra_loss,
        )
        self.state = PaintState(frozen, generator, dict.fromkeys(settings.brushes, 0), passes=len(passes))

    def run(self) -> StrokeList:
        """Every stage in turn: the painting's stroke list (output pixels). A cancel from the
        callback or Ctrl-C (KeyboardInterrupt, which the CLI also raises for SIGTERM) raises
        PaintCancelled with the strokes so far, while handling the interrupt, so the caller can
        tell which it was from its `__context__`."""
        try:
            # A busy machine's cores are left to their other work, counted again at every pass.
            with load_aware_threads(), reused_heap():
                self.paint_passes()
                self.refine()
                self.refit_colours()
        except (_Cancelled, KeyboardInterrupt):
            raise PaintCancelled(self.finished(self.state.so_far())) from None
        return self.finished(self.state.painted)

    def paint_passes(self) -> None:
        """The plan's passes, coarse to fine; the budget a pass prunes goes to the next one, and
        the last pass's to one more pass at the finest level (+0.05-0.3 dB at 200-500 strokes on
        tubingen.jpg and astronaut.png, about 10 % more time)."""
        settings = self.job.settings
        # Pruning measures the photo alone: with an extra (style) term it would undo the style.
        prune = bool(settings.prune) and self.job.extra_loss is None
        carried = 0
        for index, level in enumerate(self.job.passes):
            carried = self.paint_pass(index, level, level.strokes + carried, prune)
        if carried:
            self.state.passes += 1
            self.paint_pass(len(self.job.passes), replace(self.job.passes[-1], strokes=0), carried, prune=False)

    def paint_pass(self, index: int, level: Level, count: int, prune: bool) -> int:
        """Paint `count` new strokes at `level` over the painting so far and draw them for good;
        returns how many were pruned (budget for the next pass)."""
        job, state, settings = self.job, self.state, self.job.settings
        if index:  # other programs may have started or stopped since the painting began
            torch.set_num_threads(threads_now(self.threads))
        under = state.frozen.to_rgb().astype(np.float32) / 255
        blocks = cut_blocks(level, job.working, under, job.paper)
        min_size, max_size = (None if px is None else px / job.to_output * level.scale
                              for px in (settings.min_size, settings.max_size))
        shares = share(count, settings.brushes, state.placed)
        strokes = start_strokes(blocks, level, shares, state.generator, min_size, max_size)
        before = state.painted
        state.so_far, state.drawn = lambda: before, len(before)
        steps = 0

        def step() -> None:
            nonlocal steps
            steps += 1
            state.work_done += level.strokes  # the plan's share: carried strokes make a pass a little longer
            # What a watcher sees: the pass's strokes appear in paint order as its steps go by (a
            # preview between passes only would show them all at once, then jiggling into place).
            revealed = math.ceil(count * steps / settings.iterations)
            state.so_far = lambda: before + to_working(strokes, level)[:revealed]
            self._report(len(job.kept) + len(before) + revealed, index + 1)

        optimise_level(strokes, blocks, job.models, settings, job.paper, job.extra_loss, step)
        new = to_working(strokes, level)
        state.so_far = lambda: before + new
        pruned = 0
        if prune:
            new, dropped = self.prune(new, under)
            pruned = len(dropped)
            for stroke in dropped:
                state.placed[stroke.kind] -= 1  # the brushes of a mix keep even shares
        for stroke in new:
            state.frozen.draw(stroke)
        state.painted = before + new
        state.so_far, state.drawn = (lambda: state.painted), len(state.painted)
        return pruned

    def prune(self, new: list[Stroke], under: np.ndarray) -> tuple[list[Stroke], list[Stroke]]:
        """(kept, dropped): a pass's strokes (painted in order over `under`) split by whether they
        remove more than `settings.prune` times the pass's median stroke's error."""
        gains = removal_gains(new, self.job.working, under)
        useful = gains > self.job.settings.prune * np.median(gains)
        return ([s for s, keep in zip(new, useful, strict=True) if keep],
                [s for s, keep in zip(new, useful, strict=True) if not keep])

    def refine(self) -> None:
        """All new strokes optimised together on the whole canvas (`refine.refine`)."""
        job, state, settings = self.job, self.state, self.job.settings
        if not job.refine_iterations:
            return

        def step(iteration: int, current: Callable[[], list[Stroke]]) -> None:
            state.work_done += REFINE_STEP_COST * settings.strokes
            if self.callback is not None:  # the strokes are read back only for a callback to see
                latest = current()
                state.so_far, state.drawn = (lambda: latest), None
                self._report(job.total_strokes, state.passes)

        limits = RefineLimits(
            min_size=settings.min_size / job.to_output if settings.min_size is not None else 1.0,
            max_size=settings.max_size / job.to_output if settings.max_size is not None else None,
            opaque=settings.opaque,
        )
        state.painted = refine(state.painted, job.working, job.base, job.refine_iterations, limits, step,
                               device=job.device, relocate=True)
        state.so_far = lambda: state.painted

    def refit_colours(self) -> None:
        """The colours that fit the photo best for the strokes' final shapes (not with an extra
        loss: the photo alone would undo its effect)."""
        if self.job.settings.colour_refit and self.job.extra_loss is None:
            self.state.painted = refit_colours(self.state.painted, self.job.working, self.job.base)

    def finished(self, new: list[Stroke]) -> StrokeList:
        """The resumed strokes and `new` (working pixels) as the output stroke list."""
        out_w, out_h = self.job.output_size
        fitted = (fit_to_canvas(s.transformed(self.job.to_output), out_w, out_h) for s in new)
        return StrokeList(out_w, out_h, self.job.kept + tuple(fitted), self.job.background)

    def _preview(self, new: list[Stroke], drawn: int | None) -> np.ndarray:
        """The painting with the `new` strokes; the first `drawn` of them are on the frozen canvas
        already (None: it is out of date), and a pass's preview draws only its own over a copy."""
        height, width = self.job.working.shape[:2]
        canvas = raster.RasterCanvas(width, height)
        if drawn is None:  # the paper and the resumed strokes
            canvas.set_pixels((self.job.base * 255 + 0.5).astype(np.uint8))
            drawn = 0
        else:
            canvas.set_pixels(self.state.frozen.to_rgb())
        for stroke in new[drawn:]:
            canvas.draw(stroke)
        return canvas.to_rgb()

    def _report(self, strokes: int, level: int) -> None:
        """Tell the callback how far the painting is; raises _Cancelled if it answers False."""
        if self.callback is None:
            return
        so_far, drawn = self.state.so_far, self.state.drawn
        report = Progress(self.state.work_done / self.job.work_total, strokes, self.job.total_strokes, level,
                          self.state.passes, lambda: self._preview(so_far(), drawn))
        if self.callback(report) is False:
            raise _Cancelled


def paint_array(
    target: np.ndarray,
    settings: PaintSettings,
    *,
    resume: StrokeList | None = None,
    callback: Callable[[Progress], bool | None] | None = None,
    extra_loss: ExtraLoss | None = None,
) -> StrokeList:
    """Paint an (H, W, 3) float RGB picture; strokes are returned on a canvas of the picture's
    size (or the resumed painting's). See `brushwork.painter.paint`, the user-facing entry point."""
    return Painter(target, settings, resume=resume, callback=callback, extra_loss=extra_loss).run()


def fit_to_canvas(stroke: Stroke, width: int, height: int) -> Stroke:
    """Clamp a stroke into the valid ranges of the output canvas (block strokes can overhang
    the picture by up to a block, which at coarse levels may exceed the canvas margin)."""
    values = []
    for f, v in zip(stroke.brush.fields, stroke.params, strict=True):
        low, high, low_open = field_range(f.role, width, height)
        values.append(min(max(v, low if not low_open else max(low, 1e-6)), high))
    return Stroke(stroke.kind, tuple(values))

