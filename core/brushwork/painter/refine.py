"""Global refinement: every stroke of the painting moved, resized, turned and recoloured together.

The progressive painter fixes a level's strokes for good once the level is done, and each of its
strokes only ever sees its own block at the neural renderer's resolution. Here all new strokes
are optimised at once on the whole canvas through `soft` (the analytic differentiable renderer),
against the squared error to the target (the error PSNR measures), the way differentiable vector
graphics fit their shapes: a stroke can still grow across a block border, give up a region a later
stroke covers better, or turn along an edge. A stroke that earns nothing can be started again where
the error is largest (`relocate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from brushwork import brushes
from brushwork.images import to_tensor
from brushwork.painter import soft
from brushwork.painter.pruning import layer_gains
from brushwork.painter.relocate import relocations
from brushwork.strokes import BRUSHES, Stroke, field_range

# Adam moves a parameter by about its step per iteration, whatever the gradient's scale: these
# are steps at the start of the schedule (which then decays to zero), in pixels of a 512-pixel
# canvas for positions and sizes.
STEPS = {"x": 0.8, "y": 0.8, "size": 0.8, "angle": 0.02, "color": 0.02, "opacity": 0.02}
WINDOW_MARGIN = 2  # pixels around a stroke's box: room to grow before the next iteration


# When (fractions of the steps) the least useful strokes are started again: early enough for the
# rest of the steps to fit them. On tubingen.jpg at 1,000 strokes, against 30 steps without them:
# one round at 30 steps +0.1 dB, two at 60 steps +0.4 (oil brush); three at 60, turned along edges and
# started smaller (`relocate`), +0.86 (oil brush) and +0.65 (marker pen). Five rounds rather than three
# (at 15/30/45 %), medians over the seven content photos: the oil brush at 100 steps 26.51 -> 26.56 dB
# (tubingen.jpg 24.63 -> 24.71), the marker pen at 60 steps 27.73 -> 27.77, in the same time.
RELOCATE_AT = (0.1, 0.2, 0.3, 0.4, 0.5)


MOST_STEPS = 130


def default_iterations(strokes: int, kinds: Iterable[str]) -> int:
    """Steps for a painting of this many strokes of these brush kinds: each kind's `refine_steps` at
    1,000 strokes (60 for most: with the strokes started again, +0.4-0.5 dB over 30; the painter's
    levels take fewer steps to pay for them; more for the kinds whose steps are compiled for the CPU),
    the fewest of a mix's; more for fewer strokes, whose steps are cheaper and whose paintings are
    quick, fewer for more, within 20 and MOST_STEPS."""
    at_1000 = min(brushes.get(kind).refine_steps for kind in kinds)
    return max(20, min(MOST_STEPS, round(at_1000 * math.sqrt(1000 / strokes))))


@dataclass(frozen=True)
class RefineLimits:
    """Bounds the refined strokes keep, in the canvas's pixels."""

    min_size: float = 1.0
    max_size: float | None = None
    opaque: bool = False


