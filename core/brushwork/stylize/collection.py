"""Style from a painter's collection: a generator G (photo → painting) and a Siamese discriminator D
(image → vector), trained on small tiles so that it runs on modest hardware and on HD images tile by
tile.

* Real/fake around a fixed point: D maps real paintings close to the origin and G's outputs at least
  MARGIN away from it; G pulls its outputs towards the origin (`discriminator_loss`, `generator_loss`).
* Content is kept without any per-pixel loss: for two photos a1, a2 the difference vectors
  D(a1) − D(a2) and D(G(a1)) − D(G(a2)) should point the same way (`keeping_loss`: 1 − their cosine
  similarity); D also keeps photos apart (a margin on ‖D(a1) − D(a2)‖) so its vectors carry content.
* Seams: G translates S×S tiles, each on its own. Training cuts 2S×2S photo crops into four S×S tiles
  (`split_tiles`), translates them separately and joins them (`join_tiles`), so D judges 2S×2S images
  that contain the seams and G learns to hide them. At inference an image is cut into S×S tiles the
  same way (`translate_tiles`).

G has no normalisation layers (each tile's output depends on that tile alone, as in training); it
predicts a change of the photo in logit space, so an untrained G starts from the photo itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

MARGIN = 1.0  # how far from the fixed point D must put generated images (and put two photos apart)
EPS = 1e-3


@dataclass(frozen=True)
class GeneratorShape:
    width: int = 32
    blocks: int = 4
    tile: int = 64  # S: the tile size G is trained on and run at


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.LeakyReLU(0.2),
                                  nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """(N, 3, S, S) photos in [0, 1] → paintings in (0, 1), tile by tile (no statistics across tiles)."""

    def __init__(self, shape: GeneratorShape = GeneratorShape()):
        super().__init__()
        self.shape = shape
        w = shape.width
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, w, 7), nn.LeakyReLU(0.2),
            nn.ReflectionPad2d(1), nn.Conv2d(w, 2 * w, 3, stride=2), nn.LeakyReLU(0.2),
            *(_Residual(2 * w) for _ in range(shape.blocks)),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1), nn.Conv2d(2 * w, w, 3),
            nn.LeakyReLU(0.2), nn.ReflectionPad2d(3), last := nn.Conv2d(w, 3, 7))
        assert last.bias is not None
        nn.init.zeros_(last.weight)  # an untrained G returns the photo
        nn.init.zeros_(last.bias)

    def config(self) -> dict:
        return asdict(self.shape)

    def forward(self, photo: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(torch.logit(photo.clamp(EPS, 1 - EPS)) + self.net(photo))


class Discriminator(nn.Module):
    """(N, 3, H, W) images → (N, dim) vectors: strided convs, then the mean over positions."""

    def __init__(self, width: int = 32, dim: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in (width, 2 * width, 4 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(image - 0.5).mean((2, 3)))


def split_tiles(images: torch.Tensor) -> torch.Tensor:
    """(B, C, 2S, 2S) → (4B, C, S, S): each image's four quadrants, image by image, row-major."""
    batch, channels, height, width = images.shape
    if height != width or height % 2:
        raise ValueError(f"split_tiles: expected square crops of an even side, got {width}x{height}")
    size = height // 2
    tiles = images.reshape(batch, channels, 2, size, 2, size).permute(0, 2, 4, 1, 3, 5)
    return tiles.reshape(batch * 4, channels, size, size)


def join_tiles(tiles: torch.Tensor) -> torch.Tensor:
    """The inverse of `split_tiles`: (4B, C, S, S) → (B, C, 2S, 2S)."""
    count, channels, size, _ = tiles.shape
    grid = tiles.reshape(count // 4, 2, 2, channels, size, size).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(count // 4, channels, 2 * size, 2 * size)


def translate_seamed(generator: Generator, crops: torch.Tensor) -> torch.Tensor:
    """2S×2S photo crops translated as in training: four S×S tiles each, separately, joined."""
    return join_tiles(generator(split_tiles(crops)))


def translate_tiles(generator: Generator, image: torch.Tensor, batch: int = 64,
                    report: Callable[[float], None] = lambda part: None) -> torch.Tensor:
    """(1, 3, H, W) of any size: cut into S×S tiles (the image padded by reflection to a multiple of S),
    each translated on its own, `batch` tiles at a time; memory is bounded by one batch."""
    size = generator.shape.tile
    height, width = image.shape[-2:]
    pad_h, pad_w = -height % size, -width % size
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    padded = F.pad(image, (0, pad_w, 0, pad_h), mode=mode) if pad_h or pad_w else image
    rows, cols = padded.shape[-2] // size, padded.shape[-1] // size
    tiles = padded.reshape(3, rows, size, cols, size).permute(1, 3, 0, 2, 4).reshape(rows * cols, 3, size, size)
    out = torch.empty_like(tiles)
    for start in range(0, len(tiles), batch):
        out[start:start + batch] = generator(tiles[start:start + batch])
        report(min(1.0, (start + batch) / len(tiles)))
    joined = out.reshape(rows, cols, 3, size, size).permute(2, 0, 3, 1, 4).reshape(1, 3, rows * size, cols * size)
    return joined[..., :height, :width]


def _pair_differences(vectors: torch.Tensor) -> torch.Tensor:
    """Differences between each vector and the next one in the batch (a1 − a2 pairs, cyclically)."""
    return vectors - vectors.roll(1, 0)


def keeping_loss(photo_vectors: torch.Tensor, translated_vectors: torch.Tensor) -> torch.Tensor:
    """1 − cosine similarity of D(a1) − D(a2) and D(G(a1)) − D(G(a2)), averaged over the pairs."""
    return (1 - F.cosine_similarity(_pair_differences(photo_vectors), _pair_differences(translated_vectors),
                                    dim=1)).mean()


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, photos: torch.Tensor,
                       translated: torch.Tensor, keep_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(total, adversarial part) of D's loss from its vectors of real paintings, generated images (G
    detached), photos and their translations."""
    adversarial = (real**2).sum(1).mean() + F.relu(MARGIN - fake.norm(dim=1)).pow(2).mean()
    apart = F.relu(MARGIN - _pair_differences(photos).norm(dim=1)).pow(2).mean()
    return adversarial + keep_weight * (keeping_loss(photos, translated) + apart), adversarial


def generator_loss(fake: torch.Tensor, photos: torch.Tensor, translated: torch.Tensor,
                   keep_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, adversarial, keeping) losses of G: its outputs pulled to the fixed point, content kept."""
    adversarial = (fake**2).sum(1).mean()
    keeping = keeping_loss(photos, translated)
    return adversarial + keep_weight * keeping, adversarial, keeping
