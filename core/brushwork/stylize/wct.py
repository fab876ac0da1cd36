"""WCT, whitening–colouring transform (Li et al. 2017): the content features' covariance replaced by
the style's. A feed-forward method: `stylize.methods` runs it through the shared encode–transform–decode
pipeline, usually over levels 5 → 1."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from brushwork.stylize.transforms import AffineMap, FeatureStats

EIG_FLOOR = 1e-5  # eigenvalues below this fraction of the largest are raised to it before whitening


def _eigh(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric eigendecomposition, eigenvalues clipped at 0 (rounding makes tiny ones negative).

    MPS has neither float64 nor eigh: there the (at most 512×512) matrix goes to the CPU, is decomposed
    in float64 and its factors come back in the covariance's dtype, so WCT is as accurate on a Mac as
    elsewhere at the cost of two small copies per level.

    On the CPU it runs on one thread: LAPACK's many small steps on a ≤512×512 matrix spend more time
    synchronising threads than computing (measured 0.3 s with 2 busy threads vs 3 ms with one, for 128×128).
    """
    if cov.device.type == "mps":
        values, vectors = _eigh(cov.to("cpu", torch.float64))
        return values.to(cov.device, cov.dtype), vectors.to(cov.device, cov.dtype)
    if cov.device.type != "cpu":
        values, vectors = torch.linalg.eigh(cov)
        return torch.clamp(values, min=0), vectors
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        values, vectors = torch.linalg.eigh(cov)
    finally:
        torch.set_num_threads(threads)
    return torch.clamp(values, min=0), vectors


def wct_map(content: FeatureStats, styles: Sequence[FeatureStats], style_weights: Sequence[float],
            alpha: float = 1.0, floor: float = EIG_FLOOR) -> AffineMap:
    """Whitening–colouring through symmetric eigendecompositions in float64 (see `_eigh` for MPS).

    The content covariance's eigenvalues are floored at `floor`·λmax (at least 1e-12) before the inverse
    square root, so near-degenerate directions (common in ReLU features) are not blown up into noise.
    Several styles blend their colouring matrices and means (a weighted sum of WCT outputs).
    """
    values, vectors = _eigh(content.cov)
    limit = max(float(values.max()) * floor, 1e-12)
    whiten = vectors @ torch.diag(torch.clamp(values, min=limit).rsqrt()) @ vectors.T
    colour = torch.zeros_like(whiten)
    target_mean = torch.zeros_like(content.mean)
    for w, style in zip(style_weights, styles, strict=True):
        s_values, s_vectors = _eigh(style.cov)
        colour += w * (s_vectors @ torch.diag(s_values.sqrt()) @ s_vectors.T)
        target_mean += w * style.mean
    return AffineMap.blend(colour @ whiten, target_mean, content.mean, alpha)


def wct(content_feat: torch.Tensor, style_feat: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """WCT of one feature map against one style's (convenience for single images)."""
    return wct_map(FeatureStats.of(content_feat), [FeatureStats.of(style_feat)], [1.0], alpha).apply(content_feat)
