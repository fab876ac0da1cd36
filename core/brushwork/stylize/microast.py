"""MicroAST (Wang et al., AAAI 2023, EndyWon/MicroAST): a small learned arbitrary-style network.

A style encoder reads the style; a modulator turns its two feature maps into per-channel weights and
biases for the decoder's two residual blocks; a content encoder (two stride-2 convs: quarter resolution)
reads the content. The decoder moves the content features' channel mean/std to the style's (AdaIN) after
`content_encoder.enc2` and again after `decoder.dec1`, each followed by a style-modulated residual block,
then upsamples back to the full resolution.

Both AdaINs use statistics of the whole image. For any resolution the quarter-resolution middle (both
AdaINs and both modulated blocks, 64 channels: 16 bytes per image pixel) runs on the whole image, and
only the full-resolution ends run tile by tile: the encoder (image → quarter-resolution features) and
the upsampling tail. Their receptive fields are small, so tiles with `CONTEXT` pixels of context give
the untiled result.

Alpha blends in feature space at each AdaIN, as the authors do: alpha·AdaIN(f) + (1 − alpha)·f; the
modulated blocks are not blended. Several styles blend their target mean/std and their modulation
weights and biases by the style weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from brushwork import weights
from brushwork.stylize.adain import adain_map
from brushwork.stylize.job import Job, Statistics
from brushwork.stylize.models import CD16xModels, DeviceLike, Models, read_state_dict
from brushwork.stylize.tiling import Tile, pad_to_grid, plan
from brushwork.stylize.transforms import FeatureStats
from brushwork.weights import WeightsError

SCALE = 4  # the content features are at a quarter of the image's resolution
# Receptive-field radius in image pixels: encoder 4 (9x9) + 1 + 2 (stride-2 3x3s) + 8 + 8 (two residual
# blocks at quarter resolution) = 23; upsampling tail 4 + 2 + 1 + 4 = 11. Rounded up to the tile grid.
CONTEXT = 32
NETWORKS = ("content_encoder", "style_encoder", "modulator", "decoder")


class PaddedConv(nn.Module):
    """A reflection-padded convolution (upstream's `ConvLayer`: its parameters are `conv_layer.*`).

    With `by_halves` (stride 1, one group, odd kernel) it runs as the same convolution on 2x2 pixel
    blocks (`halved_kernel`): the decoder's last 9x9 conv to 3 channels takes 154 ms instead of 267 ms at
    1024x688 on 2 CPU cores, oneDNN being slow with so few output channels."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int = 1, groups: int = 1,
                 by_halves: bool = False):
        super().__init__()
        self.pad = kernel // 2
        self.by_halves = by_halves
        self.conv_layer = nn.Conv2d(channels_in, channels_out, kernel, stride, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (self.pad,) * 4, mode="reflect") if self.pad else x  # F.pad copies even by 0
        if not self.by_halves:
            return self.conv_layer(padded)
        weight = halved_kernel(self.conv_layer.weight)
        bias = self.conv_layer.bias.repeat_interleave(4) if self.conv_layer.bias is not None else None
        return F.pixel_shuffle(F.conv2d(F.pixel_unshuffle(padded, 2), weight, bias), 2)


def halved_kernel(weight: torch.Tensor) -> torch.Tensor:
    """An odd k×k kernel (O, C, k, k) as the kernel (4O, 4C, (k+1)/2, (k+1)/2) that gives the same
    convolution between `pixel_unshuffle(·, 2)`d input and `pixel_shuffle(·, 2)`d output (even sizes).

    Output pixel 2i+a (a ∈ {0, 1}) reads input pixel 2(i+d)+u, i.e. kernel tap 2d + u − a (taps outside
    0..k−1 are zero)."""
    out_channels, in_channels, kernel = weight.shape[:3]
    half = (kernel + 1) // 2
    steps = torch.arange(2, device=weight.device)
    # tap + 1 (into the kernel zero-padded by one) by [a, u, d]
    taps = 2 * torch.arange(half, device=weight.device).view(1, 1, half) + steps.view(1, 2, 1) - steps.view(2, 1, 1) + 1
    gathered = F.pad(weight, (1, 1, 1, 1))[:, :, taps[:, :, :, None, None, None], taps[None, None, None]]
    # (o, c, a, u, dy, b, v, dx) → (o a b, c u v, dy, dx), the channel orders of pixel_shuffle/unshuffle
    return gathered.permute(0, 2, 5, 1, 3, 6, 4, 7).reshape(out_channels * 4, in_channels * 4, half, half)


