"""Stroke-space style transfer (SNP's style mode): a Gram-matrix style loss on the rendered canvas,
added to the painter's pixel (content) loss, so the strokes themselves take on the style image's
colours and textures."""

from __future__ import annotations

import numpy as np
import torch

from brushwork.painter.optimise import ExtraLoss

# Encoder taps compared: relu1_1..relu3_1. The painter's blocks are small (32 px), too small for
# the deeper, coarser features to carry texture.
STYLE_TAPS = ("1", "2", "3")
STYLE_SIZE = 256  # the style image's long side when its statistics are taken


def _grams(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) Gram matrices normalised by locations and channels."""
    b, c = features.shape[:2]
    flat = features.reshape(b, c, -1)
    return flat @ flat.transpose(1, 2) / flat.shape[1] / flat.shape[2]


def style_loss(style: np.ndarray, weight: float = 1.0, models=None) -> ExtraLoss:
    """A painter loss term: `weight` x the relative Gram distance between the canvas blocks and
    the style image (an (H, W, 3) float RGB array in 0..1), averaged over blocks and taps."""
    from brushwork.images import resize
    from brushwork.stylize import CD16xModels

    network = (models or CD16xModels()).loss_network()
    network.requires_grad_(False)
    h, w = style.shape[:2]
    scale = STYLE_SIZE / max(h, w)
    small = resize(style.astype(np.float32), max(1, round(w * scale)), max(1, round(h * scale)))
    with torch.no_grad():
        feats = network(torch.from_numpy(small.transpose(2, 0, 1).copy())[None], STYLE_TAPS)
        targets = {tap: _grams(feats[tap]) for tap in STYLE_TAPS}

    def loss(canvas: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        feats = network(canvas, STYLE_TAPS)
        total = canvas.new_zeros(())
        for tap in STYLE_TAPS:
            target = targets[tap]
            total = total + ((_grams(feats[tap]) - target) ** 2).sum((1, 2)).mean() / (target**2).sum()
        return weight * total / len(STYLE_TAPS)

    return loss
