"""Stylizing a clip so its colours do not pump: one set of style statistics for the whole clip, and the
content's statistics smoothed over time.

A feed-forward method (AdaIN, WCT) maps every frame's features with an affine map built from the frame's
whole-image statistics; from frame to frame those move with every object that enters or leaves, and the
map with them, so the colours of the whole picture flicker. `ClipStatistics` (the `stylize.job.Statistics`
seam) hands each level an exponential moving average of the content statistics instead, and reads the
styles' statistics once. MicroAST's two AdaINs are smoothed the same way; Gatys stylizes each frame on its
own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from brushwork.settings import StyleOptions
from brushwork.stylize.api import stylize
from brushwork.stylize.job import Statistics
from brushwork.stylize.models import CD16xModels, Models
from brushwork.stylize.transforms import FeatureStats

__all__ = ["ClipStatistics", "moving_average", "stylize_frames"]


def moving_average(previous: FeatureStats, current: FeatureStats, smoothing: float) -> FeatureStats:
    """Statistics whose mean and covariance are `smoothing` of `previous`'s and the rest of `current`'s.
    The covariances are blended, not the second moments: blending those would add the spread between
    the two means to the covariance, which whitening (WCT) then takes out of every frame."""
    mean = smoothing * previous.mean + (1 - smoothing) * current.mean
    cov = smoothing * previous.cov + (1 - smoothing) * current.cov
    mixed = FeatureStats(current.channels, current.device)
    mixed.weight = 1.0
    mixed.total = mean
    mixed.outer = cov + torch.outer(mean, mean)
    return mixed


class ClipStatistics(Statistics):
    """The statistics of one clip's frames, by key (level): the content's as a moving average over the
    frames so far (`smoothing` of the previous average each frame; 0 = every frame its own), the styles'
    read from the style images once."""

    def __init__(self, smoothing: float) -> None:
        self.smoothing = smoothing
        self._content: dict[int | str, FeatureStats] = {}
        self._styles: dict[int | str, list[FeatureStats]] = {}

    def content(self, key: int | str, stats: FeatureStats) -> FeatureStats:
        previous = self._content.get(key)
        smoothed = stats if previous is None else moving_average(previous, stats, self.smoothing)
        self._content[key] = smoothed
        return smoothed

    def styles(self, key: int | str, read: Callable[[], list[FeatureStats]]) -> list[FeatureStats]:
        if key not in self._styles:
            self._styles[key] = read()
        return self._styles[key]


def stylize_frames(frames: Iterable[np.ndarray], styles: Sequence[np.ndarray], options: StyleOptions,
                   *, mask: np.ndarray | None = None, models: Models | None = None) -> Iterator[np.ndarray]:
    """Each frame ((H, W, 3) uint8 RGB) stylized in order with the style images, as `stylize` does one
    image, with the clip's statistics (`ClipStatistics`, smoothing `options.frame_smoothing`) shared
    across frames. The models load once. Frames are read one at a time, as the results are consumed."""
    opts = options.validate(len(styles))
    statistics = ClipStatistics(opts.frame_smoothing)
    models = models or CD16xModels()
    for frame in frames:
        yield stylize(frame, styles, opts, mask=mask, models=models, statistics=statistics)
