"""Stroke-space style transfer (SNP's style mode): Gram-matrix style losses on a rendered canvas, so
the strokes themselves take on a style image's colours and textures.

`StyleGoal` is what the restyler (`restyle`, the second phase after painting) optimises the finished
strokes against; `style_loss` is a painter loss term on the blocks of a level (an `extra_loss`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from brushwork.device import resolve_device
from brushwork.images import fit_long_side, resize, resize_tensor, to_tensor
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


# The restyler's style loss sees the canvas and the styles at this long side: the Gram matrices of
# relu1_1..relu5_1 (the stylize benchmark's measure) at a quarter of the pixels of 512 px, which is
# what keeps a 100-step restyle within seconds on a CPU.
GOAL_SIDE = 256
CONTENT_WEIGHT = 1.0  # of the relu4_1 content loss (relative), beside the pixel L1 (weight 1)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> the same with each pixel's luma (BT.601) in all three channels."""
    y = 0.299 * rgb[:, :1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]
    return y.expand(-1, 3, -1, -1)


@dataclass(frozen=True)
class StyleGoal:
    """What restyled strokes aim at: pixel L1 to the photo (weight 1) plus `weight` x the Gram style
    loss (Σ over relu1_1..relu5_1 of ‖G(x) − G(s)‖² / ‖G(s)‖², the stylize benchmark's measure)
    against the `style_weights`-weighted Grams of `styles` ((H, W, 3) float RGB 0..1). With
    `preserve_color` the style loss compares luminance only, so the colours stay the photo's."""

    styles: tuple[np.ndarray, ...]
    style_weights: tuple[float, ...]
    weight: float = 1.0
    preserve_color: bool = False
    models: Models | None = field(default=None, compare=False)

    def loss(self, target: torch.Tensor, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
        """canvas (1, 3, h, w) -> the loss against `target` (1, 3, h, w); the loss network and the
        style's Grams are made on `device` now."""
        from brushwork.stylize.gatys import CONTENT_TAP, STYLE_TAPS, style_targets
        from brushwork.stylize.models import CD16xModels

        network = (self.models or CD16xModels()).loss_network(device)
        grey = luminance if self.preserve_color else (lambda x: x)
        styles = []
        for style in self.styles:
            h, w = fit_long_side(style.shape[0], style.shape[1], GOAL_SIDE)
            styles.append(grey(to_tensor(resize(style.astype(np.float32), w, h), device)))
        targets = {tap: gram.float() for tap, gram in style_targets(network, styles, self.style_weights).items()}
        # Never enlarged: a small canvas has no finer texture to show the loss network.
        small = fit_long_side(target.shape[-2], target.shape[-1], min(GOAL_SIDE, max(target.shape[-2:])))
        with torch.no_grad():
            photo = network(resize_tensor(target, *small), (CONTENT_TAP,))[CONTENT_TAP]

        def loss(canvas: torch.Tensor) -> torch.Tensor:
            pixels = (canvas - target).abs().mean()
            feats = network(resize_tensor(canvas, *small), STYLE_TAPS) if not self.preserve_color else {
                **network(grey(resize_tensor(canvas, *small)), STYLE_TAPS),
                CONTENT_TAP: network(resize_tensor(canvas, *small), (CONTENT_TAP,))[CONTENT_TAP]}
            # The benchmark's content measure (relu4_1, relative): pixel L1 alone let the Gram term wash the
            # picture out (content 0.3 -> 0.65 on tubingen x starry_night at any style weight from 0.1 to 1).
            content = ((feats[CONTENT_TAP] - photo) ** 2).sum() / (photo**2).sum()
            style = sum((gram_loss(gram(feats[tap]), targets[tap]) for tap in STYLE_TAPS), canvas.new_zeros(()))
            return pixels + CONTENT_WEIGHT * content + self.weight * style

        return loss
