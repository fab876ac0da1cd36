"""The pencil: a graphite line along a quadratic Bezier whose width runs width0 -> width1 (the
pressure), in one colour, with the grain of paper tooth.

The grain is plain SVG that every renderer draws alike (no filter, no pattern): the line is four
parallel strands, each a dashed stroke of its own opacity, so paper shows through short breaks
along each strand and the strands differ in darkness. Dash lengths are in units of the strands'
thickness, so a scaled stroke keeps its grain. The jitter is a fixed hash, not an RNG.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from brushwork.brushes._bezier import BEZIER_FIELDS, BezierBrush
from brushwork.brushes._geometry import bezier_length, bezier_point, bezier_points, hash01, quad_to_cubic
from brushwork.brushes.base import BrushKind, Point, fields
from brushwork.brushes.paint import hex_colour, num, opacity4, quad_d, rgb

if TYPE_CHECKING:
    import torch

    from brushwork.strokes import Stroke

# Strand centres across the line, as fractions of its local width. Each strand is STRAND_THICKNESS
# of the wider end thick, so neighbours overlap (darker where they do, as graphite builds up) and
# where the line is narrow they merge; the outer strands stay inside the line's half width.
STRAND_OFFSETS = (-0.36, -0.18, 0.0, 0.18, 0.36)
STRAND_THICKNESS = 0.24
REACH = max(abs(o) for o in STRAND_OFFSETS) + STRAND_THICKNESS / 2  # of the width, from the centre line
DASHES_PER_STRAND = 4


@dataclass(frozen=True)
class Grain:
    """One strand's paint: its share of the stroke's opacity and its dash pattern (dash, gap, ...)
    and phase, in units of the strand's thickness."""

    opacity: float  # of the stroke's opacity
    pattern: tuple[float, ...]
    phase: float


def _grain() -> tuple[Grain, ...]:
    strands = []
    for k in range(len(STRAND_OFFSETS)):
        pattern: list[float] = []
        for j in range(DASHES_PER_STRAND):
            seed = 31 * k + 7 * j
            pattern += [1.5 + 4.0 * hash01(seed + 1), 0.4 + 0.8 * hash01(seed + 2)]
        strands.append(Grain(0.55 + 0.45 * hash01(k + 101), tuple(pattern), sum(pattern) * hash01(k + 103)))
    return tuple(strands)


GRAIN: tuple[Grain, ...] = _grain()
# The share of the line's area that the grain inks, opacity-weighted: what the differentiable
# drawing lays down evenly inside REACH.
INK = sum(g.opacity * sum(g.pattern[0::2]) / sum(g.pattern) for g in GRAIN) * STRAND_THICKNESS / (2 * REACH)


@dataclass(frozen=True)
class Arithmetic:
    """The few operations the strand geometry needs, for floats (the writers) or tensors (the
    differentiable drawing), so the formula is written once."""

    hypot: Callable[[Any, Any], Any]
    where: Callable[[Any, Any, Any], Any]
    at_least: Callable[[Any, float], Any]


FLOATS = Arithmetic(math.hypot, lambda condition, a, b: a if condition else b, max)


def _normal(dx: Any, dy: Any, fallback: tuple[Any, Any], ops: Arithmetic) -> tuple[Any, Any]:
    norm = ops.hypot(dx, dy)
    usable, safe = norm > 1e-9, ops.at_least(norm, 1e-9)
    return ops.where(usable, -dy / safe, fallback[0]), ops.where(usable, dx / safe, fallback[1])


def strand_curves(params: Sequence[Any], width0: Any, width1: Any, ops: Arithmetic = FLOATS) -> list[tuple[Any, ...]]:
    """Each strand's Bezier (x0, y0, x1, y1, x2, y2): the line's points moved along the curve's
    normal there (the control point along the mean of the end normals, lengthened so the strands
    stay parallel), by the strand's offset times the local width."""
    x0, y0, x1, y1, x2, y2 = params[:6]
    chord = _normal(x2 - x0, y2 - y0, (0.0, 1.0), ops)
    n0 = _normal(x1 - x0, y1 - y0, chord, ops)
    n2 = _normal(x2 - x1, y2 - y1, chord, ops)
    mx, my = n0[0] + n2[0], n0[1] + n2[1]
    n1 = _normal(my, -mx, n0, ops)  # (mx, my) normalised: the normal of (my, -mx) turns it back
    stretch = 1 / ops.at_least(n0[0] * n1[0] + n0[1] * n1[1], 0.5)
    mean = (width0 + width1) / 2
    curves = []
    for offset in STRAND_OFFSETS:
        a, c, b = offset * width0, offset * mean * stretch, offset * width1
        curves.append((x0 + a * n0[0], y0 + a * n0[1], x1 + c * n1[0], y1 + c * n1[1], x2 + b * n2[0], y2 + b * n2[1]))
    return curves


@dataclass(frozen=True)
class Strand:
    """One strand as both writers draw it: a quadratic Bezier stroked `width` wide, dashed."""

    points: tuple[Point, Point, Point]
    width: float
    opacity: float  # as the SVG stores it
    dashes: tuple[float, ...]
    offset: float


def strands(params: Sequence[float], width0: float, width1: float, opacity: float) -> tuple[Strand, ...]:
    """The strands of a pencil line, as the exact renderer and the SVG draw them."""
    thickness = STRAND_THICKNESS * max(width0, width1)
    return tuple(
        Strand(bezier_points(curve), thickness, opacity4(opacity * grain.opacity),
               tuple(d * thickness for d in grain.pattern), grain.phase * thickness)
        for curve, grain in zip(strand_curves(params, width0, width1), GRAIN, strict=True)
    )


