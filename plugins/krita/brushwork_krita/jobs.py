"""A brushwork job on a Krita document: what to send, and what to do with the result. No Qt widgets
(ui.py shows the job and calls `apply` from its timer), so it runs against a stand-in `krita` module
in the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from . import document
from .bridge_client import Bridge, BridgeError, JobRunner, encode_image
from .model import (PAINT_LAYER, STYLIZE_LAYER, VECTOR_LAYER, PaintOptions, Region, StylizeOptions, install_info,
                    job_title, unique_name)

_bridge: Bridge | None = None


def bridge() -> Bridge:
    """One bridge per Krita session: it remembers the server it found or started."""
    global _bridge
    if _bridge is None:
        _bridge = Bridge(install_info(Path(__file__).parent).get("python"))
    return _bridge


@dataclass
class DocumentJob:
    """The job's runner works in its own thread (`runner.start()`); everything that touches the
    document (`apply`) happens on Krita's UI thread."""

    doc: object
    region: Region
    runner: JobRunner
    title: str
    vector_layer: bool = False

    def apply(self) -> list:
        """Put a finished job's result into the document: a layer group named after the job (its
        name made unique) holding the painting and, for strokes, a vector layer above it. Returns the
        group and the new layers."""
        result = self.runner.result
        assert result is not None
        if (result.width, result.height) != (self.region.width, self.region.height):
            raise BridgeError(f"the server returned {result.width}x{result.height} pixels for a "
                              f"{self.region.width}x{self.region.height} region")
        group = document.add_group(self.doc, unique_name(self.title, document.layer_names(self.doc)))
        name = PAINT_LAYER if self.runner.kind == "paint" else STYLIZE_LAYER
        nodes = [group, document.add_paint_layer(self.doc, group, name, result.pixels, self.region)]
        if self.vector_layer and result.svg is not None:
            nodes.append(document.add_vector_layer(self.doc, group, VECTOR_LAYER, result.svg, nodes[1]))
        document.finish(self.doc)
        return nodes


def _prepare(doc) -> tuple[Region, dict]:
    problem = document.check_document(doc)
    if problem is not None:
        raise BridgeError(problem)
    region = document.region_of(doc)
    image = encode_image(document.read_pixels(doc, region), region.width, region.height, "BGRA8")
    return region, image


def start_paint(doc, options: PaintOptions) -> DocumentJob:
    region, image = _prepare(doc)
    # the strokes come as plain shapes already at the region's place (Krita mangles <use> and masks)
    runner = JobRunner(bridge(), "paint", image, options.params(), channels="BGRA8",
                       svg_flavour="flat" if options.vector_layer else None, svg_origin=(region.x, region.y))
    return DocumentJob(doc, region, runner, job_title("paint", options), options.vector_layer)


def start_stylize(doc, options: StylizeOptions, style_png: bytes) -> DocumentJob:
    region, image = _prepare(doc)
    runner = JobRunner(bridge(), "stylize", image, options.params(style_png), channels="BGRA8")
    return DocumentJob(doc, region, runner, job_title("stylize", options))


__all__ = ["DocumentJob", "bridge", "start_paint", "start_stylize"]
