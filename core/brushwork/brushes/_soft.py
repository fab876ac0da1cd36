"""Pieces of the differentiable drawing that several brush kinds share (torch; imported only by the
kinds' `soft_draw`, so importing the brushes stays torch-free).

Strokes are drawn from a closed-form signed distance to their outline, in pixels: the antialiased
coverage is clamp(0.5 + distance, 0, 1), as a box-filtered edge. Every tensor made here is on the
device of the parameters it is made from.
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

import torch

MAX_SEGMENTS = 8  # of the polyline that finds a pixel's nearest point on a quadratic Bezier


def separable_cpu_grid(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Where a kind's compiled loops draw (`_oil_cpu`, `_marker_cpu`): float32 on the CPU, on the
    separable pixel grid `soft.draw` passes (xs (N, 1, w), ys (N, h, 1)). Their grid: xs (N, w) and
    ys (N, h); None elsewhere (the tensor operations draw there)."""
    if p.device.type != "cpu" or p.dtype != torch.float32 or xs.shape[1] != 1 or ys.shape[2] != 1:
        return None
    n = p.shape[0]
    return (xs[:, 0, :].to(torch.float32).expand(n, -1).contiguous(),
            ys[:, :, 0].to(torch.float32).expand(n, -1).contiguous())


def set_compiled_threads() -> None:
    """The compiled loops use as many threads as torch (which the painter sets for the machine's load),
    from OpenMP's pool where there is one: TBB's threads and torch's OpenMP threads, which spin a while
    after each operation, fought over the cores (a 1,000-stroke oil refinement step 0.066 s on TBB's,
    0.049 s on OpenMP's; two threads were no faster than one). Unless the user chose a layer."""
    import numba

    if "NUMBA_THREADING_LAYER" not in os.environ and "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]  # type: ignore[attr-defined]
    most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set when numba starts
    numba.set_num_threads(max(1, min(torch.get_num_threads(), most)))


