"""Stylization end to end with the real cd16x weights (conftest.weights_dir: ../shared/weights, else the
user's verified download; the code under test never downloads)."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork import weights
from brushwork.errors import BrushworkError
from brushwork.images import fit_long_side, to_array, to_tensor
from brushwork.stylize import StyleOptions, VGGModels, gatys, stylize
from brushwork.stylize.tiling import borders, plan, seam_energy_ratio

from conftest import content_photo, psnr, run_cli as run


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch, tmp_path):
    """Only the weights a test asks for (weights_env), and never a download."""
    monkeypatch.setenv(weights.ENV_DIR, str(tmp_path / "no-weights"))
    monkeypatch.setenv(weights.ENV_OFFLINE, "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def weights_env(no_downloads, weights_dir, monkeypatch):
    monkeypatch.setenv(weights.ENV_DIR, str(weights_dir))


def photo(name: str, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.open(content_photo(name)).convert("RGB").resize((width, height), Image.LANCZOS))


def test_alpha_zero_gives_the_contents_reconstruction(models, starry):
    content = photo("chicago.jpg", 160, 112)
    out = stylize(content, [starry], StyleOptions(method="wct", alpha=0.0, levels=(4,)), models=models)
    with torch.no_grad():
        x = to_tensor(content)
        reconstruction = to_array(models.decoder(4)(models.encoder(4)(x)))
    assert np.abs(out.astype(int) - reconstruction).max() <= 1
    assert psnr(out, content) > 21
    # Through all five levels the content still comes back. AdaIN's level-4 decoder is trained to decode
    # stylized features, not to reconstruct (on this photo 19 dB alone where cd16x/4SD gives 24), so less so.
    for method, floor in (("adain", 14), ("wct", 17)):
        chained = stylize(content, [starry], StyleOptions(method=method, alpha=0.0, levels=(5, 4, 3, 2, 1)),
                          models=models)
        assert psnr(chained, content) > floor


@pytest.mark.parametrize("method", ["adain", "wct", "gatys"])
def test_odd_sizes_keep_their_shape(models, starry, method):
    content = photo("coffee.png", 75, 53)
    options = StyleOptions(method=method, steps=2, optimizer="adam")
    out = stylize(content, [starry], options, models=models)
    assert out.shape == (53, 75, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - content).mean() > 5  # it did restyle
    bigger = stylize(content, [starry], StyleOptions(method=method, size=101, steps=1, work_size=64,
                                                     refine_steps=1, optimizer="adam"), models=models)
    assert bigger.shape == (71, 101, 3) == (*fit_long_side(53, 75, 101), 3)


def test_mask_confines_the_style(models, starry):
    content = photo("astronaut.png", 128, 128)
    mask = np.zeros((64, 64), np.float32)  # any size with the content's aspect ratio
    mask[:, 32:] = 1.0
    for method in ("wct", "adain"):
        out = stylize(content, [starry], StyleOptions(method=method), mask=mask, models=models).astype(int)
        assert np.array_equal(out[:, :60], content[:, :60])  # bilinear upscaling softens the mask edge a little
        assert np.abs(out[:, 68:] - content[:, 68:]).mean() > 20
    with pytest.raises(BrushworkError, match="mask is 64x32 but the content is 128x128: expected the same aspect"):
        stylize(content, [starry], StyleOptions(), mask=np.ones((32, 64), np.float32), models=models)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["wct", "adain"])
def test_tiles_join_without_seams(models, starry, method):
    """Tile by tile (with whole-image statistics) gives the untiled result, so there is nothing to see
    at tile borders."""
    content = photo("tubingen.jpg", 176, 128)
    levels = (5, 4, 3, 2, 1)
    whole = stylize(content, [starry], StyleOptions(method=method, levels=levels), models=models)
    tiled = stylize(content, [starry], StyleOptions(method=method, levels=levels, tile=64), models=models)
    assert len(plan(176, 128, 64, 16)) == 6
    difference = np.abs(whole.astype(int) - tiled)
    assert difference.max() <= 3 and difference.mean() < 0.05
    # Too little context per tile does show: the comparison above can fail.
    starved = stylize(content, [starry], StyleOptions(method=method, levels=levels, tile=64, margin=0), models=models)
    assert np.abs(whole.astype(int) - starved).max() > 20


def test_seam_energy_ratio_sees_seams():
    rng = np.random.default_rng(0)
    image = rng.normal(128, 20, (96, 96, 3))
    assert seam_energy_ratio(image, [32, 64], [48]) == pytest.approx(1.0, abs=0.1)
    image[:, 48:] += 30  # a step along column 48
    assert seam_energy_ratio(image, [], [48]) > 2
    tiles = plan(96, 96, 48, 16)
    assert borders(tiles) == ([48], [48])


def test_style_interpolation_weights(models, starry, wave):
    content = photo("sailboat.jpg", 96, 96)
    only_starry = stylize(content, [starry], StyleOptions(method="wct"), models=models)
    picked = stylize(content, [starry, wave], StyleOptions(method="wct", style_weights=(1.0, 0.0)), models=models)
    assert np.abs(only_starry.astype(int) - picked).max() <= 1
    mixed = stylize(content, [starry, wave], StyleOptions(method="wct", style_weights=(0.5, 0.5)), models=models)
    assert np.abs(mixed.astype(int) - only_starry).mean() > 3
    with pytest.raises(BrushworkError, match="--style-weights has 3 value"):
        stylize(content, [starry, wave], StyleOptions(style_weights=(0.2, 0.3, 0.5)), models=models)


def test_preserve_color_keeps_the_contents_colours(models, starry):
    content = photo("rocket.jpg", 128, 96)
    styled = stylize(content, [starry], StyleOptions(method="wct"), models=models)
    kept = stylize(content, [starry], StyleOptions(method="wct", preserve_color=True), models=models)

    def chroma(image):
        rgb = image.astype(float)
        return np.stack([rgb[..., 2] - rgb[..., 1], rgb[..., 0] - rgb[..., 1]])

    assert np.abs(chroma(kept) - chroma(content)).mean() < 0.5 * np.abs(chroma(styled) - chroma(content)).mean()


def test_gatys_moves_towards_the_style(models, starry):
    content = photo("chelsea.png", 96, 64)
    out = stylize(content, [starry], StyleOptions(method="gatys", steps=15), models=models)
    net = models.loss_network()
    style = to_tensor(starry)
    targets = gatys.style_targets(net, [style], [1.0])
    before = gatys.measure(net, to_tensor(content), to_tensor(content), targets)
    after = gatys.measure(net, to_tensor(out), to_tensor(content), targets)
    assert after.style < 0.5 * before.style and after.content < 1.0
    unchanged = stylize(content, [starry], StyleOptions(method="gatys", steps=5, alpha=0.0), models=models)
    assert np.abs(unchanged.astype(int) - content).max() <= 1  # no style term: the content is optimal


@pytest.mark.slow
def test_gatys_tiled_gradients_match_untiled(models, starry):
    content = photo("chicago.jpg", 160, 112)
    options = StyleOptions(method="gatys", steps=3, optimizer="adam")
    whole = stylize(content, [starry], options, models=models)
    tiled = stylize(content, [starry], StyleOptions(method="gatys", steps=3, optimizer="adam", tile=64), models=models)
    assert np.abs(whole.astype(int) - tiled).mean() < 0.5


def test_options_are_validated(models, starry):
    content = photo("coffee.png", 64, 48)
    for options, message in ((StyleOptions(alpha=1.5), r"--alpha 1.5: expected a number in \[0, 1\]"),
                             (StyleOptions(method="cnn"), "--method 'cnn': expected one of adain, wct, gatys"),
                             (StyleOptions(method="wct", levels=(6,)), "--levels 6: expected levels from 1 to 5"),
                             (StyleOptions(method="gatys", levels=(4,)), "--levels applies to adain, wct; gatys "),
                             (StyleOptions(size=8), r"--size 8: expected a whole number in \[16, 32768\]"),
                             (StyleOptions(optimizer="sgd"), "--optimizer 'sgd'")):
        with pytest.raises(BrushworkError, match=message):
            stylize(content, [starry], options, models=models)


def test_user_vgg_without_decoder_serves_gatys_only(models, starry, tmp_path):
    from test_stylize_models import torchvision_features

    torch.manual_seed(0)
    torch.save({f"features.{k}": v for k, v in torchvision_features().state_dict().items()}, tmp_path / "vgg.pth")
    user = VGGModels(tmp_path / "vgg.pth")
    content = photo("coffee.png", 48, 32)
    adam = StyleOptions(method="gatys", steps=1, optimizer="adam")
    assert stylize(content, [starry], adam, models=user).shape == (32, 48, 3)
    with pytest.raises(BrushworkError, match="--levels 4: the torchvision models have decoders for levels none"):
        stylize(content, [starry], StyleOptions(method="adain"), models=user)


# ------------------------------------------------------------------------------------------------ CLI

@pytest.mark.slow
def test_cli_end_to_end(capsys, tmp_path, weights_env, style_image):
    out = tmp_path / "out.png"
    code, stdout, err = run(capsys, "stylize", str(content_photo("chelsea.png")), "--style",
                            str(style_image("wave.jpg")), "--style", str(style_image("udnie.jpg")),
                            "--style-weights", "0.7,0.3", "--method", "wct", "--alpha", "0.8", "--size", "200",
                            "-o", str(out))
    assert (code, err) == (0, "") and stdout == f"wrote {out} (200x133, wct)\n"
    image = Image.open(out)
    assert image.format == "PNG" and image.size == (200, 133)
    mask = tmp_path / "mask.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 90).astype(np.uint8), (60, 1))).save(mask)
    jpg = tmp_path / "out.jpg"
    code, _, err = run(capsys, "stylize", str(content_photo("chelsea.png")), "--style", str(style_image("wave.jpg")),
                       "--method", "adain", "--levels", "5,4", "--preserve-color", "--mask", str(mask),
                       "--size", "90", "-o", str(jpg))
    assert (code, err) == (0, "") and Image.open(jpg).format == "JPEG" and Image.open(jpg).size == (90, 60)


@pytest.mark.parametrize("args,message", [
    (["--alpha", "2"], r"error: --alpha 2.0: expected a number in \[0, 1\]"),
    (["--style-weights", "0.7,x"], "error: --style-weights '0.7,x': expected comma-separated numbers"),
    (["--style-weights", "0.5,0.5"], "error: --style-weights has 2 value"),
    (["--method", "gatys", "--levels", "4"], "error: --levels applies to adain, wct; gatys "),
    (["--decoder", "d.pth"], "error: --decoder needs --vgg"),
    (["--mask", "nope.png"], "error: nope.png: no such file"),
])
def test_cli_bad_input_is_one_line(capsys, tmp_path, style_image, args, message):
    code, _, err = run(capsys, "stylize", str(content_photo("chelsea.png")), "--style", str(style_image("wave.jpg")),
                       "-o", str(tmp_path / "o.png"), *args)
    assert code == 1 and err.count("\n") == 1
    assert __import__("re").match(message, err), err


def test_cli_refuses_to_overwrite_inputs_and_unknown_outputs(capsys, tmp_path, style_image):
    wave = style_image("wave.jpg")
    content = tmp_path / "photo.png"
    Image.fromarray(photo("coffee.png", 40, 30)).save(content)
    before = content.read_bytes()
    code, _, err = run(capsys, "stylize", str(content), "--style", str(wave), "-o", str(content))
    assert code == 1 and "is the input file" in err and content.read_bytes() == before
    code, _, err = run(capsys, "stylize", str(content), "--style", str(wave), "-o", str(tmp_path / "o.gif"))
    assert code == 1 and "unknown output type '.gif'" in err
    code, _, err = run(capsys, "stylize", str(content), "--style", str(tmp_path / "missing.jpg"),
                       "-o", str(tmp_path / "o.png"))
    assert code == 1 and err == f"error: {tmp_path / 'missing.jpg'}: no such file\n"


def test_cli_missing_weights_offline(capsys, tmp_path, monkeypatch, style_image):
    monkeypatch.setenv(weights.ENV_DIR, str(tmp_path / "empty"))
    code, _, err = run(capsys, "stylize", str(content_photo("chelsea.png")), "--style", str(style_image("wave.jpg")),
                       "--size", "64", "-o", str(tmp_path / "o.png"))
    # the default method's weights (MicroAST's) are the first asked for
    assert code == 1 and err.startswith("error: weights microast/") and "offline" in err and err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


def test_cli_defaults_are_the_libraries():
    from brushwork.cli import cli

    defaults = StyleOptions()
    command = cli.commands["stylize"]
    unset = ("style_weights", "levels", "size", "preserve_color")  # None / a flag: nothing to compare
    checked = 0
    for param in command.params:
        if hasattr(defaults, param.name) and param.name not in unset:
            assert param.default == getattr(defaults, param.name), param.name
            checked += 1
    assert checked == len(dataclasses.fields(StyleOptions)) - len(unset)  # every option, --device included


@pytest.mark.parametrize("method,tile,reports", [("wct", 64, 5 * 2 * 2), ("adain", 1024, 1), ("gatys", 64, 3)])
def test_progress_reports_and_cancels(models, starry, method, tile, reports):
    content = photo("coffee.png", 96, 64)
    calls = []
    options = StyleOptions(method=method, tile=tile, steps=3, optimizer="adam")
    stylize(content, [starry], options, models=models, progress=lambda f, stage: calls.append((f, stage)))
    fractions = [f for f, _ in calls]
    # wct: 5 levels x 2 tiles x 2 passes; adain: one level in one piece; gatys: one per step
    assert len(calls) >= reports and fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] > 0
    assert all(stage.startswith(method) for _, stage in calls)

    class Cancelled(Exception):
        pass

    def cancel(fraction, stage):
        raise Cancelled(stage)

    with pytest.raises(Cancelled):
        stylize(content, [starry], options, models=models, progress=cancel)