class Residual(nn.Module):
    """x + conv2(relu(conv1 x)); with a style's (weight, bias), each conv output y of input x becomes
    weight·y + bias·x (MicroAST's filter modulation)."""

    def __init__(self, channels: int = 64):
        super().__init__()
        self.conv1 = PaddedConv(channels, channels, 3)
        self.conv2 = PaddedConv(channels, channels, 3)

    def forward(self, x: torch.Tensor, modulation: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        if modulation is None:
            return x + self.conv2(F.relu(self.conv1(x)))
        weight, bias = modulation
        inner = F.relu(weight * self.conv1(x) + bias * x)
        return x + weight * self.conv2(inner) + bias * inner


def _encoder_head() -> nn.Sequential:
    # Depthwise stride-2 convs halve the resolution twice; indices match upstream's keys (ReLUs between).
    return nn.Sequential(
        PaddedConv(3, 16, 9), nn.ReLU(inplace=True),
        PaddedConv(16, 32, 3, stride=2, groups=16), nn.ReLU(inplace=True),
        PaddedConv(32, 32, 1), nn.ReLU(inplace=True),
        PaddedConv(32, 64, 3, stride=2, groups=32), nn.ReLU(inplace=True),
        PaddedConv(64, 64, 1), nn.ReLU(inplace=True),
        Residual(),
    )


class Encoder(nn.Module):
    """Image → (enc1, enc2) features, 64 channels at quarter resolution."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = _encoder_head()
        self.enc2 = nn.Sequential(Residual())

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first = self.enc1(image)
        return first, self.enc2(first)


class Modulator(nn.Module):
    """A style's two feature maps → per-channel (weight, bias) for the decoder's blocks (dec2, dec1)."""

    def __init__(self) -> None:
        super().__init__()
        for name in ("weight1", "bias1", "weight2", "bias2"):
            setattr(self, name, nn.Sequential(PaddedConv(64, 64, 3, groups=64)))

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                          torch.Tensor]:
        def pooled(name: str, feat: torch.Tensor) -> torch.Tensor:
            return getattr(self, name)(feat).mean(dim=(-2, -1), keepdim=True)

        return pooled("weight1", first), pooled("bias1", first), pooled("weight2", second), pooled("bias2", second)


class Decoder(nn.Module):
    """Two modulated residual blocks (dec1, dec2) at quarter resolution, then dec3: back to RGB."""

    def __init__(self) -> None:
        super().__init__()
        self.dec1 = Residual()
        self.dec2 = Residual()
        self.dec3 = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear"),
            PaddedConv(64, 32, 3, groups=32), nn.ReLU(inplace=True),
            PaddedConv(32, 32, 1), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="bilinear"),
            PaddedConv(32, 16, 3, groups=16), nn.ReLU(inplace=True),
            PaddedConv(16, 16, 1), nn.ReLU(inplace=True),
            PaddedConv(16, 3, 9, by_halves=True),
        )


@dataclass(frozen=True)
class Networks:
    """MicroAST's four networks on one device."""

    content_encoder: Encoder
    style_encoder: Encoder
    modulator: Modulator
    decoder: Decoder

    @classmethod
    def load(cls, device: DeviceLike = "cpu", directory: str | Path | None = None, download: bool = True) -> Networks:
        """The registered files (`microast/*`), or those in `directory` laid out like the registry;
        each must hold exactly its network's parameters."""
        built: dict[str, nn.Module] = {}
        with torch.device(device):  # parameters are made on the device, whatever torch's default device
            empty = (Encoder(), Encoder(), Modulator(), Decoder())
        for name, network in zip(NETWORKS, empty, strict=True):
            entry = weights.lookup(f"microast/{name}")
            explicit = Path(directory) / entry.path if directory is not None else None
            path = weights.resolve(entry.name, explicit=explicit, download=download)
            try:
                network.load_state_dict(read_state_dict(path), strict=True)
            except RuntimeError as exc:  # missing/unexpected keys or shape mismatches
                detail = " ".join(str(exc).split())
                raise WeightsError(f"{path}: not a MicroAST {name.replace('_', ' ')} file ({detail[:300]})") from None
            # oneDNN's CPU convolutions run faster on channels-last tensors (as in `models.Net`)
            network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            built[name] = network.requires_grad_(False).eval()
        return cls(**built)  # type: ignore[arg-type]  # the four names are the fields


@dataclass(frozen=True)
class Style:
    """What the decoder needs from the styles: the targets of both AdaINs and both blocks' modulation."""

    first: list[FeatureStats]  # per style, enc1 statistics (the second AdaIN's target)
    second: list[FeatureStats]  # per style, enc2 statistics (the first AdaIN's target)
    dec1: tuple[torch.Tensor, torch.Tensor]  # (weight, bias), blended over the styles
    dec2: tuple[torch.Tensor, torch.Tensor]


def read_styles(nets: Networks, styles: Sequence[torch.Tensor], style_weights: Sequence[float]) -> Style:
    """Each style's feature statistics, and the modulation of all of them blended by `style_weights`."""
    first, second, modulations = [], [], []
    for style in styles:
        feat1, feat2 = nets.style_encoder(style)
        first.append(FeatureStats.of(feat1))
        second.append(FeatureStats.of(feat2))
        modulations.append(nets.modulator(feat1, feat2))

    def blend(index: int) -> torch.Tensor:
        return sum((w * m[index] for w, m in zip(style_weights, modulations, strict=True)),
                   torch.zeros_like(modulations[0][index]))

    # upstream: weight1/bias1 (from enc1) modulate dec2, weight2/bias2 (from enc2) modulate dec1
    return Style(first, second, dec1=(blend(2), blend(3)), dec2=(blend(0), blend(1)))


def transform(nets: Networks, features: torch.Tensor, style: Style, style_weights: Sequence[float], alpha: float,
              mask: torch.Tensor | None, statistics: Statistics | None = None) -> torch.Tensor:
    """The quarter-resolution middle on the whole image: AdaIN, dec1, AdaIN, dec2 (statistics weighted by
    `mask` at feature resolution; the content's passed through `statistics`, e.g. smoothed over a clip)."""
    statistics = statistics or Statistics()
    content = statistics.content("microast enc2", FeatureStats.of(features, mask))
    adapted = adain_map(content, style.second, style_weights, alpha).apply(features)
    middle = nets.decoder.dec1(adapted, style.dec1)
    content = statistics.content("microast enc1", FeatureStats.of(middle, mask))
    adapted = adain_map(content, style.first, style_weights, alpha).apply(middle)
    return nets.decoder.dec2(adapted, style.dec2)


def run(job: Job) -> torch.Tensor:
    """The registered method: the job's content stylized by MicroAST."""
    opts = job.options
    assert opts.style_weights is not None  # validate() fills them in
    directory = job.models.directory if isinstance(job.models, CD16xModels) else None
    download = job.models.download if isinstance(job.models, CD16xModels) else True

    def load(device: torch.device) -> Networks:
        return Networks.load(device, directory, download)

    nets = job.models.kept("microast", job.device, load) if isinstance(job.models, Models) else load(job.device)
    height, width = job.content.shape[-2:]
    content, _ = pad_to_grid(job.content)
    mask = F.avg_pool2d(pad_to_grid(job.mask)[0], SCALE) if job.mask is not None else None
    content = content.contiguous(memory_format=torch.channels_last)
    tiles = plan(content.shape[-2], content.shape[-1], opts.tile, CONTEXT)
    with torch.inference_mode():
        style = read_styles(nets, job.styles, opts.style_weights)
        features = encode(nets.content_encoder, content, tiles, lambda part: job.progress(0.4 * part, "microast"))
        assert opts.alpha is not None  # validate() fills it in
        middle = transform(nets, features, style, opts.style_weights, opts.alpha, mask, job.statistics)
        job.progress(0.5, "microast")
        result = decode(nets.decoder.dec3, middle, tiles, lambda part: job.progress(0.5 + 0.5 * part, "microast"))
    return result[..., :height, :width].clamp(0, 1)


def encode(encoder: Encoder, image: torch.Tensor, tiles: list[Tile], report: Callable[[float], None]) -> torch.Tensor:
    """enc2 features of the whole image, tile by tile (each from its window, keeping the core)."""
    features = image.new_empty(1, 64, image.shape[-2] // SCALE, image.shape[-1] // SCALE).contiguous(
        memory_format=torch.channels_last)
    for i, tile in enumerate(tiles):
        core = tile.core_of_window(encoder(tile.window(image))[1], SCALE)
        features[..., tile.y0 // SCALE:tile.y1 // SCALE, tile.x0 // SCALE:tile.x1 // SCALE] = core
        report((i + 1) / len(tiles))
    return features


def decode(tail: nn.Module, features: torch.Tensor, tiles: list[Tile], report: Callable[[float], None]) -> torch.Tensor:
    """The upsampling tail, tile by tile: each tile's window of features → its core in image pixels."""
    image = features.new_empty(1, 3, features.shape[-2] * SCALE, features.shape[-1] * SCALE)
    for i, tile in enumerate(tiles):
        window = features[..., tile.wy0 // SCALE:tile.wy1 // SCALE, tile.wx0 // SCALE:tile.wx1 // SCALE]
        image[..., tile.y0:tile.y1, tile.x0:tile.x1] = tile.core_of_window(tail(window))
        report((i + 1) / len(tiles))
    return image
