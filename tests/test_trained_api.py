"""Trained styles (#18) outside `stylize --model`: the Python API (`brushwork.stylize(photo, model=...)`)
and painting (`paint --model`: the photo is stylized with the trained style first, then painted), with
a tiny style file made here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork
from brushwork import svg
from brushwork.errors import BrushworkError
from brushwork.files import load_strokes
from brushwork.images import load_rgb8, to_array, to_tensor
from brushwork.painter import paint
from brushwork.settings import PaintSettings, StyleOptions, validate_settings
from brushwork.stylize import stylize, trained
from brushwork.stylize.johnson import JohnsonNet, JohnsonShape

from conftest import run_cli as run

# tape: the brush whose renderer is committed with the code
FAST = {"brush": "tape", "strokes": 6, "working_size": 32, "iterations": 3, "refine_iterations": 0, "seed": 0,
        "device": "cpu"}


def tiny_style(path, seed: int = 0) -> str:
    """A style file as `brushwork train-style` writes it: a tiny Johnson network with random weights (an
    untrained one returns the photo unchanged, so these are shaken to change it)."""
    torch.manual_seed(seed)
    net = JohnsonNet(JohnsonShape(width=4, blocks=1))
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
    trained.save(path, "johnson", net.config(), net.state_dict())
    return str(path)


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((32, 40, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_brushwork_stylize_takes_a_trained_style_and_no_style_image(photo, tmp_path):
    model = tiny_style(tmp_path / "tiny.pt")
    out = brushwork.stylize(photo, model=model, device="cpu")  # the package is callable; a path is read
    assert out.shape == (32, 40, 3) and out.dtype == np.uint8
    pixels = load_rgb8(photo)
    assert np.abs(out.astype(int) - pixels).mean() > 2  # the style changed the picture
    np.testing.assert_array_equal(out, stylize(pixels, [], StyleOptions(model=model, device="cpu")))
    # keywords replace the options' fields; alpha blends with the photo
    half = brushwork.stylize(pixels, options=StyleOptions(method="wct", device="cpu"), model=model, alpha=0.0)
    assert np.abs(half.astype(int) - pixels).max() <= 1
    with pytest.raises(BrushworkError, match="no such style"):
        brushwork.stylize(pixels, model="no_such_style_here")
    with pytest.raises(BrushworkError, match="give at least one style image"):
        brushwork.stylize(pixels, method="adain")  # without a trained style, a style image is needed


def test_paint_with_a_trained_style_paints_the_stylized_photo(tmp_path):
    model = tiny_style(tmp_path / "tiny.pt")
    target = np.random.default_rng(1).random((24, 32, 3)).astype(np.float32)
    painted = paint(target, model=model, style_mode="stylize-first", style_method="trained", **FAST)
    stylized = stylize(to_array(to_tensor(target)), [], StyleOptions(model=model, device="cpu"))
    expected = paint(stylized.astype(np.float32) / 255, **FAST)
    assert svg.write(painted) == svg.write(expected)
    # a trained style has no style image for the other modes: giving one paints stylize-first
    assert svg.write(paint(target, model=model, **FAST)) == svg.write(expected)
    assert svg.write(paint(target, **FAST)) != svg.write(expected)  # the plain painting differs
    with pytest.raises(BrushworkError, match="--model and --style"):
        paint(target, model=model, styles=[target], **FAST)


def test_style_method_trained_needs_a_model():
    with pytest.raises(BrushworkError, match="--style-method trained needs --model"):
        validate_settings(PaintSettings(style_mode="stylize-first", style_method="trained"))
    with pytest.raises(BrushworkError, match="--style-method trained needs --model"):
        validate_settings(PaintSettings(style_method="trained", model=" "))  # an editor's empty field
    validate_settings(PaintSettings(style_method="trained", model="starry_night"))



def test_the_paint_command_takes_a_trained_style(photo, tmp_path, capsys):
    model = tiny_style(tmp_path / "tiny.pt")
    out = tmp_path / "painting.svg"
    args = ["paint", str(photo), "--strokes", "4", "--brush", "tape", "--working-size", "32", "--iterations", "2",
            "--refine-iterations", "0", "--device", "cpu", "--style-mode", "stylize-first"]
    assert run(capsys, *args, "--style-method", "trained", "--model", model, "-o", str(out))[0] == 0
    assert len(load_strokes(out)) == 4
    code, _, err = run(capsys, *args, "--style-method", "trained", "-o", str(tmp_path / "other.svg"))
    assert code != 0 and err.startswith("error: --style-method trained needs --model") and "Traceback" not in err
    code, _, err = run(capsys, "paint", str(tmp_path), "--model", model, "-o", str(tmp_path / "frames"))
    assert code != 0 and "--model apply to a single picture" in err  # not (yet) to a video or frames
