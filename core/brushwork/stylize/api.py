"""`stylize`: content image + style image(s) → stylized image, with any registered method, at any size,
on the device the options name."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from brushwork.device import resolve_device
from brushwork.errors import BrushworkError
from brushwork.images import fit_long_side, load_rgb8, resize_tensor, to_array, to_tensor
from brushwork.settings import StyleOptions
from brushwork.stylize import methods
from brushwork.stylize.job import Job, Progress, Statistics
from brushwork.stylize.models import CD16xModels, Models
from brushwork.stylize.tiling import MIN_SIDE, pad_to_grid
from brushwork.stylize.transforms import preserve_color


def stylize(content: np.ndarray | str | os.PathLike, styles: Sequence[np.ndarray | str | os.PathLike] = (),
            options: StyleOptions | None = None, mask: np.ndarray | None = None, models: Models | None = None,
            progress: Progress | None = None, statistics: Statistics | None = None, **settings: Any) -> np.ndarray:
    """Stylize `content` ((H, W, 3) uint8 RGB, or a picture's path) with one or more style images (arrays
    or paths), or with a trained style and none (`model=`); returns (H', W', 3) uint8. `settings` are
    StyleOptions fields that replace those of `options` (e.g. `stylize("photo.jpg", model="starry_night")`,
    `stylize(photo, [style], method="wct", alpha=0.8)`).

    The output has the content's size, or `options.size` on its long side. `mask` ((h, w) float in [0, 1],
    any size with the content's aspect ratio) limits where the style applies: 0 keeps the content.
    Everything runs on `options.device` (auto: CUDA, else MPS, else CPU); `models` keeps its networks
    there between calls. `progress(fraction, stage)` is called after every level, tile and Gatys step with
    the fraction done (0..1, never decreasing); an exception it raises stops the run there (how callers
    cancel). `statistics` says where the feed-forward methods' whole-image statistics come from (default:
    this image's own; `video.styling.ClipStatistics` shares them across the frames of a clip).
    """
    opts = replace(options or StyleOptions(), **settings).validate(len(styles))
    if not isinstance(content, np.ndarray):
        content = load_rgb8(content, max_side=opts.size)
    pictures = [style if isinstance(style, np.ndarray) else load_rgb8(style, max_side=opts.style_size)
                for style in styles]
    run = methods.method(opts.method)
    device = resolve_device(opts.device)
    source = to_tensor(content, device)
    src_h, src_w = source.shape[-2:]
    height, width = fit_long_side(src_h, src_w, opts.size) if opts.size else (src_h, src_w)
    content_t = resize_tensor(source, height, width)
    style_ts = []
    for style in pictures:
        s = to_tensor(style, device)
        if max(s.shape[-2:]) > opts.style_size:  # shrink only: upscaling adds cost, not texture
            s = resize_tensor(s, *fit_long_side(s.shape[-2], s.shape[-1], opts.style_size))
        style_ts.append(pad_to_grid(s)[0] if min(s.shape[-2:]) < MIN_SIDE else s)
    mask_t = _mask_tensor(mask, height, width, device)
    # On shared cores a team of torch threads waits for its slowest member (imported here: the painter's
    # package brings cairo, which stylizing alone does not need).
    from brushwork.painter.threads import load_aware_threads

    with load_aware_threads():
        result = run(Job(content_t, style_ts, mask_t, opts, models or CD16xModels(), device,
                         progress or (lambda fraction, stage: None), statistics or Statistics()))
    with torch.inference_mode():
        if opts.preserve_color:
            result = preserve_color(result, content_t)
        if mask_t is not None:
            result = mask_t * result + (1 - mask_t) * content_t
    return to_array(result)


def _mask_tensor(mask: np.ndarray | None, height: int, width: int, device: torch.device) -> torch.Tensor | None:
    if mask is None:
        return None
    array = np.asarray(mask, dtype=np.float32)
    if array.ndim != 2:
        raise BrushworkError(f"mask: expected a single-channel (H, W) image, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise BrushworkError("mask: values must be in [0, 1]")
    mh, mw = array.shape
    if abs(mw / mh - width / height) > 0.02 * (width / height) + 1.0 / min(mh, mw):
        raise BrushworkError(f"mask is {mw}x{mh} but the content is {width}x{height}: expected the same aspect ratio")
    return resize_tensor(to_tensor(array[..., None], device), height, width, mode="bilinear")