class _CompiledMarks(torch.autograd.Function):
    """A kind's drawing by its compiled loops: `kernels` (forward, backward) take the strokes, the grid
    and the `extra` arrays, then write the premultiplied colour and alpha, or from their gradients the
    strokes' gradient (as numpy views: the gradient is written out in the backward loop)."""

    @staticmethod
    def forward(ctx: Any, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, kernels: tuple[Any, Any],
                extra: tuple[Any, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        p = p.detach().contiguous()
        (n, width), height = xs.shape, ys.shape[1]
        # Empty to start with: the loops skip the pixels a stroke cannot reach.
        premultiplied, alpha = p.new_zeros(n, 3, height, width), p.new_zeros(n, height, width)
        set_compiled_threads()
        kernels[0](p.numpy(), xs.numpy(), ys.numpy(), *extra, premultiplied.numpy(), alpha.numpy())
        ctx.save_for_backward(p, xs, ys)
        ctx.kernels, ctx.extra = kernels, extra
        return premultiplied, alpha

    @staticmethod
    def backward(ctx: Any, g_premultiplied: torch.Tensor, g_alpha: torch.Tensor | None
                 ) -> tuple[torch.Tensor, None, None, None, None]:
        p, xs, ys = ctx.saved_tensors
        if g_alpha is None:
            g_alpha = g_premultiplied.new_zeros(g_premultiplied[:, 0].shape)
        grad = torch.empty_like(p)
        set_compiled_threads()
        ctx.kernels[1](p.numpy(), xs.numpy(), ys.numpy(), *ctx.extra, g_premultiplied.contiguous().numpy(),
                       g_alpha.contiguous().numpy(), grad.numpy())
        return grad, None, None, None, None


def compiled_marks(p: torch.Tensor, grid: tuple[torch.Tensor, torch.Tensor], forward: Any, backward: Any,
                   *extra: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, d) float32 strokes drawn on a `separable_cpu_grid` by a kind's compiled `forward` loop, with
    `backward` for their gradient: premultiplied colour (N, 3, h, w) and alpha (N, h, w)."""
    return _CompiledMarks.apply(p, *grid, (forward, backward), extra)


def coverage(distance: torch.Tensor) -> torch.Tensor:
    return (distance + 0.5).clamp(0, 1)


def local_frame(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres in a box stroke's frame (along, across), pixels. p: (N, d) cx cy length width angle ..."""
    cx, cy, angle = p[:, 0, None, None], p[:, 1, None, None], p[:, 4, None, None]
    dx, dy = xs - cx, ys - cy
    cos, sin = torch.cos(angle), torch.sin(angle)
    return dx * cos + dy * sin, -dx * sin + dy * cos


def curve_distance(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance (N, h, w) from every pixel centre to the stroke's quadratic Bezier, and the curve
    parameter t of the nearest point.

    The nearest point is found on a polyline through points of the curve, without autograd (K
    chords lie within |p0 - 2 p1 + p2| / 4K^2 of the curve: K is chosen for a quarter pixel); the
    distance is then measured to the curve's point at that t (`_PointDistance`). By the envelope
    theorem that is the true gradient of the distance to the curve (the nearest t moves, but the
    distance is stationary in t there), at a fraction of the memory and arithmetic.
    """
    t = _nearest_on_polyline(p, xs, ys).t
    return _PointDistance.apply(p, xs, ys, t), t


def curve_distance_and_arc(p: torch.Tensor, xs: torch.Tensor,
                           ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`curve_distance`, and (without autograd) how far along the curve the nearest point is, in
    pixels of arc length (N, h, w), and the curve's length (N, 1, 1): where dashes fall."""
    nearest = _nearest_on_polyline(p, xs, ys, with_arc=True)
    assert nearest.arc is not None and nearest.length is not None
    return _PointDistance.apply(p, xs, ys, nearest.t), nearest.arc, nearest.length


class _PointDistance(torch.autograd.Function):
    """(N, d) strokes whose first six parameters are a quadratic Bezier's control points, pixel
    centres xs, ys and curve parameters t (broadcasting to (N, h, w)) -> the distance from each
    pixel centre to the curve's point at t. Its backward is written out: the distance moves with a
    control point as the unit vector from the pixel to the point times that point's Bernstein
    weight, two products and one batched matrix product where autograd took a dozen operations."""

    @staticmethod
    def forward(ctx: Any, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        p0, p1, p2 = p[:, 0:2, None, None], p[:, 2:4, None, None], p[:, 4:6, None, None]
        first, second = 2 * (p1 - p0), p0 - 2 * p1 + p2  # B(t) = p0 + t (first + t second)
        dx = xs - torch.addcmul(p0[:, 0], t, torch.addcmul(first[:, 0], t, second[:, 0]))
        dy = ys - torch.addcmul(p0[:, 1], t, torch.addcmul(first[:, 1], t, second[:, 1]))
        distance = torch.addcmul(dx * dx, dy, dy).add_(1e-6).sqrt_()
        ctx.save_for_backward(p, t, dx, dy, distance)
        return distance

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        p, t, dx, dy, distance = ctx.saved_tensors
        n = g.shape[0]
        toward = torch.empty(n, 2, *g.shape[1:], dtype=g.dtype, device=g.device)  # -(d distance / d point)
        q = g / distance
        torch.mul(q, dx, out=toward[:, 0])
        torch.mul(q, dy, out=toward[:, 1])
        s = 1 - t
        bernstein = torch.stack(torch.broadcast_tensors(s * s, 2 * s * t, t * t), dim=1).expand(n, 3, *g.shape[1:])
        moved = torch.bmm(toward.reshape(n, 2, -1), bernstein.reshape(n, 3, -1).transpose(1, 2))  # (N, 2, 3)
        grad = torch.zeros_like(p)
        grad[:, :6] = -moved.transpose(1, 2).reshape(n, 6)  # x0 y0 x1 y1 x2 y2
        return grad, None, None, None


class _Nearest(NamedTuple):
    t: torch.Tensor  # (N, h, w) curve parameter of the nearest point
    arc: torch.Tensor | None  # (N, h, w) arc length to it along the polyline, pixels
    length: torch.Tensor | None  # (N, 1, 1) the polyline's length


@torch.no_grad()
def _nearest_on_polyline(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, with_arc: bool = False) -> _Nearest:
    bend = torch.hypot(p[:, 0] - 2 * p[:, 2] + p[:, 4], p[:, 1] - 2 * p[:, 3] + p[:, 5]).max()
    segments = int(min(MAX_SEGMENTS, max(1, math.ceil(math.sqrt(float(bend))))))
    t = torch.linspace(0, 1, segments + 1, device=p.device)
    s = 1 - t
    bx = s * s * p[:, 0, None] + 2 * s * t * p[:, 2, None] + t * t * p[:, 4, None]  # (N, K)
    by = s * s * p[:, 1, None] + 2 * s * t * p[:, 3, None] + t * t * p[:, 5, None]
    # Segments along the last axis, where argmin is fast: (N, 1, 1, K-1) against the pixels' (N, h, w, 1).
    # The pixel grid is separable (xs (N, 1, w), ys (N, h, 1)), so the differences are small tensors
    # and the full (N, h, w, K-1) ones few: |r - a e|^2 expanded as |r|^2 - a (2 r.e - a |e|^2).
    ax, ay = bx[:, None, None, :-1], by[:, None, None, :-1]
    ex, ey = bx[:, None, None, 1:] - ax, by[:, None, None, 1:] - ay
    rx, ry = xs[..., None] - ax, ys[..., None] - ay
    dot = rx * ex + ry * ey
    chord_squared = ex * ex + ey * ey
    along = (dot / chord_squared.clamp_min(1e-6)).clamp_(0, 1)
    squared = (along * chord_squared).sub_(dot, alpha=2).mul_(along).add_(rx * rx + ry * ry)
    k = squared.argmin(dim=-1, keepdim=True)
    fraction = along.gather(-1, k)
    t = ((k + fraction) / segments)[..., 0]
    if not with_arc:
        return _Nearest(t, None, None)
    chords = torch.hypot(ex, ey)  # (N, 1, 1, K-1)
    before = torch.cumsum(chords, dim=-1) - chords
    arc = before.expand_as(along).gather(-1, k) + fraction * chords.expand_as(along).gather(-1, k)
    return _Nearest(t, arc[..., 0], chords.sum(-1))


def chord_position(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """(N, 1, h, w) where each pixel lies along the chord p0 -> p2, 0..1 (cairo's and SVG's linear
    gradient along the chord, padded beyond its ends)."""
    cx, cy = p[:, 4, None, None] - p[:, 0, None, None], p[:, 5, None, None] - p[:, 1, None, None]
    s = ((xs - p[:, 0, None, None]) * cx + (ys - p[:, 1, None, None]) * cy) / (cx * cx + cy * cy).clamp_min(1e-6)
    return s.clamp(0, 1)[:, None]


@torch.no_grad()
def box_support(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, margin: float) -> torch.Tensor:
    """(N, h, w) bool: the pixel centres xs, ys (broadcasting against (N, 1, 1)) within `margin`
    pixels of each box stroke's box (p: (N, d) cx cy length width angle ...), along and across its axes."""
    along, across = local_frame(p, xs, ys)
    return (along.abs() <= p[:, 2, None, None] / 2 + margin) & (across.abs() <= p[:, 3, None, None] / 2 + margin)


def _segment_distance(x: torch.Tensor, y: torch.Tensor, a: tuple[torch.Tensor, torch.Tensor],
                      b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    ex, ey = b[0] - a[0], b[1] - a[1]
    t = (((x - a[0]) * ex + (y - a[1]) * ey) / (ex * ex + ey * ey).clamp_min(1e-9)).clamp(0, 1)
    return torch.hypot(x - a[0] - t * ex, y - a[1] - t * ey)


@torch.no_grad()
def bezier_support(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, margin: float, radius_start: int,
                   radius_end: int) -> torch.Tensor:
    """(N, h, w) bool: the pixel centres within `margin` pixels of the widest reach of each Bezier
    stroke (p: (N, d) x0 y0 x1 y1 x2 y2 ..., widths at columns radius_start/radius_end) from the
    triangle of its control points: the curve lies in that hull, so this holds every pixel within
    `margin` of the stroke."""
    corners = [(p[:, 2 * i, None, None], p[:, 2 * i + 1, None, None]) for i in range(3)]
    edges = [_segment_distance(xs, ys, corners[i], corners[(i + 1) % 3]) for i in range(3)]
    distance = torch.minimum(torch.minimum(edges[0], edges[1]), edges[2])
    sides = torch.stack([(corners[(i + 1) % 3][0] - corners[i][0]) * (ys - corners[i][1])
                         - (corners[(i + 1) % 3][1] - corners[i][1]) * (xs - corners[i][0]) for i in range(3)])
    inside = sides.ge(0).all(0) | sides.le(0).all(0)
    reach = torch.maximum(p[:, radius_start], p[:, radius_end])[:, None, None] / 2 + margin
    return inside | (distance <= reach)
