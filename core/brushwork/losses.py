"""Losses: pixel L1 and the Sinkhorn divergence between mass maps (the painter's), and the Gram-matrix
style loss (the painter's style mode and the stylizer's Gatys method). One implementation each.

Pure functions on batched tensors, so each is easy to test on its own; every tensor they make is on
their input's device.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


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


def epsilon_schedule(diameter: float, blur: float, scaling: float) -> list[float]:
    """Temperatures of the annealed Sinkhorn loop for the squared-distance cost (GeomLoss's
    schedule for p = 2): from diameter² down by scaling² per iteration, ending at blur²."""
    steps = np.arange(2 * np.log(diameter), 2 * np.log(blur), 2 * np.log(scaling))
    return [diameter**2, *(float(np.exp(e)) for e in steps), blur**2]


def _grid_softmin(eps: float, kernel_cost: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The soft C-transform -eps log sum_j exp(h_j - C_ij / eps) on a G x G grid, h (..., G, G).

    The cost |p_i - p_j|² / 2 between cell centres is a sum of a cost along x and one along y, so
    the kernel exp(-C / eps) is a product of a G x G kernel along each axis and the sum over the G²
    cells is two small matrix products. Taken in float64, after shifting h by its largest value,
    every term is representable down to the smallest temperatures the painter uses (the kernel's
    smallest entry is exp(-0.5 / blur²)); MPS has no float64, and float32 holds the painter's
    (blur 0.1 on an 8 x 8 grid: no sum below exp(-77))."""
    wide = torch.float32 if h.device.type == "mps" else torch.float64
    kernel = torch.exp(-kernel_cost.to(wide) / eps)
    top = h.amax(dim=(-2, -1), keepdim=True)
    sums = kernel @ torch.exp((h - top).to(wide)) @ kernel
    return (-eps * (sums.log() + top)).to(h.dtype)


def sinkhorn_divergence(a: torch.Tensor, b: torch.Tensor, blur: float = 0.1, scaling: float = 0.5) -> torch.Tensor:
    """Debiased Sinkhorn divergence between batches of mass maps on the same square grid, (B,).

    Zero when a == b, growing with the distance mass has to travel, so its gradient moves paint
    towards where the target has it even where they do not overlap and a pixel loss is flat.
    `blur` is the length scale (fraction of the map side) below which mass is not told apart.

    GeomLoss's symmetric, annealed log-domain Sinkhorn (SamplesLoss("sinkhorn", p=2, debias=True),
    the same value and gradient), written for the painter's small maps: the four transport problems
    (a->b, b->a, a->a, b->b) of every map of the batch are solved in one batched tensor per
    iteration, each soft C-transform two small matrix products. As in GeomLoss, the loop runs
    without autograd and the gradient is the final dual potentials (the envelope theorem).
    """
    batch, cells = a.shape
    grid = math.isqrt(cells)
    centres = (torch.arange(grid, dtype=a.dtype, device=a.device) + 0.5) / grid
    axis_cost = (centres[:, None] - centres[None, :]) ** 2 / 2
    # Diameter of the point cloud, the loop's first length scale (a single cell: any scale will do).
    diameter = max(math.sqrt(2) * (grid - 1) / grid, blur)
    schedule = epsilon_schedule(diameter, blur, scaling)
    with torch.no_grad():
        a_log, b_log = (torch.where(m > 0, m.log(), -100000.0).reshape(batch, grid, grid) for m in (a, b))
        # Problems in the order f_ba (on a, from b), g_ab (on b, from a), f_aa, g_bb; each one's
        # update reads the log-weights of the measure it comes from and the potential `partner`.
        weights = torch.stack([b_log, a_log, a_log, b_log])
        partner = [1, 0, 2, 3]
        potentials = _grid_softmin(schedule[0], axis_cost, weights)
        for eps in schedule:
            update = _grid_softmin(eps, axis_cost, weights + potentials[partner] / eps)
            potentials = 0.5 * (potentials + update)
        eps = schedule[-1]
        f_ba, g_ab, f_aa, g_bb = _grid_softmin(eps, axis_cost, weights + potentials[partner] / eps).flatten(2)
    return (a * (f_ba - f_aa)).sum(1) + (b * (g_ab - g_bb)).sum(1)


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
