"""Stroke SVGs: one SVG-native element per stroke in paint order, each carrying its kind and exact
parameters (`data-brush`, `data-params`), so `read(write(x)) == x`.

The drawing attributes say the same as `raster` draws (see `shapes`); the `data-*` attributes hold
the parameters at full float precision, and only those are read back.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import cast

import svgwrite

from brushwork.errors import StrokeFileError
from brushwork.raster import watercolor_gradient_axis
from brushwork.shapes import (
    OIL_BODY,
    OIL_BRISTLES,
    bezier_points,
    color8,
    opacity4,
    swept_outline,
    watercolor_outline,
)
from brushwork.strokes import BRUSHES, Stroke, StrokeList, check_count

FORMAT_VERSION = 1
OIL_SYMBOL_ID = "bw-oilbrush"


def _num(v: float) -> str:
    """Geometry at 1/1000 px: far below what any renderer resolves, and compact."""
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _color(r: float, g: float, b: float) -> str:
    return "#%02x%02x%02x" % color8(r, g, b)


def _polygon_d(points) -> str:
    first, *rest = points
    return f"M{_num(first[0])} {_num(first[1])}" + "".join(
        f"L{_num(x)} {_num(y)}" for x, y in rest
    ) + "Z"


def _exact(values) -> str:
    return " ".join(repr(float(v)) for v in values)


def _oil_definitions(dwg: svgwrite.Drawing) -> None:
    """The brush mark once, in unit space; each oil stroke is a <use> that sets fill = c0 and
    color = c1. The overlay fades c1 in along the length through a mask of white with rising
    opacity, which luminance and alpha masking treat alike."""
    ramp = dwg.linearGradient(
        start=(-0.5, 0), end=(0.5, 0), id=f"{OIL_SYMBOL_ID}-ramp", gradientUnits="userSpaceOnUse"
    )
    ramp.add_stop_color(0, "#ffffff", 0)
    ramp.add_stop_color(1, "#ffffff", 1)
    dwg.defs.add(ramp)
    mask = dwg.mask(
        id=f"{OIL_SYMBOL_ID}-fade", start=(-1, -1), size=(2, 2), maskUnits="userSpaceOnUse"
    )
    mask.attribs["maskContentUnits"] = "userSpaceOnUse"
    mask.add(dwg.rect((-1, -1), (2, 2), fill=f"url(#{OIL_SYMBOL_ID}-ramp)"))
    dwg.defs.add(mask)
    symbol = dwg.symbol(id=OIL_SYMBOL_ID)
    symbol.attribs["overflow"] = "visible"  # the mark is centred on the origin
    body = _polygon_d(OIL_BODY)
    symbol.add(dwg.path(d=body))
    symbol.add(dwg.path(d=body, fill="currentColor", mask=f"url(#{OIL_SYMBOL_ID}-fade)"))
    for layer in OIL_BRISTLES:
        grey = round(layer.grey * 255)
        symbol.add(
            dwg.path(
                d="".join(_polygon_d(s) for s in layer.streaks),
                fill="#%02x%02x%02x" % (grey, grey, grey),
                fill_opacity=layer.opacity,
            )
        )
    dwg.defs.add(symbol)


def _markerpen(dwg: svgwrite.Drawing, s: Stroke, index: int):
    p0, p1, p2 = bezier_points(s)
    return dwg.path(
        d=f"M{_num(p0[0])} {_num(p0[1])}Q{_num(p1[0])} {_num(p1[1])} {_num(p2[0])} {_num(p2[1])}",
        fill="none",
        stroke=_color(s["r"], s["g"], s["b"]),
        stroke_width=_num(s["width"]),
        stroke_linecap="round",
        stroke_opacity=opacity4(s["opacity"]),
    )


def _watercolor(dwg: svgwrite.Drawing, s: Stroke, index: int):
    outline = watercolor_outline(s)
    parts = []
    for cx, cy, r in outline.discs:
        # Two half-circle arcs, sweep-flag 1: the same turning direction as the quads and cairo.
        rr = _num(r)
        parts.append(
            f"M{_num(cx + r)} {_num(cy)}A{rr} {rr} 0 1 1 {_num(cx - r)} {_num(cy)}"
            f"A{rr} {rr} 0 1 1 {_num(cx + r)} {_num(cy)}Z"
        )
    parts.extend(_polygon_d(q) for q in outline.quads)
    c0, c1 = _color(s["r0"], s["g0"], s["b0"]), _color(s["r1"], s["g1"], s["b1"])
    axis = watercolor_gradient_axis(s)
    if axis is None:
        fill = c1
    else:
        gradient = dwg.linearGradient(
            start=(_num(axis[0]), _num(axis[1])),
            end=(_num(axis[2]), _num(axis[3])),
            id=f"bw-wc{index}",
            gradientUnits="userSpaceOnUse",
        )
        gradient.add_stop_color(0, c0)
        gradient.add_stop_color(1, c1)
        dwg.defs.add(gradient)
        fill = f"url(#bw-wc{index})"
    return dwg.path(d="".join(parts), fill=fill, fill_opacity=opacity4(s["opacity"]))


def _placement(s: Stroke) -> str:
    return f"translate({_num(s['cx'])} {_num(s['cy'])}) rotate({math.degrees(s['angle']):.4f})"


def _oilbrush(dwg: svgwrite.Drawing, s: Stroke, index: int):
    use = dwg.use(f"#{OIL_SYMBOL_ID}", fill=_color(s["r0"], s["g0"], s["b0"]))
    use.attribs["color"] = _color(s["r1"], s["g1"], s["b1"])
    use.attribs["transform"] = (
        f"{_placement(s)} scale({repr(round(s['length'], 4))} {repr(round(s['width'], 4))})"
    )
    return use


def _tape(dwg: svgwrite.Drawing, s: Stroke, index: int):
    length, width = s["length"], s["width"]
    rect = dwg.rect(
        insert=(_num(-length / 2), _num(-width / 2)),
        size=(_num(length), _num(width)),
        fill=_color(s["r"], s["g"], s["b"]),
        fill_opacity=opacity4(s["opacity"]),
    )
    rect.attribs["transform"] = _placement(s)
    return rect


_ELEMENT = {"markerpen": _markerpen, "watercolor": _watercolor, "oilbrush": _oilbrush, "tape": _tape}


def write(strokes: StrokeList) -> str:
    """The stroke list as SVG text (viewBox in canvas pixels)."""
    return to_text(drawing(strokes))


def to_text(dwg: svgwrite.Drawing) -> str:
    return '<?xml version="1.0" encoding="utf-8"?>\n' + dwg.tostring() + "\n"


def drawing(strokes: StrokeList) -> svgwrite.Drawing:
    """The stroke SVG as an svgwrite document, for writers that extend it (the animated SVG adds
    timing to the elements that carry `data-brush`; they are in paint order)."""
    w, h = strokes.width, strokes.height
    dwg = svgwrite.Drawing(size=(w, h), viewBox=f"0 0 {w} {h}", profile="full", debug=False)
    dwg.attribs["data-brushwork"] = str(FORMAT_VERSION)
    bg = strokes.background
    dwg.attribs["data-background"] = "none" if bg is None else _exact(bg)
    if any(s.kind == "oilbrush" for s in strokes.strokes):
        _oil_definitions(dwg)
    if bg is not None:
        dwg.add(dwg.rect((0, 0), (w, h), fill=_color(*bg)))
    for i, s in enumerate(strokes.strokes):
        element = _ELEMENT[s.kind](dwg, s, i)
        element.attribs["data-brush"] = s.kind
        element.attribs["data-params"] = _exact(s.params)
        dwg.add(element)
    return dwg


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split())
    except ValueError:
        raise StrokeFileError(f"{what}: expected numbers, got {text[:80]!r}") from None


def read(text: str | bytes) -> StrokeList:
    """Parse an SVG written by `write`. Other SVGs are refused: brushwork cannot recover strokes
    from arbitrary vector art, and says so.

    The document is parsed as a stream: the root is checked before anything else is read, each
    stroke element is dropped once read, and a file of more than `strokes.MAX_STROKES` strokes is
    refused as soon as the count passes it, so an oversized file costs neither the whole tree nor
    the strokes."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    box: tuple[float, ...] = ()
    background: tuple[float, ...] | None = None
    strokes: list[Stroke] = []
    try:
        for offset in range(0, max(1, len(text)), _CHUNK):
            parser.feed(text[offset:offset + _CHUNK])
            # only "start" and "end" were asked for: every event comes with its element
            for event, element in cast(Iterator[tuple[str, ET.Element]], parser.read_events()):
                if event == "end":
                    if element is not root:
                        element.clear()  # read at its start; its attributes and children are done with
                    continue
                if root is None:
                    root = element
                    box, background = _root(root)
                kind = element.get("data-brush")
                if kind is None:
                    continue
                if kind not in BRUSHES:
                    raise StrokeFileError(
                        f"stroke {len(strokes)}: unknown brush kind {kind!r}; expected one of "
                        f"{', '.join(BRUSHES)}"
                    )
                check_count(len(strokes) + 1)
                params = _floats(element.get("data-params", ""), f"stroke {len(strokes)} data-params")
                strokes.append(Stroke(kind, params))
        parser.close()
    except ET.ParseError as exc:
        raise StrokeFileError(f"not a valid SVG/XML document ({exc})") from None
    if root is None:
        raise StrokeFileError("not a valid SVG/XML document (no element found)")
    # any length: StrokeList checks for an RGB triple and names what is wrong
    return StrokeList(int(box[2]), int(box[3]), tuple(strokes), background)  # type: ignore[arg-type]


