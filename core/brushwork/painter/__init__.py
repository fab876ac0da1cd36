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
    styles: Sequence[str | os.PathLike | np.ndarray] = (),
    mask: np.ndarray | None = None,
    **settings,
) -> StrokeList:
    """Paint `image` (a path, or an (H, W, 3) float RGB array in 0..1) with exactly `strokes`
    new strokes of `brush` (a kind, or several to mix; default `PaintSettings().brushes`). The
    stroke list has the image's size.

    `callback(progress)` is called after every optimisation step; returning False cancels, which
    raises PaintCancelled carrying the strokes painted so far (Ctrl-C does the same). `resume`
    continues an existing painting. With `styles` (paths or float RGB arrays), the painting takes on
    their style as `style_mode` says (`restyle.paint_in_style`; `mask`, (h, w) 0..1, limits where); with
    `model` (a trained style's name or .pt file) the photo is stylized with it first, then painted.
    Other keywords are `PaintSettings` fields (strokes, seed, working_size, iterations, ot_weight,
    min_size, max_size, opaque, background, exact_forward, ..., and device: "auto", "cpu", "cuda[:N]"
    or "mps"; the same seed gives the same strokes on one device).
    """
    if brush is not None:
        settings["brushes"] = (brush,) if isinstance(brush, str) else tuple(brush)
    options = PaintSettings(**settings)
    target = load_image(image, options.background) if not isinstance(image, np.ndarray) else image
    if styles or options.trained_style:  # a trained style (`model`) needs no style image
        from brushwork.painter.restyle import STYLE_SIDE, paint_in_style

        pictures = [load_image(s, max_side=STYLE_SIDE) if not isinstance(s, np.ndarray) else s for s in styles]
        return paint_in_style(target, pictures, options, resume=resume, callback=callback, mask=mask)
    return paint_array(target, options, resume=resume, callback=callback, extra_loss=extra_loss)