class Pencil(BezierBrush):
    kind = BrushKind(
        "pencil",
        "Pencil",
        "graphite line along a quadratic Bezier, width width0->width1, one colour, with paper grain",
        BEZIER_FIELDS
        + fields("width0", "size", "line width at the start")
        + fields("width1", "size", "line width at the end")
        + fields("r g b", "color", "colour channel")
        + fields("opacity", "opacity", "opacity of the darkest strand"),
    )
    width_fields = ("width0", "width1")
    neural_width = (0.03, 0.15)  # thinner than the other Bezier brushes: a pencil draws lines

    def _strands(self, s: Stroke) -> tuple[Strand, ...]:
        return strands(s.params, s["width0"], s["width1"], s["opacity"])

    def draw(self, ctx: Any, s: Stroke) -> None:
        import cairocffi as cairo

        colour = rgb(s["r"], s["g"], s["b"])
        ctx.save()  # the dashes, cap and width stay with this stroke
        ctx.set_line_cap(cairo.LINE_CAP_BUTT)
        for strand in self._strands(s):
            p0, p1, p2 = strand.points
            c1, c2 = quad_to_cubic(p0, p1, p2)
            ctx.move_to(*p0)
            ctx.curve_to(*c1, *c2, *p2)
            ctx.set_line_width(strand.width)
            ctx.set_dash(strand.dashes, strand.offset)
            ctx.set_source_rgba(*colour, strand.opacity)
            ctx.stroke()
        ctx.restore()

    def svg_element(self, dwg: Any, s: Stroke, index: int) -> Any:
        group = dwg.g(fill="none", stroke=hex_colour(s["r"], s["g"], s["b"]))
        for strand in self._strands(s):
            group.add(dwg.path(d=quad_d(*strand.points), stroke_width=num(strand.width),
                               stroke_opacity=strand.opacity,
                               stroke_dasharray=" ".join(num(d) for d in strand.dashes),
                               stroke_dashoffset=num(strand.offset)))
        return group

    flat_element = svg_element  # already plain paths in canvas coordinates

    def outline(self, s: Stroke) -> Any:
        """Where the strands lie: each strand swept with its butt ends (the silhouette of the marks,
        the grain's breaks included; not the round-capped sweep of the other Bezier brushes)."""
        from shapely import LineString, unary_union

        parts = []
        for strand in self._strands(s):
            p0, p1, p2 = strand.points
            steps = max(8, math.ceil(bezier_length((*p0, *p1, *p2)) / 2))  # a point every ~2 px
            line = LineString([bezier_point(p0, p1, p2, i / steps) for i in range(steps + 1)])
            parts.append(line.buffer(strand.width / 2, cap_style="flat"))
        return unary_union(parts)

    def soft_draw(self, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The strands drawn one over another as the exact renderer does; each strand's outline
        carries gradients, its dashes are texture (looked up along its arc length, no gradient)."""
        import torch

        from brushwork.brushes import _soft

        # hypot's gradient at (0, 0) is 0/0, and where() passes it on (times 0: still NaN) for the
        # fallback branch of a degenerate normal; this one's is 0 there.
        tensors = Arithmetic(lambda x, y: (x * x + y * y + 1e-24).sqrt(), torch.where, torch.clamp_min)
        width0, width1 = p[:, 6], p[:, 7]
        thickness = (STRAND_THICKNESS * torch.maximum(width0, width1))[:, None, None]
        opacity = p[:, 11, None, None]
        through = torch.ones_like(xs)  # what every strand so far lets through
        for curve, grain in zip(strand_curves(p.unbind(1), width0, width1, tensors), GRAIN, strict=True):
            distance, arc, length = _soft.curve_distance_and_arc(torch.stack(curve, dim=1), xs, ys)
            with torch.no_grad():
                dashes = _dash_coverage(arc, length, grain, thickness)
            through = through * (1 - _soft.coverage(thickness / 2 - distance) * dashes * (opacity * grain.opacity))
        alpha = 1 - through
        return p[:, 8:11, None, None] * alpha[:, None], alpha


def _dash_coverage(arc: Any, length: Any, grain: Grain, thickness: Any) -> Any:
    """How much of each pixel a strand's dashes cover (0..1, antialiased like an edge), from its
    arc length along the strand: the pattern starts `phase` into itself at the strand's start."""
    period = sum(grain.pattern)
    position = (arc / thickness + grain.phase).remainder(period)  # in thicknesses
    starts, ends, at = [], [], 0.0
    for j, extent in enumerate(grain.pattern):
        if j % 2 == 0:
            starts.append(at)
            ends.append(at + extent)
        at += extent
    # The dashes of this period and their neighbours' in the periods either side.
    inside = None
    for shift in (-period, 0.0, period):
        for start, end in zip(starts, ends, strict=True):
            depth = (position - start - shift).minimum(end + shift - position)
            inside = depth if inside is None else inside.maximum(depth)
    assert inside is not None
    # Butt ends: nothing before the strand's start or after its end.
    depth_px = (inside * thickness).minimum(arc).minimum(length - arc)
    return (depth_px + 0.5).clamp(0, 1)


BRUSH = Pencil()
