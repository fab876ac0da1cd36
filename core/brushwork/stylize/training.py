"""What the stylize trainers share (`train_decoder`, `train_style`): training images held in memory and
cut into random crops, the training state, the learning-rate schedule, and reading a checkpoint."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from brushwork import images
from brushwork.errors import BrushworkError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MAX_SIDE = 1024  # images are held in memory at most this large; crops are a few hundred px


@dataclass
class TrainState:
    step: int = 0
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)  # figures along the way (losses, held-out losses)
    threads: int = 0  # torch threads the last session trained with (fewer than torch's on a busy machine)


def cosine_lr(lr: float, step: int, steps: int) -> float:
    """Cosine decay from `lr` to 5 % of it over `steps`."""
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / steps))))


def read_checkpoint(path: Path, keys: Sequence[str], what: str) -> dict:
    """The saved run at `path`, which must hold `keys`. Loaded with weights_only (tensors and plain data:
    a checkpoint never runs code); any failure is one line naming the file and `what` it should be."""
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on the way to refusing
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError (not a zip), EOFError, OSError, ...
        lines = str(exc).strip().splitlines()
        raise BrushworkError(f"--checkpoint {path}: not a {what} ({lines[0][:160] if lines else type(exc).__name__}); "
                             "remove it to start over") from None
    if not isinstance(saved, dict) or not all(key in saved for key in keys):
        found = ", ".join(map(str, saved)) if isinstance(saved, dict) else type(saved).__name__
        raise BrushworkError(f"--checkpoint {path}: not a {what} (it holds {found}); remove it to start over")
    return saved


def image_files(sources: Iterable[str | Path], what: str) -> list[Path]:
    """The image files named by `sources` (files, or folders searched one level deep), sorted; an empty
    result or a missing path is an error naming the option."""
    found: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found += sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif source.is_file():
            found.append(source)
        else:
            raise BrushworkError(f"{what} {source}: no such file or folder")
    if not found:
        raise BrushworkError(f"{what}: no images ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(map(str, sources))}")
    return found


def load_pool(paths: Sequence[Path], size: int) -> list[torch.Tensor]:
    """Each image as a (3, H, W) tensor in [0, 1], long side at most MAX_SIDE and short side at least
    `size` (smaller images are enlarged so a crop fits)."""
    pool = []
    for path in paths:
        rgb = images.load_image(path, max_side=MAX_SIDE)
        image = images.to_tensor(rgb)[0]
        short = min(image.shape[-2:])
        if short < size:
            height, width = (round(n * size / short) for n in image.shape[-2:])
            image = images.resize_tensor(image[None], max(size, height), max(size, width))[0].clamp(0, 1)
        pool.append(image)
    return pool


def random_crops(pool: Sequence[torch.Tensor], count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """`count` random size×size crops: a random image, scaled so its short side is anywhere from `size`
    to its own, a random window, flipped left-right half the time."""
    crops = []
    for _ in range(count):
        image = pool[int(torch.randint(len(pool), (), generator=generator))]
        height, width = image.shape[-2:]
        short = min(height, width)
        scale = (size + float(torch.rand((), generator=generator)) * (short - size)) / short
        if scale < 1:
            image = F.interpolate(image[None], size=(max(size, round(height * scale)), max(size, round(width * scale))),
                                  mode="bilinear", antialias=True, align_corners=False)[0]
        y = int(torch.randint(image.shape[-2] - size + 1, (), generator=generator))
        x = int(torch.randint(image.shape[-1] - size + 1, (), generator=generator))
        crop = image[:, y:y + size, x:x + size]
        if float(torch.rand((), generator=generator)) < 0.5:
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.stack(crops)
