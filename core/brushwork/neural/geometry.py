"""The parameter-free front of the rasterization pathway: per-pixel coordinates of each pixel
relative to the stroke, computed differentiably from the shape parameters alone.

Box strokes (a mark placed by centre, length, width and angle) get the pixel's position in the
stroke's own frame; Bezier strokes get the signed distance to the swept-disc edge and where along
the curve the nearest point lies; each brush kind says which (`Brush.neural_features`). A small
learned decoder turns these into mask and shading. Giving the network coordinates it would
otherwise have to discover is what makes it learn in minutes on a CPU (measured against a fully
connected + pixel-shuffle generator, see the model cards).

All inputs are canvas parameters in pixels of an S x S block (`layout.to_canvas`); outputs are
channels-last (N, S, S, F) float tensors.
"""

from __future__ import annotations

import math

import torch

# Signed distances are squashed to about +-EDGE pixels: anti-aliasing happens within a pixel
# of an edge, and tanh keeps a (small) gradient further out for the optimiser.
EDGE = 3.0
# Frequencies (in multiples of pi) of the positional encoding of the stroke frame; across the
# stroke they go higher because bristle streaks are narrow.
ALONG_FREQUENCIES = (1, 2, 4, 8)
ACROSS_FREQUENCIES = (1, 2, 4, 8, 16, 32)
COARSE_SAMPLES = 17
NEWTON_STEPS = 3


