"""Tape: a rotated rectangle of one colour."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from brushwork.brushes._box import BOX_FIELDS, BoxBrush
from brushwork.brushes._geometry import UNIT_RECT
from brushwork.brushes.base import BrushKind, fields
from brushwork.brushes.paint import hex_colour, num, opacity4, polygon_d, rgb

if TYPE_CHECKING:
    import torch

    from brushwork.strokes import Stroke


class Tape(BoxBrush):
    kind = BrushKind(
        "tape",
        "Tape",
        "rotated rectangle of one colour",
        BOX_FIELDS + fields("r g b", "color", "colour channel")
        + fields("opacity", "opacity", "opacity of the whole stroke"),
    )
    silhouette = UNIT_RECT

    def draw(self, ctx: Any, s: Stroke) -> None:
        ctx.save()
        self.place(ctx, s)
        ctx.rectangle(-s["length"] / 2, -s["width"] / 2, s["length"], s["width"])
        ctx.restore()  # the path keeps its device coordinates; the source is not transformed anyway
        ctx.set_source_rgba(*rgb(s["r"], s["g"], s["b"]), opacity4(s["opacity"]))
        ctx.fill()

    def svg_element(self, dwg: Any, s: Stroke, index: int) -> Any:
        length, width = s["length"], s["width"]
        rect = dwg.rect(
            insert=(num(-length / 2), num(-width / 2)),
            size=(num(length), num(width)),
            fill=hex_colour(s["r"], s["g"], s["b"]),
            fill_opacity=opacity4(s["opacity"]),
        )
        rect.attribs["transform"] = self.placement(s)
        return rect

    def flat_element(self, dwg: Any, s: Stroke, index: int) -> Any:
        return dwg.path(d=polygon_d(self.placed(s, UNIT_RECT)), fill=hex_colour(s["r"], s["g"], s["b"]),
                        fill_opacity=opacity4(s["opacity"]))

    def soft_draw(self, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        from brushwork.brushes import _soft

        along, across = _soft.local_frame(p, xs, ys)
        length, width = p[:, 2, None, None], p[:, 3, None, None]
        distance = torch.minimum(length / 2 - along.abs(), width / 2 - across.abs())
        alpha = _soft.coverage(distance) * p[:, 8, None, None]
        return p[:, 5:8, None, None] * alpha[:, None], alpha


BRUSH = Tape()
