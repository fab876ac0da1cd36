"""One stylization as every method receives it (`stylize.methods`): tensors already on the device."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from brushwork.settings import StyleOptions
from brushwork.stylize.models import Models
from brushwork.stylize.transforms import FeatureStats

Progress = Callable[[float, str], None]  # (fraction done in 0..1, never decreasing; stage) — may raise to stop


class Statistics:
    """Where a feed-forward method's whole-image statistics come from, by `key` (an encoder level, or a
    name for a method's own: "microast enc2"): by default each image's own. A caller stylizing related
    images (the frames of a clip) passes one that keeps state across them (`video.styling.ClipStatistics`:
    the styles read once, the content smoothed over time)."""

    def content(self, key: int | str, stats: FeatureStats) -> FeatureStats:
        """The content statistics the map at `key` is built from, given this image's own."""
        return stats

    def styles(self, key: int | str, read: Callable[[], list[FeatureStats]]) -> list[FeatureStats]:
        """The styles' statistics at `key`; `read()` computes them from the style images."""
        return read()


@dataclass(frozen=True)
class Job:
    """What a method gets: the content at the output size, the styles at their working sizes and the
    mask (all on `device`), validated options, the models and the progress callback. A method returns
    the stylized content, (1, 3, H, W) in [0, 1] on `device`; masking and colour preservation come after."""

    content: torch.Tensor  # (1, 3, H, W) in [0, 1]
    styles: list[torch.Tensor]  # (1, 3, h, w) each, at least 32 px on a side
    mask: torch.Tensor | None  # (1, 1, H, W) in [0, 1]: where the style applies
    options: StyleOptions  # validated: style_weights and (for feed-forward methods) levels filled in
    models: Models
    device: torch.device
    progress: Progress
    statistics: Statistics = field(default_factory=Statistics)

