"""The image module: reading pictures (any format and mode Pillow reads, the right way up, as RGB),
compositing over a background, resizing, and conversions to tensors on a device and back.

Two array conventions cross module boundaries, both (H, W, 3) RGB: float32 in 0..1 (the painter's,
`load_image`) and uint8 (the stylizer's and the editors', `load_rgb8`); tensors are (1, C, H, W)
float32 in 0..1 (`to_tensor` / `to_array` convert either array convention).

Large pictures are decoded no larger than the job needs (`max_side`): JPEGs at 1/2 to 1/8 scale in
the decoder itself, everything else shrunk in 8 bits before any float copy is made, so memory
follows the working size rather than the file's. Pictures over MAX_SIDE pixels on a side are
refused from their header, before any pixel is decoded.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from brushwork.errors import BrushworkError

if TYPE_CHECKING:
    import torch

# The largest picture brushwork reads: 16,384 px on either side (so at most 268 M pixels, as the
# bridge accepts). Decoded whole it is 1 GiB in 8-bit RGBA, and float copies of it would be 3-4 GiB;
# past it a file is far more likely a decompression bomb (a few hundred KB of zlib declaring a
# gigapixel) than a photo to paint.
MAX_SIDE = 16_384
MAX_PIXELS = MAX_SIDE * MAX_SIDE

# EXIF orientation -> the transpose that puts the picture the right way up (as ImageOps.exif_transpose).
_ORIENT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L")


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file the right way up, read from its header alone; refuses the
    files `load_image` refuses (missing, unreadable, over MAX_SIDE)."""
    with _opened(Path(path)) as image:
        width, height = image.size
        return (height, width) if _orientation(image) in (5, 6, 7, 8) else (width, height)


def load_image(
    path: str | os.PathLike,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    *,
    max_side: int | None = None,
) -> np.ndarray:
    """(H, W, 3) float32 RGB in 0..1. Grey, palette, CMYK, 16-bit and transparent images are
    converted (transparency over `background`); EXIF orientation is applied.

    With `max_side`, a picture whose long side is larger comes back area-averaged to exactly that
    long side (the other side rounded), decoded reduced where the format allows; `image_size`
    gives its full size."""
    with _decoded(Path(path), max_side) as image:
        return image_to_rgb(image, background, str(path))


