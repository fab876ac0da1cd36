"""What the brush kinds drawn along a quadratic Bezier (x0 y0 x1 y1 x2 y2, then a width at each
end) have in common: bounds, area, silhouette, neural-renderer features and their normalised widths."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from brushwork.brushes._geometry import bezier_length, swept_outline, swept_polygon
from brushwork.brushes.base import Box, BrushKind, fields
from brushwork.brushes.paint import mean_colour

if TYPE_CHECKING:
    import torch

    from brushwork.strokes import Stroke

BEZIER_FIELDS = (
    fields("x0", "x", "start point x")
    + fields("y0", "y", "start point y")
    + fields("x1", "x", "control point x")
    + fields("y1", "y", "control point y")
    + fields("x2", "x", "end point x")
    + fields("y2", "y", "end point y")
)
# Stroke widths (diameters) the neural renderer spans, as fractions of its block side.
BEZIER_WIDTH = (0.01, 0.25)


class BezierBrush:
    """Shared part of a Bezier brush. `width_fields` names its width at the start and at the end
    (the same field for a constant width)."""

    kind: BrushKind
    width_fields: tuple[str, str]
    neural_width: tuple[float, float] = BEZIER_WIDTH
    neural_coordinates = "signed distance to the swept-disc edge, nearest curve parameter, position along the chord"
    refine_steps = 60

    @property
    def neural_extents(self) -> Mapping[str, tuple[float, float]]:
        return {name: self.neural_width for name in self.width_fields}

    @property
    def neural_feature_count(self) -> int:
        from brushwork.neural.geometry import BEZIER_FEATURES

        return BEZIER_FEATURES

    def neural_features(self, canvas: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from brushwork.neural.geometry import bezier_features

        return bezier_features(canvas, x, y, *(self.kind.index(name) for name in self.width_fields))

    def support(self, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, margin: float) -> torch.Tensor:
        from brushwork.brushes import _soft

        return _soft.bezier_support(p, xs, ys, margin, *(self.kind.index(name) for name in self.width_fields))

    def widths(self, stroke: Stroke) -> tuple[float, float]:
        return stroke[self.width_fields[0]], stroke[self.width_fields[1]]

    def bounds(self, stroke: Stroke) -> Box:
        left, top, right, bottom = self.bounds_of(np.array([stroke.params]))[0].tolist()
        return left, top, right, bottom

    def bounds_of(self, params: np.ndarray) -> np.ndarray:
        # A quadratic Bezier lies in the hull of its control points.
        xs, ys = params[:, 0:6:2], params[:, 1:6:2]
        start, end = (self.kind.index(name) for name in self.width_fields)
        reach = 0.5 * np.maximum(params[:, start], params[:, end])
        return np.stack([xs.min(1) - reach, ys.min(1) - reach, xs.max(1) + reach, ys.max(1) + reach], axis=1)

    def area(self, stroke: Stroke) -> float:
        start, end = self.widths(stroke)
        mean_width = (start + end) / 2
        return bezier_length(stroke.params) * mean_width + math.pi * mean_width * mean_width / 4  # round ends

    def colour(self, stroke: Stroke) -> tuple[float, float, float]:
        return mean_colour(stroke, self.kind.names)

    def svg_definitions(self, dwg: Any) -> None:
        """Nothing shared: each stroke's element is complete."""

    def outline(self, stroke: Stroke) -> Any:
        start, end = self.widths(stroke)
        return swept_polygon(swept_outline(stroke.params, start / 2, end / 2))
