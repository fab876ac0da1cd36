"""The progressive stroke optimiser (Stylized Neural Painting's painter, on overlapping blocks).

For each level of `plan`, coarse to fine: new strokes start where the blurred error between the
painting so far and the target is largest, coloured from the target; all strokes of the level
are optimised together, every block in one batch, through the neural renderer and composited
over the frozen painting; the loss is pixel L1 plus a Sinkhorn divergence between mass maps
(plus an optional extra term, e.g. a style loss). Then the level's strokes are measured on the
exact renderer (strokes that remove almost no error give their budget to the next pass) and drawn
for good, which is the canvas the next level starts from. Then all new strokes are refined
together on the whole canvas (`refine`, through the analytic renderer `soft`), and finally every
stroke gets the colours that fit the photo best for its final shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from brushwork import raster, renderers
from brushwork.errors import BrushworkError
from brushwork.images import resize, to_tensor
from brushwork.losses import mass_map, pixel_l1, sinkhorn_divergence
from brushwork.neural import layout
from brushwork.painter.colours import refit_colours
from brushwork.painter.plan import Level, plan_levels
from brushwork.painter.pruning import removal_gains
from brushwork.painter.refine import RefineLimits, default_iterations, refine
from brushwork.settings import PaintSettings, validate_settings
from brushwork.strokes import BRUSHES, Stroke, StrokeList, field_range

ExtraLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# Progress counts stroke-steps of the optimiser; a refinement step costs this many level steps per
# stroke (about 0.5 at 1,000 strokes and 1.4 at 200, timed on tubingen.jpg).
REFINE_STEP_COST = 0.75


@dataclass
class Progress:
    """What a progress callback receives. `preview()` draws the painting so far (RGB uint8, at
    the working size) with the exact renderer; it costs a render, so call it only when shown."""

    fraction: float
    strokes: int  # strokes in the painting so far, including those being optimised
    total: int  # strokes the painting will have
    level: int
    levels: int
    preview: Callable[[], np.ndarray] = field(repr=False)


class PaintCancelled(BrushworkError):
    """Painting stopped early (callback or Ctrl-C); `.strokes` holds what was painted so far."""

    def __init__(self, strokes: StrokeList) -> None:
        super().__init__(f"painting cancelled after {len(strokes)} strokes")
        self.strokes = strokes


def _crops(picture: torch.Tensor, level: Level) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, C, h, w) level picture -> (B, C, S, S) blocks and (B, 1, S, S) inside-the-picture masks."""
    s = level.block
    pad_w = max(level.xs) + s - level.width
    pad_h = max(level.ys) + s - level.height
    padded = F.pad(picture, (0, pad_w, 0, pad_h))
    inside = F.pad(torch.ones_like(picture[:, :1]), (0, pad_w, 0, pad_h))
    blocks = [padded[0, :, y:y + s, x:x + s] for x, y in level.blocks]
    masks = [inside[0, :, y:y + s, x:x + s] for x, y in level.blocks]
    return torch.stack(blocks), torch.stack(masks)


