"""What the feed-forward methods share: feature statistics, the affine feature map they all reduce to,
and colour preservation.

Every feed-forward transform (`stylize.adain`, `stylize.wct`) reduces to one affine map per level,
`f ↦ M f + b` at each feature location, computed from statistics of the whole content image. That is
what lets high-resolution images run tile by tile: statistics are accumulated over all tiles first
(`FeatureStats.add`), then the same map is applied to every tile, so no tile sees different statistics
from its neighbour.

Statistics are kept in `device.statistics_dtype`: float64 on the features' device, except on MPS
(no float64 there) where they are float32; `stylize.wct` then runs its eigendecompositions on the CPU
in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from brushwork.device import statistics_dtype
from brushwork.errors import BrushworkError

ADAIN_EPS = 1e-5  # added to variances (as in Huang & Belongie's AdaIN) so flat features do not divide by 0


def _flatten(feat: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) or (C, H, W) → (C, H*W)."""
    if feat.ndim == 4:
        if feat.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {feat.shape[0]}")
        feat = feat[0]
    return feat.reshape(feat.shape[0], -1)


@dataclass
class FeatureStats:
    """Weighted first and second moments of C-channel features, accumulated on `device` in
    `statistics_dtype(device)` (float64 except on MPS)."""

    channels: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    weight: float = 0.0
    total: torch.Tensor = field(init=False)  # (C,) Σ w f
    outer: torch.Tensor = field(init=False)  # (C, C) Σ w f fᵀ

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        dtype = statistics_dtype(self.device)
        self.total = torch.zeros(self.channels, dtype=dtype, device=self.device)
        self.outer = torch.zeros(self.channels, self.channels, dtype=dtype, device=self.device)

    @classmethod
    def of(cls, feat: torch.Tensor, mask: torch.Tensor | None = None) -> FeatureStats:
        stats = cls(feat.shape[-3], feat.device)
        stats.add(feat, mask)
        return stats

    def add(self, feat: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Accumulate features (optionally weighted per location by `mask`, shaped like feat's H×W)."""
        f = _flatten(feat).to(self.total.dtype)
        if mask is None:
            self.weight += f.shape[1]
            self.total += f.sum(dim=1)
            self.outer += f @ f.T
        else:
            w = mask.reshape(-1).to(self.total.dtype)
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
    """f ↦ matrix @ f + bias at every feature location (float32 for speed; built from the statistics)."""

    matrix: torch.Tensor  # (C, C)
    bias: torch.Tensor  # (C,)

    def apply(self, feat: torch.Tensor) -> torch.Tensor:
        shape = feat.shape
        flat = _flatten(feat)
        out = torch.addmm(self.bias.view(-1, 1).to(flat.dtype), self.matrix.to(flat.dtype), flat)
        return out.reshape(shape)

    @classmethod
    def blend(cls, matrix: torch.Tensor, target_mean: torch.Tensor, content_mean: torch.Tensor,
              alpha: float) -> AffineMap:
        """alpha·(M (f − μc) + μs) + (1 − alpha)·f, as one map."""
        eye = torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
        full = alpha * matrix + (1 - alpha) * eye
        bias = alpha * (target_mean - matrix @ content_mean)
        return cls(full.float(), bias.float())


# BT.601 full-range RGB ↔ YCbCr: colour preservation swaps in the content's chroma, keeping the stylized
# luminance (Gatys et al. 2016, "Preserving colour in neural artistic style transfer").
_TO_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                       device="cpu")
_FROM_YCC = torch.linalg.inv(_TO_YCC)


def preserve_color(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Stylized luminance with the content's chroma; (..., 3, H, W) RGB in [0, 1]."""
    to_ycc, from_ycc = _TO_YCC.to(stylized.device), _FROM_YCC.to(stylized.device)
    ycc_s = torch.einsum("ij,...jhw->...ihw", to_ycc, stylized)
    ycc_c = torch.einsum("ij,...jhw->...ihw", to_ycc, content)
    mixed = torch.cat([ycc_s[..., :1, :, :], ycc_c[..., 1:, :, :]], dim=-3)
    return torch.einsum("ij,...jhw->...ihw", from_ycc, mixed).clamp(0, 1)