def pixel_grid(size: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates (1, S, S) x and y, in pixels."""
    centres = torch.arange(size, dtype=torch.float32, device=device) + 0.5
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    return x[None], y[None]


def _soft_edge(distance: torch.Tensor) -> torch.Tensor:
    return EDGE * torch.tanh(distance / EDGE)


def _encode(u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(...) stroke-frame coordinates -> (..., 2 (F_along + F_across)) channels sin(pi k u),
    cos(pi k u) for each along frequency k, interleaved, then the same of w for the across ones.

    One sine over all channels (cos x = sin(x + pi/2)), the angles from one (2 -> channels)
    product: a fifth of the separate sin, cos, stack and concatenation passes over the pixels."""
    frequencies = [(0, k) for k in ALONG_FREQUENCIES] + [(1, k) for k in ACROSS_FREQUENCIES]
    slope = u.new_zeros(2, 2 * len(frequencies))
    for channel, (axis, k) in enumerate(frequencies):
        slope[axis, 2 * channel:2 * channel + 2] = k * math.pi
    phase = u.new_tensor([0.0, math.pi / 2]).repeat(len(frequencies))
    return torch.sin(torch.addmm(phase, torch.stack([u, w], dim=-1).reshape(-1, 2), slope)).reshape(
        *u.shape, -1)


BOX_FEATURES = 8 + 2 * (len(ALONG_FREQUENCIES) + len(ACROSS_FREQUENCIES))


def box_features(p: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Canvas parameters starting cx, cy, length, width, angle, p[..., i] broadcasting against the
    pixel-centre coordinates x and y -> (*shape of x, F): (N, 1, 1, d) against a (1, S, S) grid for
    whole blocks, or (M, d) rows against (M,) pixels of a stroke's support (`Brush.support`)."""
    cx, cy, length, width, angle = (p[..., i] for i in range(5))
    dx, dy = x - cx, y - cy
    cos, sin = torch.cos(angle), torch.sin(angle)
    along = dx * cos + dy * sin
    across = -dx * sin + dy * cos
    u = (along / length).clamp(-1, 1)
    w = (across / width).clamp(-1, 1)
    features = [
        u,
        w,
        _soft_edge(length / 2 - along.abs()),  # pixels inside the ends (+) or beyond (-)
        _soft_edge(width / 2 - across.abs()),  # pixels inside the sides
        torch.log(length).expand_as(u) / 4,  # pixel footprint in the stroke frame
        torch.log(width).expand_as(u) / 4,
        cos.abs().expand_as(u),  # edge orientation against the pixel grid shapes anti-aliasing
        sin.abs().expand_as(u),
    ]
    return torch.cat([torch.stack(features, dim=-1), _encode(u, w)], dim=-1)


def _bezier(p0, p1, p2, t):
    s = 1 - t
    return (
        s * s * p0[0] + 2 * s * t * p1[0] + t * t * p2[0],
        s * s * p0[1] + 2 * s * t * p1[1] + t * t * p2[1],
    )


@torch.no_grad()
def _nearest_t(p0, p1, p2, r0, r1, x, y) -> torch.Tensor:
    """argmin over t in [0, 1] of |X - B(t)| - r(t): the point of the curve whose disc reaches
    furthest towards the pixel. Coarse samples pick the basin; Newton steps on the squared
    distance (smooth even for pixels on the curve, where |X - B| has a kink) converge to the
    nearest point; for a varying radius, safeguarded Newton steps on the gap itself follow."""
    ts = torch.linspace(0, 1, COARSE_SAMPLES, device=x.device)
    coarse = lambda c: c[..., None]  # noqa: E731 - over the coarse samples
    bx, by = _bezier([coarse(c) for c in p0], [coarse(c) for c in p1], [coarse(c) for c in p2], ts)
    radius = coarse(r0) + coarse(r1 - r0) * ts
    gap = torch.hypot(x[..., None] - bx, y[..., None] - by) - radius
    t = ts[gap.argmin(dim=-1)]
    a = [p1[i] - p0[i] for i in range(2)]  # B'(t) = 2 (a + t (b - a)), B'' = 2 (b - a)
    b = [p2[i] - p1[i] for i in range(2)]
    d2x, d2y = 2 * (b[0] - a[0]), 2 * (b[1] - a[1])
    dr = r1 - r0
    limit = 1.0 / (COARSE_SAMPLES - 1)
    varying = bool((r1 != r0).any())
    for step_index in range(NEWTON_STEPS + (2 if varying else 0)):
        bx, by = _bezier(p0, p1, p2, t)
        ex, ey = bx - x, by - y
        d1x, d1y = 2 * (a[0] + t * (b[0] - a[0])), 2 * (a[1] + t * (b[1] - a[1]))
        proj = ex * d1x + ey * d1y
        curv = d1x * d1x + d1y * d1y + ex * d2x + ey * d2y
        if step_index < NEWTON_STEPS:  # d/dt of |B - X|^2 / 2 and its derivative
            grad = proj
        else:  # d/dt of |B - X| - r(t), near the edge where |B - X| is about r > 0
            dist = torch.hypot(ex, ey).clamp_min(1e-3)
            grad = proj / dist - dr
            curv = curv / dist - proj * proj / dist**3
        step = torch.where(curv > 1e-9, grad / curv.clamp_min(1e-9), torch.zeros_like(grad))
        t = (t - step.clamp(-limit, limit)).clamp(0, 1)
    return t


BEZIER_FEATURES = 7


def bezier_features(p: torch.Tensor, x: torch.Tensor, y: torch.Tensor, radius_start: int, radius_end: int
                    ) -> torch.Tensor:
    """Canvas parameters starting x0 y0 x1 y1 x2 y2, p[..., i] broadcasting against the pixel-centre
    coordinates x and y as in `box_features`; the stroke widths are at columns radius_start/radius_end
    (the same column for a constant width). -> (*shape of x, F)."""
    p0, p1, p2 = (p[..., 0], p[..., 1]), (p[..., 2], p[..., 3]), (p[..., 4], p[..., 5])
    r0, r1 = p[..., radius_start] / 2, p[..., radius_end] / 2
    t = _nearest_t(p0, p1, p2, r0, r1, x, y)
    # Gradients flow through the curve point at the (fixed) nearest t: by the envelope theorem
    # that is the exact gradient of the distance itself.
    bx, by = _bezier(p0, p1, p2, t)
    radius = r0 + (r1 - r0) * t
    distance = torch.sqrt((x - bx) ** 2 + (y - by) ** 2 + 1e-8)
    chord_x, chord_y = p2[0] - p0[0], p2[1] - p0[1]
    chord2 = chord_x**2 + chord_y**2
    along_chord = ((x - p0[0]) * chord_x + (y - p0[1]) * chord_y) / chord2.clamp_min(1e-6)
    along_chord = torch.where(chord2 > 1e-6, along_chord.clamp(0, 1), torch.ones_like(along_chord))
    return torch.stack(
        [
            _soft_edge(radius - distance),  # pixels inside (+) or outside (-) the stroke edge
            t,
            along_chord,  # where the colour gradient is (SVG gradients run along the chord)
            torch.log(radius.clamp_min(0.05)) / 4,
            (distance / radius.clamp_min(0.05)).clamp(max=4) / 4,
            # Direction from the curve to the pixel (the edge normal): anti-aliasing of an edge
            # depends on its orientation against the pixel grid.
            ((x - bx) / distance).abs(),
            ((y - by) / distance).abs(),
        ],
        dim=-1,
    )
