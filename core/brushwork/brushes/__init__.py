"""The brush kinds, one module each, and the registry everything else asks about them.

Adding a kind is one module here (a `Brush`, see `base`) plus one entry in `_KINDS`, and its trained
neural renderer in renderers/<name>/. Torch-free to import.
"""

from __future__ import annotations

from brushwork.brushes import markerpen, oilbrush, pencil, tape, watercolor
from brushwork.brushes.base import Brush, BrushKind, Field
from brushwork.errors import BrushworkError

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

__all__ = ["DEFAULT", "Brush", "BrushKind", "Field", "get", "names", "registered"]


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
