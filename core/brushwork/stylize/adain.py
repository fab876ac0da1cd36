"""AdaIN (Huang & Belongie 2017): each feature channel's mean and standard deviation moved to the
style's. A feed-forward method: `stylize.methods` runs it through the shared encode–transform–decode
pipeline."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from brushwork.stylize.transforms import AffineMap, FeatureStats


def adain_map(content: FeatureStats, styles: Sequence[FeatureStats], style_weights: Sequence[float],
              alpha: float = 1.0) -> AffineMap:
    """AdaIN: each channel's mean/std moved to the style's; several styles blend their mean and std."""
    target_std = sum((w * s.std for w, s in zip(style_weights, styles, strict=True)), torch.zeros_like(content.std))
    target_mean = sum((w * s.mean for w, s in zip(style_weights, styles, strict=True)),
                      torch.zeros_like(content.mean))
    return AffineMap.blend(torch.diag(target_std / content.std), target_mean, content.mean, alpha)


def adain(content_feat: torch.Tensor, style_feat: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """AdaIN of one feature map against one style's (convenience for single images)."""
    return adain_map(FeatureStats.of(content_feat), [FeatureStats.of(style_feat)], [1.0], alpha).apply(content_feat)
