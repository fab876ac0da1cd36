"""Painting a clip with temporal coherence: every frame starts from the previous frame's strokes.

The first frame is painted in full (`painter.Painter`). Each later frame keeps the previous
painting's strokes, the same budget, and adapts them in `settings.frame_steps` steps:

1. the strokes follow the camera: the frame's shift against the previous one (phase correlation)
   moves every stroke by it;
2. re-seeding: up to `settings.reseed` of the budget is dropped, first the strokes over places where
   the painting's error grew since the frame before (the picture changed there), then those that
   remove the least error (the painter's own pruning test, `painter.pruning`), and as many strokes
   are started afresh at the error peaks of the finest level, through the neural renderer, like a
   painter's pass;
3. all strokes are refined together on the whole frame (`painter.refine`), then their colours
   refitted (`painter.colours`).

Strokes that keep fitting stay where they were, so a still picture stays still; painting a frame
this way costs a fraction of painting it from scratch. A cut (the previous painting's mean error
grown by more than CUT on the new frame) starts a new shot, painted in full.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy import ndimage

from brushwork import brushes, raster, renderers
from brushwork.device import resolve_device
from brushwork.images import resize
from brushwork.painter.colours import refit_colours
from brushwork.painter.level import cut_blocks, optimise_level, share, start_strokes, to_working
from brushwork.painter.optimise import fit_to_canvas, paint_array
from brushwork.painter.plan import plan_levels
from brushwork.painter.pruning import removal_gains
from brushwork.painter.refine import RefineLimits, refine
from brushwork.settings import PaintSettings, validate_settings
from brushwork.strokes import Stroke, StrokeList

__all__ = ["FrameReport", "WarmPainter", "camera_shift", "paint_frames"]

# A stroke is re-seeded first where the painting's mean absolute error (0..1, over ERROR_WINDOW pixels)
# grew by more than this since the frame before: about 10 grey levels, well above a camera's noise.
GROWTH = 0.04
ERROR_WINDOW = 9
# A frame under the previous painting whose mean error grew by more than this since the frame before is a
# new shot (a cut) and is painted in full: 25 grey levels over the whole frame. A pan of a few pixels a
# frame grows it by ~0.003; a cut to another picture by 0.1-0.4 (a painting's own error is 0.06-0.08 at
# 22-23 dB).
CUT = 0.1


@dataclass(frozen=True)
class FrameReport:
    """What adapting one frame did: strokes re-seeded and the camera shift followed (working pixels);
    `repainted`: a new shot (a cut), painted in full."""

    reseeded: int
    shift: tuple[float, float]
    repainted: bool = False


def paint_frames(frames: Iterable[np.ndarray], settings: PaintSettings, *, previous: StrokeList | None = None,
                 warm: bool = True, start: int = 0) -> Iterator[StrokeList]:
    """The painting of each frame ((H, W, 3) float RGB in 0..1, or uint8), in order, each with exactly
    `settings.strokes` strokes on a canvas of the frame's size. The first frame is painted in full, unless
    `previous` (a painting of the frame before it) is given; every later frame starts from the previous
    frame's strokes (`WarmPainter`). Its re-seeded strokes draw from `settings.seed` + the frame's index in
    the clip (`start`: the first frame's), so a chunk painted elsewhere draws what a whole run would.
    `warm=False` paints every frame from scratch with `settings.seed` instead (what the benchmark compares
    against). Frames are read one at a time, as the paintings are consumed."""
    validate_settings(settings)
    painter: WarmPainter | None = None
    for index, frame in enumerate(frames, start=start):
        target = _as_float(frame)
        if previous is None or not warm:
            previous = paint_array(target, settings)
        else:
            painter = painter or WarmPainter(settings)
            previous, _ = painter.adapt(previous, target, seed=_frame_seed(settings.seed, index))
        yield previous


def _frame_seed(seed: int, index: int) -> int:
    return (seed + index) % 2**31


def _as_float(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) / 255 if frame.dtype == np.uint8 else frame.astype(np.float32)


class WarmPainter:
    """Adapts a painting to the next frame (the module's steps 1-3). Holds the neural renderers, on the
    settings' device, across frames."""

    def __init__(self, settings: PaintSettings) -> None:
        validate_settings(settings)
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.models = {kind: renderers.load(kind, device=self.device).requires_grad_(False)
                       for kind in dict.fromkeys(settings.brushes)}
        self.last: np.ndarray | None = None  # the previous frame at the working size (for the camera shift)

    def adapt(self, previous: StrokeList, target: np.ndarray, seed: int = 0) -> tuple[StrokeList, FrameReport]:
        """`previous` (a painting of the frame before) adapted to `target` ((H, W, 3) float RGB, the
        canvas's aspect ratio): the same number of strokes, on `previous`'s canvas."""
        settings = self.settings
        out_w, out_h = previous.width, previous.height
        height0, width0 = target.shape[:2]
        factor = min(1.0, settings.working_size / max(width0, height0))
        work_w, work_h = max(1, round(width0 * factor)), max(1, round(height0 * factor))
        working = resize(target, work_w, work_h)
        to_work = work_w / out_w
        strokes = [s.transformed(to_work) for s in previous.strokes]
        background = previous.background if previous.background is not None else settings.background
        paper = np.broadcast_to(np.asarray(background, np.float32), working.shape).copy()

        shift, growth = (0.0, 0.0), None
        before, self.last = self.last, working
        if before is not None and before.shape == working.shape:
            shift = camera_shift(before, working)
            # How well the painting fitted the frame before, moved with the camera like the strokes.
            error_before = ndimage.shift(_error(_drawn(strokes, paper), before), (shift[1], shift[0]), order=1,
                                         mode="nearest")
            if shift != (0.0, 0.0):
                strokes = [s.transformed(1.0, *shift) for s in strokes]
            error_now = _error(_drawn(strokes, paper), working)
            if float(error_now.mean() - error_before.mean()) > CUT:
                # A new shot: nothing of the painting before fits it, and re-seeding a share of the
                # strokes a frame would take many frames to get there.
                return paint_array(target, settings), FrameReport(len(strokes), shift, repainted=True)
            growth = error_now - error_before

        strokes, reseeded = self._reseed(strokes, working, paper, seed, to_work, growth)
        limits = RefineLimits(
            min_size=settings.min_size * to_work if settings.min_size is not None else 1.0,
            max_size=settings.max_size * to_work if settings.max_size is not None else None,
            opaque=settings.opaque,
        )
        strokes = refine(strokes, working, paper, settings.frame_steps, limits, device=self.device)
        if settings.colour_refit:
            strokes = refit_colours(strokes, working, paper)
        fitted = tuple(fit_to_canvas(s.transformed(1 / to_work), out_w, out_h) for s in strokes)
        return StrokeList(out_w, out_h, fitted, previous.background), FrameReport(reseeded, shift)

    def _reseed(self, strokes: list[Stroke], working: np.ndarray, paper: np.ndarray, seed: int, to_work: float,
                growth: np.ndarray | None) -> tuple[list[Stroke], int]:
        """Drop the strokes that fit the frame least, at most `reseed` of them, and paint as many new ones
        over the rest at the finest level. First go the strokes over places where the painting's error grew
        by more than GROWTH since the frame before (`growth`: the growth map, the frame before's error moved
        with the camera), most first; then those the painter's pruning would drop (removing less error than
        `prune` times the median stroke's)."""
        settings = self.settings
        limit = math.floor(settings.reseed * len(strokes))
        if limit == 0 or not strokes:
            return strokes, 0
        work_h, work_w = working.shape[:2]
        order: list[int] = []
        if growth is not None:
            grew = _box_means(growth, [brushes.pixel_box(s, work_w, work_h) for s in strokes])
            grown = np.flatnonzero(grew > GROWTH)
            order += grown[np.argsort(-grew[grown], kind="stable")].tolist()
        gains = removal_gains(strokes, working, paper)
        useless = np.flatnonzero(gains <= settings.prune * np.median(gains))
        order += [i for i in useless[np.argsort(gains[useless], kind="stable")].tolist() if i not in order]
        dropped = set(order[:limit])
        if not dropped:
            return strokes, 0
        kept = [s for i, s in enumerate(strokes) if i not in dropped]
        block = next(iter(self.models.values())).size
        level = plan_levels(work_w, work_h, settings.strokes, block)[-1]  # the finest the budget paints at
        under = _drawn(kept, paper)
        paper_t = torch.tensor(paper[0, 0], dtype=torch.float32, device=self.device).reshape(1, 3, 1, 1)
        blocks = cut_blocks(level, working, under, paper_t)
        placed = {kind: sum(s.kind == kind for s in kept) for kind in settings.brushes}
        shares = share(len(dropped), settings.brushes, placed)
        min_size, max_size = (None if px is None else px * to_work * level.scale
                              for px in (settings.min_size, settings.max_size))
        generator = torch.Generator().manual_seed(seed)
        new = start_strokes(blocks, level, shares, generator, min_size, max_size)
        optimise_level(new, blocks, self.models, replace(settings, iterations=settings.frame_steps), paper_t,
                       None, lambda: None)
        return kept + to_working(new, level), len(dropped)


def _drawn(strokes: list[Stroke], paper: np.ndarray) -> np.ndarray:
    """The strokes drawn by the exact renderer over `paper` ((H, W, 3) float, one colour): float RGB."""
    height, width = paper.shape[:2]
    r, g, b = (float(c) for c in paper[0, 0])
    canvas = raster.RasterCanvas(width, height, background=(r, g, b))
    for stroke in strokes:
        canvas.draw(stroke)
    return canvas.to_rgb().astype(np.float32) / 255


def _error(painting: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """(H, W) mean absolute error, averaged over ERROR_WINDOW pixels (a stroke's worth, not noise)."""
    return ndimage.uniform_filter(np.abs(painting - frame).mean(axis=2), ERROR_WINDOW, mode="nearest")


def _box_means(values: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The mean of `values` ((H, W)) inside each (x0, y0, x1, y1) box (0 for an empty one), by an
    integral image."""
    integral = np.pad(values, ((1, 0), (1, 0))).cumsum(axis=0).cumsum(axis=1)
    means = np.zeros(len(boxes))
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        if x1 > x0 and y1 > y0:
            total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
            means[i] = total / ((x1 - x0) * (y1 - y0))
    return means


def camera_shift(before: np.ndarray, after: np.ndarray, limit: float = 0.25) -> tuple[float, float]:
    """How far the picture moved from `before` to `after` ((H, W, 3) float, one size), as (dx, dy)
    pixels, by phase correlation with a sub-pixel peak; (0, 0) when no clear shift of at most
    `limit` of the frame's size is found (a still camera, a cut, a zoom)."""
    a, b = before.mean(axis=2), after.mean(axis=2)
    height, width = a.shape
    window = np.outer(np.hanning(height), np.hanning(width))  # no wrap-around edges
    fa, fb = np.fft.rfft2((a - a.mean()) * window), np.fft.rfft2((b - b.mean()) * window)
    cross = fb * np.conj(fa)
    correlation = np.fft.irfft2(cross / (np.abs(cross) + 1e-9), s=a.shape)
    py, px = (int(i) for i in np.unravel_index(int(np.argmax(correlation)), correlation.shape))
    peak = correlation[py, px]
    if peak < 0.1:  # phase correlation's peak is ~1 for a clean shift and near 0 for none
        return 0.0, 0.0

    def refined(index: int, size: int, values: np.ndarray) -> float:
        left, centre, right = values[(index - 1) % size], values[index], values[(index + 1) % size]
        curve = left - 2 * centre + right
        offset = 0.5 * (left - right) / curve if curve < 0 else 0.0
        position = index + float(np.clip(offset, -0.5, 0.5))
        return position - size if position > size / 2 else position

    dx = refined(px, width, correlation[py, :])
    dy = refined(py, height, correlation[:, px])
    if abs(dx) > limit * width or abs(dy) > limit * height or (abs(dx) < 0.25 and abs(dy) < 0.25):
        return 0.0, 0.0
    return float(dx), float(dy)
