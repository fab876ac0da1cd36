"""The brush kinds, one module each, and the registry everything else asks about them.

Adding a kind is one module here (a `Brush`, see `base`) plus one entry in `_KINDS`, and its trained
neural renderer in renderers/<name>/. Torch-free to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from brushwork.brushes import markerpen, oilbrush, pencil, tape, watercolor
from brushwork.brushes.base import Brush, BrushKind, Field
from brushwork.errors import BrushworkError

if TYPE_CHECKING:
    from brushwork.strokes import Stroke

# The order every list of brushes follows (CLI help, editors' menus, stroke counts).
_KINDS: tuple[Brush, ...] = (
    markerpen.BRUSH,
    watercolor.BRUSH,
    oilbrush.BRUSH,
    tape.BRUSH,
    pencil.BRUSH,
)
_BY_NAME: dict[str, Brush] = {brush.kind.name: brush for brush in _KINDS}
DEFAULT = oilbrush.BRUSH.kind.name  # what paints when no brush is asked for

__all__ = ["DEFAULT", "Brush", "BrushKind", "Field", "get", "names", "pixel_box", "pixel_boxes", "registered"]


def registered() -> tuple[Brush, ...]:
    """Every brush kind, in the stable order of the lists."""
    return _KINDS


def names() -> tuple[str, ...]:
    return tuple(_BY_NAME)


def get(name: str) -> Brush:
    """The brush kind called `name`."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise BrushworkError(f"unknown brush {name!r}; expected one of {', '.join(_BY_NAME)}") from None


def pixel_box(stroke: Stroke, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the whole pixels that hold every mark of the stroke, one more on each side
    for antialiasing, clipped to a width x height canvas (empty when x1 <= x0 or y1 <= y0)."""
    x0, y0, x1, y1 = pixel_boxes(stroke.kind, np.array([stroke.params]), width, height)[0].tolist()
    return x0, y0, x1, y1


def pixel_boxes(kind: str, params: np.ndarray, width: int, height: int) -> np.ndarray:
    """`pixel_box` of N strokes of one kind at once: (N, d) parameters -> (N, 4) integer x0, y0, x1, y1."""
    left, top, right, bottom = get(kind).bounds_of(params).T
    boxes = [np.maximum(0, np.floor(left) - 1), np.maximum(0, np.floor(top) - 1),
             np.minimum(width, np.ceil(right) + 1), np.minimum(height, np.ceil(bottom) + 1)]
    return np.stack(boxes, axis=1).astype(int)