def _slots(errors: torch.Tensor, count: int) -> torch.Tensor:
    """(B, K) mask of active stroke slots: `count` strokes over B blocks, as evenly as possible,
    the spare ones to the blocks with the largest error."""
    blocks = errors.shape[0]
    per_block = -(-count // blocks)
    base, extra = divmod(count, blocks)
    active = torch.zeros(blocks, per_block, dtype=torch.bool)
    active[:, :base] = True
    if extra:
        active[errors.argsort(descending=True)[:extra], base] = True
    return active


def _error_peaks(error: torch.Tensor, count: int, radius: int) -> torch.Tensor:
    """(B, S, S) error maps -> (B, count, 2) pixel positions (x, y) of the largest errors, each
    peak suppressing its neighbourhood so strokes spread out."""
    error = error.clone()
    b, s, _ = error.shape
    ys, xs = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    peaks = []
    for _ in range(count):
        flat = error.flatten(1).argmax(dim=1)
        px, py = flat % s, flat // s
        peaks.append(torch.stack([px, py], dim=1))
        near = ((xs[None] - px[:, None, None]).abs() <= radius) & ((ys[None] - py[:, None, None]).abs() <= radius)
        error[near] = -1.0
    return torch.stack(peaks, dim=1).float()


def _initial_parameters(kind: str, centres: torch.Tensor, colours: torch.Tensor, size: int,
                        generator: torch.Generator) -> torch.Tensor:
    """Normalised parameters (N, d) of new strokes centred on `centres` (N, 2, block pixels) in
    the target's colours (N, 3)."""
    n = centres.shape[0]
    names = BRUSHES[kind].names
    v = torch.zeros(n, len(names))
    c = (centres + 0.5) / size
    angle = torch.rand(n, generator=generator) * 2 * math.pi
    direction = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    if "x0" in names:
        half = 0.1 + 0.15 * torch.rand(n, 1, generator=generator)
        bend = 0.05 * (torch.rand(n, 1, generator=generator) - 0.5)
        normal = torch.stack([-direction[:, 1], direction[:, 0]], dim=1)
        for name, point in (("0", c - half * direction), ("1", c + bend * normal), ("2", c + half * direction)):
            v[:, names.index("x" + name)], v[:, names.index("y" + name)] = point[:, 0], point[:, 1]
    else:
        v[:, names.index("cx")], v[:, names.index("cy")] = c[:, 0], c[:, 1]
        v[:, names.index("angle")] = angle / (2 * math.pi)
    for f_index, f in enumerate(BRUSHES[kind].fields):
        if f.role == "size":
            v[:, f_index] = 0.35 + 0.1 * torch.rand(n, generator=generator)
        elif f.role == "color":
            v[:, f_index] = colours[:, "rgb".index(f.name[0])]
        elif f.role == "opacity":
            v[:, f_index] = 1.0
    return v.clamp(0, 1)


class _LevelStrokes:
    """The strokes of one level. Per brush kind: a (B, K, d) parameter tensor and a (B, K) mask
    of the slots in use (blocks get different counts); `order` lists (kind, slot) in paint order,
    the kinds of a mix interleaved so each gets an equal share of the level's strokes."""

    def __init__(self, errors: torch.Tensor, shares: dict[str, int]) -> None:
        self.active = {k: _slots(errors, n) for k, n in shares.items() if n > 0}
        depth = max(mask.shape[1] for mask in self.active.values())
        self.order = [(k, j) for j in range(depth) for k in self.active if j < self.active[k].shape[1]]
        self.params: dict[str, torch.Tensor] = {}


def _share(count: int, kinds: tuple[str, ...], placed: dict[str, int]) -> dict[str, int]:
    """Split a level's strokes over the brushes of a mix so that the totals stay even (the
    brushes with the fewest strokes so far go first); updates `placed`."""
    shares = dict.fromkeys(dict.fromkeys(kinds), 0)
    for _ in range(count):
        kind = min(shares, key=lambda k: placed[k] + shares[k])
        shares[kind] += 1
    for kind, n in shares.items():
        placed[kind] += n
    return shares


def _composite(strokes: _LevelStrokes, models: dict, background: torch.Tensor) -> torch.Tensor:
    """Alpha-composite the level's strokes over the blocks' frozen canvas through the neural
    renderer. Only slots in use are rendered (blocks hold different numbers of strokes)."""
    rendered: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    blocks, size = background.shape[0], background.shape[-1]
    for kind, v in strokes.params.items():
        k = v.shape[1]
        used = strokes.active[kind].flatten().nonzero()[:, 0]
        fg_used, alpha_used = models[kind](v.reshape(blocks * k, -1)[used])
        foreground = background.new_zeros(blocks * k, 3, size, size).index_copy(0, used, fg_used)
        alpha = background.new_zeros(blocks * k, 1, size, size).index_copy(0, used, alpha_used)
        rendered[kind] = (foreground.reshape(blocks, k, 3, size, size), alpha.reshape(blocks, k, 1, size, size))
    canvas = background
    for kind, j in strokes.order:
        foreground, alpha = rendered[kind][0][:, j], rendered[kind][1][:, j]
        canvas = foreground + canvas * (1 - alpha)  # unused slots are all zero: no change
    return canvas


def _block_strokes(strokes: _LevelStrokes, size: int) -> dict[str, list[list[Stroke]]]:
    """Per kind, per block, the strokes of every slot in block pixels."""
    return {kind: [layout.to_strokes(kind, v[b], size) for b in range(v.shape[0])]
            for kind, v in strokes.params.items()}


def _exact_composite(strokes: _LevelStrokes, frozen_blocks: torch.Tensor, size: int) -> torch.Tensor:
    """The same composite drawn by `raster` (no gradient): the straight-through forward pass."""
    per_kind = _block_strokes(strokes, size)
    out = []
    for b in range(frozen_blocks.shape[0]):
        canvas = raster.RasterCanvas(size, size)
        pixels = (frozen_blocks[b].permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
        canvas.set_pixels(pixels)
        for kind, j in strokes.order:
            if strokes.active[kind][b, j]:
                canvas.draw(per_kind[kind][b][j])
        out.append(torch.from_numpy(canvas.to_rgb().astype(np.float32) / 255).permute(2, 0, 1))
    return torch.stack(out)


def _level_strokes_to_working(strokes: _LevelStrokes, level: Level) -> list[Stroke]:
    """Active strokes in paint order (slot by slot, block by block), in working pixels."""
    per_kind = _block_strokes(strokes, level.block)
    out = []
    for kind, j in strokes.order:
        for b, (x, y) in enumerate(level.blocks):
            if strokes.active[kind][b, j]:
                out.append(per_kind[kind][b][j].transformed(1 / level.scale, x / level.scale, y / level.scale))
    return out


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
    validate_settings(settings)
    height0, width0 = target.shape[:2]
    out_w, out_h = (resume.width, resume.height) if resume else (width0, height0)
    factor = min(1.0, settings.working_size / max(width0, height0))
    work_w, work_h = max(1, round(width0 * factor)), max(1, round(height0 * factor))
    to_output = out_w / work_w  # working pixels -> output pixels
    working = resize(target, work_w, work_h)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    models = {kind: renderers.load(kind) for kind in set(settings.brushes)}
    block = next(iter(models.values())).size
    if any(m.size != block for m in models.values()):
        raise BrushworkError("the renderers of a brush mix must share one output size")
    for model in models.values():
        model.requires_grad_(False)

    r, g, b = settings.background  # checked: an RGB triple
    background = (r, g, b)
    frozen = raster.RasterCanvas(work_w, work_h, background=background)
    painted: list[Stroke] = []  # new strokes, working pixels
    kept: tuple[Stroke, ...] = ()  # a resumed painting's strokes, untouched
    if resume is not None:
        if resume.background is not None:
            background = resume.background
            frozen = raster.RasterCanvas(work_w, work_h, background=background)
        kept = resume.strokes
        for stroke in kept:
            frozen.draw(stroke.transformed(work_w / resume.width))
    paper = torch.tensor(background, dtype=torch.float32).reshape(1, 3, 1, 1)
    base = frozen.to_rgb().astype(np.float32) / 255  # under the new strokes
    levels = plan_levels(work_w, work_h, settings.strokes, block)
    refining = 0 if extra_loss is not None else (
        default_iterations(settings.strokes) if settings.refine_iterations is None else settings.refine_iterations)
    work_total = (sum(level.strokes for level in levels) * settings.iterations
                  + REFINE_STEP_COST * settings.strokes * refining)
    work_done: float = 0
    total_strokes = len(kept) + settings.strokes
    placed = dict.fromkeys(settings.brushes, 0)

    def finished(new: list[Stroke]) -> StrokeList:
        fitted = (_fit(s.transformed(to_output), out_w, out_h) for s in new)
        return StrokeList(out_w, out_h, kept + tuple(fitted), background)

    def preview(new: list[Stroke]) -> np.ndarray:
        canvas = raster.RasterCanvas(work_w, work_h, background=background)
        for s in [k.transformed(work_w / out_w) for k in kept] + new:
            canvas.draw(s)
        return canvas.to_rgb()

    carried = 0  # budget of pruned strokes, handed on to the next pass
    for level_index, level in enumerate(levels):
        count = level.strokes + carried
        under = frozen.to_rgb().astype(np.float32) / 255  # the painting so far, working pixels
        picture = to_tensor(resize(working, level.width, level.height))
        current = to_tensor(resize(under, level.width, level.height))
        target_blocks, inside = _crops(picture, level)
        frozen_blocks, _ = _crops(current, level)
        frozen_blocks = frozen_blocks + (1 - inside) * paper  # outside the picture: bare paper
        error = ((target_blocks - frozen_blocks).abs().mean(dim=1) * inside[:, 0])
        strokes = _LevelStrokes(error.flatten(1).mean(1), _share(count, settings.brushes, placed))
        blurred = F.avg_pool2d(error[:, None], 5, stride=1, padding=2, count_include_pad=False)[:, 0]
        radius = max(1, round(block / (2 * math.sqrt(len(strokes.order)))))
        centres = _error_peaks(blurred, len(strokes.order), radius)  # (B, slots, 2), largest first
        colour_map = F.avg_pool2d(target_blocks, 3, stride=1, padding=1, count_include_pad=False)
        bounds = {}
        min_size = None if settings.min_size is None else settings.min_size / to_output * level.scale
        max_size = None if settings.max_size is None else settings.max_size / to_output * level.scale
        for kind in strokes.active:
            slots = [i for i, (k, _) in enumerate(strokes.order) if k == kind]
            c = centres[:, slots].reshape(-1, 2)
            idx = c[:, 1].long() * block + c[:, 0].long()
            flat = colour_map.flatten(2).repeat_interleave(len(slots), dim=0)
            colours = flat[torch.arange(len(idx)), :, idx]
            v = _initial_parameters(kind, c, colours, block, generator)
            strokes.params[kind] = v.reshape(len(level.blocks), len(slots), -1).requires_grad_()
            bounds[kind] = layout.size_bounds(kind, min_size, max_size, block)
        optimiser = torch.optim.Adam(list(strokes.params.values()), lr=settings.learning_rate)
        target_mass = mass_map(target_blocks, settings.ot_grid, paper) if settings.ot_weight else None

        def progress_preview(strokes=strokes, level=level):
            with torch.no_grad():
                return preview(painted + _level_strokes_to_working(strokes, level))

        try:
            for iteration in range(settings.iterations):
                canvas = _composite(strokes, models, frozen_blocks)
                if settings.exact_forward:
                    with torch.no_grad():
                        exact = _exact_composite(strokes, frozen_blocks, block)
                    canvas = canvas + (exact - canvas).detach()
                loss = pixel_l1(canvas, target_blocks, inside).mean()
                if target_mass is not None and iteration < settings.ot_fraction * settings.iterations:
                    canvas_mass = mass_map(canvas * inside + (1 - inside) * paper, settings.ot_grid, paper)
                    loss = loss + settings.ot_weight * sinkhorn_divergence(canvas_mass, target_mass).mean()
                if extra_loss is not None:
                    loss = loss + extra_loss(canvas, inside)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                with torch.no_grad():
                    for kind, v in strokes.params.items():
                        low, high = bounds[kind]
                        v.copy_(torch.maximum(torch.minimum(v, high), low))
                        if settings.opaque and "opacity" in BRUSHES[kind].names:
                            v[..., BRUSHES[kind].index("opacity")] = 1.0
                work_done += level.strokes  # the plan's share: carried strokes make a pass a little longer
                if callback is not None:
                    report = Progress(work_done / work_total, len(kept) + len(painted) + count, total_strokes,
                                      level_index + 1, len(levels), progress_preview)
                    if callback(report) is False:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            with torch.no_grad():
                raise PaintCancelled(finished(painted + _level_strokes_to_working(strokes, level))) from None
        with torch.no_grad():
            new = _level_strokes_to_working(strokes, level)
        carried = 0
        repaint = level.strokes == 0  # the extra pass for the last planned pass's pruned strokes
        # Both measure the photo alone: with an extra (style) term they would undo the style.
        if settings.prune and extra_loss is None and not repaint:
            gains = removal_gains(new, working, under)
            useful = gains > settings.prune * np.median(gains)
            for stroke in (s for s, keep in zip(new, useful, strict=True) if not keep):
                placed[stroke.kind] -= 1  # the brushes of a mix keep even shares
                carried += 1
            new = [stroke for stroke, keep in zip(new, useful, strict=True) if keep]
        for stroke in new:
            frozen.draw(stroke)
        painted.extend(new)
        if carried and level_index == len(levels) - 1:
            # One more pass at the finest level paints them (+0.05-0.3 dB at 200-500 strokes on
            # tubingen.jpg and astronaut.png, about 10 % more time); the loop picks it up.
            levels.append(replace(level, strokes=0))
    if refining:
        latest = painted

        def refine_step(iteration: int, current: Callable[[], list[Stroke]]) -> None:
            nonlocal work_done, latest
            work_done += REFINE_STEP_COST * settings.strokes
            if callback is not None:
                latest = current()
                report = Progress(work_done / work_total, total_strokes, total_strokes, len(levels), len(levels),
                                  lambda: preview(latest))
                if callback(report) is False:
                    raise KeyboardInterrupt

        limits = RefineLimits(
            min_size=settings.min_size / to_output if settings.min_size is not None else 1.0,
            max_size=settings.max_size / to_output if settings.max_size is not None else None,
            opaque=settings.opaque,
        )
        try:
            painted = refine(painted, working, base, refining, limits, refine_step)
        except KeyboardInterrupt:
            raise PaintCancelled(finished(latest)) from None
    if settings.colour_refit and extra_loss is None:
        painted = refit_colours(painted, working, base)
    return finished(painted)


def _fit(stroke: Stroke, width: int, height: int) -> Stroke:
    """Clamp a stroke into the valid ranges of the output canvas (block strokes can overhang
    the picture by up to a block, which at coarse levels may exceed the canvas margin)."""
    values = []
    for f, v in zip(stroke.brush.fields, stroke.params, strict=True):
        low, high, low_open = field_range(f.role, width, height)
        values.append(min(max(v, low if not low_open else max(low, 1e-6)), high))
    return Stroke(stroke.kind, tuple(values))

