"""`brushwork.paint`: a photo in, a stroke list out."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from brushwork.images import load_image
from brushwork.painter.optimise import ExtraLoss, PaintCancelled, Progress, paint_array
from brushwork.settings import PaintSettings
from brushwork.strokes import StrokeList

__all__ = ["PaintCancelled", "PaintSettings", "Progress", "paint"]


def paint(
    image: str | os.PathLike | np.ndarray,
    *,
    brush: str | Sequence[str] | None = None,
    callback: Callable[[Progress], bool | None] | None = None,
    resume: StrokeList | None = None,
    extra_loss: ExtraLoss | None = None,
    **settings,
) -> StrokeList:
    """Paint `image` (a path, or an (H, W, 3) float RGB array in 0..1) with exactly `strokes`
    new strokes of `brush` (a kind, or several to mix; default `PaintSettings().brushes`). The
    stroke list has the image's size.

    `callback(progress)` is called after every optimisation step; returning False cancels, which
    raises PaintCancelled carrying the strokes painted so far (Ctrl-C does the same). `resume`
    continues an existing painting. Other keywords are `PaintSettings` fields (strokes, seed, working_size,
    iterations, ot_weight, min_size, max_size, opaque, background, exact_forward, ..., and device:
    "auto", "cpu", "cuda[:N]" or "mps"; the same seed gives the same strokes on one device).
    """
    if brush is not None:
        settings["brushes"] = (brush,) if isinstance(brush, str) else tuple(brush)
    options = PaintSettings(**settings)
    target = load_image(image, options.background) if not isinstance(image, np.ndarray) else image
    return paint_array(target, options, resume=resume, callback=callback, extra_loss=extra_loss)
