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

from dataclasses import dataclass

import torch

from brushwork import brushes
from brushwork.strokes import Stroke


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
    (N, 3, h, w) and alpha (N, h, w) over transparency."""
    h, w = max(win.height for win in windows), max(win.width for win in windows)
    origin = torch.tensor([(win.x0, win.y0) for win in windows], dtype=params.dtype, device=params.device)
    xs = origin[:, 0, None, None] + torch.arange(w, dtype=params.dtype, device=params.device)[None, None, :] + 0.5
    ys = origin[:, 1, None, None] + torch.arange(h, dtype=params.dtype, device=params.device)[None, :, None] + 0.5
    return brushes.get(kind).soft_draw(params, xs.expand(-1, h, w), ys.expand(-1, h, w))


def window(stroke: Stroke, width: int, height: int, margin: int = 2) -> Window | None:
    """The stroke's bounding box on a width x height canvas, plus `margin` pixels, or None when it
    misses the canvas."""
    x0, y0, x1, y1 = brushes.pixel_box(stroke, width, height)
    x0, y0, x1, y1 = max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)
    if x1 <= x0 or y1 <= y0:
        return None
    return Window(x0, y0, x1 - x0, y1 - y0)


def params_tensor(strokes: list[Stroke], device: torch.device | str | None = None) -> torch.Tensor:
    return torch.tensor([s.params for s in strokes], dtype=torch.float32, device=device)


@dataclass(frozen=True)
class Placement:
    """Where a drawn stroke goes: item `item` of drawing `drawing` (a pair of premultiplied
    (n, 3, h, w) and alpha (n, h, w) tensors), over `window` of the canvas."""

    drawing: int
    item: int
    window: Window


class _Over(torch.autograd.Function):
    """Strokes composited one over another onto a canvas, in order. Autograd through a chain of
    in-place window updates would copy the whole canvas (and its gradient) once per stroke; this
    keeps only each window's canvas before its stroke, and runs the chain backwards by hand."""

    @staticmethod
    def forward(ctx, base: torch.Tensor, placements: list[Placement], *drawings: torch.Tensor) -> torch.Tensor:
        canvas = base.detach().clone()
        through = [1 - alpha for alpha in drawings[1::2]]  # once per drawing, not per stroke
        under = []
        for place in placements:
            w = place.window
            premultiplied = drawings[2 * place.drawing][place.item, :, : w.height, : w.width]
            view = canvas[:, w.y0: w.y0 + w.height, w.x0: w.x0 + w.width]
            under.append(view.clone())
            view.mul_(through[place.drawing][place.item, : w.height, : w.width]).add_(premultiplied)
        ctx.placements = placements
        ctx.under = under
        ctx.save_for_backward(*drawings)
        return canvas

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        drawings = ctx.saved_tensors
        through = [1 - alpha for alpha in drawings[1::2]]
        grads = [torch.zeros_like(d) for d in drawings]
        grad = grad.clone()
        for place, under in zip(reversed(ctx.placements), reversed(ctx.under), strict=True):
            w = place.window
            view = grad[:, w.y0: w.y0 + w.height, w.x0: w.x0 + w.width]
            grads[2 * place.drawing][place.item, :, : w.height, : w.width] = view
            grads[2 * place.drawing + 1][place.item, : w.height, : w.width] = -(view * under).sum(0)
            view.mul_(through[place.drawing][place.item, : w.height, : w.width])
        return (grad, None, *grads)


def composite(base: torch.Tensor, placements: list[Placement],
              drawings: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """The (3, H, W) canvas `base` with the placed strokes composited over it in order."""
    return _Over.apply(base, placements, *(t for pair in drawings for t in pair))
