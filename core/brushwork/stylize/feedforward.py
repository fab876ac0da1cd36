"""The pipeline the feed-forward methods share: level by level, encode, apply one affine feature map
computed from whole-image statistics, decode; tile by tile when the image is larger than a tile.

A feed-forward method is a `MapMaker` (content statistics, style statistics, style weights, alpha →
`AffineMap`), wrapped in `FeedForward` and registered in `stylize.methods`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from brushwork.errors import BrushworkError
from brushwork.stylize.job import Job
from brushwork.stylize.models import Net
from brushwork.stylize.tiling import Tile, pad_to_grid, plan
from brushwork.stylize.transforms import AffineMap, FeatureStats

MapMaker = Callable[[FeatureStats, Sequence[FeatureStats], Sequence[float], float], AffineMap]


def level_margin(margin: int, level: int) -> int:
    """Context a level-`level` encoder+decoder pair needs around a tile.

    The receptive field roughly doubles per level. Measured on a 600x400 photo cut into 128 px tiles,
    5-level WCT differs from the untiled result by at most 1/255 with 128 px of context at level 5 (it
    amplifies small feature differences through whitening), and single-level AdaIN at level 4 with 64.
    """
    return max(16, margin >> (5 - level))


@dataclass(frozen=True)
class FeedForward:
    """A feed-forward method: its feature map run over the job's levels (e.g. 5 → 1)."""

    make_map: MapMaker
    adain_decoder: bool = False  # decode with the decoder trained for AdaIN (`Models.adain_decoder`)

    def __call__(self, job: Job) -> torch.Tensor:
        height, width = job.content.shape[-2:]
        content, _ = pad_to_grid(job.content)
        mask = pad_to_grid(job.mask)[0] if job.mask is not None else None
        with torch.inference_mode():
            return self._levels(content, mask, job)[..., :height, :width]

    def _levels(self, content: torch.Tensor, mask: torch.Tensor | None, job: Job) -> torch.Tensor:
        opts, models = job.options, job.models
        available = models.levels()
        levels = opts.levels
        # validate() fills them in
        assert levels is not None and opts.style_weights is not None and opts.alpha is not None
        alpha = opts.alpha
        image = content
        for index, level in enumerate(levels):
            def report(part: float, level: int = level, index: int = index) -> None:
                job.progress((index + part) / len(levels), f"{opts.method} level {level}")

            if level not in available:
                raise BrushworkError(f"--levels {level}: the {models.name} models have decoders for levels "
                                     f"{', '.join(map(str, available)) or 'none'}")
            encoder = models.encoder(level, job.device)
            decoder = (models.adain_decoder if self.adain_decoder else models.decoder)(level, job.device)
            scale = 2 ** (level - 1)
            tiles = plan(content.shape[-2], content.shape[-1], opts.tile, level_margin(opts.margin, level))
            feature_mask = F.avg_pool2d(mask, scale) if mask is not None else None
            def read_styles(encoder: Net = encoder) -> list[FeatureStats]:
                return [FeatureStats.of(encoder(style)) for style in job.styles]

            style_stats = job.statistics.styles(level, read_styles)

            def make_map(stats: FeatureStats, style_stats: list[FeatureStats] = style_stats,
                         level: int = level) -> AffineMap:
                assert opts.style_weights is not None  # validate() fills them in
                return self.make_map(job.statistics.content(level, stats), style_stats, opts.style_weights, alpha)

            if len(tiles) == 1:
                features = encoder(image)
                result = decoder(make_map(FeatureStats.of(features, feature_mask)).apply(features))
            else:
                result = _tiled_level(image, tiles, encoder, decoder, scale, feature_mask, make_map, report)
            result = result.clamp(0, 1)
            if mask is not None:
                # Outside the mask the next level (and the output) sees the content itself.
                result = mask * result + (1 - mask) * content
            image = result
            report(1.0)
        return image


def _tiled_level(image: torch.Tensor, tiles: list[Tile], encoder: Net, decoder: Net, scale: int,
                 feature_mask: torch.Tensor | None, make_map: Callable[[FeatureStats], AffineMap],
                 report: Callable[[float], None]) -> torch.Tensor:
    # Pass 1: statistics of the whole image, accumulated from every tile's core features.
    assert encoder.out_channels is not None  # a Net has at least one conv
    stats = FeatureStats(encoder.out_channels, image.device)
    for i, tile in enumerate(tiles):
        core = tile.core_of_window(encoder(tile.window(image)), scale)
        stats.add(core, None if feature_mask is None else tile.core(feature_mask, scale))
        report(0.3 * (i + 1) / len(tiles))  # an encoder pass is about 30 % of encode + decode
    transform = make_map(stats)
    # Pass 2: the same transform for every tile; keep each window's core.
    result = torch.empty_like(image)
    for i, tile in enumerate(tiles):
        decoded = decoder(transform.apply(encoder(tile.window(image))))
        result[..., tile.y0:tile.y1, tile.x0:tile.x1] = tile.core_of_window(decoded)
        report(0.3 + 0.7 * (i + 1) / len(tiles))
    return result