def load_rgb8(path: str | os.PathLike, *, max_side: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB (transparency over white), reduced like `load_image`: for callers that
    work in 8 bits (stylization), with no float copy of the whole picture."""
    with _decoded(Path(path), max_side) as image:
        if image.mode in _SIXTEEN_BIT + ("I", "F"):
            return (image_to_rgb(image, name=str(path)) * 255 + 0.5).astype(np.uint8)
        if _has_alpha(image):
            return composite_over(np.asarray(image.convert("RGBA")), dtype=np.uint8)
        return np.asarray(image.convert("RGB"))


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask image as (H, W) float32 in 0..1: its alpha channel if it has one, else its grey level;
    the right way up and size-checked like `load_image`."""
    with _decoded(Path(path), None) as image:
        grey = image.getchannel("A") if image.mode in ("RGBA", "LA") else image.convert("L")
        return np.asarray(grey, dtype=np.float32) / 255.0


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """The image file opened lazily (header read, no pixels), checked against MAX_SIDE."""
    if not path.exists():
        raise BrushworkError(f"{path}: no such file")
    try:
        image = _open(path)
    except UnidentifiedImageError as exc:
        raise BrushworkError(f"{path}: not an image brushwork can read ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BrushworkError(f"{path}: cannot read the image, the file may be damaged ({exc})") from None
    with image:
        width, height = image.size
        if width == 0 or height == 0:
            raise BrushworkError(f"{path}: the image is empty ({width}x{height})")
        if max(width, height) > MAX_SIDE:
            raise BrushworkError(
                f"{path}: {width}x{height} pixels is larger than brushwork reads "
                f"(at most {MAX_SIDE} px on either side)"
            )
        yield image


def _open(path: Path) -> Image.Image:
    """Image.open minus its decompression-bomb check. That check reads one process-wide setting
    (Image.MAX_IMAGE_PIXELS: 179 M pixels unless changed), too low for MAX_SIDE, and changing it
    here would race with other threads; `_opened` applies brushwork's own limit to the header."""
    with open(path, "rb") as fp:
        prefix = fp.read(16)
    Image.init()
    for name in Image.ID:
        factory, accept = Image.OPEN[name]
        verdict = accept(prefix) if accept else True
        if not verdict or isinstance(verdict, str):  # a str: "this format, but not supported"
            continue
        try:
            # a path: the image owns its file (Pillow opens one; its OPEN registry types only file objects)
            return factory(os.fspath(path), os.fspath(path))  # type: ignore[arg-type]
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue  # not this format after all, as Image.open goes on to the next
    raise UnidentifiedImageError(f"cannot identify image file {os.fspath(path)!r}")


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except (ValueError, TypeError, SyntaxError, OSError, struct.error):
        return 1  # unreadable EXIF: as Pillow's exif_transpose, leave the picture as stored


@contextmanager
def _decoded(path: Path, max_side: int | None) -> Iterator[Image.Image]:
    """The file's pixels (see `_reduced`), with decoding errors as one line naming the file."""
    with _opened(path) as image:
        try:
            yield _reduced(image, max_side)
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            # DecompressionBombError: Pillow's own check inside some formats (GIF frames, ICO)
            raise BrushworkError(f"{path}: cannot read the image, the file may be damaged ({exc})") from None


def _reduced(image: Image.Image, max_side: int | None) -> Image.Image:
    """The pixels, the right way up, no larger than `max_side` on the long side. Everything here
    stays in the file's own bit depth: the float conversion comes after, at the reduced size."""
    orientation = _orientation(image)  # before any resize: the reduced copy has no EXIF
    width, height = image.size
    target = None
    if max_side is not None and max(width, height) > max_side:
        target_h, target_w = fit_long_side(height, width, max_side)
        target = (target_w, target_h)
        if image.format in ("JPEG", "MPO"):  # MPO: a camera's JPEG with extra frames
            image.draft(None, target)  # DCT scaling: decodes at 1/2, 1/4 or 1/8, never below target
    with warnings.catch_warnings():
        # Pillow warns about pictures over its own default limit; MAX_SIDE has been checked.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image.load()
    if target is not None and image.size != target:
        if image.mode in ("1", "P", "PA"):  # Pillow resizes these by nearest neighbour
            has_alpha = image.mode == "PA" or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "L" if image.mode == "1" else "RGB")
        # BOX is the exact area average (LA and RGBA premultiplied by Pillow), as `resize` below:
        # the painter sees the picture it would have reduced itself.
        image = image.resize(target, Image.Resampling.BOX)
    if orientation in _ORIENT:
        image = image.transpose(_ORIENT[orientation])
    return image


def image_to_rgb(image: Image.Image, background: tuple[float, float, float] = (1.0, 1.0, 1.0),
                 name: str = "image") -> np.ndarray:
    """A decoded Pillow image of any mode as (H, W, 3) float32 RGB in 0..1, transparency over
    `background`; `name` (the file) is what errors name."""
    if image.width == 0 or image.height == 0:
        raise BrushworkError(f"{name}: the image is empty ({image.width}x{image.height})")
    if image.mode in _SIXTEEN_BIT + ("I", "F"):  # 16/32-bit grey
        grey = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if image.mode in _SIXTEEN_BIT or grey.max() > 255 else 255.0
        grey = np.clip(grey / peak, 0, 1)
        return np.repeat(grey[..., None], 3, axis=2)
    if _has_alpha(image):
        return composite_over(np.asarray(image.convert("RGBA")), background)
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    rgb *= 1 / 255
    return rgb


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


BAND_ROWS = 256  # rows composited at a time: the float temporaries stay a few MB whatever the picture's size


def composite_over(rgba: np.ndarray, background: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   dtype: type = np.float32) -> np.ndarray:
    """Straight-alpha (H, W, 4) uint8 RGBA over an opaque `background` (RGB in 0..1): (H, W, 3) float32
    in 0..1, or uint8 (rounded) with `dtype=np.uint8`.

    Converted in bands of rows: done on a whole picture at once, the float temporaries cost about
    44 bytes per pixel (1 GB for 24 MP); banded, the peak is the result itself."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise BrushworkError(f"composite_over: expected (H, W, 4) uint8 RGBA, got {rgba.dtype} of shape {rgba.shape}")
    if dtype not in (np.float32, np.uint8):
        raise BrushworkError(f"composite_over: dtype must be numpy.float32 or numpy.uint8, got {dtype}")
    paper = np.asarray(background, np.float32)
    out = np.empty(rgba.shape[:2] + (3,), dtype)
    for top in range(0, rgba.shape[0], BAND_ROWS):
        band = rgba[top:top + BAND_ROWS]
        alpha = band[..., 3:4].astype(np.float32) / 255
        flat = band[..., :3].astype(np.float32) / 255 * alpha + paper * (1 - alpha)
        out[top:top + BAND_ROWS] = np.round(flat * 255) if dtype == np.uint8 else flat
    return out


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(height, width) scaled so that the long side is `long_side` (the other rounded, at least 1)."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize of an (H, W, 3) float RGB array to width x height: area-averaged when shrinking
    (antialiased), bicubic when enlarging. (Tensors: `resize_tensor`.)"""
    if (rgb.shape[1], rgb.shape[0]) == (width, height):
        return rgb
    channels = [Image.fromarray(rgb[..., c]).resize((width, height), Image.Resampling.BOX if
                width < rgb.shape[1] else Image.Resampling.BICUBIC) for c in range(3)]
    return np.clip(np.stack([np.asarray(c) for c in channels], axis=2), 0, 1).astype(np.float32)


# Tensors: torch is imported inside these so that reading pictures (the server, the CLI's checks)
# does not load it.

def to_tensor(image: np.ndarray, device: torch.device | str | None = None) -> torch.Tensor:
    """(H, W, C) uint8 or float in [0, 1] → (1, C, H, W) float32 on `device` (one copy, made there)."""
    import torch

    array = np.asarray(image)
    if array.ndim != 3:
        raise BrushworkError(f"expected an image of shape (H, W, channels), got shape {array.shape}")
    if not (array.flags.writeable and array.flags.c_contiguous):
        array = np.array(array)  # torch shares numpy's memory and needs it writable
    tensor = torch.from_numpy(array).to(device).permute(2, 0, 1)[None].contiguous()
    return tensor.float() / 255.0 if array.dtype == np.uint8 else tensor.float()


def to_array(tensor: torch.Tensor, dtype: type = np.uint8) -> np.ndarray:
    """(1, C, H, W) in [0, 1], on any device → (H, W, C) uint8 (rounded) or float32."""
    import torch

    picture = tensor.detach()[0].clamp(0, 1).permute(1, 2, 0)
    if dtype == np.uint8:
        return (picture * 255).round().to(torch.uint8).cpu().numpy()
    return picture.float().cpu().numpy()


def resize_tensor(image: torch.Tensor, height: int, width: int, mode: str = "bicubic") -> torch.Tensor:
    """(N, C, H, W) in [0, 1] resized to height x width on its own device (note the tensor order:
    height first), antialiased when shrinking so that a smaller style or content keeps its texture
    statistics instead of aliasing; `mode="bilinear"` for masks (no overshoot). (Arrays: `resize`.)"""
    import torch.nn.functional as F

    if tuple(image.shape[-2:]) == (height, width):
        return image
    return F.interpolate(image, size=(height, width), mode=mode, antialias=True, align_corners=False).clamp(0, 1)
