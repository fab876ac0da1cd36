"""Stroke-space style transfer: restyling a finished painting's strokes (colour and texture modes),
painting in a style (the three modes), and the palette measure of off-palette strokes."""

from pathlib import Path

import numpy as np
import pytest
import torch

from brushwork import raster, svg
from brushwork.errors import BrushworkError
from brushwork.images import load_image
from brushwork.painter import paint
from brushwork.painter.colours import colour_groups
from brushwork.painter.restyle import RestyleSettings, off_palette_loss, restyle, stroke_colour
from brushwork.painter.style import StyleGoal, luminance
from brushwork.palette import distance_to_palette, off_palette, palette, rgb_to_lab

from conftest import content_photo, random_list

SIZE = 64  # px: every canvas here is tiny, so each test takes a second or two


@pytest.fixture(autouse=True)
def weights_env(monkeypatch, weights_dir):
    monkeypatch.setenv("BRUSHWORK_WEIGHTS", str(weights_dir))
    monkeypatch.setenv("BRUSHWORK_OFFLINE", "1")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_image(content_photo("chelsea.png"), max_side=SIZE)


@pytest.fixture(scope="module")
def painting(photo):
    height, width = photo.shape[:2]
    return random_list(3, count=60, width=width, height=height)


def goal(style: np.ndarray, models, weight: float = 1.0, **options) -> StyleGoal:
    return StyleGoal((style.astype(np.float32) / 255,), (1.0,), weight, models=models, **options)


def losses(painting, photo, style: np.ndarray, models) -> tuple[float, float]:
    """(content loss, style loss) of the painting drawn at the photo's size: the stylize benchmark's
    measures (relu4_1; Gram relu1_1..relu5_1)."""
    from brushwork.stylize import gatys

    net = models.loss_network("cpu")
    drawn = torch.from_numpy(raster.render(painting).astype(np.float32).transpose(2, 0, 1) / 255)[None]
    target = torch.from_numpy(photo.transpose(2, 0, 1).copy())[None]
    targets = gatys.style_targets(net, [torch.from_numpy(style.astype(np.float32).transpose(2, 0, 1) / 255)[None]],
                                  [1.0])
    measured = gatys.measure(net, drawn, target, targets)
    return measured.content, measured.style


def test_colour_mode_changes_colours_only(painting, photo, starry, models):
    styled = restyle(painting, photo, goal(starry, models), RestyleSettings("colour", steps=5, device="cpu"))
    assert (styled.width, styled.height, styled.background) == (painting.width, painting.height, painting.background)
    changed = 0
    for before, after in zip(painting.strokes, styled.strokes, strict=True):
        colour = {i for group in colour_groups(before.kind) for i in group}
        assert after.kind == before.kind
        assert all(a == b for i, (a, b) in enumerate(zip(after.params, before.params, strict=True))
                   if i not in colour)  # exactly: geometry and opacity are never touched
        changed += after.params != before.params
    assert changed > len(painting) // 2


@pytest.mark.parametrize("mode", ["colour", "texture"])
def test_style_loss_falls_and_content_stays_bounded(mode, painting, photo, starry, models):
    content0, style0 = losses(painting, photo, starry, models)
    styled = restyle(painting, photo, goal(starry, models), RestyleSettings(mode, steps=12, device="cpu"))
    content1, style1 = losses(styled, photo, starry, models)
    assert style1 < 0.9 * style0
    assert content1 < content0 + 0.25  # the picture stays readable (relative relu4_1 distance)


