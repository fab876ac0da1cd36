"""Losses: pixel L1 and the Sinkhorn divergence between mass maps (the painter's), and the Gram-matrix
style loss (the painter's style mode and the stylizer's Gatys method). One implementation each.

Pure functions on batched tensors, so each is easy to test on its own; every tensor they make is on
their input's device.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from geomloss import SamplesLoss


def pixel_l1(canvas: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error per image, (B,); `weight` (B, 1, H, W) masks pixels out (e.g. outside
    the picture)."""
    error = (canvas - target).abs().mean(dim=1, keepdim=True)
    if weight is None:
        return error.flatten(1).mean(1)
    return (error * weight).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp_min(1e-8)


def mass_map(image: torch.Tensor, grid: int, background: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 3, H, W) images -> (B, grid*grid) probability masses: how much paint differs from the
    background in each cell, normalised to sum 1 (uniform where there is none)."""
    if background is None:
        background = torch.ones(1, 3, 1, 1, dtype=image.dtype, device=image.device)
    ink = (image - background).abs().mean(dim=1, keepdim=True)
    cells = F.adaptive_avg_pool2d(ink, grid).flatten(1) + 1e-4  # every cell keeps a little mass
    return cells / cells.sum(dim=1, keepdim=True)


def grid_points(grid: int, batch: int, device=None) -> torch.Tensor:
    """Cell centres of a grid x grid map in the unit square, (batch, N, 2)."""
    centres = (torch.arange(grid, dtype=torch.float32, device=device) + 0.5) / grid
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    points = torch.stack([x.flatten(), y.flatten()], dim=1)
    return points[None].expand(batch, -1, -1).contiguous()


@functools.lru_cache(maxsize=8)
def _sinkhorn(blur: float, scaling: float) -> SamplesLoss:
    from geomloss import SamplesLoss  # here: the stylizer uses this module's Gram loss without geomloss

    return SamplesLoss("sinkhorn", p=2, blur=blur, scaling=scaling, debias=True, backend="tensorized")


def sinkhorn_divergence(a: torch.Tensor, b: torch.Tensor, blur: float = 0.1, scaling: float = 0.5) -> torch.Tensor:
    """Debiased Sinkhorn divergence between batches of mass maps on the same square grid, (B,).

    Zero when a == b, growing with the distance mass has to travel, so its gradient moves paint
    towards where the target has it even where they do not overlap and a pixel loss is flat.
    `blur` is the length scale (fraction of the map side) below which mass is not told apart.
    """
    grid = math.isqrt(a.shape[1])
    points = grid_points(grid, a.shape[0], a.device)
    return _sinkhorn(blur, scaling)(a, points, b, points)


def gram_sum(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) features -> (B, C, C) sums over locations of f fᵀ, in the features' dtype (tiled
    callers add these up over tiles, then divide by `gram_count`)."""
    flat = features.reshape(features.shape[0], features.shape[1], -1)
    return flat @ flat.transpose(1, 2)


def gram_count(features: torch.Tensor) -> int:
    """What a Gram sum is divided by: channels x locations (so Grams compare across sizes and depths)."""
    return features[0].numel()


def gram(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) features -> (B, C, C) Gram matrices normalised by channels x locations."""
    return gram_sum(features) / gram_count(features)


def gram_loss(grams: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative squared distance ‖G − T‖² / ‖T‖², averaged over the batch of Gram matrices `grams`
    ((B, C, C)) against one target ((1, C, C) or (C, C)): 0 for the target's own statistics, 1 for
    all-zero features, whatever the features' scale."""
    return ((grams - target) ** 2).sum((-2, -1)).mean() / (target**2).sum()
