import colorsys
import os
import shutil
import zlib
from importlib.resources import files as package_files
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image, ImageDraw

from brushwork import raster, weights

# One torch thread whatever the load: the painter and the stylizer otherwise pick their thread count
# from the machine's load, and a different count sums in another order (tests compare runs exactly).
os.environ.setdefault("BRUSHWORK_THREADS", "1")
from brushwork.strokes import BRUSHES, StrokeList, random_stroke

# The project's data folder next to the repository (weights and photos). A plain clone does not have
# it: then the weights come the way a user gets them (the registry's verified download into the user
# cache) and the photos are stood in for by the bundled photo and generated paintings.
SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_WEIGHTS = SHARED / "weights"
SHARED_IMAGES = SHARED / "images"
BUNDLED_PHOTO = Path(str(package_files("brushwork") / "data" / "chelsea.jpg"))
# Where the user's weights live, read before any test changes the environment.
_USER_ENV = {name: os.environ.get(name) for name in (weights.ENV_DIR, weights.ENV_OFFLINE, "XDG_CACHE_HOME")}


def run_cli(capsys, *args):
    """The CLI in-process: (exit code, stdout, stderr)."""
    from brushwork.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def write_colour_field(path: Path, seed: int, size: tuple[int, int], grid: tuple[int, int]) -> Path:
    """A smooth random colour field (a grid of random colours scaled up bicubically: image-like
    statistics, not white noise), `size` (height, width), written to `path` and its folder made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    small = np.random.default_rng(seed).integers(0, 256, (*grid, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size[::-1], Image.BICUBIC).save(path)
    return path


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
    """A painting-like list mixing every kind (sizes 3 %..30 % of the canvas)."""
    rng = np.random.default_rng(seed)
    side = max(width, height)
    kinds = list(BRUSHES)
    strokes = [random_stroke(kinds[rng.integers(len(kinds))], width, height, rng,
                             min_size=0.03 * side, max_size=0.3 * side) for _ in range(count)]
    return StrokeList(width, height, tuple(strokes), background)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is required (the README test command installs it)")
    return path


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory) -> Path:
    """A folder laid out like the weights registry (cd16x/1SE.pth ...) holding every registered file.

    ../shared/weights when it is there (never a download). Otherwise what a user has: $BRUSHWORK_WEIGHTS
    or the user cache, with missing files downloaded from their registered URLs and sha256-verified
    (weights.fetch); when that is impossible (offline), every test using this fails with one line.
    """
    entries = list(weights.REGISTRY.values())
    if SHARED_WEIGHTS.is_dir():
        missing = [e.path for e in entries if not (SHARED_WEIGHTS / e.path).is_file()]
        if missing:
            pytest.fail(f"{SHARED_WEIGHTS} lacks {', '.join(missing)} (see its SOURCES.md)", pytrace=False)
        return SHARED_WEIGHTS
    found: dict[weights.WeightFile, Path] = {}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _USER_ENV.items():
            if value is None:
                mp.delenv(name, raising=False)
            else:
                mp.setenv(name, value)
        try:
            for entry in entries:
                path = weights.locate(entry)
                if path is None and not weights.offline():
                    path = weights.fetch(entry, progress=False)
                if path is not None:
                    found[entry] = path
            reason = f"downloads are off (${weights.ENV_OFFLINE})"
        except weights.WeightsError as exc:  # a download that failed, or a bad file in $BRUSHWORK_WEIGHTS
            reason = str(exc).split("; when offline")[0]  # the advice for the CLI's user is replaced below
        missing = [e for e in entries if e not in found]
        if missing:
            groups = " ".join(dict.fromkeys(e.group for e in missing))
            hosts = " and ".join(dict.fromkeys(urlsplit(e.url).netloc for e in missing))
            pytest.fail(f"missing weights: {groups} ({len(missing)} files) not in {SHARED_WEIGHTS}, "
                        f"${weights.ENV_DIR} or {weights.cache_dir()}, and {reason}. Get them with "
                        f"`.venv/bin/brushwork weights fetch {groups}` where {hosts} is reachable, or set "
                        f"${weights.ENV_DIR} to a folder holding them ({missing[0].path} ...)", pytrace=False)
    roots = {path.parents[len(Path(entry.path).parts) - 1] for entry, path in found.items()}
    if len(roots) == 1:
        return roots.pop()
    farm = tmp_path_factory.mktemp("weights")  # some in $BRUSHWORK_WEIGHTS, some in the cache: one folder
    for entry, path in found.items():
        (farm / entry.path).parent.mkdir(parents=True, exist_ok=True)
        (farm / entry.path).symlink_to(path)
    return farm


def content_photo(name: str) -> Path:
    """A photo of ../shared/images/content; in a plain clone, the photo bundled with brushwork."""
    return SHARED_IMAGES / "content" / name if SHARED_IMAGES.is_dir() else BUNDLED_PHOTO


def generated_painting(name: str, width: int = 512, height: int = 384) -> np.ndarray:
    """A painting-like picture to stand in for a style image: a few thousand short, thick brush strokes
    in a bold palette, following swirls (its own palette and swirls for each name). (H, W, 3) uint8 RGB."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    hues = (rng.random() + np.array([0.0, 0.08, 0.5, 0.58, 0.15])) % 1.0  # two families, opposite hues
    palette = [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(h, rng.uniform(0.6, 1), rng.uniform(0.35, 1)))
               for h in hues]
    image = Image.new("RGB", (width, height), palette[0])
    draw = ImageDraw.Draw(image)
    centres = rng.random((4, 2)) * (width, height)
    spin = rng.choice((-1, 1), 4)
    for _ in range(4000):
        x, y = rng.random(2) * (width, height)
        dx, dy = x - centres[:, 0], y - centres[:, 1]
        pull = np.exp(-np.hypot(dx, dy) / (0.3 * width))
        angle = np.angle(np.sum(pull * spin * (-dy + 1j * dx))) + rng.normal(0, 0.2)  # along the swirls
        length, thick = rng.uniform(10, 30), int(rng.integers(3, 8))
        colour = palette[int(rng.integers(len(palette)))]
        colour = tuple(int(np.clip(c + rng.normal(0, 18), 0, 255)) for c in colour)
        draw.line([(x, y), (x + length * np.cos(angle), y + length * np.sin(angle))], fill=colour, width=thick)
    return np.asarray(image)


