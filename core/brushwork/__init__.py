"""brushwork: photos into paintings made of real, vector brush strokes."""

from brushwork.errors import BrushworkError, InvalidStrokeError, StrokeFileError
from brushwork.strokes import BRUSHES, BrushKind, Stroke, StrokeList

__version__ = "0.1.0"


def __getattr__(name: str):
    # `brushwork.animate(strokes, path, ...)` loads the animation writers (cairo, Pillow, ffmpeg)
    # only when used, so `import brushwork` stays light.
    if name == "animate":
        from brushwork.animation import animate

        return animate
    if name in ("batch", "video", "stylize"):
        # `brushwork.batch(...)` / `.video(...)` / `.stylize(...)`: the callable packages, imported on first use.
        import importlib

        return importlib.import_module(f"brushwork.{name}")
    raise AttributeError(f"module 'brushwork' has no attribute {name!r}")

__all__ = [
    "BRUSHES",
    "BrushKind",
    "BrushworkError",
    "InvalidStrokeError",
    "Stroke",
    "StrokeFileError",
    "StrokeList",
    "__version__",
    "animate",
    "batch",
    "stylize",
    "video",
]
