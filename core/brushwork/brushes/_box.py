"""What the box brush kinds (a mark placed by centre, length along its axis, width across and angle)
have in common: placement, bounds, area, silhouette, neural-renderer features and normalised extents."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from brushwork.brushes._geometry import box_points
from brushwork.brushes.base import Box, BrushKind, Point, fields
from brushwork.brushes.paint import mean_colour, num

if TYPE_CHECKING:
    import torch

    from brushwork.strokes import Stroke

BOX_FIELDS = (
    fields("cx", "x", "centre x")
    + fields("cy", "y", "centre y")
    + fields("length", "size", "extent along the stroke direction")
    + fields("width", "size", "extent across the stroke direction")
    + fields("angle", "angle", "direction of the length axis, radians from +x towards +y")
)
# Extents the neural renderer spans, as fractions of its block side.
BOX_LENGTH = (0.05, 0.9)
BOX_WIDTH = (0.02, 0.4)


class BoxBrush:
    """Shared part of a box brush: the mark lives in unit space, x in [-0.5, 0.5] along the length,
    y in [-0.5, 0.5] across; strokes place it with translate(cx, cy) rotate(angle) scale(length, width)."""

    kind: BrushKind
    neural_extents: Mapping[str, tuple[float, float]] = {"length": BOX_LENGTH, "width": BOX_WIDTH}
    neural_coordinates = "position in the stroke frame with a positional encoding"
    refine_steps = 60
    silhouette: tuple[Point, ...]  # the mark's outline in unit space

    @property
    def neural_feature_count(self) -> int:
        from brushwork.neural.geometry import BOX_FEATURES

        return BOX_FEATURES

    def neural_features(self, canvas: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from brushwork.neural.geometry import box_features

        return box_features(canvas, x, y)

    def support(self, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, margin: float) -> torch.Tensor:
        from brushwork.brushes import _soft

        return _soft.box_support(p, xs, ys, margin)

    def placed(self, stroke: Stroke, points: tuple[Point, ...]) -> list[Point]:
        """Unit-space points of the mark on the canvas."""
        return box_points(stroke["cx"], stroke["cy"], stroke["angle"], points, stroke["length"], stroke["width"])

    @staticmethod
    def place(ctx: Any, stroke: Stroke) -> None:
        """Move a cairo context into the stroke's frame (unscaled)."""
        ctx.translate(stroke["cx"], stroke["cy"])
        ctx.rotate(stroke["angle"])

    @staticmethod
    def placement(stroke: Stroke) -> str:
        """The same move as an SVG transform."""
        return f"translate({num(stroke['cx'])} {num(stroke['cy'])}) rotate({math.degrees(stroke['angle']):.4f})"

    def bounds(self, stroke: Stroke) -> Box:
        left, top, right, bottom = self.bounds_of(np.array([stroke.params]))[0].tolist()
        return left, top, right, bottom

    def bounds_of(self, params: np.ndarray) -> np.ndarray:
        # Every mark lies within its length x width rectangle (the unit square in its own frame):
        # that rectangle's box once turned, not the circle around it (a fifth fewer pixels over the
        # windows of a painting's strokes).
        cx, cy, length, width, angle = params[:, :5].T  # BOX_FIELDS lead every box brush's fields
        cos, sin = np.abs(np.cos(angle)), np.abs(np.sin(angle))
        half_x, half_y = 0.5 * (length * cos + width * sin), 0.5 * (length * sin + width * cos)
        return np.stack([cx - half_x, cy - half_y, cx + half_x, cy + half_y], axis=1)

    def area(self, stroke: Stroke) -> float:
        return stroke["length"] * stroke["width"]

    def colour(self, stroke: Stroke) -> tuple[float, float, float]:
        return mean_colour(stroke, self.kind.names)

    def svg_definitions(self, dwg: Any) -> None:
        """Nothing shared by default: each stroke's element is complete."""

    def outline(self, stroke: Stroke) -> Any:
        from shapely import Polygon

        return Polygon(self.placed(stroke, self.silhouette))
