"""One pass of a level: strokes started at the error peaks of every block and optimised together
through the neural renderer (Stylized Neural Painting's step, on overlapping blocks).

The level's picture is cut into S x S blocks (`cut_blocks`); new strokes start where the blurred
error between the painting so far and the target is largest, in the target's colours
(`start_strokes`); all of them, every block in one batch, are optimised through the neural
renderer composited over the frozen painting, against pixel L1 plus a Sinkhorn divergence between
mass maps (plus an optional extra term, e.g. a style loss) (`optimise_level`); `to_working` reads
them back as strokes in working pixels. Every tensor lives on the device of the picture it is cut
from; the seeded generator stays on the CPU so a seed gives the same strokes on every device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from brushwork import raster
from brushwork.images import resize, to_tensor
from brushwork.losses import mass_map, pixel_l1, sinkhorn_divergence
from brushwork.neural import layout
from brushwork.painter.plan import Level
from brushwork.settings import PaintSettings
from brushwork.strokes import BRUSHES, Stroke

ExtraLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Blocks:
    """A level's picture cut into blocks, all (B, C, S, S) on one device."""

    target: torch.Tensor  # the photo
    frozen: torch.Tensor  # the painting so far; bare paper outside the picture
    inside: torch.Tensor  # (B, 1, S, S): 1 where a block pixel lies inside the picture

    def error(self) -> torch.Tensor:
        """(B, S, S) mean absolute error per pixel, zero outside the picture."""
        return (self.target - self.frozen).abs().mean(dim=1) * self.inside[:, 0]


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


def cut_blocks(level: Level, target: np.ndarray, painting: np.ndarray, paper: torch.Tensor) -> Blocks:
    """The level's blocks of `target` and of `painting` ((H, W, 3) float RGB, working pixels), on
    the device of `paper` ((1, 3, 1, 1), the canvas colour)."""
    picture = to_tensor(resize(target, level.width, level.height), paper.device)
    current = to_tensor(resize(painting, level.width, level.height), paper.device)
    target_blocks, inside = _crops(picture, level)
    frozen_blocks, _ = _crops(current, level)
    return Blocks(target_blocks, frozen_blocks + (1 - inside) * paper, inside)


def _slots(errors: torch.Tensor, count: int) -> torch.Tensor:
    """(B, K) mask of active stroke slots: `count` strokes over B blocks, as evenly as possible,
    the spare ones to the blocks with the largest error."""
    blocks = errors.shape[0]
    per_block = -(-count // blocks)
    base, extra = divmod(count, blocks)
    active = torch.zeros(blocks, per_block, dtype=torch.bool, device=errors.device)
    active[:, :base] = True
    if extra:
        active[errors.argsort(descending=True)[:extra], base] = True
    return active


def _error_peaks(error: torch.Tensor, count: int, radius: int) -> torch.Tensor:
    """(B, S, S) error maps -> (B, count, 2) pixel positions (x, y) of the largest errors, each
    peak suppressing its neighbourhood so strokes spread out."""
    error = error.clone()
    b, s, _ = error.shape
    axis = torch.arange(s, device=error.device)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
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
    the target's colours (N, 3), on their device; the random draws come from the CPU `generator`."""
    n, device = centres.shape[0], centres.device

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=generator.device).to(device)

    names = BRUSHES[kind].names
    v = torch.zeros(n, len(names), device=device)
    c = (centres + 0.5) / size
    angle = uniform(n) * 2 * math.pi
    direction = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    if "x0" in names:
        half = 0.1 + 0.15 * uniform(n, 1)
        bend = 0.05 * (uniform(n, 1) - 0.5)
        normal = torch.stack([-direction[:, 1], direction[:, 0]], dim=1)
        for name, point in (("0", c - half * direction), ("1", c + bend * normal), ("2", c + half * direction)):
            v[:, names.index("x" + name)], v[:, names.index("y" + name)] = point[:, 0], point[:, 1]
    else:
        v[:, names.index("cx")], v[:, names.index("cy")] = c[:, 0], c[:, 1]
        v[:, names.index("angle")] = angle / (2 * math.pi)
    for f_index, f in enumerate(BRUSHES[kind].fields):
        if f.role == "size":
            v[:, f_index] = 0.35 + 0.1 * uniform(n)
        elif f.role == "color":
            v[:, f_index] = colours[:, "rgb".index(f.name[0])]
        elif f.role == "opacity":
            v[:, f_index] = 1.0
    return v.clamp(0, 1)