# Parsing 1 MB at a time keeps the pending events (and so the memory) small for any file size.
_CHUNK = 1 << 20


def _root(root: ET.Element) -> tuple[tuple[float, ...], tuple[float, ...] | None]:
    """The canvas box and background of a brushwork stroke SVG's root, refusing any other SVG."""
    if root.tag.rsplit("}", 1)[-1] != "svg":
        raise StrokeFileError(f"not an SVG document (root element <{root.tag}>)")
    version = root.get("data-brushwork")
    if version is None:
        raise StrokeFileError(
            "this SVG was not written by brushwork (its <svg> has no data-brushwork attribute); "
            "brushwork reads only the stroke SVGs it writes"
        )
    if version != str(FORMAT_VERSION):
        raise StrokeFileError(
            f"stroke SVG format {version!r} is not supported; this brushwork reads format "
            f"{FORMAT_VERSION}"
        )
    box = _floats(root.get("viewBox", ""), "viewBox")
    if len(box) != 4 or box[:2] != (0.0, 0.0) or not all(v.is_integer() for v in box[2:]):
        raise StrokeFileError(f"viewBox must be '0 0 WIDTH HEIGHT' in whole pixels, got {box}")
    bg_text = root.get("data-background", "none")
    return box, None if bg_text == "none" else _floats(bg_text, "data-background")


