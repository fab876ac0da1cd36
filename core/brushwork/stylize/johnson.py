"""Johnson et al.'s image-transformation network (ECCV 2016), and running it on an image of any size.

The network: a 9×9 conv, two stride-2 convs, residual blocks at a quarter of the resolution, two
nearest-neighbour upsamplings each followed by a conv, and a 9×9 conv to RGB, added to the photo or to
the photo at a learned mean colour (`JohnsonShape.skip`, `_to_image`); instance normalisation (with a
learned scale and shift) and ReLU after every conv but the last. The paper's widths are 32, 64 and 128
channels (1.7 M parameters); `JohnsonShape` picks them (the shipped styles are slimmer, see their cards).

Any size (`JohnsonNet.tiled`): instance normalisation divides by the statistics of the whole image,
so a tile cannot be normalised from its own pixels without seams. The network is run in three parts:

* the head (full → quarter resolution, three IN layers) tile by tile, one IN layer at a time: pass k
  runs every tile's window up to IN layer k, with the whole-image statistics of layers 1..k−1 already
  known, and sums the mean and mean square of the tile's core; the last pass keeps the cores' outputs;
* the residual blocks whole, on the quarter-resolution features (16× fewer pixels: 4·width bytes a
  pixel of the image per tensor; 256 MB for a 4,096 px square at width 16);
* the tail (quarter → full resolution, two IN layers) tile by tile in the same way.

Windows are aligned to the 16 px grid and extend MARGIN px beyond their core, more than either part's
receptive field, so each core sees the same pixels as the untiled network and the result matches it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from brushwork.device import statistics_dtype
from brushwork.stylize.tiling import Tile, pad_to_grid, plan

MARGIN = 32  # px of context around a tile: the head's receptive field reaches ±7 px, the tail's ±10
IN_EPS = 1e-5

Stats = tuple[torch.Tensor, torch.Tensor]  # (mean, variance), each (C,)


@dataclass(frozen=True)
class JohnsonShape:
    """The network's size: channels of the full-, half- and quarter-resolution stages are width, 2·width,
    4·width; `blocks` residual blocks."""

    width: int = 32
    blocks: int = 5
    skip: str = "photo"  # what the output is added to: SKIPS


# "photo": the photo itself. "centred": the photo with its mean colour replaced by a learned one and its
# deviations from it mixed by a learned 3×3 colour matrix. The network's features are instance-normalised
# from the first layer on, so it cannot see a photo's overall colour: added to the photo itself, its change
# shifts every photo's colours alike and cannot bring photos of different palettes to the style's one
# (trained on grey photos it overshot a colour photo's palette: wave's relu1_1 term 1.58 -> 7.4). Added to
# the centred photo, every output starts from the mean colour it learned, and the photo's structure passes
# through. (Dividing by the photo's spread as well amplified the noise of flat training crops.)
SKIPS = ("photo", "centred")


class InstanceNorm(nn.Module):
    """Instance normalisation with a learned per-channel scale and shift; `stats` replaces the input's
    own statistics (the whole image's, when the input is a tile of it)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, stats: Stats | None = None) -> torch.Tensor:
        if stats is None:
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, unbiased=False)
        else:
            mean, var = (s.to(x.dtype)[None, :, None, None] for s in stats)
        scale = self.weight[None, :, None, None] * torch.rsqrt(var + IN_EPS)
        return (x - mean) * scale + self.bias[None, :, None, None]


