"""Every call into Krita's document API (and the one Qt type it needs) is here, so the rest of the
plug-in is testable with a stand-in `krita` module. Pixel facts (EDITORS.md): RGBA/U8 documents hand
out B,G,R,A bytes, straight alpha, row-major."""

from __future__ import annotations

from PyQt5.QtCore import QByteArray

from .model import Region, unsupported_format, work_region


EXCHANGE = ("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")  # what the server takes and returns: 8-bit sRGB


def check_document(doc) -> str | None:
    """A message when this document cannot be worked on, else None."""
    if doc is None:
        return "open an image first"
    return unsupported_format(doc.colorModel(), doc.colorDepth())


def _exchanges_directly(doc) -> bool:
    return (doc.colorModel(), doc.colorDepth()) == EXCHANGE[:2]


def region_of(doc) -> Region:
    """The selection's bounds (clipped to the canvas), or the whole canvas."""
    selection = doc.selection()
    bounds = None
    if selection is not None:
        bounds = Region(selection.x(), selection.y(), selection.width(), selection.height())
    return work_region(doc.width(), doc.height(), bounds)


def read_pixels(doc, region: Region) -> bytes:
    """The visible image (all layers merged) inside `region`, BGRA8. Other colour spaces and depths
    (16-bit, float, CMYK, grey, Lab) are converted by Krita itself, on a copy: the document stays as it is."""
    if _exchanges_directly(doc):
        return bytes(doc.pixelData(region.x, region.y, region.width, region.height))
    copy = doc.clone()
    try:
        copy.setColorSpace(*EXCHANGE)
        copy.waitForDone()
        return bytes(copy.pixelData(region.x, region.y, region.width, region.height))
    finally:
        copy.close()


def layer_names(doc) -> list[str]:
    return [node.name() for node in doc.topLevelNodes()]


def add_group(doc, name: str):
    """A layer group on top of the layer stack: one per job, holding its layers."""
    group = doc.createGroupLayer(name)
    doc.rootNode().addChildNode(group, None)
    return group


def add_paint_layer(doc, parent, name: str, bgra: bytes, region: Region):
    node = doc.createNode(name, "paintlayer")
    parent.addChildNode(node, None)
    if not _exchanges_directly(doc):  # a layer of its own colour space: Krita converts when it composites
        node.setColorSpace(*EXCHANGE)
    node.setPixelData(QByteArray(bgra), region.x, region.y, region.width, region.height)
    return node


def add_vector_layer(doc, parent, name: str, svg: str, above):
    """A vector layer holding the strokes as shapes (an SVG already in image coordinates), above the
    node `above`. Krita draws the shapes asynchronously and crashes if the document has no view:
    callers only use this on the document of the active view."""
    layer = doc.createVectorLayer(name)
    parent.addChildNode(layer, above)
    layer.addShapesFromSvg(svg)
    return layer


def finish(doc) -> None:
    doc.refreshProjection()
