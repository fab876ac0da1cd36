import shutil
from pathlib import Path

import numpy as np
import pytest

from brushwork import raster
from brushwork.strokes import BRUSHES, StrokeList, random_stroke

SHARED = Path(__file__).resolve().parents[2] / "shared"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def drawn(strokes, width: int, height: int, background=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Strokes drawn in order by the exact renderer over `background`: (H, W, 3) float RGB in 0..1."""
    canvas = raster.RasterCanvas(width, height, background=background)
    for stroke in strokes:
        canvas.draw(stroke)
    return canvas.to_rgb().astype(np.float32) / 255


def random_list(seed: int, count: int = 40, width: int = 320, height: int = 200,
                background=(0.95, 0.93, 0.9)) -> StrokeList:
    """A painting-like list mixing all four kinds (sizes 3 %..30 % of the canvas)."""
    rng = np.random.default_rng(seed)
    side = max(width, height)
    kinds = list(BRUSHES)
    strokes = [random_stroke(kinds[rng.integers(4)], width, height, rng,
                             min_size=0.03 * side, max_size=0.3 * side) for _ in range(count)]
    return StrokeList(width, height, tuple(strokes), background)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is required (the README test command installs it)")
    return path