@dataclass
class LevelStrokes:
    """The strokes of one level. Per brush kind: a (B, K, d) parameter tensor, a (B, K) mask of
    the slots in use (blocks get different counts) and the (d,) low and high bounds of its
    parameters; `order` lists (kind, slot) in paint order, the kinds of a mix interleaved so each
    gets an equal share of the level's strokes."""

    active: dict[str, torch.Tensor]
    order: list[tuple[str, int]]
    params: dict[str, torch.Tensor] = field(default_factory=dict)
    bounds: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)


def start_strokes(blocks: Blocks, level: Level, shares: dict[str, int], generator: torch.Generator,
                  min_size: float | None, max_size: float | None) -> LevelStrokes:
    """New strokes (`shares`: how many of each kind) at the peaks of the blurred error, in the
    target's colours, their extents kept within min_size..max_size level pixels."""
    error = blocks.error()
    active = {k: _slots(error.flatten(1).mean(1), n) for k, n in shares.items() if n > 0}
    depth = max(mask.shape[1] for mask in active.values())
    strokes = LevelStrokes(active, [(k, j) for j in range(depth) for k in active if j < active[k].shape[1]])
    size = level.block
    blurred = F.avg_pool2d(error[:, None], 5, stride=1, padding=2, count_include_pad=False)[:, 0]
    radius = max(1, round(size / (2 * math.sqrt(len(strokes.order)))))
    centres = _error_peaks(blurred, len(strokes.order), radius)  # (B, slots, 2), largest first
    colour_map = F.avg_pool2d(blocks.target, 3, stride=1, padding=1, count_include_pad=False)
    for kind in strokes.active:
        slots = [i for i, (k, _) in enumerate(strokes.order) if k == kind]
        c = centres[:, slots].reshape(-1, 2)
        idx = c[:, 1].long() * size + c[:, 0].long()
        flat = colour_map.flatten(2).repeat_interleave(len(slots), dim=0)
        colours = flat[torch.arange(len(idx), device=idx.device), :, idx]
        v = _initial_parameters(kind, c, colours, size, generator)
        strokes.params[kind] = v.reshape(len(level.blocks), len(slots), -1).requires_grad_()
        # Worked out in float64 on the CPU (MPS has no float64), used in float32 on the device.
        low, high = layout.size_bounds(kind, min_size, max_size, size, device="cpu")
        strokes.bounds[kind] = (low.to(v.device), high.to(v.device))
    return strokes


def share(count: int, kinds: tuple[str, ...], placed: dict[str, int]) -> dict[str, int]:
    """Split a level's strokes over the brushes of a mix so that the totals stay even (the
    brushes with the fewest strokes so far go first); updates `placed`."""
    shares = dict.fromkeys(dict.fromkeys(kinds), 0)
    for _ in range(count):
        kind = min(shares, key=lambda k: placed[k] + shares[k])
        shares[kind] += 1
    for kind, n in shares.items():
        placed[kind] += n
    return shares


