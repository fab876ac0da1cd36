"""What a brush kind is: its parameter layout (`BrushKind`) and everything drawn or measured from
it (the `Brush` protocol). One module per kind implements the protocol; `brushwork.brushes` lists
them. Torch-free: the differentiable and neural parts import torch when they are called."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch

    from brushwork.strokes import Stroke

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in canvas pixels


@dataclass(frozen=True)
class Field:
    """One parameter of a brush kind. `role` decides its valid range (see `strokes.field_range`)."""

    name: str
    role: str  # "x" | "y" | "size" | "color" | "opacity" | "angle"
    doc: str


@dataclass(frozen=True)
class BrushKind:
    name: str
    label: str  # what the editors' lists show
    description: str
    fields: tuple[Field, ...]

    # Cached: `Stroke["cx"]` asks for an index hundreds of thousands of times in a painting.
    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @cached_property
    def _indices(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def index(self, name: str) -> int:
        try:
            return self._indices[name]
        except KeyError:
            raise ValueError(f"{self.name} has no parameter {name!r}") from None


def fields(spec: str, role: str, doc: str) -> tuple[Field, ...]:
    """Fields of one role and meaning, e.g. fields("r g b", "color", "colour channel")."""
    return tuple(Field(name, role, doc) for name in spec.split())


class Brush(Protocol):
    """Everything about one brush kind. Parameters are the kind's fields in order, in canvas pixels."""

    kind: BrushKind
    neural_coordinates: str  # what the neural renderer's features are, in words (its model card says it)
    # Global refinement steps for a 1,000-stroke painting (`painter.refine.default_iterations` scales
    # it for other budgets): more where the kind's soft drawing makes a step cheap.
    refine_steps: int

    @property
    def neural_extents(self) -> Mapping[str, tuple[float, float]]:
        """Normalised ranges of the neural renderer's extents, as fractions of its block side, per
        size field: what `neural.layout` maps [0, 1] onto."""

    @property
    def neural_feature_count(self) -> int:
        """Channels of `neural_features`."""

    def draw(self, ctx: Any, stroke: Stroke) -> None:
        """Draw the stroke on a cairo context, exactly as its SVG element describes it."""

    def svg_definitions(self, dwg: Any) -> None:
        """Add what every stroke of this kind refers to (symbols, masks) to an svgwrite drawing's
        defs; called once per document that holds the kind."""

    def svg_element(self, dwg: Any, stroke: Stroke, index: int) -> Any:
        """The stroke's SVG element (svgwrite), the `index`-th of its document."""

    def flat_element(self, dwg: Any, stroke: Stroke, index: int) -> Any:
        """The same drawing with plain paths and gradients only, in canvas coordinates (no symbol,
        use, mask or transform), for editors' vector layers."""

    def outline(self, stroke: Stroke) -> Any:
        """The stroke's silhouette as one shapely geometry, in canvas pixels."""

    def soft_draw(self, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable drawing of N strokes (p: (N, d) parameters) at pixel centres xs, ys
        (broadcasting to (N, h, w); the painter passes (N, 1, w) and (N, h, 1)): premultiplied colour
        (N, 3, h, w) and alpha (N, h, w)."""

    def neural_features(self, canvas: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Parameters in pixels of an S x S block, canvas[..., i] broadcasting against pixel-centre
        coordinates x and y -> (*shape of x, neural_feature_count): per-pixel coordinates relative
        to the stroke (see `neural.geometry`)."""

    def support(self, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, margin: float) -> torch.Tensor:
        """(N, d) canonical parameters, pixel centres xs, ys broadcasting against (N, 1, 1) -> (N, h, w)
        bool: every pixel within `margin` pixels of the stroke (more is allowed). The neural and the
        soft renderer draw only there and leave the rest empty."""

    def bounds(self, stroke: Stroke) -> Box:
        """A box that holds every mark of the stroke (not clipped to the canvas)."""

    def bounds_of(self, params: np.ndarray) -> np.ndarray:
        """`bounds` of N strokes at once: (N, d) parameters -> (N, 4) left, top, right, bottom."""

    def area(self, stroke: Stroke) -> float:
        """Roughly the area the stroke covers, in canvas pixels squared (ranks strokes by size)."""

    def colour(self, stroke: Stroke) -> tuple[float, float, float]:
        """The stroke's mean colour."""
