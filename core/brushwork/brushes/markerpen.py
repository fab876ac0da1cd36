"""The marker pen: a quadratic Bezier of constant width with round caps, in one colour."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from brushwork.brushes._bezier import BEZIER_FIELDS, BezierBrush
from brushwork.brushes._geometry import bezier_points, quad_to_cubic
from brushwork.brushes.base import BrushKind, fields
from brushwork.brushes.paint import hex_colour, num, opacity4, quad_d, rgb

if TYPE_CHECKING:
    import torch

    from brushwork.strokes import Stroke


class MarkerPen(BezierBrush):
    kind = BrushKind(
        "markerpen",
        "Marker pen",
        "quadratic Bezier of constant width with round caps, one colour",
        BEZIER_FIELDS + fields("width", "size", "stroke width") + fields("r g b", "color", "colour channel")
        + fields("opacity", "opacity", "opacity of the whole stroke"),
    )
    width_fields = ("width", "width")
    # Its refinement step compiled for the CPU (`_marker_cpu`) costs half what it did: 60 -> 80 steps at
    # 1,000 strokes raised every one of the seven content photos +0.15 to +0.39 dB (median 27.74 ->
    # 27.89) for 8.3 -> 8.9 s on two cores.
    refine_steps = 80

    def draw(self, ctx: Any, s: Stroke) -> None:
        import cairocffi as cairo

        p0, p1, p2 = bezier_points(s.params)
        c1, c2 = quad_to_cubic(p0, p1, p2)
        ctx.move_to(*p0)
        ctx.curve_to(*c1, *c2, *p2)
        ctx.set_line_width(s["width"])
        ctx.set_line_cap(cairo.LINE_CAP_ROUND)
        ctx.set_source_rgba(*rgb(s["r"], s["g"], s["b"]), opacity4(s["opacity"]))
        ctx.stroke()

    def svg_element(self, dwg: Any, s: Stroke, index: int) -> Any:
        return dwg.path(
            d=quad_d(*bezier_points(s.params)),
            fill="none",
            stroke=hex_colour(s["r"], s["g"], s["b"]),
            stroke_width=num(s["width"]),
            stroke_linecap="round",
            stroke_opacity=opacity4(s["opacity"]),
        )

    flat_element = svg_element  # already plain

    def soft_draw(self, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from brushwork.brushes import _soft

        grid = _soft.separable_cpu_grid(p, xs, ys)
        if grid is not None:
            from brushwork.brushes import _marker_cpu

            return _marker_cpu.draw(p, grid)
        d, _ = _soft.curve_distance(p, xs, ys)
        alpha = _soft.coverage(p[:, 6, None, None] / 2 - d) * p[:, 10, None, None]
        return p[:, 7:10, None, None] * alpha[:, None], alpha


BRUSH = MarkerPen()