@pytest.fixture(scope="session")
def style_image(tmp_path_factory):
    """style_image(name) -> the path of a painting of ../shared/images/style; in a plain clone, a
    generated painting standing in for it (a PNG file, its own picture for each name)."""
    if SHARED_IMAGES.is_dir():
        return lambda name: SHARED_IMAGES / "style" / name
    folder = tmp_path_factory.mktemp("style")

    def generated(name: str) -> Path:
        path = folder / (Path(name).stem + ".png")
        if not path.exists():
            Image.fromarray(generated_painting(name)).save(path)
        return path

    return generated


@pytest.fixture
def meta_default():
    """torch's default device is `meta` for the test, restored afterwards: a tensor made without its
    input's device becomes a meta tensor and fails where it meets a real one, so device bugs show on
    a CPU-only machine."""
    import torch

    previous = torch.get_default_device()
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device(previous)


def small_style(path) -> np.ndarray:
    """A style painting shrunk to 192 px (long side) so that each stylize test runs in about a second."""
    image = Image.open(path).convert("RGB")
    image.thumbnail((192, 192), Image.LANCZOS)
    return np.asarray(image)


@pytest.fixture(scope="session")
def models(weights_dir):
    """The default style-transfer networks (cd16x), from the test weights, never downloaded."""
    from brushwork.stylize import CD16xModels

    return CD16xModels(directory=weights_dir, download=False)


@pytest.fixture(scope="session")
def starry(style_image):
    return small_style(style_image("starry_night.jpg"))


@pytest.fixture(scope="session")
def wave(style_image):
    return small_style(style_image("wave.jpg"))
