"""Stroke-space style transfer (SNP's style mode): a Gram-matrix style loss on the rendered canvas,
added to the painter's pixel (content) loss, so the strokes themselves take on the style image's
colours and textures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from brushwork.device import resolve_device
from brushwork.images import fit_long_side, resize, to_tensor
from brushwork.losses import gram, gram_loss
from brushwork.painter.optimise import ExtraLoss

if TYPE_CHECKING:
    from brushwork.stylize.models import Models, Net

# Encoder taps compared: relu1_1..relu3_1. The painter's blocks are small (32 px), too small for
# the deeper, coarser features to carry texture.
STYLE_TAPS = ("1", "2", "3")
STYLE_SIZE = 256  # the style image's long side when its statistics are taken


def style_loss(style: np.ndarray, weight: float = 1.0, models: Models | None = None,
               device: str = "auto") -> ExtraLoss:
    """A painter loss term: `weight` x the relative Gram distance between the canvas blocks and
    the style image (an (H, W, 3) float RGB array in 0..1), averaged over blocks and taps.

    The loss network and the style's Grams are made on `device` (auto: CUDA, else MPS, else CPU) now,
    so missing weights fail before painting; a canvas on another device gets its own copy, made once."""
    from brushwork.stylize.models import CD16xModels

    models = models or CD16xModels()
    height, width = fit_long_side(style.shape[0], style.shape[1], STYLE_SIZE)
    small = resize(style.astype(np.float32), width, height)
    prepared: dict[torch.device, tuple[Net, dict[str, torch.Tensor]]] = {}

    def on(device: torch.device) -> tuple[Net, dict[str, torch.Tensor]]:
        """The loss network and the style's Gram matrices on `device`."""
        if device not in prepared:
            network = models.loss_network(device)
            with torch.no_grad():
                feats = network(to_tensor(small, device), STYLE_TAPS)
            prepared[device] = network, {tap: gram(feats[tap]) for tap in STYLE_TAPS}
        return prepared[device]

    on(resolve_device(device))

    def loss(canvas: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        network, targets = on(canvas.device)
        feats = network(canvas, STYLE_TAPS)
        total = canvas.new_zeros(())
        for tap in STYLE_TAPS:
            total = total + gram_loss(gram(feats[tap]), targets[tap])
        return weight * total / len(STYLE_TAPS)

    return loss
