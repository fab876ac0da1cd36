"""The exact renderer: draws stroke lists with cairo exactly as the SVG describes them.

This is the ground truth of brushwork: every image a user sees (PNG, animation frames) and every
training target of the neural renderer comes from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cairocffi as cairo
import numpy as np

from brushwork import brushes
from brushwork.brushes.paint import rgb
from brushwork.errors import BrushworkError
from brushwork.strokes import Stroke, StrokeList

MAX_OUTPUT_PIXELS = 400_000_000  # ~1.6 GB of RGBA; beyond this cairo would fail obscurely


class RasterCanvas:
    """A cairo canvas that strokes are drawn onto one at a time, in canvas coordinates.

    `render` draws whole lists with it; animation draws stroke by stroke and snapshots frames.
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        out_width: int | None = None,
        out_height: int | None = None,
        background: tuple[float, float, float] | None = None,
    ) -> None:
        self.out_width = out_width or width
        self.out_height = out_height or height
        if self.out_width * self.out_height > MAX_OUTPUT_PIXELS:
            raise BrushworkError(
                f"output size {self.out_width}x{self.out_height} is too large "
                f"(at most {MAX_OUTPUT_PIXELS:,} pixels)"
            )
        self.surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, self.out_width, self.out_height)
        self.ctx = cairo.Context(self.surface)
        self.ctx.scale(self.out_width / width, self.out_height / height)
        if background is not None:
            self.ctx.set_source_rgb(*rgb(*background))
            self.ctx.paint()

    def draw(self, stroke: Stroke) -> None:
        brushes.get(stroke.kind).draw(self.ctx, stroke)

    def set_pixels(self, rgb: np.ndarray) -> None:
        """Replace the canvas with an opaque (H, W, 3) uint8 RGB picture of the output size (the
        painter starts a block from the painting so far)."""
        self.surface.flush()
        stride = self.surface.get_stride()
        data = np.frombuffer(self.surface.get_data(), np.uint8).reshape(self.out_height, stride // 4, 4)
        data[:, : self.out_width, :3] = rgb[..., ::-1]
        data[:, : self.out_width, 3] = 255
        self.surface.mark_dirty()

    def premultiplied(self) -> np.ndarray:
        """(H, W, 4) uint8 RGBA, premultiplied alpha (a copy)."""
        self.surface.flush()
        stride = self.surface.get_stride()
        raw = np.frombuffer(self.surface.get_data(), np.uint8)
        bgra = raw.reshape(self.out_height, stride // 4, 4)[:, : self.out_width]
        return bgra[..., [2, 1, 0, 3]].copy()  # cairo ARGB32 is B,G,R,A in little-endian memory

    def to_rgba(self) -> np.ndarray:
        """(H, W, 4) uint8 RGBA with straight alpha, as PNG stores it."""
        rgba = self.premultiplied()
        alpha = rgba[..., 3:4].astype(np.uint32)
        straight = (rgba[..., :3].astype(np.uint32) * 255 + alpha // 2) // np.maximum(alpha, 1)
        rgba[..., :3] = np.where(alpha > 0, np.minimum(straight, 255), 0).astype(np.uint8)
        return rgba

    def to_rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB; only meaningful over an opaque background."""
        return self.premultiplied()[..., :3]


def output_size(strokes: StrokeList, scale: float = 1.0, width: int | None = None) -> tuple[int, int]:
    """Pixel size of a rendering at `scale`, or at an exact output `width` (height follows)."""
    if width is not None:
        if width < 1:
            raise BrushworkError(f"output width must be at least 1 pixel, got {width}")
        scale = width / strokes.width
    if not (math.isfinite(scale) and scale > 0):
        raise BrushworkError(f"scale must be a positive number, got {scale}")
    out_w = width if width is not None else max(1, round(strokes.width * scale))
    return out_w, max(1, round(strokes.height * scale))


def render(
    strokes: StrokeList,
    *,
    scale: float = 1.0,
    width: int | None = None,
    transparent: bool = False,
) -> np.ndarray:
    """Draw a stroke list: (H, W, 3) uint8 RGB over its background, or (H, W, 4) straight-alpha
    RGBA when `transparent` (or the list has no background)."""
    out_w, out_h = output_size(strokes, scale, width)
    transparent = transparent or strokes.background is None
    canvas = RasterCanvas(
        strokes.width,
        strokes.height,
        out_width=out_w,
        out_height=out_h,
        background=None if transparent else strokes.background,
    )
    for stroke in strokes.strokes:
        canvas.draw(stroke)
    return canvas.to_rgba() if transparent else canvas.to_rgb()


@dataclass(frozen=True)
class StrokePatch:
    """One stroke drawn alone in a window: in an S x S square, the neural renderer's training target.

    `premultiplied` is colour x alpha (H, W, 3) and `alpha` the coverage x opacity (H, W), both
    float32 in 0..1, so compositing over a canvas is `premultiplied + canvas * (1 - alpha)`.
    """

    premultiplied: np.ndarray
    alpha: np.ndarray


def render_patch(stroke: Stroke, width: int, height: int | None = None, *, x: int = 0, y: int = 0) -> StrokePatch:
    """Draw one stroke alone on transparency, in the width x height (default: square) window of
    its canvas whose top-left pixel is (x, y)."""
    canvas = RasterCanvas(width, height or width)
    canvas.draw(stroke.transformed(1.0, -x, -y) if x or y else stroke)
    rgba = canvas.premultiplied().astype(np.float32) / 255.0
    return StrokePatch(rgba[..., :3], rgba[..., 3])
