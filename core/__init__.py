"""brushwork: photos into paintings made of real, vector brush strokes."""

from brushwork.errors import BrushworkError, InvalidStrokeError, StrokeFileError
from brushwork.strokes import BRUSHES, BrushKind, Stroke, StrokeList

__version__ = "0.1.0"

__all__ = [
    "BRUSHES",
    "BrushKind",
    "BrushworkError",
    "InvalidStrokeError",
    "Stroke",
    "StrokeFileError",
    "StrokeList",
    "__version__",
]