def _composite(strokes: LevelStrokes, models: dict, background: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Alpha-composite the level's strokes in blocks `rows` over those blocks' frozen canvas
    (`background`) through the neural renderer. Only slots in use are rendered (blocks hold
    different numbers of strokes)."""
    rendered: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    blocks, size = background.shape[0], background.shape[-1]
    for kind, v in strokes.params.items():
        v, k = v[rows], v.shape[1]
        used = strokes.active[kind][rows].flatten().nonzero()[:, 0]
        fg_used, alpha_used = models[kind](v.reshape(blocks * k, -1)[used])
        foreground = background.new_zeros(blocks * k, 3, size, size).index_copy(0, used, fg_used)
        alpha = background.new_zeros(blocks * k, 1, size, size).index_copy(0, used, alpha_used)
        rendered[kind] = (foreground.reshape(blocks, k, 3, size, size), alpha.reshape(blocks, k, 1, size, size))
    canvas = background
    for kind, j in strokes.order:
        foreground, alpha = rendered[kind][0][:, j], rendered[kind][1][:, j]
        canvas = foreground + canvas * (1 - alpha)  # unused slots are all zero: no change
    return canvas


def _block_strokes(strokes: LevelStrokes, size: int) -> dict[str, list[list[Stroke]]]:
    """Per kind, per block, the strokes of every slot in block pixels."""
    out = {}
    for kind, v in strokes.params.items():
        k = v.shape[1]
        # Read back on the CPU, where `to_strokes` works in float64 (MPS has none).
        flat = layout.to_strokes(kind, v.detach().reshape(-1, v.shape[-1]).cpu(), size)
        out[kind] = [flat[b * k:(b + 1) * k] for b in range(v.shape[0])]
    return out


def _exact_composite(strokes: LevelStrokes, frozen_blocks: torch.Tensor, size: int) -> torch.Tensor:
    """The same composite drawn by `raster` (no gradient): the straight-through forward pass."""
    per_kind = _block_strokes(strokes, size)
    active = {kind: mask.tolist() for kind, mask in strokes.active.items()}
    frozen = (frozen_blocks.permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    out = []
    for b, pixels in enumerate(frozen):
        canvas = raster.RasterCanvas(size, size)
        canvas.set_pixels(pixels)
        for kind, j in strokes.order:
            if active[kind][b][j]:
                canvas.draw(per_kind[kind][b][j])
        out.append(canvas.to_rgb().astype(np.float32) / 255)
    return torch.as_tensor(np.stack(out), device=frozen_blocks.device).permute(0, 3, 1, 2)


def to_working(strokes: LevelStrokes, level: Level) -> list[Stroke]:
    """Active strokes in paint order (slot by slot, block by block), in working pixels."""
    per_kind = _block_strokes(strokes, level.block)
    active = {kind: mask.tolist() for kind, mask in strokes.active.items()}
    out = []
    for kind, j in strokes.order:
        for b, (x, y) in enumerate(level.blocks):
            if active[kind][b][j]:
                out.append(per_kind[kind][b][j].transformed(1 / level.scale, x / level.scale, y / level.scale))
    return out


def optimise_level(strokes: LevelStrokes, blocks: Blocks, models: dict, settings: PaintSettings,
                   paper: torch.Tensor, extra_loss: ExtraLoss | None, on_step: Callable[[], None]) -> None:
    """`settings.iterations` Adam steps on the strokes' parameters (in place); `on_step()` is
    called after each (it may raise to stop)."""
    optimiser = torch.optim.Adam(list(strokes.params.values()), lr=settings.learning_rate)
    # A block without a new stroke (a fine level has more blocks than a pass has strokes) adds a
    # constant to the loss: its pixel and transport terms are left out, the others still averaged
    # over all blocks, so the gradient is the same. An extra term sees every block.
    count = blocks.target.shape[0]
    busy = torch.stack([mask.any(1) for mask in strokes.active.values()]).any(0)
    rows = torch.arange(count, device=busy.device) if extra_loss is not None else busy.nonzero()[:, 0]
    target, frozen, inside = blocks.target[rows], blocks.frozen[rows], blocks.inside[rows]
    target_mass = mass_map(target, settings.ot_grid, paper) if settings.ot_weight else None
    size = target.shape[-1]
    for iteration in range(settings.iterations):
        canvas = _composite(strokes, models, frozen, rows)
        if settings.exact_forward:
            with torch.no_grad():
                exact = _exact_composite(strokes, blocks.frozen, size)[rows]
            canvas = canvas + (exact - canvas).detach()
        loss = pixel_l1(canvas, target, inside).sum() / count
        if target_mass is not None and iteration < settings.ot_fraction * settings.iterations:
            canvas_mass = mass_map(canvas * inside + (1 - inside) * paper, settings.ot_grid, paper)
            loss = loss + settings.ot_weight * sinkhorn_divergence(canvas_mass, target_mass).sum() / count
        if extra_loss is not None:
            loss = loss + extra_loss(canvas, inside)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            for kind, v in strokes.params.items():
                low, high = strokes.bounds[kind]
                v.copy_(torch.maximum(torch.minimum(v, high), low))
                if settings.opaque and "opacity" in BRUSHES[kind].names:
                    v[..., BRUSHES[kind].index("opacity")] = 1.0
        on_step()