# --- editor flavours --------------------------------------------------------------------------------
# Editors import SVG as shapes, and each supports a different part of SVG: Krita misplaces or blanks
# <use> of a <symbol> with a mask, and GIMP's path import ignores <use> transforms. These flavours
# draw the same painting with plain paths in image coordinates (no symbol, use, mask or transform).


def _shifted(strokes: StrokeList, origin: tuple[int, int]) -> StrokeList:
    """The strokes moved to `origin` on a canvas that reaches the region's far corner, so every
    coordinate is written in image pixels (an editor's user units)."""
    ox, oy = origin
    return StrokeList(ox + strokes.width, oy + strokes.height,
                      tuple(s.transformed(1.0, ox, oy) for s in strokes.strokes), strokes.background)


def _box_points(s: Stroke, points, length: float, width: float) -> list[tuple[float, float]]:
    """Unit-space points of a box stroke (oil brush, tape) placed on the canvas."""
    cos, sin = math.cos(s["angle"]), math.sin(s["angle"])
    return [(s["cx"] + cos * u * length - sin * v * width, s["cy"] + sin * u * length + cos * v * width)
            for u, v in points]


_UNIT_RECT = ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5))


def _flat_oilbrush(dwg: svgwrite.Drawing, s: Stroke, index: int):
    """The oil mark as the exact renderer draws it: body in c0, body again in c1 through a gradient
    whose opacity rises 0 -> 1 along the length (what the symbol's mask does), then the bristles."""
    length, width = s["length"], s["width"]
    group = dwg.g()
    body = _polygon_d(_box_points(s, OIL_BODY, length, width))
    group.add(dwg.path(d=body, fill=_color(s["r0"], s["g0"], s["b0"])))
    (hx, hy), (tx, ty) = _box_points(s, ((-0.5, 0.0), (0.5, 0.0)), length, width)
    ramp = dwg.linearGradient(start=(_num(hx), _num(hy)), end=(_num(tx), _num(ty)), id=f"bw-oil{index}",
                              gradientUnits="userSpaceOnUse")
    c1 = _color(s["r1"], s["g1"], s["b1"])
    ramp.add_stop_color(0, c1, 0)
    ramp.add_stop_color(1, c1, 1)
    dwg.defs.add(ramp)
    group.add(dwg.path(d=body, fill=f"url(#bw-oil{index})"))
    for layer in OIL_BRISTLES:
        grey = round(layer.grey * 255)
        group.add(dwg.path(d="".join(_polygon_d(_box_points(s, streak, length, width)) for streak in layer.streaks),
                           fill="#%02x%02x%02x" % (grey, grey, grey), fill_opacity=layer.opacity))
    return group


