"""Tile plans for high-resolution images.

An image (already padded to a multiple of ALIGN) is cut into core tiles that cover it exactly once.
Each core tile is processed inside a larger window (the core plus `margin` pixels on every side,
clipped to the image) so that the networks' receptive fields see real neighbouring pixels rather than
padding; only the core of each result is kept. All coordinates are multiples of ALIGN, so the pooling
grid inside every window lines up with the whole image's and features of overlapping windows agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from brushwork.settings import ALIGN

MIN_SIDE = 32  # the level-5 features must be at least 2 px wide for their reflection padding


@dataclass(frozen=True)
class Tile:
    """A core region (kept) inside a window (processed), both as [y0, y1) × [x0, x1) in image pixels."""

    y0: int
    y1: int
    x0: int
    x1: int
    wy0: int
    wy1: int
    wx0: int
    wx1: int

    def window(self, image: torch.Tensor) -> torch.Tensor:
        return image[..., self.wy0:self.wy1, self.wx0:self.wx1]

    def core_of_window(self, result: torch.Tensor, scale: int = 1) -> torch.Tensor:
        """The core part of a result computed on the window, at 1/scale resolution (features)."""
        return result[..., (self.y0 - self.wy0) // scale:(self.y1 - self.wy0) // scale,
                      (self.x0 - self.wx0) // scale:(self.x1 - self.wx0) // scale]

    def core(self, image: torch.Tensor, scale: int = 1) -> torch.Tensor:
        return image[..., self.y0 // scale:self.y1 // scale, self.x0 // scale:self.x1 // scale]


def round_up(value: int, step: int = ALIGN) -> int:
    return int(math.ceil(value / step) * step)


def plan(height: int, width: int, tile: int, margin: int) -> list[Tile]:
    """Tiles covering a height × width image (multiples of ALIGN); one tile when it fits in `tile`."""
    if height % ALIGN or width % ALIGN:
        raise ValueError(f"image {width}x{height} is not padded to a multiple of {ALIGN}")
    tile = max(ALIGN, tile // ALIGN * ALIGN)
    margin = round_up(margin)
    if height <= tile and width <= tile:
        return [Tile(0, height, 0, width, 0, height, 0, width)]
    tiles = []
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            tiles.append(Tile(y0, y1, x0, x1, max(0, y0 - margin), min(height, y1 + margin),
                              max(0, x0 - margin), min(width, x1 + margin)))
    return tiles


def borders(tiles: list[Tile]) -> tuple[list[int], list[int]]:
    """Rows and columns where two core tiles meet (where a seam would be)."""
    rows = sorted({t.y0 for t in tiles if t.y0 > 0})
    cols = sorted({t.x0 for t in tiles if t.x0 > 0})
    return rows, cols


def pad_to_grid(image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (N, C, H, W) on the bottom/right to multiples of ALIGN (and at least MIN_SIDE), by reflection
    where the image is large enough (it continues textures without a hard edge), else by replication."""
    height, width = image.shape[-2:]
    new_h, new_w = max(MIN_SIDE, round_up(height)), max(MIN_SIDE, round_up(width))
    pad_h, pad_w = new_h - height, new_w - width
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        image = F.pad(image, (0, pad_w, 0, pad_h), mode=mode)
    return image, (height, width)


def seam_energy_ratio(image, rows: list[int], cols: list[int], period: int = ALIGN, reach: int = 4) -> float:
    """Mean squared intensity step across tile borders divided by the same across comparable non-border
    lines; `image` is (H, W, C).

    A visible seam is a line of unusually large steps; with no seams the ratio is about 1. The
    reference lines are the `reach` lines on each side of every border at multiples of `period`: at the
    same position modulo 16 because the decoders upsample by nearest neighbour on a 16-px grid that tile
    borders always follow (pixel pairs at other grid phases differ in step size even in an untiled
    image), and nearby so that the reference crosses the same scenery (one line through sky against the
    whole image's average would measure the picture, not the seam).
    """
    pixels = np.asarray(image, dtype=np.float64)
    dx = ((pixels[:, 1:] - pixels[:, :-1]) ** 2).sum(axis=-1)  # dx[:, c - 1]: step from column c-1 to c
    dy = ((pixels[1:] - pixels[:-1]) ** 2).sum(axis=-1)
    border_steps, reference_steps = [], []
    for lines, steps, axis in ((cols, dx, 1), (rows, dy, 0)):
        border = {c - 1 for c in lines if 0 < c < pixels.shape[axis]}
        reference = sorted({b + k * period for b in border for k in range(-reach, reach + 1) if k}
                           .difference(border).intersection(range(steps.shape[axis])))
        border_steps += [steps.take(sorted(border), axis=axis).ravel()]
        reference_steps += [steps.take(reference, axis=axis).ravel()]
    border_all, reference_all = np.concatenate(border_steps), np.concatenate(reference_steps)
    if border_all.size == 0 or reference_all.size == 0:
        raise ValueError("no tile borders (or no comparable lines) to measure")
    return float(border_all.mean() / reference_all.mean())
