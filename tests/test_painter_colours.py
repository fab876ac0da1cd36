import numpy as np
import pytest

from brushwork import raster
from brushwork.brushes import pixel_box
from brushwork.painter.colours import colour_groups, refit_colours, with_colours
from brushwork.strokes import BRUSHES, Stroke, random_stroke

from conftest import drawn

WIDTH, HEIGHT = 96, 64
PAPER = (1.0, 1.0, 1.0)


def draw(strokes, background=PAPER) -> np.ndarray:
    return drawn(strokes, WIDTH, HEIGHT, background)


def paper() -> np.ndarray:
    return np.broadcast_to(np.array(PAPER, np.float32), (HEIGHT, WIDTH, 3))


def colours(stroke) -> np.ndarray:
    return np.array([[stroke.params[i] for i in group] for group in colour_groups(stroke.kind)])


def grey_out(stroke):
    return with_colours(stroke, [(0.5, 0.5, 0.5)] * len(colour_groups(stroke.kind)))


@pytest.mark.parametrize("kind", list(BRUSHES))
def test_refit_recovers_the_colours_that_drew_the_target(kind):
    rng = np.random.default_rng(5)
    truth = [random_stroke(kind, WIDTH, HEIGHT, rng, min_size=20, max_size=50) for _ in range(6)]
    target = draw(truth)
    fitted = refit_colours([grey_out(s) for s in truth], target, paper())
    assert [s.kind for s in fitted] == [kind] * 6
    for before, after in zip(truth, fitted, strict=True):
        # Shapes are untouched; only colour parameters move.
        moved = [i for i, (a, b) in enumerate(zip(before.params, after.params, strict=True)) if a != b]
        assert set(moved) <= {i for group in colour_groups(kind) for i in group}
    error = np.abs(draw(fitted) - target)
    assert error.mean() < 0.5 / 255 and error.max() < 8 / 255  # 8-bit rounding at antialiased edges
    visible = [i for i, s in enumerate(truth) if np.abs(draw(truth[:i] + truth[i + 1:]) - target).max() > 0.3]
    for i in visible:  # a stroke that shows clearly gets its own colour back
        assert np.abs(colours(fitted[i]) - colours(truth[i])).max() < 0.1


def test_refit_lowers_the_squared_error_against_a_photo_like_target():
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    target = np.stack([xx / WIDTH, yy / HEIGHT, 0.5 + 0.4 * np.sin(xx / 7)], axis=-1).astype(np.float32)
    strokes = [random_stroke("oilbrush", WIDTH, HEIGHT, rng, min_size=10, max_size=40) for _ in range(20)]
    before = np.mean((draw(strokes) - target) ** 2)
    after = np.mean((draw(refit_colours(strokes, target, paper())) - target) ** 2)
    assert after < 0.7 * before


def test_hidden_strokes_keep_their_colour_and_colours_stay_in_range():
    grey = dict(angle=0, r=0.2, g=0.4, b=0.6, opacity=1)
    hidden = Stroke.make("tape", cx=48, cy=32, length=10, width=10, **grey)
    cover = Stroke.make("tape", cx=48, cy=32, length=20, width=20, **grey)
    faint = Stroke.make("tape", cx=15, cy=15, length=20, width=20, **{**grey, "opacity": 0.5})
    # Over black, the half-opaque stroke would need a colour of 2 to reach white: it stops at 1.
    target = np.full((HEIGHT, WIDTH, 3), 1.0, np.float32)
    fitted = refit_colours([hidden, cover, faint], target, np.zeros((HEIGHT, WIDTH, 3), np.float32))
    assert colours(fitted[0]) == pytest.approx(colours(hidden))
    assert colours(fitted[1]) == pytest.approx(np.ones((1, 3)), abs=1e-3)
    assert colours(fitted[2]) == pytest.approx(np.ones((1, 3)))


def test_bounding_box_holds_the_whole_stroke():
    rng = np.random.default_rng(9)
    for kind in BRUSHES:
        for _ in range(10):
            stroke = random_stroke(kind, WIDTH, HEIGHT, rng)
            x0, y0, x1, y1 = pixel_box(stroke, WIDTH, HEIGHT)
            canvas = raster.RasterCanvas(WIDTH, HEIGHT)
            canvas.draw(stroke)
            alpha = canvas.premultiplied()[..., 3]
            outside = alpha.copy()
            outside[y0:y1, x0:x1] = 0
            assert outside.max() == 0, (kind, stroke)
