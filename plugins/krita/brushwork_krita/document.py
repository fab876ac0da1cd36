"""Every call into Krita's document API (and the one Qt type it needs) is here, so the rest of the
plug-in is testable with a stand-in `krita` module. Pixel facts (EDITORS.md): RGBA/U8 documents hand
out B,G,R,A bytes, straight alpha, row-major. These run on Krita's UI thread only."""

from __future__ import annotations

from krita import Krita
from PyQt5.QtCore import QByteArray

from .model import IN_PROGRESS, PREVIEW_LAYER, Region, unique_name, unsupported_format, work_region

EXCHANGE = ("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")  # what the server takes and returns: 8-bit sRGB


def active_document():
    return Krita.instance().activeDocument()


def check_document(doc) -> str | None:
    """A message when this document cannot be worked on, else None."""
    if doc is None:
        return "open an image first"
    return unsupported_format(doc.colorModel(), doc.colorDepth())


def is_shown(doc) -> bool:
    """Whether `doc` is still open in a view. A job's document may have been closed while the job ran;
    its layers cannot be added then (and vector layers crash Krita on a document without a view)."""
    return any(view.document() == doc for window in Krita.instance().windows() for view in window.views())


def _exchanges_directly(doc) -> bool:
    return (doc.colorModel(), doc.colorDepth()) == EXCHANGE[:2]


def region_of(doc) -> Region:
    """The selection's bounds (clipped to the canvas), or the whole canvas."""
    selection = doc.selection()
    bounds = None
    if selection is not None:
        bounds = Region(selection.x(), selection.y(), selection.width(), selection.height())
    return work_region(doc.width(), doc.height(), bounds)


def _path_to(root, node_id) -> list[int] | None:
    """Child indices from `root` down to the node whose uniqueId is `node_id` (a document's clone
    keeps its layers' ids and order, not its active layer)."""
    for index, child in enumerate(root.childNodes()):
        if child.uniqueId() == node_id:
            return [index]
        below = _path_to(child, node_id)
        if below is not None:
            return [index, *below]
    return None


def _node_at(root, path: list[int]):
    node = root
    for index in path:
        node = node.childNodes()[index]
    return node


def read_pixels(doc, region: Region, active_layer: bool = False) -> bytes:
    """The visible image (all layers merged), or with `active_layer` the active layer's own pixels
    (a group: its layers merged), inside `region`, BGRA8. Other colour spaces and depths (16-bit,
    float, CMYK, grey, Lab) are converted by Krita itself, on a copy: the document stays as it is."""
    node = doc.activeNode() if active_layer else None
    if active_layer and node is None:
        raise ValueError("there is no active layer")
    x, y, w, h = region.x, region.y, region.width, region.height
    if _exchanges_directly(doc):
        return bytes(node.projectionPixelData(x, y, w, h) if node is not None else doc.pixelData(x, y, w, h))
    path = _path_to(doc.rootNode(), node.uniqueId()) if node is not None else None
    copy = doc.clone()
    try:
        copy.setColorSpace(*EXCHANGE)
        copy.waitForDone()
        if path is None:
            return bytes(copy.pixelData(x, y, w, h))
        return bytes(_node_at(copy.rootNode(), path).projectionPixelData(x, y, w, h))
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
        # Written only once Krita is done converting: a fast job's result (no preview layer before
        # it) once came out empty on a 16-bit document, and Krita 5.2's setColorSpace waits too.
        doc.waitForDone()
    node.setPixelData(QByteArray(bgra), region.x, region.y, region.width, region.height)
    return node


def add_vector_layer(doc, parent, name: str, svg: str, above):
    """A vector layer holding the strokes as shapes (an SVG already in image coordinates), above the
    node `above`. Krita draws the shapes asynchronously and crashes if the document has no view:
    callers check `is_shown` first."""
    layer = doc.createVectorLayer(name)
    parent.addChildNode(layer, above)
    layer.addShapesFromSvg(svg)
    return layer


def show_preview(doc, group, node, bgra: bytes, region: Region, title: str):
    """The live preview: `bgra` (already scaled to the region) in a paint layer inside a layer group on
    top of the stack, named "`title` (in progress)", which becomes the job's result when it is done
    (see `take_preview`). `group`, `node`: those of an earlier call (updated in place), or None (made).
    Returns both."""
    if node is None:
        group = add_group(doc, unique_name(title + IN_PROGRESS, layer_names(doc)))
        node = add_paint_layer(doc, group, PREVIEW_LAYER, bgra, region)
    else:
        node.setPixelData(QByteArray(bgra), region.x, region.y, region.width, region.height)
    doc.refreshProjection()  # asynchronous in Krita: the canvas updates without waiting here
    return group, node


def take_preview(doc, group, node, name: str, bgra: bytes, region: Region, title: str) -> bool:
    """Turn the preview into the job's painting (`bgra`, renamed `name`) and its group into the result's
    (renamed `title`, made unique), so that the result takes its place and undo never brings a stale
    preview back (renaming and new pixels are no undo steps in Krita 5.1). False when the user has
    deleted or moved the preview layer."""
    parent = node.parentNode()
    if parent is None or not parent == group or group.parentNode() is None or node.name() != PREVIEW_LAYER:
        return False
    node.setPixelData(QByteArray(bgra), region.x, region.y, region.width, region.height)
    node.setName(name)
    group.setName(unique_name(title, layer_names(doc)))
    return True


def remove_node(doc, node) -> bool:
    """Take `node` out of the document. False when Krita could not (yet): a layer added a moment ago
    may still be on its way into the layer stack, and has no parent to be removed from until then."""
    if not node.remove():
        return False
    doc.refreshProjection()
    return True


def finish(doc) -> None:
    doc.refreshProjection()