def _bucket(side: int) -> int:
    return -(-side // 16) * 16  # batches of equal-size windows waste ~15 % on padding


def draw_all(params: dict[str, torch.Tensor], order: list[tuple[str, int]], width: int, height: int
              ) -> tuple[list[soft.Placement | None], list[tuple[torch.Tensor, torch.Tensor]]]:
    """Every stroke drawn in its own window, strokes with windows of one padded size in one batch;
    the placements in paint `order`, None for a stroke off the canvas."""
    drawings, where, windows = [], {}, {}
    for kind, p in params.items():
        rows = p.detach().cpu().double().numpy()  # float64 on the CPU: MPS has none
        buckets: dict[tuple[int, int], list[int]] = {}
        for i, window in enumerate(soft.windows(kind, rows, width, height, WINDOW_MARGIN)):
            if window is not None:
                windows[kind, i] = window
                buckets.setdefault((_bucket(window.height), _bucket(window.width)), []).append(i)
        for (h, w), members in buckets.items():
            padded = [soft.Window(windows[kind, i].x0, windows[kind, i].y0, w, h) for i in members]
            drawings.append(soft.draw(kind, p[members], padded))
            for j, i in enumerate(members):
                where[kind, i] = (len(drawings) - 1, j)
    placements = [soft.Placement(*where[key], windows[key]) if key in windows else None for key in order]
    return placements, drawings


def clamp_strokes_(kind: str, p: torch.Tensor, width: int, height: int, limits: RefineLimits) -> None:
    for i, f in enumerate(BRUSHES[kind].fields):
        low, high, _ = field_range(f.role, width, height)
        if f.role == "size":
            low = limits.min_size
            high = min(high, limits.max_size) if limits.max_size is not None else high
        elif f.role == "angle":
            p[:, i] = torch.remainder(p[:, i] + math.pi, 2 * math.pi) - math.pi
            continue
        elif f.role == "opacity" and limits.opaque:
            low = high
        p[:, i].clamp_(low, high)


def refine(
    strokes: list[Stroke],
    target: np.ndarray,
    base: np.ndarray,
    iterations: int,
    limits: RefineLimits = RefineLimits(),
    callback: Callable[[int, Callable[[], list[Stroke]]], None] | None = None,
    device: torch.device | str = "cpu",
    relocate: bool = False,
) -> list[Stroke]:
    """Optimise all `strokes` (in `target`'s pixels, painted in order over `base`; both (H, W, 3)
    float RGB) together for `iterations` steps on `device`; returns them in the same order and kinds,
    except that with `relocate` the least useful strokes are started again on top, where the error
    is largest, at RELOCATE_AT of the steps (`relocate.relocations`).

    `callback(iteration, current)` is called after every step; `current()` gives the strokes as
    they are then (a cancel raised from the callback can keep them).
    """
    height, width = target.shape[:2]
    if not strokes or iterations < 1:
        return list(strokes)
    target_t, base_t = to_tensor(target, device)[0], to_tensor(base, device)[0]
    kinds = list(dict.fromkeys(s.kind for s in strokes))
    order: list[tuple[str, int]] = []
    by_kind: dict[str, list[Stroke]] = {k: [] for k in kinds}
    for s in strokes:
        order.append((s.kind, len(by_kind[s.kind])))
        by_kind[s.kind].append(s)
    resolution = max(width, height) / 512
    steps = {k: torch.tensor([STEPS[f.role] * (resolution if f.role in ("x", "y", "size") else 1)
                              for f in BRUSHES[k].fields], device=device) for k in kinds}
    # Optimised in units of each parameter's step, so one learning rate serves them all.
    scaled = {k: (soft.params_tensor(by_kind[k], device) / steps[k]).requires_grad_() for k in kinds}
    optimiser = torch.optim.Adam(list(scaled.values()), lr=1.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, iterations)

    def current() -> list[Stroke]:
        with torch.no_grad():
            values = {k: (scaled[k] * steps[k]).cpu().double().tolist() for k in kinds}
        return [Stroke(k, tuple(values[k][i])) for k, i in order]

    moves = {round(f * iterations) for f in RELOCATE_AT} if relocate else set()
    for iteration in range(iterations):
        params = {k: scaled[k] * steps[k] for k in kinds}
        placements, drawings = draw_all(params, order, width, height)
        rendered = soft.composite(base_t, placements, drawings)
        if iteration + 1 in moves:  # this rendering says which strokes earn least, and where they go
            painting = rendered.detach().permute(1, 2, 0).cpu().numpy()
            gains = layer_gains(soft.patches(placements, drawings), target, base)
        loss = ((rendered - target_t) ** 2).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            for k in kinds:
                p = scaled[k] * steps[k]
                clamp_strokes_(k, p, width, height, limits)
                scaled[k].copy_(p / steps[k])
        if iteration + 1 in moves:
            order = _relocate(order, scaled, steps, optimiser, current(), gains, target, painting)
        if callback is not None:
            callback(iteration, current)
    return current()


def _relocate(order: list[tuple[str, int]], scaled: dict[str, torch.Tensor], steps: dict[str, torch.Tensor],
              optimiser: torch.optim.Adam, strokes: list[Stroke], gains: np.ndarray, target: np.ndarray,
              painting: np.ndarray) -> list[tuple[str, int]]:
    """Start the least useful strokes again (`gains`: `pruning.layer_gains`; in place in `scaled`, their
    optimiser state reset to a typical stroke's) and return the paint order with them on top."""
    lifted = []
    with torch.no_grad():
        for index, stroke in relocations(strokes, gains, painting, target):
            kind, i = order[index]
            lifted.append((kind, i))
            scaled[kind][i] = torch.tensor(stroke.params, device=scaled[kind].device) / steps[kind]
            state = optimiser.state[scaled[kind]]
            state["exp_avg"][i] = 0
            state["exp_avg_sq"][i] = state["exp_avg_sq"].median(0).values
    on_top = set(lifted)
    return [key for key in order if key not in on_top] + lifted
