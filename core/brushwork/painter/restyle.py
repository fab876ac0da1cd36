"""Stroke-space style transfer as a second phase (Stylized Neural Painting's `demo_nst.py`): the
finished strokes of a painting are optimised against the pixel L1 to the photo (which keeps the
picture readable) plus a Gram style loss against one or more style images (`style.StyleGoal`),
so that the strokes themselves take on the style's colours and textures.

Two modes:
- `colour`: only the strokes' colours move. With shapes and order fixed the painting is an affine
  function of the colours (`colours.colour_system`, drawn by the exact renderer), so each step is a
  sparse product, and every parameter other than a colour is kept exactly.
- `texture`: colours, shapes and opacities move together through the analytic renderer `soft` (as
  the global refinement does), in units of each parameter's step.

A `mask` (white = restyled, black = kept) scales each stroke's change by the mask's mean over the
stroke's box. The optimisation runs with the painting scaled to `style.GOAL_SIDE`, the size the style
loss sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from brushwork import brushes, raster
from brushwork.device import resolve_device
from brushwork.errors import BrushworkError
from brushwork.images import resize, to_tensor
from brushwork.painter import soft
from brushwork.painter.colours import colour_groups, colour_system, with_colours
from brushwork.painter.optimise import PaintCancelled, Progress, paint_array
from brushwork.painter.refine import STEPS, RefineLimits, clamp_strokes_, draw_all
from brushwork.painter.style import GOAL_SIDE, StyleGoal
from brushwork.painter.threads import load_aware_threads
from brushwork.palette import lab, palette
from brushwork.settings import PaintSettings, validate_settings, validate_style_weights
from brushwork.strokes import BRUSHES, Stroke, StrokeList

if TYPE_CHECKING:
    from brushwork.stylize.models import Models

RESTYLE_MODES = ("colour", "texture")  # the modes that work on finished strokes
# Stroke colours are kept within this CIELAB ΔE of the photo's or a style's 16-colour palette (the
# benchmark counts a stroke farther than 20 from both as off the palette).
PALETTE_MARGIN = 18.0
# Style images are read no larger than this (long side): stylize's default style size; the restyler's
# loss sees them at `style.GOAL_SIDE`.
STYLE_SIDE = 512

# Adam in units of a parameter's step (as `refine`): the colours move about this much per step at
# first (the cosine schedule then decays it).
COLOUR_STEP = 0.02

Callback = Callable[[float], bool | None]  # fraction done -> False to stop
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (canvas, stroke colours) -> loss


_PAINT_DEFAULTS = PaintSettings()


@dataclass(frozen=True)
class RestyleSettings:
    """How the strokes are restyled (the PaintSettings fields of the same names say it to users)."""

    mode: str = _PAINT_DEFAULTS.style_mode
    weight: float = _PAINT_DEFAULTS.style_weight  # of the style loss against the content losses (weight 1 each)
    steps: int = _PAINT_DEFAULTS.style_steps
    # Long side the loss is computed at (the painting's canvas is scaled): the style loss's own. A step then
    # costs one loss-network pass at 256 x 192 (85 ms of one core) and, in colour mode, a sparse product.
    size: int = GOAL_SIDE
    device: str = "auto"


def stroke_colour(stroke: Stroke) -> tuple[float, float, float]:
    """The mean of a stroke's colours (its one colour, or the two ends of its gradient), RGB 0..1."""
    groups = colour_groups(stroke.kind)
    r, g, b = (sum(stroke.params[group[c]] for group in groups) / len(groups) for c in range(3))
    return r, g, b


