"""The oil brush's differentiable drawing, with its backward pass written out (torch; imported only by
`OilBrush.soft_draw`, so importing the brushes stays torch-free).

Refinement draws every stroke of a painting at every step, and autograd through the drawing's two
dozen elementwise operations was most of a step's backward pass. By hand it is a few sums: the shape
has a gradient only where the edge is antialiased (0 < coverage < 1) and where the colour ramps along
the mark, the colours only per stroke. The same maths as autograd's (tests/test_brushes.py holds
them equal): a refinement step of 1,000 strokes 0.47 -> 0.35 s on one thread.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from brushwork.brushes import _soft
from brushwork.brushes.oilbrush import HEAD_END, TAIL, body_half_width, bristle_texture, head_half_width


class OilMarks(torch.autograd.Function):
    """(N, 11) strokes (cx cy length width angle r0 g0 b0 r1 g1 b1, pixels) drawn at pixel centres
    xs, ys (broadcasting to (N, h, w)) -> premultiplied colour (N, 3, h, w) and alpha (N, h, w). On the
    CPU's separable grids `_oil_cpu.draw` draws instead."""

    @staticmethod
    def forward(ctx: Any, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        length, width = p[:, 2, None, None], p[:, 3, None, None]
        along, across = _soft.local_frame(p, xs, ys)
        u, v = along / length, across / width
        # The half-width profile is a constant of the pixel: the sides move with the stroke's width
        # and position, its ends with the length.
        half = torch.where(u < HEAD_END, head_half_width(u, lambda a: a.clamp_min(0).sqrt()),
                           body_half_width(u, torch.where(v < 0, -2.1, 2.1), torch.sin))
        side, head, tail = half * width - across.abs(), along + 0.5 * length, TAIL * length - along
        distance = torch.minimum(side, torch.minimum(head, tail))
        alpha = _soft.coverage(distance)
        # What the backward pass needs of the shape: which edge is nearest (a side, the head or else the
        # tail), where the antialiased edge is (coverage's clamp passes its ends) and the colour ramps.
        at_side = (side <= head) & (side <= tail)
        at_head = ~at_side & (head <= tail)
        edge = (distance >= -0.5) & (distance <= 0.5)
        ramps = (u >= -0.5) & (u <= 0.5)
        t = (u + 0.5).clamp(0, 1)
        c0, c1 = p[:, 5:8, None, None], p[:, 8:11, None, None]
        # The streaks are texture, not shape: their sampling positions carry no gradient. One batch of
        # all the pixels: grid_sample's cost goes with its batch count.
        grid = torch.stack([2 * u, 2 * v], dim=-1)
        streaks = F.grid_sample(bristle_texture(p.device), grid.reshape(1, -1, 1, 2), align_corners=False)
        streaks = streaks.reshape(2, *grid.shape[:3]).transpose(0, 1)
        clear = 1 - streaks[:, :1]  # what the streaks leave of the colour
        paint = (c0 + (c1 - c0) * t[:, None]) * clear + streaks[:, 1:]
        ctx.save_for_backward(p, along, across, half, t, clear, paint, alpha, at_side, at_head, edge, ramps)
        return alpha[:, None] * paint, alpha

    @staticmethod
    def backward(ctx: Any, g_premultiplied: torch.Tensor, g_alpha: torch.Tensor | None
                 ) -> tuple[torch.Tensor, None, None]:
        p, along, across, half, t, clear, paint, alpha, at_side, at_head, edge, ramps = ctx.saved_tensors
        length, angle = p[:, 2, None, None], p[:, 4, None, None]
        c0, c1 = p[:, 5:8, None, None], p[:, 8:11, None, None]
        g_coverage = (g_premultiplied * paint).sum(1)
        if g_alpha is not None:
            g_coverage = g_coverage + g_alpha
        g_distance = g_coverage * edge
        at_tail = ~at_side & ~at_head
        g_colour = g_premultiplied * (alpha[:, None] * clear)
        g_c1 = (g_colour * t[:, None]).sum((2, 3))
        g_t = (g_colour * (c1 - c0)).sum(1) * ramps
        g_side = g_distance * at_side
        g_along = g_t / length + g_distance * at_head - g_distance * at_tail
        g_across = -torch.sign(across) * g_side
        cos, sin = torch.cos(angle), torch.sin(angle)
        grad = torch.empty_like(p)
        grad[:, 0] = (sin * g_across - cos * g_along).sum((1, 2))
        grad[:, 1] = (-sin * g_along - cos * g_across).sum((1, 2))
        grad[:, 2] = (g_distance * (0.5 * at_head + TAIL * at_tail) - g_t * along / length ** 2).sum((1, 2))
        grad[:, 3] = (g_side * half).sum((1, 2))
        grad[:, 4] = (g_along * across - g_across * along).sum((1, 2))
        grad[:, 5:8] = g_colour.sum((2, 3)) - g_c1
        grad[:, 8:11] = g_c1
        return grad, None, None
