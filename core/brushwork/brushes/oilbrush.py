"""The oil brush: an opaque oriented brush mark with bristle texture and a c0 -> c1 gradient along
its length.

One brush mark in unit space: x in [-0.5, 0.5] along the length (the colour runs c0 -> c1 from
-0.5 to 0.5), y in [-0.5, 0.5] across it. Strokes place it with
translate(cx, cy) rotate(angle) scale(length, width). The jitter is a fixed hash, not an RNG, so
the mark is identical on every machine and in every file.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from brushwork.brushes._box import BOX_FIELDS, BoxBrush
from brushwork.brushes._geometry import hash01
from brushwork.brushes.base import BrushKind, Point, fields
from brushwork.brushes.paint import cairo_polygon, grey_hex, hex_colour, num, polygon_d, rgb

if TYPE_CHECKING:
    import torch

    from brushwork.strokes import Stroke

SYMBOL_ID = "bw-oilbrush"
HEAD_END = -0.32  # where the rounded head (where the brush lands) joins the body
HEAD_LENGTH = 0.18
TAIL = 0.475  # the bristle fingers end between 0.45 and 0.5; the differentiable drawing ends here


def head_half_width(x: Any, sqrt_of_positive: Callable[[Any], Any]) -> Any:
    """Half-width of the rounded head at x < HEAD_END (floats or tensors, with their square root
    of max(0, .))."""
    return 0.5 * sqrt_of_positive(1 - ((x - HEAD_END) / HEAD_LENGTH) ** 2)


def body_half_width(x: Any, phase: Any, sin: Callable[[Any], Any]) -> Any:
    """Half-width of the slightly wavy body at x >= HEAD_END; phase -2.1 on the top side (y < 0),
    2.1 on the bottom. It equals the head's 0.5 where they join, so the outline has no kink."""
    along = x - HEAD_END
    return 0.5 - 0.04 * along + 0.03 * sin(11 * x + phase) * along


def _half_width(x: float, phase: float) -> float:
    if x < HEAD_END:
        return head_half_width(x, lambda a: math.sqrt(max(0.0, a)))
    return body_half_width(x, phase, math.sin)


def _body() -> tuple[Point, ...]:
    # Dense samples around the rounded head, sparser along the straight body.
    head = [HEAD_END - HEAD_LENGTH * math.cos(math.pi / 2 * i / 12) for i in range(12)]
    body = [HEAD_END + 0.75 * i / 16 for i in range(17)]
    top = [(x, -_half_width(x, -2.1)) for x in head + body]
    bottom = [(x, _half_width(x, 2.1)) for x, _ in reversed(top)]
    # Split bristle ends along the tail.
    y_top, y_bottom = top[-1][1], bottom[0][1]
    fingers = 11
    tail = []
    for j in range(1, 2 * fingers):
        y = y_top + (y_bottom - y_top) * j / (2 * fingers)
        x = 0.5 - 0.01 * hash01(j) if j % 2 else 0.45 + 0.025 * hash01(j + 50)
        tail.append((x, y))
    return tuple(top + tail + bottom)


@dataclass(frozen=True)
class BristleLayer:
    """Thin streaks painted over the body in one grey at one opacity (they never overlap)."""

    grey: float
    opacity: float
    streaks: tuple[tuple[Point, ...], ...]


def _bristles() -> tuple[BristleLayer, ...]:
    count = 16
    layers: dict[tuple[float, float], list[tuple[Point, ...]]] = {}
    for k in range(count):
        y = -0.42 + 0.84 * (k + 0.2 + 0.6 * hash01(k + 1)) / count
        half = 0.006 + 0.012 * hash01(k + 7)
        x_start = -0.3 + 0.15 * hash01(k + 13)
        x_end = 0.38 - 0.25 * hash01(k + 19)
        x_mid = x_start + (x_end - x_start) * (0.3 + 0.4 * hash01(k + 23))
        streak = ((x_start, y), (x_mid, y - half), (x_end, y), (x_mid, y + half))
        grey, opacity = (0.0, 0.22 if k % 4 else 0.32) if k % 2 else (1.0, 0.16)
        layers.setdefault((grey, opacity), []).append(streak)
    return tuple(BristleLayer(g, a, tuple(s)) for (g, a), s in sorted(layers.items()))


BODY: tuple[Point, ...] = _body()
BRISTLES: tuple[BristleLayer, ...] = _bristles()