def restyle(painting: StrokeList, photo: np.ndarray, goal: StyleGoal, settings: RestyleSettings = RestyleSettings(),
            mask: np.ndarray | None = None, callback: Callback | None = None) -> StrokeList:
    """`painting`'s strokes optimised towards `goal` (a style) while staying close to `photo`
    ((H, W, 3) float RGB 0..1, with the painting's aspect ratio). The same canvas, background and
    stroke order; in `colour` mode only colour parameters change. `mask` ((h, w) float 0..1, the
    painting's aspect ratio) limits where strokes change. `callback(fraction)` after every step;
    returning False stops there, keeping the strokes as they are then."""
    if settings.mode not in RESTYLE_MODES:
        raise BrushworkError(f"--style-mode {settings.mode!r}: a painting can be restyled in "
                             f"{' or '.join(RESTYLE_MODES)} mode")
    if not painting.strokes or settings.steps < 1:
        return painting
    # As the painter: on a busy machine a team of torch threads spins waiting for its slowest member (a
    # 1,000-stroke colour restyle took 95 CPU s on 2 threads at load average 7-14, 10-12 on one thread).
    with load_aware_threads():
        return _restyle(painting, photo, goal, settings, mask, callback)


def _restyle(painting: StrokeList, photo: np.ndarray, goal: StyleGoal, settings: RestyleSettings,
             mask: np.ndarray | None, callback: Callback | None) -> StrokeList:
    device = resolve_device(settings.device)
    factor = min(1.0, settings.size / max(painting.width, painting.height))
    width, height = max(1, round(painting.width * factor)), max(1, round(painting.height * factor))
    target = resize(np.asarray(photo, np.float32), width, height)
    paper = painting.background if painting.background is not None else (1.0, 1.0, 1.0)
    base = np.broadcast_to(np.asarray(paper, np.float32), (height, width, 3)).copy()
    strokes = [s.transformed(factor) for s in painting.strokes]
    freedom = _stroke_freedom(strokes, mask, width, height)
    style_loss = goal.loss(to_tensor(target, device), device)
    centres = torch.as_tensor(np.concatenate([palette(target), *(palette(style) for style in goal.styles)]),
                              dtype=torch.float32, device=device)

    def loss(canvas: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
        return style_loss(canvas) + off_palette_loss(colours, centres)

    if settings.mode == "colour":
        moved = _restyle_colours(strokes, base, loss, settings, freedom, device, callback)
        # Colours do not scale with the canvas: the painting's own strokes get them, the rest kept exactly.
        out = [with_colours(old, moved[i]) if i in moved else old for i, old in enumerate(painting.strokes)]
    else:
        shaped = _restyle_shapes(strokes, base, loss, settings, freedom, device, callback)
        out = [s.transformed(1 / factor) for s in shaped]
    # Strokes the mask keeps are the painting's own (not their float32 round trip through the optimiser).
    return painting.with_strokes(new if free > 0 else old for old, new, free in zip(painting.strokes, out, freedom,
                                                                                     strict=True))


def off_palette_loss(colours: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Σ ((ΔE − PALETTE_MARGIN) / 10)² over the (N, 3) RGB `colours` farther than PALETTE_MARGIN (CIELAB ΔE)
    from every colour of `centres` ((k, 3) CIELAB): the Gram loss alone, which sees no stroke, paints
    colours that are in neither the photo nor the style (29-31 % of the strokes off the palettes on
    tubingen x starry_night at style weights 0.1-1)."""
    distance = (lab(colours)[:, None] - centres).norm(dim=-1).min(dim=1).values
    return (torch.relu(distance - PALETTE_MARGIN) / 10).square().sum()


def _stroke_freedom(strokes: Sequence[Stroke], mask: np.ndarray | None, width: int, height: int) -> np.ndarray:
    """How much each stroke may change (0..1): the mask's mean over its box, or all 1."""
    if mask is None:
        return np.ones(len(strokes), np.float32)
    array = np.asarray(mask, np.float32)
    if array.ndim != 2 or not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise BrushworkError("mask: expected a single-channel image with values in 0..1")
    small = resize(np.repeat(array[..., None], 3, axis=2), width, height)[..., 0]
    out = np.zeros(len(strokes), np.float32)
    for i, stroke in enumerate(strokes):
        x0, y0, x1, y1 = brushes.pixel_box(stroke, width, height)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
        out[i] = small[y0:y1, x0:x1].mean() if x1 > x0 and y1 > y0 else 0.0
    return out


def _steps(settings: RestyleSettings, callback: Callback | None, parameters: list[torch.Tensor],
           step_loss: Callable[[], torch.Tensor], after_step: Callable[[], None]) -> None:
    """Adam at learning rate 1 in step units, cosine-decayed, for `settings.steps` steps."""
    optimiser = torch.optim.Adam(parameters, lr=1.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, settings.steps)
    for step in range(settings.steps):
        loss = step_loss()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            after_step()
        if callback is not None and callback((step + 1) / settings.steps) is False:
            return


def _restyle_colours(strokes: list[Stroke], base: np.ndarray, loss: Loss,
                     settings: RestyleSettings, freedom: np.ndarray, device: torch.device,
                     callback: Callback | None) -> dict[int, list[list[float]]]:
    """The new colours (one RGB triple per colour group) of the visible strokes, by stroke index."""
    height, width = base.shape[:2]
    system = colour_system(strokes, base)
    if not system.columns:
        return {}
    coo = system.matrix.tocoo()
    indices = torch.as_tensor(np.stack([coo.row, coo.col]).astype(np.int64))
    matrix = torch.sparse_coo_tensor(indices, torch.as_tensor(coo.data, dtype=torch.float32), coo.shape,
                                     device=device, check_invariants=False).coalesce()
    offset = torch.as_tensor(system.offset, dtype=torch.float32, device=device)
    start = torch.tensor([[strokes[i].params[j] for j in colour_groups(strokes[i].kind)[g]]
                          for i, g in system.columns], dtype=torch.float32, device=device)
    free = torch.as_tensor(freedom[[i for i, _ in system.columns]], device=device)[:, None]
    change = torch.zeros_like(start, requires_grad=True)  # in units of COLOUR_STEP

    def colours() -> torch.Tensor:
        return start + free * COLOUR_STEP * change

    def step_loss() -> torch.Tensor:
        current = colours()
        canvas = (offset + torch.sparse.mm(matrix, current)).T.reshape(1, 3, height, width)
        return loss(canvas, current)

    def keep_in_range() -> None:  # colours stay in 0..1
        safe = free.clamp_min(1e-6)
        change.copy_(torch.where(free > 0, (colours().clamp(0, 1) - start) / (safe * COLOUR_STEP), change))

    _steps(settings, callback, [change], step_loss, keep_in_range)
    solved = colours().detach().clamp(0, 1).cpu().double().tolist()
    out: dict[int, list[list[float]]] = {}
    for (index, group), colour in zip(system.columns, solved, strict=True):
        out.setdefault(index, [[] for _ in colour_groups(strokes[index].kind)])[group] = colour
    return out


def _restyle_shapes(strokes: list[Stroke], base: np.ndarray, loss: Loss,
                    settings: RestyleSettings, freedom: np.ndarray, device: torch.device,
                    callback: Callback | None) -> list[Stroke]:
    """Every parameter of every stroke optimised together through the analytic renderer."""
    height, width = base.shape[:2]
    base_t = to_tensor(base, device)[0]
    kinds = list(dict.fromkeys(s.kind for s in strokes))
    order: list[tuple[str, int]] = []
    members: dict[str, list[int]] = {k: [] for k in kinds}
    for index, s in enumerate(strokes):
        order.append((s.kind, len(members[s.kind])))
        members[s.kind].append(index)
    resolution = max(width, height) / 512
    steps = {k: torch.tensor([STEPS[f.role] * (resolution if f.role in ("x", "y", "size") else 1)
                              for f in BRUSHES[k].fields], device=device) for k in kinds}
    start = {k: soft.params_tensor([strokes[i] for i in members[k]], device) for k in kinds}
    free = {k: torch.as_tensor(freedom[members[k]], device=device)[:, None] for k in kinds}
    change = {k: torch.zeros_like(start[k], requires_grad=True) for k in kinds}
    limits = RefineLimits()

    def params() -> dict[str, torch.Tensor]:
        return {k: start[k] + free[k] * steps[k] * change[k] for k in kinds}

    def step_loss() -> torch.Tensor:
        current = params()
        placements, drawings = draw_all(current, order, width, height)
        colours = torch.cat([current[k][:, group] for k in kinds for group in colour_groups(k)])
        return loss(soft.composite(base_t, placements, drawings)[None], colours)

    def keep_in_range() -> None:
        for k, p in params().items():
            clamp_strokes_(k, p, width, height, limits)
            safe = free[k].clamp_min(1e-6) * steps[k]
            change[k].copy_(torch.where(free[k] > 0, (p - start[k]) / safe, change[k]))

    _steps(settings, callback, list(change.values()), step_loss, keep_in_range)
    final = {}
    with torch.no_grad():
        for k, p in params().items():
            clamp_strokes_(k, p, width, height, limits)  # again: the sum above can round out of range
            final[k] = p.cpu().double().tolist()
    return [Stroke(k, tuple(final[k][i])) for k, i in order]


# The share of a styled painting's progress bar the style phase takes (measured on 600-1,000 strokes:
# a colour restyle costs a fifth of the painting's time, a texture restyle about as much as painting).
STYLE_PHASE_SHARE = {"colour": 0.15, "texture": 0.5}


def paint_in_style(target: np.ndarray, styles: Sequence[np.ndarray], settings: PaintSettings, *,
                   resume: StrokeList | None = None, callback: Callable[[Progress], bool | None] | None = None,
                   mask: np.ndarray | None = None, models: Models | None = None) -> StrokeList:
    """Paint `target` ((H, W, 3) float RGB 0..1) in the style of `styles` (float RGB 0..1, weighted by
    `settings.style_weights`) as `settings.style_mode` says: `colour`/`texture` paint the photo, then
    restyle the finished strokes (`restyle`); `stylize-first` stylizes the photo (`stylize`, with
    `settings.style_method`) and paints the result; a trained style (`settings.model`, no `styles`) is
    painted stylize-first. `mask` ((h, w) 0..1): where the style applies.
    Progress and cancelling as `paint`'s (a cancel in the style phase keeps the strokes as they are)."""
    from brushwork.images import to_array, to_tensor
    from brushwork.stylize import CD16xModels, StyleOptions, stylize

    validate_settings(settings)
    model = settings.trained_style  # a trained style: stylize-first with it, no style image
    if model is not None and styles:
        raise BrushworkError("--model and --style: a painting takes its style from a trained style (--model) or "
                             "from style images (--style), not both")
    weights = validate_style_weights(settings.style_weights, len(styles) if model is None else 1)
    models = models or CD16xModels()
    if settings.style_mode == "stylize-first" or model is not None:
        options = StyleOptions(method=settings.style_method or StyleOptions().method, model=model,
                               style_weights=weights, preserve_color=settings.preserve_color, device=settings.device)
        as_bytes = [to_array(to_tensor(np.asarray(picture, np.float32))) for picture in (target, *styles)]
        stylized = stylize(as_bytes[0], as_bytes[1:], options, mask=mask, models=models)
        return paint_array(stylized.astype(np.float32) / 255, settings, resume=resume, callback=callback)

    share = STYLE_PHASE_SHARE[settings.style_mode] if settings.style_steps else 0.0

    def painting_progress(report: Progress) -> bool | None:
        return callback(replace(report, fraction=report.fraction * (1 - share))) if callback else None

    painting = paint_array(target, settings, resume=resume, callback=painting_progress if callback else None)
    goal = StyleGoal(tuple(np.asarray(s, np.float32) for s in styles), weights, settings.style_weight,
                     settings.preserve_color, models)
    chosen = RestyleSettings(settings.style_mode, settings.style_weight, settings.style_steps,
                             min(settings.working_size, GOAL_SIDE), settings.device)
    height, width = target.shape[:2]

    stopped = False

    def style_progress(fraction: float) -> bool | None:
        nonlocal stopped
        if callback is None:
            return None
        # The preview is the painting before its restyle: the restyled strokes are read back at the end.
        answer = callback(Progress(1 - share + share * fraction, len(painting), len(painting), 1, 1,
                                   lambda: raster.render(painting, width=min(width, settings.working_size))))
        stopped = answer is False
        return answer

    try:
        styled = restyle(painting, target, goal, chosen, mask=mask, callback=style_progress)
    except KeyboardInterrupt:  # as the painter does: the caller tells Ctrl-C from a cancel by __context__
        raise PaintCancelled(painting) from None
    if stopped:
        raise PaintCancelled(styled)
    return styled