def _flat_watercolor(dwg: svgwrite.Drawing, s: Stroke, index: int):
    """One outline (the union the exact renderer fills) instead of discs and hulls; the opacity goes
    into the gradient's stops, because Krita drops fill-opacity on gradient fills (seen: 19 dB)."""
    c0, c1 = _color(s["r0"], s["g0"], s["b0"]), _color(s["r1"], s["g1"], s["b1"])
    opacity = opacity4(s["opacity"])
    axis = watercolor_gradient_axis(s)
    if axis is None:
        return dwg.path(d=_outline_d(s), fill=c1, fill_opacity=opacity)
    gradient = dwg.linearGradient(start=(_num(axis[0]), _num(axis[1])), end=(_num(axis[2]), _num(axis[3])),
                                  id=f"bw-wc{index}", gradientUnits="userSpaceOnUse")
    gradient.add_stop_color(0, c0, opacity)
    gradient.add_stop_color(1, c1, opacity)
    dwg.defs.add(gradient)
    return dwg.path(d=_outline_d(s), fill=f"url(#bw-wc{index})")


def _flat_tape(dwg: svgwrite.Drawing, s: Stroke, index: int):
    return dwg.path(d=_polygon_d(_box_points(s, _UNIT_RECT, s["length"], s["width"])),
                    fill=_color(s["r"], s["g"], s["b"]), fill_opacity=opacity4(s["opacity"]))


_FLAT_ELEMENT = {**_ELEMENT, "watercolor": _flat_watercolor, "oilbrush": _flat_oilbrush, "tape": _flat_tape}


def write_flat(strokes: StrokeList, origin: tuple[int, int] = (0, 0)) -> str:
    """The painting for an editor's vector layer (Krita): plain paths and gradients in image
    coordinates with the region's top-left corner at `origin`, one top-level shape per stroke (a
    click selects one stroke), each cut at the region's edges as the raster layer is, over the
    region's paper. Not readable by `read`: it is an export, not a stroke file."""
    shifted = _shifted(strokes, origin)
    ox, oy = origin
    w, h = strokes.width, strokes.height
    dwg = svgwrite.Drawing(size=(shifted.width, shifted.height),
                           viewBox=f"0 0 {shifted.width} {shifted.height}", profile="full", debug=False)
    clip = dwg.defs.add(dwg.clipPath(id="bw-region"))
    clip.add(dwg.rect((ox, oy), (w, h)))
    if strokes.background is not None:
        dwg.add(dwg.rect((ox, oy), (w, h), fill=_color(*strokes.background), id="brushwork-paper"))
    for i, s in enumerate(shifted.strokes):
        element = _FLAT_ELEMENT[s.kind](dwg, s, i)
        element.attribs.update({"id": f"brushwork-{i + 1}-{s.kind}", "clip-path": "url(#bw-region)",
                                "data-brush": s.kind})
        dwg.add(element)
    return to_text(dwg)


def _outline_polygon(s: Stroke):
    """The stroke's silhouette as one shapely polygon (union of its pieces), in canvas pixels."""
    from shapely import Point, Polygon, unary_union

    if s.kind in ("markerpen", "watercolor"):
        outline = swept_outline(s, s["width"] / 2, s["width"] / 2) if s.kind == "markerpen" else watercolor_outline(s)
        return unary_union([Point(x, y).buffer(r, quad_segs=_arc_segments(r)) for x, y, r in outline.discs]
                           + [Polygon(q) for q in outline.quads])
    points = OIL_BODY if s.kind == "oilbrush" else _UNIT_RECT
    return Polygon(_box_points(s, points, s["length"], s["width"]))


def _arc_segments(radius: float) -> int:
    """Segments per quarter circle keeping the polygon within 0.1 px of the true arc."""
    return max(2, min(64, math.ceil(math.pi / 2 / math.acos(max(-1.0, 1 - 0.1 / max(radius, 0.1))))))


def _outline_d(s: Stroke) -> str:
    """The silhouette as closed subpaths: every outer boundary, then its holes."""
    shape = _outline_polygon(s)
    polygons = list(getattr(shape, "geoms", [shape]))
    return "".join(_polygon_d(ring.coords[:-1]) for polygon in polygons if not polygon.is_empty
                   for ring in (polygon.exterior, *polygon.interiors))


def write_outlines(strokes: StrokeList, origin: tuple[int, int] = (0, 0)) -> str:
    """Every stroke's outline as one closed path in image coordinates (region's corner at `origin`),
    named after its stroke: what GIMP imports as paths. No paper, fills or clipping."""
    shifted = _shifted(strokes, origin)
    dwg = svgwrite.Drawing(size=(shifted.width, shifted.height),
                           viewBox=f"0 0 {shifted.width} {shifted.height}", profile="full", debug=False)
    for i, s in enumerate(shifted.strokes):
        path = dwg.path(d=_outline_d(s), fill="none", stroke="black", id=f"brushwork-{i + 1}-{s.kind}")
        path.attribs["data-brush"] = s.kind
        dwg.add(path)
    return to_text(dwg)
