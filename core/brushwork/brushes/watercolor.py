"""The watercolour: a quadratic Bezier whose width runs width0 -> width1 and whose colour runs
c0 -> c1 along its chord, translucent."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from brushwork.brushes._bezier import BEZIER_FIELDS, BezierBrush
from brushwork.brushes._geometry import swept_outline
from brushwork.brushes.base import BrushKind, fields
from brushwork.brushes.paint import cairo_polygon, hex_colour, num, opacity4, polygon_d, rgb, shape_d

if TYPE_CHECKING:
    import torch

    from brushwork.strokes import Stroke


def gradient_axis(s: Stroke) -> tuple[float, float, float, float] | None:
    """Start and end of the colour gradient (the chord, at SVG precision), or None when the chord
    is degenerate and SVG paints the end colour alone."""
    x0, y0 = round(s["x0"], 3), round(s["y0"], 3)
    x2, y2 = round(s["x2"], 3), round(s["y2"], 3)
    return None if (x0, y0) == (x2, y2) else (x0, y0, x2, y2)


class Watercolor(BezierBrush):
    kind = BrushKind(
        "watercolor",
        "Watercolour",
        "quadratic Bezier whose width goes width0->width1 and colour c0->c1 along the stroke",
        BEZIER_FIELDS
        + fields("width0", "size", "stroke width at the start")
        + fields("width1", "size", "stroke width at the end")
        + fields("r0 g0 b0", "color", "colour at the start")
        + fields("r1 g1 b1", "color", "colour at the end")
        + fields("opacity", "opacity", "opacity of the whole stroke"),
    )
    width_fields = ("width0", "width1")

    def draw(self, ctx: Any, s: Stroke) -> None:
        import cairocffi as cairo

        outline = swept_outline(s.params, s["width0"] / 2, s["width1"] / 2)
        for cx, cy, r in outline.discs:
            ctx.move_to(cx + r, cy)
            ctx.arc(cx, cy, r, 0, 2 * math.pi)
            ctx.close_path()
        for quad in outline.quads:
            cairo_polygon(ctx, quad)
        alpha = opacity4(s["opacity"])
        c0, c1 = rgb(s["r0"], s["g0"], s["b0"]), rgb(s["r1"], s["g1"], s["b1"])
        axis = gradient_axis(s)
        if axis is None:
            ctx.set_source_rgba(*c1, alpha)
        else:
            gradient = cairo.LinearGradient(*axis)
            gradient.add_color_stop_rgba(0, *c0, alpha)
            gradient.add_color_stop_rgba(1, *c1, alpha)
            ctx.set_source(gradient)
        ctx.fill()

    def svg_element(self, dwg: Any, s: Stroke, index: int) -> Any:
        outline = swept_outline(s.params, s["width0"] / 2, s["width1"] / 2)
        parts = []
        for cx, cy, r in outline.discs:
            # Two half-circle arcs, sweep-flag 1: the same turning direction as the quads and cairo.
            rr = num(r)
            parts.append(
                f"M{num(cx + r)} {num(cy)}A{rr} {rr} 0 1 1 {num(cx - r)} {num(cy)}"
                f"A{rr} {rr} 0 1 1 {num(cx + r)} {num(cy)}Z"
            )
        parts.extend(polygon_d(q) for q in outline.quads)
        return dwg.path(d="".join(parts), fill=self._fill(dwg, s, index), fill_opacity=opacity4(s["opacity"]))

    def flat_element(self, dwg: Any, s: Stroke, index: int) -> Any:
        """One outline (the union the exact renderer fills) instead of discs and hulls; the opacity
        goes into the gradient's stops, because Krita drops fill-opacity on gradient fills (seen: 19 dB)."""
        opacity = opacity4(s["opacity"])
        outline = shape_d(self.outline(s))
        if gradient_axis(s) is None:
            return dwg.path(d=outline, fill=hex_colour(s["r1"], s["g1"], s["b1"]), fill_opacity=opacity)
        return dwg.path(d=outline, fill=self._fill(dwg, s, index, opacity))

    @staticmethod
    def _fill(dwg: Any, s: Stroke, index: int, opacity: float | None = None) -> str:
        """The c0 -> c1 gradient along the chord, added to the drawing's defs (stops at `opacity`
        when given), or the end colour alone when the chord is degenerate."""
        c0, c1 = hex_colour(s["r0"], s["g0"], s["b0"]), hex_colour(s["r1"], s["g1"], s["b1"])
        axis = gradient_axis(s)
        if axis is None:
            return c1
        gradient = dwg.linearGradient(start=(num(axis[0]), num(axis[1])), end=(num(axis[2]), num(axis[3])),
                                      id=f"bw-wc{index}", gradientUnits="userSpaceOnUse")
        gradient.add_stop_color(0, c0, opacity)
        gradient.add_stop_color(1, c1, opacity)
        dwg.defs.add(gradient)
        return f"url(#bw-wc{index})"

    def soft_draw(self, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from brushwork.brushes import _soft

        d, t = _soft.curve_distance(p, xs, ys)
        radius = (p[:, 6, None, None] * (1 - t) + p[:, 7, None, None] * t) / 2
        alpha = _soft.coverage(radius - d) * p[:, 14, None, None]
        s = _soft.chord_position(p, xs, ys)
        colour = p[:, 8:11, None, None] * (1 - s) + p[:, 11:14, None, None] * s
        return colour * alpha[:, None], alpha


BRUSH = Watercolor()
