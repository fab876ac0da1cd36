"""Feature transforms (AdaIN, WCT), their statistics, and per-pixel colour operations.

Every transform here reduces to one affine map per level, `f ↦ M f + b` at each feature location,
computed from statistics of the whole content image. That is what lets high-resolution images run tile
by tile: statistics are accumulated over all tiles first (`FeatureStats.add`), then the same map is
applied to every tile, so no tile sees different statistics from its neighbour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from brushwork.errors import BrushworkError

ADAIN_EPS = 1e-5  # added to variances (as in Huang & Belongie's AdaIN) so flat features do not divide by 0
EIG_FLOOR = 1e-5  # eigenvalues below this fraction of the largest are raised to it before whitening


def _flatten(feat: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) or (C, H, W) → (C, H*W)."""
    if feat.ndim == 4:
        if feat.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {feat.shape[0]}")
        feat = feat[0]
    return feat.reshape(feat.shape[0], -1)


@dataclass
class FeatureStats:
    """Weighted first and second moments of C-channel features, accumulated in float64."""

    channels: int
    weight: float = 0.0
    total: torch.Tensor = field(default=None)  # type: ignore[assignment]  # (C,) Σ w f
    outer: torch.Tensor = field(default=None)  # type: ignore[assignment]  # (C, C) Σ w f fᵀ

    def __post_init__(self) -> None:
        if self.total is None:
            self.total = torch.zeros(self.channels, dtype=torch.float64)
        if self.outer is None:
            self.outer = torch.zeros(self.channels, self.channels, dtype=torch.float64)

    @classmethod
    def of(cls, feat: torch.Tensor, mask: torch.Tensor | None = None) -> "FeatureStats":
        stats = cls(feat.shape[-3])
        stats.add(feat, mask)
        return stats

    def add(self, feat: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Accumulate features (optionally weighted per location by `mask`, shaped like feat's H×W)."""
        f = _flatten(feat).double()
        if mask is None:
            self.weight += f.shape[1]
            self.total += f.sum(dim=1)
            self.outer += f @ f.T
        else:
            w = mask.reshape(-1).double()
            if w.numel() != f.shape[1]:
                raise ValueError(f"mask has {w.numel()} values for {f.shape[1]} feature locations")
            self.weight += float(w.sum())
            fw = f * w
            self.total += fw.sum(dim=1)
            self.outer += fw @ f.T

    @property
    def mean(self) -> torch.Tensor:
        self._check()
        return self.total / self.weight

    @property
    def cov(self) -> torch.Tensor:
        """Population covariance, symmetrised against rounding."""
        mean = self.mean
        cov = self.outer / self.weight - torch.outer(mean, mean)
        return (cov + cov.T) / 2

    @property
    def std(self) -> torch.Tensor:
        return torch.sqrt(torch.clamp(torch.diagonal(self.cov), min=0) + ADAIN_EPS)

    def _check(self) -> None:
        if self.weight <= 0:
            raise BrushworkError("the mask selects no pixels: nothing to stylize")


@dataclass(frozen=True)
class AffineMap:
    """f ↦ matrix @ f + bias at every feature location (float32 for speed; built in float64)."""

    matrix: torch.Tensor  # (C, C)
    bias: torch.Tensor  # (C,)

    def apply(self, feat: torch.Tensor) -> torch.Tensor:
        shape = feat.shape
        flat = _flatten(feat)
        out = torch.addmm(self.bias.view(-1, 1).to(flat.dtype), self.matrix.to(flat.dtype), flat)
        return out.reshape(shape)

    @classmethod
    def blend(cls, matrix: torch.Tensor, target_mean: torch.Tensor, content_mean: torch.Tensor,
              alpha: float) -> "AffineMap":
        """alpha·(M (f − μc) + μs) + (1 − alpha)·f, as one map."""
        eye = torch.eye(matrix.shape[0], dtype=torch.float64)
        full = alpha * matrix + (1 - alpha) * eye
        bias = alpha * (target_mean - matrix @ content_mean)
        return cls(full.float(), bias.float())


def adain_map(content: FeatureStats, styles: Sequence[FeatureStats], style_weights: Sequence[float],
              alpha: float = 1.0) -> AffineMap:
    """AdaIN: each channel's mean/std moved to the style's; several styles blend their mean and std."""
    target_std = sum((w * s.std for w, s in zip(style_weights, styles, strict=True)), torch.zeros_like(content.std))
    target_mean = sum((w * s.mean for w, s in zip(style_weights, styles, strict=True)),
                      torch.zeros_like(content.mean))
    return AffineMap.blend(torch.diag(target_std / content.std), target_mean, content.mean, alpha)


def _eigh(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric eigendecomposition, eigenvalues clipped at 0 (rounding makes tiny ones negative).

    Run on one thread: LAPACK's many small steps on a ≤512×512 matrix spend more time synchronising
    threads than computing (measured 0.3 s with 2 busy threads vs 3 ms with one, for 128×128).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        values, vectors = torch.linalg.eigh(cov)
    finally:
        torch.set_num_threads(threads)
    return torch.clamp(values, min=0), vectors


def wct_map(content: FeatureStats, styles: Sequence[FeatureStats], style_weights: Sequence[float],
            alpha: float = 1.0, floor: float = EIG_FLOOR) -> AffineMap:
    """Whitening–colouring (Li et al. 2017) through symmetric eigendecompositions in float64.

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


def adain(content_feat: torch.Tensor, style_feat: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """AdaIN of one feature map against one style's (convenience for single images)."""
    return adain_map(FeatureStats.of(content_feat), [FeatureStats.of(style_feat)], [1.0], alpha).apply(content_feat)


def wct(content_feat: torch.Tensor, style_feat: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """WCT of one feature map against one style's (convenience for single images)."""
    return wct_map(FeatureStats.of(content_feat), [FeatureStats.of(style_feat)], [1.0], alpha).apply(content_feat)


def gram(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix normalised by the number of locations and channels: (C, C)."""
    f = _flatten(feat)
    return (f @ f.T) / f.numel()


# BT.601 full-range RGB ↔ YCbCr: colour preservation swaps in the content's chroma, keeping the stylized
# luminance (Gatys et al. 2016, "Preserving colour in neural artistic style transfer").
_TO_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_FROM_YCC = torch.linalg.inv(_TO_YCC)


def preserve_color(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Stylized luminance with the content's chroma; (..., 3, H, W) RGB in [0, 1]."""
    ycc_s = torch.einsum("ij,...jhw->...ihw", _TO_YCC, stylized)
    ycc_c = torch.einsum("ij,...jhw->...ihw", _TO_YCC, content)
    mixed = torch.cat([ycc_s[..., :1, :, :], ycc_c[..., 1:, :, :]], dim=-3)
    return torch.einsum("ij,...jhw->...ihw", _FROM_YCC, mixed).clamp(0, 1)
