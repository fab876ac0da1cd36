"""Test clips made from a still photo: a camera panning over it, zooming into it, standing still (with a
little sensor noise, as a real still camera has), or still while an object enters, so tests and benchmarks
need no video file."""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image

from brushwork.errors import BrushworkError

Motion = Literal["pan", "zoom", "still", "enter"]
MOTIONS: tuple[Motion, ...] = ("pan", "zoom", "still", "enter")


def camera_clip(photo: np.ndarray, frames: int, width: int, height: int, motion: Motion = "pan",
                speed: float = 2.0, noise: float = 2.0, seed: int = 0) -> list[np.ndarray]:
    """`frames` frames ((height, width, 3) uint8 RGB) of a camera over `photo` ((H, W, 3) uint8 or
    float in 0..1). The view covers 80 % of the photo's shorter fit; "pan" moves it right by `speed`
    output pixels a frame, "zoom" narrows it by `speed` output pixels a frame about its centre, "still"
    keeps it; "enter" keeps it while a dark object (a third of the frame's height) slides in from the
    left, `speed` pixels a frame: the case where whole-image statistics make the colours pump. Every frame
    gets Gaussian noise of `noise` grey levels (seeded)."""
    if motion not in MOTIONS:
        raise BrushworkError(f"motion {motion!r}: expected one of {', '.join(MOTIONS)}")
    if frames < 1 or width < 1 or height < 1:
        raise BrushworkError(f"a clip needs at least one frame of at least 1x1 pixels, got {frames} of "
                             f"{width}x{height}")
    picture = photo if photo.dtype == np.uint8 else (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8)
    image = Image.fromarray(picture)
    ph, pw = picture.shape[:2]
    scale = 0.8 * min(pw / width, ph / height)  # photo pixels per output pixel
    view_w, view_h = width * scale, height * scale
    x0, y0 = (pw - view_w) / 2, (ph - view_h) / 2
    if motion == "pan":  # start left of centre, so the whole pan stays on the photo where it can
        x0 = max(0.0, x0 - (frames - 1) * speed * scale / 2)
    rng = np.random.default_rng(seed)
    clip = []
    for index in range(frames):
        x, y, w, h = x0, y0, view_w, view_h
        if motion == "pan":
            x = min(x0 + index * speed * scale, pw - view_w)
        elif motion == "zoom":
            shrink = min(index * speed * scale, 0.5 * view_w)
            w, h = view_w - shrink, view_h - shrink * view_h / view_w
            x, y = x0 + (view_w - w) / 2, y0 + (view_h - h) / 2
        view = image.transform((width, height), Image.Transform.EXTENT, (x, y, x + w, y + h),
                               resample=Image.Resampling.BICUBIC)
        frame = np.asarray(view, np.float32)
        if motion == "enter":
            frame = frame.copy()
            frame[height // 3:2 * height // 3, :min(width, round(index * speed))] = (20.0, 24.0, 40.0)
        if noise:
            frame = frame + rng.normal(0, noise, frame.shape).astype(np.float32)
        clip.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
    return clip
