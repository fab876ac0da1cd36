"""Stroke SVGs: one SVG-native element per stroke in paint order, each carrying its kind and exact
parameters (`data-brush`, `data-params`), so `read(write(x)) == x`.

The drawing attributes say the same as `raster` draws (see `shapes`); the `data-*` attributes hold
the parameters at full float precision, and only those are read back.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import svgwrite

from brushwork.errors import StrokeFileError
from brushwork.raster import watercolor_gradient_axis
from brushwork.shapes import (
    OIL_BODY,
    OIL_BRISTLES,
    bezier_points,
    color8,
    opacity4,
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
    parser = ET.XMLPullParser(events=("start", "end"))
    root = None
    box: tuple[float, ...] = ()
    background = None
    strokes = []
    try:
        for offset in range(0, max(1, len(text)), _CHUNK):
            parser.feed(text[offset:offset + _CHUNK])
            for event, element in parser.read_events():
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
    return StrokeList(int(box[2]), int(box[3]), tuple(strokes), background)


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

