"""--method microast: the upstream network's output, strict loading, whole-image statistics under tiling,
alpha, masks, several styles and colour preservation."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from brushwork import weights
from brushwork.images import to_array, to_tensor
from brushwork.stylize import CD16xModels, StyleOptions, stylize
from brushwork.stylize.microast import NETWORKS, Networks, halved_kernel, read_styles, transform
from brushwork.stylize.transforms import preserve_color
from brushwork.weights import WeightsError

from conftest import BUNDLED_PHOTO
from test_stylize import photo

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch, tmp_path):
    """The weights come from the `models` fixture's folder only, and never from a download."""
    monkeypatch.setenv(weights.ENV_DIR, str(tmp_path / "no-weights"))
    monkeypatch.setenv(weights.ENV_OFFLINE, "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def nets(weights_dir):
    return Networks.load("cpu", weights_dir, download=False)


def bundled(width: int, height: int) -> np.ndarray:
    return np.asarray(Image.open(BUNDLED_PHOTO).convert("RGB").resize((width, height), Image.BILINEAR))


def test_matches_the_upstream_implementation(models):
    """tests/data/README.md says how the upstream code made this picture from the same pair. Ours
    differs only where upstream's unbiased variance (n − 1) rounds a channel to the next level."""
    content = bundled(128, 96)
    style = bundled(96, 96)[..., ::-1].transpose(1, 0, 2)
    ours = stylize(content, [np.ascontiguousarray(style)], StyleOptions(method="microast", device="cpu"),
                   models=models)
    upstream = np.asarray(Image.open(DATA / "microast_upstream.png").convert("RGB"))
    difference = np.abs(ours.astype(int) - upstream)
    assert difference.max() <= 1
    assert difference.mean() < 0.05


def folder_with(tmp_path: Path, weights_dir: Path, name: str, content: bytes | None) -> Path:
    """A folder laid out like the registry holding the real MicroAST files, except `name` (absent if
    `content` is None, else those bytes)."""
    for network in NETWORKS:
        entry = weights.lookup(f"microast/{network}")
        target = tmp_path / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if network != name:
            target.symlink_to(weights_dir / entry.path)
        elif content is not None:
            target.write_bytes(content)
    return tmp_path


def test_a_missing_or_corrupt_file_is_named(tmp_path, weights_dir):
    path = tmp_path / "missing" / weights.lookup("microast/modulator").path
    with pytest.raises(WeightsError, match=f"{path}: no such weights file"):
        Networks.load("cpu", folder_with(tmp_path / "missing", weights_dir, "modulator", None), download=False)
    path = tmp_path / "corrupt" / weights.lookup("microast/decoder").path
    with pytest.raises(WeightsError, match=f"{path}: not a PyTorch weights file"):
        Networks.load("cpu", folder_with(tmp_path / "corrupt", weights_dir, "decoder", b"\0" * 100), download=False)


def test_loading_is_strict(tmp_path, weights_dir):
    """A file with a parameter missing, an extra one or another shape is refused, naming file and key."""
    real = torch.load(weights_dir / weights.lookup("microast/decoder").path, map_location="cpu", weights_only=True)
    entry = weights.lookup("microast/decoder")
    for case, state in {
        "missing": {k: v for k, v in real.items() if k != "dec2.conv1.conv_layer.bias"},
        "extra": {**real, "dec4.weight": torch.zeros(1)},
        "shape": {**real, "dec3.10.conv_layer.bias": torch.zeros(4)},
    }.items():
        folder = folder_with(tmp_path / case, weights_dir, "decoder", b"")
        torch.save(state, folder / entry.path)
        key = {"missing": "dec2.conv1.conv_layer.bias", "extra": "dec4.weight", "shape": "dec3.10.conv_layer.bias"}
        with pytest.raises(WeightsError, match=f"{folder / entry.path}: not a MicroAST decoder file.*{key[case]}"):
            Networks.load("cpu", folder, download=False)


def test_the_registry_offline_message_names_the_file(tmp_path):
    with pytest.raises(WeightsError, match="microast/content_encoder_iter_160000.pth.tar"):
        Networks.load("cpu", download=False)


def test_the_networks_are_loaded_once_per_models_and_device(weights_dir, starry, monkeypatch):
    """A server worker keeps one Models between jobs: the second job reuses the loaded networks."""
    loads = []
    real = Networks.load

    def counting(*args, **kwargs):
        loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(Networks, "load", counting)
    kept = CD16xModels(weights_dir)
    content = photo("chicago.jpg", 64, 48)
    for _ in range(2):
        stylize(content, [starry], StyleOptions(method="microast", device="cpu"), models=kept)
    assert len(loads) == 1


def test_tiled_equals_untiled(models, starry):
    """Statistics of the whole image reach every tile (the quarter-resolution middle runs whole): tiles of
    64 px give the untiled picture."""
    content = photo("chicago.jpg", 200, 136)
    whole = stylize(content, [starry], StyleOptions(method="microast", device="cpu"), models=models)
    tiled = stylize(content, [starry], StyleOptions(method="microast", tile=64, device="cpu"), models=models)
    assert np.abs(whole.astype(int) - tiled).max() <= 1


def test_alpha_blends_each_adain_in_feature_space(nets, starry):
    """alpha = 0 leaves the features to the modulated blocks alone; 1 moves them to the style's statistics."""
    features = nets.content_encoder(to_tensor(photo("chicago.jpg", 96, 64)))[1]
    style = read_styles(nets, [to_tensor(starry)], [1.0])
    with torch.inference_mode():
        untouched = nets.decoder.dec2(nets.decoder.dec1(features, style.dec1), style.dec2)
        torch.testing.assert_close(transform(nets, features, style, [1.0], 0.0, None), untouched)
        full = transform(nets, features, style, [1.0], 1.0, None)
        half = transform(nets, features, style, [1.0], 0.5, None)
    # (the blocks between and after the AdaINs are not linear: half way in alpha is not half way out)
    assert (full - untouched).abs().mean() > 0.1
    assert (half - untouched).abs().mean() > 0.1 and (half - full).abs().mean() > 0.1


def test_style_weights_blend_the_styles(models, starry, wave):
    content = photo("chicago.jpg", 96, 64)

    def run(styles, style_weights=None):
        return stylize(content, styles, StyleOptions(method="microast", style_weights=style_weights, device="cpu"),
                       models=models).astype(int)

    only_starry, only_wave = run([starry]), run([wave])
    assert np.abs(run([starry, wave], (1.0, 0.0)) - only_starry).max() <= 1
    mixed = run([starry, wave], (0.5, 0.5))
    assert np.abs(mixed - only_starry).mean() > 2 and np.abs(mixed - only_wave).mean() > 2


def test_mask_limits_the_style_and_its_statistics(models, starry):
    content = photo("chicago.jpg", 128, 64)
    mask = np.zeros((64, 128), np.float32)
    mask[:, :64] = 1
    options = StyleOptions(method="microast", device="cpu")
    masked = stylize(content, [starry], options, mask=mask, models=models)
    np.testing.assert_array_equal(masked[:, 64:], content[:, 64:])
    assert np.abs(masked[:, :48].astype(int) - content[:, :48]).mean() > 10
    # the statistics are those of the masked half: stylizing the half alone gives nearly the same
    alone = stylize(np.ascontiguousarray(content[:, :64]), [starry], options, models=models)
    assert np.abs(masked[8:-8, 8:40].astype(int) - alone[8:-8, 8:40]).mean() < 6


def test_preserve_color_keeps_the_contents_colours(models, starry):
    content = photo("chicago.jpg", 96, 64)
    styled = stylize(content, [starry], StyleOptions(method="microast", device="cpu"), models=models)
    kept = stylize(content, [starry], StyleOptions(method="microast", preserve_color=True, device="cpu"),
                   models=models)
    expected = to_array(preserve_color(to_tensor(styled), to_tensor(content)))
    assert np.abs(kept.astype(int) - expected).max() <= 1


def test_halved_kernel_gives_the_same_convolution():
    """The decoder's last conv runs on 2x2 pixel blocks: the same result as the plain convolution."""
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 5, 22, 30, generator=generator)
    for kernel in (3, 9):
        weight = torch.randn(3, 5, kernel, kernel, generator=generator)
        blocks = F.pixel_shuffle(F.conv2d(F.pixel_unshuffle(image, 2), halved_kernel(weight)), 2)
        expected = F.conv2d(image, weight)
        # the block form yields the whole (even) grid: the plain convolution's valid part is its top-left
        torch.testing.assert_close(blocks[..., :expected.shape[-2], :expected.shape[-1]], expected, atol=1e-4,
                                   rtol=1e-4)
