"""A differentiable analytic renderer: strokes drawn in canvas pixels from signed distances.

The neural renderer draws one stroke inside one S x S block, so the painter can only move a
stroke within its block and at the block's resolution. To refine every stroke of a painting
together on the whole canvas, at the working resolution, each brush kind also draws itself in
closed form (`Brush.soft_draw`: a signed distance to its outline, in pixels, times its paint), so
that gradients reach positions, sizes, angles and colours. It follows the exact renderer closely,
but not exactly: the exact renderer stays the ground truth of what the user sees. This module
places those drawings in windows of the canvas and composites them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from brushwork import brushes
from brushwork.strokes import Stroke

if TYPE_CHECKING:
    from brushwork.painter.pruning import Patch


@dataclass(frozen=True)
class Window:
    """The canvas pixels x0 .. x0 + width - 1, y0 .. y0 + height - 1 in which a stroke is drawn."""

    x0: int
    y0: int
    width: int
    height: int


def draw(kind: str, params: torch.Tensor, windows: list[Window]) -> tuple[torch.Tensor, torch.Tensor]:
    """Strokes of one kind, (N, d) canonical parameters in canvas pixels, each drawn in its window
    (one batch: every window is drawn at the largest window's size). Returns premultiplied colour
    (N, 3, h, w) and alpha (N, h, w) over transparency. The pixel centres go to the brush as a
    separable grid, xs (N, 1, w) and ys (N, h, 1): the first operations on them stay that small."""
    h, w = max(win.height for win in windows), max(win.width for win in windows)
    origin = torch.tensor([(win.x0, win.y0) for win in windows], dtype=params.dtype, device=params.device)
    xs = origin[:, 0, None, None] + torch.arange(w, dtype=params.dtype, device=params.device)[None, None, :] + 0.5
    ys = origin[:, 1, None, None] + torch.arange(h, dtype=params.dtype, device=params.device)[None, :, None] + 0.5
    return brushes.get(kind).soft_draw(params, xs, ys)


def windows(kind: str, params: np.ndarray, width: int, height: int, margin: int = 2) -> list[Window | None]:
    """Each stroke's bounding box ((N, d) parameters of one kind) on a width x height canvas, plus
    `margin` pixels, or None where it misses the canvas."""
    boxes = brushes.pixel_boxes(kind, params, width, height)
    x0, y0 = np.maximum(0, boxes[:, :2] - margin).T
    x1, y1 = np.minimum((width, height), boxes[:, 2:] + margin).T
    return [Window(a, b, c - a, d - b) if c > a and d > b else None
            for a, b, c, d in zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist(), strict=True)]


def params_tensor(strokes: list[Stroke], device: torch.device | str | None = None) -> torch.Tensor:
    return torch.tensor([s.params for s in strokes], dtype=torch.float32, device=device)


@dataclass(frozen=True)
class Placement:
    """Where a drawn stroke goes: item `item` of drawing `drawing` (a pair of premultiplied
    (n, 3, h, w) and alpha (n, h, w) tensors), over `window` of the canvas."""

    drawing: int
    item: int
    window: Window


def compiled_loop(device: torch.device) -> bool:
    """Whether compositing runs its compiled loop (on the CPU) or torch's window operations (elsewhere)."""
    return device.type == "cpu"


class _Over(torch.autograd.Function):
    """Strokes composited one over another onto a canvas, in order. Autograd through a chain of
    in-place window updates would copy the whole canvas (and its gradient) once per stroke; this
    keeps only each window's canvas before its stroke, and runs the chain backwards by hand. On the
    CPU the loop is compiled (`_over_cpu`): there torch's per-operation dispatch on small windows was
    most of its cost."""

    @staticmethod
    def forward(ctx, base: torch.Tensor, placements: list[Placement], *drawings: torch.Tensor) -> torch.Tensor:
        canvas = base.detach().clone()
        ctx.drawings = drawings = tuple(d.detach().contiguous() for d in drawings)
        if compiled_loop(canvas.device):
            from brushwork.painter import _over_cpu

            ctx.places = _over_cpu.places_array(placements)
            ctx.under = _over_cpu.over(canvas, ctx.places, drawings)
            return canvas
        ctx.placements, ctx.under = placements, []
        ctx.through = [1 - alpha for alpha in drawings[1::2]]  # once per drawing, not per stroke
        for place in placements:
            w = place.window
            view = canvas[:, w.y0: w.y0 + w.height, w.x0: w.x0 + w.width]
            ctx.under.append(view.clone())
            view *= ctx.through[place.drawing][place.item, : w.height, : w.width]
            view += drawings[2 * place.drawing][place.item, :, : w.height, : w.width]
        return canvas

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        if compiled_loop(grad.device):
            from brushwork.painter import _over_cpu

            return (grad, None, *_over_cpu.over_backward(grad, ctx.places, ctx.drawings, ctx.under))
        grads = [torch.zeros_like(d) for d in ctx.drawings]  # premultiplied (n, 3, h, w), alpha (n, h, w) in turn
        for place, under in zip(reversed(ctx.placements), reversed(ctx.under), strict=True):
            w = place.window
            view = grad[:, w.y0: w.y0 + w.height, w.x0: w.x0 + w.width]
            grads[2 * place.drawing][place.item, :, : w.height, : w.width] = view
            grads[2 * place.drawing + 1][place.item, : w.height, : w.width] = -(view * under).sum(0)
            view *= ctx.through[place.drawing][place.item, : w.height, : w.width]
        return (grad, None, *grads)


def patches(placements: list[Placement | None], drawings: list[tuple[torch.Tensor, torch.Tensor]]
            ) -> Iterator[Patch]:
    """The placed strokes' drawings as `pruning.layer_gains` takes them, in order: pixel box, and
    premultiplied colour (h, w, 3) and alpha (h, w, 1) as numpy arrays (None off the canvas)."""
    for place in placements:
        if place is None:
            yield (0, 0, 0, 0), None, None
            continue
        w = place.window
        premultiplied, alpha = (t.detach()[place.item] for t in drawings[place.drawing])
        yield ((w.x0, w.y0, w.x0 + w.width, w.y0 + w.height),
               premultiplied[:, : w.height, : w.width].permute(1, 2, 0).cpu().numpy(),
               alpha[: w.height, : w.width, None].cpu().numpy())


def composite(base: torch.Tensor, placements: list[Placement | None],
              drawings: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """The (3, H, W) canvas `base` with the placed strokes composited over it in order (None: a
    stroke off the canvas)."""
    placed = [place for place in placements if place is not None]
    return _Over.apply(base, placed, *(t for pair in drawings for t in pair))
