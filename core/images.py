"""Reading the photos users paint: any format and mode Pillow reads, the right way up, as RGB."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from brushwork.errors import BrushworkError

# Pillow refuses images above ~179 M pixels as decompression bombs; brushwork downsizes anyway,
# so it accepts up to this many and says when it works on a smaller copy.
MAX_PIXELS = 1_000_000_000


def load_image(path: str | os.PathLike, background: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """(H, W, 3) float32 RGB in 0..1. Grey, palette, CMYK, 16-bit and transparent images are
    converted (transparency over `background`); EXIF orientation is applied."""
    path = Path(path)
    if not path.exists():
        raise BrushworkError(f"{path}: no such file")
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                image = ImageOps.exif_transpose(opened)
                image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise BrushworkError(f"{path}: not an image brushwork can read ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BrushworkError(f"{path}: cannot read the image, the file may be damaged ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return image_to_rgb(image, background, str(path))


def image_to_rgb(image: Image.Image, background=(1.0, 1.0, 1.0), name: str = "image") -> np.ndarray:
    if image.width == 0 or image.height == 0:
        raise BrushworkError(f"{name}: the image is empty ({image.width}x{image.height})")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16/32-bit grey
        grey = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if image.mode.startswith("I;16") or grey.max() > 255 else 255.0
        grey = np.clip(grey / peak, 0, 1)
        return np.repeat(grey[..., None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    rgba = np.asarray(image.convert("RGBA") if has_alpha else image.convert("RGB"), dtype=np.float32) / 255
    if not has_alpha:
        return rgba
    alpha = rgba[..., 3:4]
    return rgba[..., :3] * alpha + np.asarray(background, np.float32) * (1 - alpha)


def resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-averaged (antialiased) resize of a float RGB image."""
    if (rgb.shape[1], rgb.shape[0]) == (width, height):
        return rgb
    channels = [Image.fromarray(rgb[..., c]).resize((width, height), Image.Resampling.BOX if
                width < rgb.shape[1] else Image.Resampling.BICUBIC) for c in range(3)]
    return np.clip(np.stack([np.asarray(c) for c in channels], axis=2), 0, 1).astype(np.float32)