class OilBrush(BoxBrush):
    kind = BrushKind(
        "oilbrush",
        "Oil brush",
        "opaque oriented brush mark with bristle texture and a c0->c1 gradient along its length",
        BOX_FIELDS + fields("r0 g0 b0", "color", "colour at the start")
        + fields("r1 g1 b1", "color", "colour at the end"),
    )
    silhouette = BODY
    # Its refinement step is the cheapest (its soft drawing's backward pass written out, and compiled
    # for the CPU), and the oil brush needs the steps more: 60 -> 100 at 1,000 strokes raised the seven
    # content photos' median 26.26 -> 26.56 dB (tubingen.jpg 24.37 -> 24.71, primitive + 2.03) for
    # 13.7 -> 19.7 s on two cores; once compiled, 100 -> 130 26.52 -> 26.61 dB (every photo +0.08 to
    # +0.17) for 11.1 -> 11.9 s.
    refine_steps = 130

    def draw(self, ctx: Any, s: Stroke) -> None:
        import cairocffi as cairo

        ctx.save()
        self.place(ctx, s)
        ctx.scale(s["length"], s["width"])
        # Body in c0, then c1 fading in along the length: the same two layers the SVG symbol draws
        # (base fill + masked overlay), which equals a c0->c1 gradient on an opaque brush.
        cairo_polygon(ctx, BODY)
        ctx.set_source_rgb(*rgb(s["r0"], s["g0"], s["b0"]))
        ctx.fill_preserve()
        c1 = rgb(s["r1"], s["g1"], s["b1"])
        ramp = cairo.LinearGradient(-0.5, 0, 0.5, 0)
        ramp.add_color_stop_rgba(0, *c1, 0)
        ramp.add_color_stop_rgba(1, *c1, 1)
        ctx.set_source(ramp)
        ctx.fill()
        for layer in BRISTLES:
            for streak in layer.streaks:
                cairo_polygon(ctx, streak)
            ctx.set_source_rgba(layer.grey, layer.grey, layer.grey, layer.opacity)
            ctx.fill()
        ctx.restore()

    def svg_definitions(self, dwg: Any) -> None:
        """The brush mark once, in unit space; each oil stroke is a <use> that sets fill = c0 and
        color = c1. The overlay fades c1 in along the length through a mask of white with rising
        opacity, which luminance and alpha masking treat alike."""
        ramp = dwg.linearGradient(
            start=(-0.5, 0), end=(0.5, 0), id=f"{SYMBOL_ID}-ramp", gradientUnits="userSpaceOnUse"
        )
        ramp.add_stop_color(0, "#ffffff", 0)
        ramp.add_stop_color(1, "#ffffff", 1)
        dwg.defs.add(ramp)
        mask = dwg.mask(id=f"{SYMBOL_ID}-fade", start=(-1, -1), size=(2, 2), maskUnits="userSpaceOnUse")
        mask.attribs["maskContentUnits"] = "userSpaceOnUse"
        mask.add(dwg.rect((-1, -1), (2, 2), fill=f"url(#{SYMBOL_ID}-ramp)"))
        dwg.defs.add(mask)
        symbol = dwg.symbol(id=SYMBOL_ID)
        symbol.attribs["overflow"] = "visible"  # the mark is centred on the origin
        body = polygon_d(BODY)
        symbol.add(dwg.path(d=body))
        symbol.add(dwg.path(d=body, fill="currentColor", mask=f"url(#{SYMBOL_ID}-fade)"))
        for layer in BRISTLES:
            symbol.add(dwg.path(d="".join(polygon_d(s) for s in layer.streaks), fill=grey_hex(layer.grey),
                                fill_opacity=layer.opacity))
        dwg.defs.add(symbol)

    def svg_element(self, dwg: Any, s: Stroke, index: int) -> Any:
        use = dwg.use(f"#{SYMBOL_ID}", fill=hex_colour(s["r0"], s["g0"], s["b0"]))
        use.attribs["color"] = hex_colour(s["r1"], s["g1"], s["b1"])
        scale = f"scale({repr(round(s['length'], 4))} {repr(round(s['width'], 4))})"
        use.attribs["transform"] = f"{self.placement(s)} {scale}"
        return use

    def flat_element(self, dwg: Any, s: Stroke, index: int) -> Any:
        """The oil mark as the exact renderer draws it: body in c0, body again in c1 through a
        gradient whose opacity rises 0 -> 1 along the length (what the symbol's mask does), then
        the bristles."""
        group = dwg.g()
        body = polygon_d(self.placed(s, BODY))
        group.add(dwg.path(d=body, fill=hex_colour(s["r0"], s["g0"], s["b0"])))
        (hx, hy), (tx, ty) = self.placed(s, ((-0.5, 0.0), (0.5, 0.0)))
        ramp = dwg.linearGradient(start=(num(hx), num(hy)), end=(num(tx), num(ty)), id=f"bw-oil{index}",
                                  gradientUnits="userSpaceOnUse")
        c1 = hex_colour(s["r1"], s["g1"], s["b1"])
        ramp.add_stop_color(0, c1, 0)
        ramp.add_stop_color(1, c1, 1)
        dwg.defs.add(ramp)
        group.add(dwg.path(d=body, fill=f"url(#bw-oil{index})"))
        for layer in BRISTLES:
            group.add(dwg.path(d="".join(polygon_d(self.placed(s, streak)) for streak in layer.streaks),
                               fill=grey_hex(layer.grey), fill_opacity=layer.opacity))
        return group

    def soft_draw(self, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from brushwork.brushes import _soft

        grid = _soft.separable_cpu_grid(p, xs, ys)
        if grid is not None:
            from brushwork.brushes import _oil_cpu

            return _oil_cpu.draw(p, grid)
        from brushwork.brushes._oil_soft import OilMarks

        return OilMarks.apply(p, xs, ys)


@functools.lru_cache(maxsize=4)
def bristle_texture(device: torch.device) -> torch.Tensor:
    """(1, 2, h, w) opacity B and grey-times-opacity G of the bristle streaks over the unit mark
    [-0.5, 0.5]^2, on `device` (drawn once per device: a pure function of constants): the exact
    renderer draws the mark in black (G) and in white (A (1 - B) + G, A the body's coverage)."""
    import numpy as np
    import torch

    from brushwork import raster
    from brushwork.strokes import Stroke

    width, height = 256, 128
    drawn = []
    for grey in (0.0, 1.0):
        mark = Stroke.make(OilBrush.kind.name, cx=width / 2, cy=height / 2, length=width, width=height, angle=0.0,
                           r0=grey, g0=grey, b0=grey, r1=grey, g1=grey, b1=grey)
        drawn.append(raster.render_patch(mark, width, height))
    black, white = drawn
    streaks = black.premultiplied[..., 0]
    body = white.alpha
    opacity = np.where(body > 0.5, 1 - (white.premultiplied[..., 0] - streaks) / np.maximum(body, 1e-6), 0.0)
    return torch.from_numpy(np.stack([opacity.clip(0, 1), streaks]).astype(np.float32))[None].to(device)


BRUSH = OilBrush()