class Conv(nn.Sequential):
    """Reflection-padded convolution (no border darkening, as in the paper's published code)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride))
        self.stride = stride

    @property
    def conv(self) -> nn.Conv2d:
        return cast(nn.Conv2d, self[1])


class Up(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest")


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1, self.norm1 = Conv(channels, channels, 3), InstanceNorm(channels)
        self.conv2, self.norm2 = Conv(channels, channels, 3), InstanceNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return x + self.norm2(self.conv2(y))


# A stage is a list of layers; an InstanceNorm is followed by a ReLU in every stage here.
Stage = nn.ModuleList


def _run(layers: Stage, x: torch.Tensor, stats: Sequence[Stats | None], stop: int | None = None) -> torch.Tensor:
    """`layers` on x, IN layer k normalising with stats[k] (None: x's own). With `stop`, return the input
    of IN layer number `stop` instead."""
    norms = 0
    for layer in layers:
        if isinstance(layer, InstanceNorm):
            if norms == stop:
                return x
            x = F.relu(layer(x, stats[norms] if norms < len(stats) else None))
            norms += 1
        else:
            x = layer(x)
    return x


def _scales(layers: Stage, scale: int) -> tuple[list[int], int]:
    """The resolution (image pixels per feature pixel) at each IN layer of a stage entered at `scale`,
    and at its output."""
    at_norms = []
    for layer in layers:
        if isinstance(layer, Conv) and layer.stride == 2:
            scale *= 2
        elif isinstance(layer, Up):
            scale //= 2
        elif isinstance(layer, InstanceNorm):
            at_norms.append(scale)
    return at_norms, scale


class Moments:
    """Running per-channel sums of x and x² over the core pixels of every tile, in float64."""

    def __init__(self, channels: int, device: torch.device):
        dtype = statistics_dtype(device)
        self.sum = torch.zeros(channels, dtype=dtype, device=device)
        self.squares = torch.zeros(channels, dtype=dtype, device=device)
        self.count = 0

    def add(self, feat: torch.Tensor) -> None:
        flat = feat.to(self.sum.dtype).flatten(2)
        self.sum += flat.sum((0, 2))
        self.squares += (flat**2).sum((0, 2))
        self.count += flat.shape[0] * flat.shape[2]

    def result(self) -> Stats:
        mean = self.sum / self.count
        return mean, (self.squares / self.count - mean**2).clamp_min(0)


def _window(features: torch.Tensor, tile: Tile, scale: int) -> torch.Tensor:
    """The window of `tile` in features at 1/scale of the image's resolution."""
    return features[..., tile.wy0 // scale:tile.wy1 // scale, tile.wx0 // scale:tile.wx1 // scale]


def _norm_channels(layers: Stage) -> list[int]:
    return [layer.weight.numel() for layer in layers if isinstance(layer, InstanceNorm)]


def run_tiled(layers: Stage, features: torch.Tensor, tiles: list[Tile], scale_in: int,
              report: Callable[[float], None] = lambda part: None) -> torch.Tensor:
    """A stage over `features` (at 1/scale_in of the image) tile by tile with whole-image IN statistics:
    one pass per IN layer to accumulate its statistics, then one pass that keeps every core."""
    scales, scale_out = _scales(layers, scale_in)
    stats: list[Stats | None] = []
    passes = len(scales) + 1
    for k, (channels, scale) in enumerate(zip(_norm_channels(layers), scales, strict=True)):
        moments = Moments(channels, features.device)
        for tile in tiles:
            moments.add(tile.core_of_window(_run(layers, _window(features, tile, scale_in), stats, stop=k), scale))
        stats.append(moments.result())
        report((k + 1) / passes)
    result: torch.Tensor | None = None
    for tile in tiles:
        out = tile.core_of_window(_run(layers, _window(features, tile, scale_in), stats), scale_out)
        if result is None:
            height, width = features.shape[-2] * scale_in // scale_out, features.shape[-1] * scale_in // scale_out
            result = out.new_empty(out.shape[0], out.shape[1], height, width)
        result[..., tile.y0 // scale_out:tile.y1 // scale_out, tile.x0 // scale_out:tile.x1 // scale_out] = out
    assert result is not None
    report(1.0)
    return result


class JohnsonNet(nn.Module):
    """Photo (N, 3, H, W) in [0, 1] → stylized photo, same size (H, W multiples of 4 when training)."""

    def __init__(self, shape: JohnsonShape = JohnsonShape()):
        super().__init__()
        if shape.skip not in SKIPS:
            raise ValueError(f"skip {shape.skip!r}: expected one of {', '.join(SKIPS)}")
        self.shape = shape
        w = shape.width
        if shape.skip == "centred":  # an untrained network returns the photo at an average photo's mean colour
            self.photo_colours = nn.Parameter(torch.eye(3))  # mixes the centred channels (a colour transform)
            self.photo_mean = nn.Parameter(torch.full((3,), 0.45))
        self.head = Stage([Conv(3, w, 9), InstanceNorm(w), Conv(w, 2 * w, 3, 2), InstanceNorm(2 * w),
                           Conv(2 * w, 4 * w, 3, 2), InstanceNorm(4 * w)])
        self.body = nn.Sequential(*(Residual(4 * w) for _ in range(shape.blocks)))
        self.tail = Stage([Up(), Conv(4 * w, 2 * w, 3), InstanceNorm(2 * w), Up(), Conv(2 * w, w, 3), InstanceNorm(w),
                           Conv(w, 3, 9)])
        last = self.tail[-1]
        assert isinstance(last, Conv) and last.conv.bias is not None
        nn.init.zeros_(last.conv.weight)
        nn.init.zeros_(last.conv.bias)

    def config(self) -> dict:
        return asdict(self.shape)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = _run(self.head, image - 0.5, [])
        return self._to_image(_run(self.tail, self.body(x), []), image)

    def tiled(self, image: torch.Tensor, tile: int, report: Callable[[float], None] = lambda part: None
              ) -> torch.Tensor:
        """The network on (1, 3, H, W) of any size, `tile` px at a time (whole-image IN statistics); equal
        to `forward` within float rounding. H and W need not be multiples of 16."""
        height, width = image.shape[-2:]
        padded, _ = pad_to_grid(image)
        tiles = plan(padded.shape[-2], padded.shape[-1], tile, MARGIN)
        if len(tiles) == 1:
            return self(padded)[..., :height, :width]
        quarter = run_tiled(self.head, padded - 0.5, tiles, 1, lambda part: report(0.3 * part))
        quarter = self.body(quarter)
        report(0.6)
        out = run_tiled(self.tail, quarter, tiles, 4, lambda part: report(0.6 + 0.4 * part))
        return self._to_image(out, padded)[..., :height, :width]

    def _to_image(self, x: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        """The network's output as a change of the photo, or of the centred photo (`JohnsonShape.skip`; a
        skip connection around the whole network, not in the paper): with the last conv starting at zero
        an untrained network returns the photo, so a short training run spends its steps on the style
        rather than on relearning the picture. Not squashed (a sigmoid or the paper's tanh stops the
        gradient of a pixel once it saturates, and short CPU runs left white patches); callers clamp to
        [0, 1] for display. `photo` is always the whole image (its statistics are the whole image's)."""
        if self.shape.skip == "photo":
            return x + photo
        centred = photo - photo.mean((2, 3), keepdim=True)
        return x + torch.einsum("ij,njhw->nihw", self.photo_colours, centred) + self.photo_mean[None, :, None, None]
