"""Stroke SVGs: one SVG-native element per stroke in paint order, each carrying its kind and exact
parameters (`data-brush`, `data-params`), so `read(write(x)) == x`.

The drawing attributes say the same as `raster` draws (see `shapes`); the `data-*` attributes hold
the parameters at full float precision, and only those are read back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import cast

import svgwrite

from brushwork import brushes
from brushwork.brushes.paint import hex_colour, shape_d
from brushwork.errors import StrokeFileError
from brushwork.strokes import BRUSHES, Stroke, StrokeList, check_count

FORMAT_VERSION = 1


def _exact(values) -> str:
    return " ".join(repr(float(v)) for v in values)


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
    used = {s.kind for s in strokes.strokes}
    for brush in brushes.registered():
        if brush.kind.name in used:
            brush.svg_definitions(dwg)
    if bg is not None:
        dwg.add(dwg.rect((0, 0), (w, h), fill=hex_colour(*bg)))
    for i, s in enumerate(strokes.strokes):
        element = brushes.get(s.kind).svg_element(dwg, s, i)
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
        dwg.add(dwg.rect((ox, oy), (w, h), fill=hex_colour(*strokes.background), id="brushwork-paper"))
    for i, s in enumerate(shifted.strokes):
        element = brushes.get(s.kind).flat_element(dwg, s, i)
        element.attribs.update({"id": f"brushwork-{i + 1}-{s.kind}", "clip-path": "url(#bw-region)",
                                "data-brush": s.kind})
        dwg.add(element)
    return to_text(dwg)


def write_outlines(strokes: StrokeList, origin: tuple[int, int] = (0, 0)) -> str:
    """Every stroke's outline as one closed path in image coordinates (region's corner at `origin`),
    named after its stroke: what GIMP imports as paths. No paper, fills or clipping."""
    shifted = _shifted(strokes, origin)
    dwg = svgwrite.Drawing(size=(shifted.width, shifted.height),
                           viewBox=f"0 0 {shifted.width} {shifted.height}", profile="full", debug=False)
    for i, s in enumerate(shifted.strokes):
        outline = shape_d(brushes.get(s.kind).outline(s))
        path = dwg.path(d=outline, fill="none", stroke="black", id=f"brushwork-{i + 1}-{s.kind}")
        path.attribs["data-brush"] = s.kind
        dwg.add(path)
    return to_text(dwg)