def test_masked_strokes_keep_their_colours(painting, photo, starry, models):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[:, : photo.shape[1] // 2] = 1  # restyle the left half only
    styled = restyle(painting, photo, goal(starry, models), RestyleSettings("colour", steps=5, device="cpu"),
                     mask=mask)
    from brushwork import brushes

    for before, after in zip(painting.strokes, styled.strokes, strict=True):
        x0, _, _, _ = brushes.pixel_box(before, painting.width, painting.height)
        if x0 >= photo.shape[1] // 2 + 2:  # wholly in the black half (its box starts right of the edge)
            assert after == before


def test_preserve_color_keeps_the_photos_hues(painting, photo, starry, models):
    """With preserve_color the style loss sees luminance only: from colours that fit the photo, the strokes'
    chroma (CIELAB a, b) moves less than without it."""
    from brushwork.painter.colours import refit_colours

    base = np.broadcast_to(np.float32(painting.background), photo.shape).copy()
    fitted = painting.with_strokes(refit_colours(list(painting.strokes), photo, base))

    def chroma_change(styled) -> float:
        before = rgb_to_lab(np.array([stroke_colour(s) for s in fitted.strokes]))[:, 1:]
        after = rgb_to_lab(np.array([stroke_colour(s) for s in styled.strokes]))[:, 1:]
        return float(np.linalg.norm(after - before, axis=1).mean())

    settings = RestyleSettings("colour", weight=2.0, steps=8, device="cpu")
    plain = restyle(fitted, photo, goal(starry, models, weight=2.0), settings)
    kept = restyle(fitted, photo, goal(starry, models, weight=2.0, preserve_color=True), settings)
    assert chroma_change(kept) < chroma_change(plain)


def test_luminance_is_luma_in_every_channel():
    rgb = torch.tensor([1.0, 0.5, 0.0]).reshape(1, 3, 1, 1)
    assert luminance(rgb).flatten().tolist() == pytest.approx([0.5925] * 3)


def test_off_palette_colours_cost_and_palette_colours_do_not():
    centres = torch.as_tensor(rgb_to_lab(np.array([[0.9, 0.1, 0.1], [0.1, 0.2, 0.8]])), dtype=torch.float32)
    near = torch.tensor([[0.88, 0.12, 0.1], [0.1, 0.2, 0.78]])
    far = torch.tensor([[0.1, 0.9, 0.1]], requires_grad=True)  # green: far from red and blue
    assert off_palette_loss(near, centres).item() == 0
    cost = off_palette_loss(far, centres)
    cost.backward()
    assert cost.item() > 0 and far.grad is not None and far.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", ["colour", "texture", "stylize-first"])
def test_same_seed_same_svg(mode, photo, starry):
    settings = dict(strokes=12, working_size=SIZE, iterations=4, refine_iterations=2, seed=5, style_mode=mode,
                    style_steps=3, style_method="wct", device="cpu")
    style = starry.astype(np.float32) / 255
    first = svg.write(paint(photo, styles=[style], **settings))
    assert svg.write(paint(photo, styles=[style], **settings)) == first


def test_several_styles_and_weights(photo, starry, wave, models):
    settings = dict(strokes=8, working_size=SIZE, iterations=3, refine_iterations=0, seed=1, style_steps=3,
                    device="cpu")
    styles = [starry.astype(np.float32) / 255, wave.astype(np.float32) / 255]
    both = paint(photo, styles=styles, style_weights=(0.5, 0.5), **settings)
    assert len(both) == 8
    with pytest.raises(BrushworkError, match="--style-weights has 1 value"):
        paint(photo, styles=styles, style_weights=(1.0,), **settings)


def test_missing_or_unreadable_style_image_names_the_file(photo, tmp_path):
    missing = tmp_path / "nowhere.jpg"
    with pytest.raises(BrushworkError, match="nowhere.jpg"):
        paint(photo, styles=[missing], strokes=2, working_size=SIZE, device="cpu")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(BrushworkError, match="broken.png"):
        paint(photo, styles=[broken], strokes=2, working_size=SIZE, device="cpu")


def test_restyle_refuses_stylize_first(painting, photo, starry, models):
    with pytest.raises(BrushworkError, match="--style-mode 'stylize-first'"):
        restyle(painting, photo, goal(starry, models), RestyleSettings("stylize-first"))


# ------------------------------------------------------------------------------------------ palette

def test_lab_of_known_colours():
    lab = rgb_to_lab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert lab[0] == pytest.approx([100, 0, 0], abs=0.01)
    assert lab[1] == pytest.approx([0, 0, 0], abs=0.01)
    assert lab[2] == pytest.approx([53.24, 80.09, 67.20], abs=0.05)  # sRGB red, D65


def test_off_palette_on_a_synthetic_picture():
    """A picture of four flat colours: its palette holds them; colours near one are on the palette,
    a colour far from all four is off it."""
    colours = np.array([[0.9, 0.1, 0.1], [0.1, 0.6, 0.2], [0.1, 0.2, 0.8], [0.95, 0.95, 0.9]])
    picture = np.repeat(colours, 64 * 16, axis=0).reshape(64, 64, 3)
    centres = palette(picture, colours=16, seed=0)
    assert len(centres) == 4
    assert distance_to_palette(rgb_to_lab(colours), centres).max() < 0.5
    near = colours + 0.02
    far = np.array([[0.9, 0.2, 0.9], [0.1, 0.1, 0.1]])  # magenta and near-black: in no cluster
    assert not off_palette(near, centres).any()
    assert off_palette(far, centres).all()


def test_palette_is_the_same_for_the_same_seed():
    rng = np.random.default_rng(0)
    picture = rng.random((80, 80, 3))
    assert np.array_equal(palette(picture, seed=3), palette(picture, seed=3))
    assert len(palette(picture)) == 16


def test_stroke_colour_is_the_mean_of_its_colour_groups(painting):
    for stroke in painting.strokes:
        groups = colour_groups(stroke.kind)
        expected = np.mean([[stroke.params[i] for i in group] for group in groups], axis=0)
        assert stroke_colour(stroke) == pytest.approx(tuple(expected))


def test_a_server_paint_job_takes_a_style_picture(photo, starry):
    """The bridge's paint job with a style picture paints in its style (the worker's own function)."""
    from brushwork.server.worker import JobDone, Picture, WorkerJob, run_paint

    def picture(rgb: np.ndarray) -> Picture:
        rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
        return Picture(rgba.shape[1], rgba.shape[0], rgba.tobytes())

    sent = []
    params = dict(strokes=6, working_size=SIZE, iterations=2, refine_iterations=0, seed=1, style_mode="colour",
                  style_steps=2, device="cpu")
    job = WorkerJob("a", "paint", params, picture((photo * 255).astype(np.uint8)), picture(starry), 60.0)
    run_paint(job, sent.append)
    done = sent[-1]
    assert isinstance(done, JobDone) and done.svg is not None and done.svg.count("<path") >= 1
    plain = paint(photo, **{k: v for k, v in params.items() if not k.startswith("style")})
    assert svg.read(done.svg).strokes != plain.strokes  # the style changed the colours


# ------------------------------------------------------------------------------------------ benchmark

def test_the_benchmark_times_a_colour_restyle(painting, tmp_path, style_image, models, capsys, monkeypatch):
    """benchmarks/stroke_style.py prints the restyle timing itself: the painting of the first content (any
    photo path) from the cache (painted once), restyled in colour mode against the first style."""
    import runpy

    from brushwork.files import save_strokes

    benchmarks = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(benchmarks))  # as `python benchmarks/stroke_style.py` finds its siblings
    script = runpy.run_path(str(benchmarks / "stroke_style.py"))
    assert script["picture"]("content", "tubingen.jpg").parts[-3:] == ("images", "content", "tubingen.jpg")
    assert script["picture"]("style", str(tmp_path / "mine.png")) == tmp_path / "mine.png"
    photo, style = content_photo("chelsea.png"), style_image("starry_night.jpg")
    save_strokes(painting, tmp_path / f"{photo.stem}-{len(painting)}-{SIZE}.svg")  # as a first run leaves it
    script["time_restyle"](len(painting), str(photo), str(style), SIZE, tmp_path, models, torch.device("cpu"),
                           {"style_steps": 3})
    printed = capsys.readouterr().out
    assert f"restyle of {len(painting)} strokes ({photo.name} x {style.name}), colour mode, 3 steps" in printed
    assert " s wall, " in printed and " s CPU; torch threads " in printed
