"""Colour palettes and colour distances: sRGB to CIELAB, k-means palettes of a picture, and how far
a colour is from a palette (CIE76 ΔE, the Euclidean distance in CIELAB: about 2.3 is a just
noticeable difference, 20 a clearly different colour).

Pure functions (numpy, scipy's k-means; `lab` in torch, differentiable): the stroke-style benchmark
counts off-palette strokes with them, and the restyler keeps stroke colours near the photo's and the
style's palettes.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.cluster.vq import kmeans2

# sRGB (D65) -> CIE XYZ, and the D65 white point (IEC 61966-2-1).
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_WHITE = np.array([0.95047, 1.0, 1.08883])
PALETTE_PIXELS = 20000  # pixels sampled for a palette: k-means on more changes it by well under ΔE 1


def lab(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3) sRGB in 0..1 -> (..., 3) CIELAB (L in 0..100), differentiable, in `rgb`'s dtype and device."""
    c = rgb.clamp(0, 1)
    linear = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055).clamp_min(1e-12) ** 2.4)
    xyz = linear @ torch.as_tensor(_RGB_TO_XYZ.T / _WHITE, dtype=rgb.dtype, device=rgb.device)
    delta = 6 / 29
    f = torch.where(xyz > delta**3, xyz.clamp_min(delta**3) ** (1 / 3), xyz / (3 * delta**2) + 4 / 29)
    return torch.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], dim=-1)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB in 0..1 -> (..., 3) CIELAB (L in 0..100), in float64 (`lab` on arrays)."""
    return lab(torch.as_tensor(np.asarray(rgb, dtype=np.float64))).numpy()


def palette(image: np.ndarray, colours: int = 16, seed: int = 0) -> np.ndarray:
    """The `colours` k-means centres (in CIELAB, (k, 3)) of an (H, W, 3) picture (float RGB in 0..1
    or uint8), from at most PALETTE_PIXELS pixels drawn with `seed`: the same picture and seed give
    the same palette."""
    rgb = np.asarray(image)
    rgb = rgb.astype(np.float64) / 255 if rgb.dtype == np.uint8 else rgb.astype(np.float64)
    pixels = rgb_to_lab(rgb.reshape(-1, 3))
    rng = np.random.default_rng(seed)
    if len(pixels) > PALETTE_PIXELS:
        pixels = pixels[rng.choice(len(pixels), PALETTE_PIXELS, replace=False)]
    if len(np.unique(pixels, axis=0)) <= colours:  # fewer colours than asked: they are the palette
        return np.unique(pixels, axis=0)
    centres, labels = kmeans2(pixels, colours, minit="++", seed=rng)
    return centres[np.isin(np.arange(colours), labels)]  # an empty cluster is no colour of the picture


def distance_to_palette(lab: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(..., 3) CIELAB colours -> (...) ΔE (CIE76) to the nearest colour of `centres` ((k, 3))."""
    return np.linalg.norm(np.asarray(lab)[..., None, :] - centres, axis=-1).min(axis=-1)


def off_palette(rgb: np.ndarray, centres: np.ndarray, threshold: float = 20.0) -> np.ndarray:
    """(..., 3) RGB colours in 0..1 -> (...) bool: farther than `threshold` ΔE from every colour of
    `centres` (CIELAB)."""
    return distance_to_palette(rgb_to_lab(rgb), centres) > threshold
