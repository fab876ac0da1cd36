import numpy as np
import pytest

from brushwork.painter import soft
from brushwork.painter.pruning import layer_gains, removal_gains
from brushwork.painter.refine import draw_all
from brushwork.strokes import BRUSHES, Stroke, random_stroke

from conftest import drawn

WIDTH, HEIGHT = 80, 60
PAPER = np.ones((HEIGHT, WIDTH, 3), np.float32)


def draw(strokes) -> np.ndarray:
    return drawn(strokes, WIDTH, HEIGHT)


def squared_error(strokes, target) -> float:
    return float(((draw(strokes) - target) ** 2).sum())


@pytest.mark.parametrize("kind", list(BRUSHES))
def test_gains_equal_the_error_each_stroke_removes(kind):
    rng = np.random.default_rng(11)
    strokes = [random_stroke(kind, WIDTH, HEIGHT, rng, min_size=10, max_size=40) for _ in range(8)]
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    target = np.stack([xx / WIDTH, yy / HEIGHT, 0.5 + 0.3 * np.sin(xx / 5)], axis=-1).astype(np.float32)
    gains = removal_gains(strokes, target, PAPER)
    whole = squared_error(strokes, target)
    brute = [squared_error(strokes[:i] + strokes[i + 1:], target) - whole for i in range(len(strokes))]
    # Same figure as redrawing without the stroke, up to 8-bit rounding in raster's canvas.
    assert gains == pytest.approx(brute, abs=0.01 * np.abs(brute).max() + 0.5)


def test_hidden_strokes_gain_nothing_and_wrong_colours_do_harm():
    square = dict(cx=40, cy=30, angle=0, opacity=1)
    red = Stroke.make("tape", length=10, width=10, r=1, g=0, b=0, **square)
    cover = Stroke.make("tape", length=30, width=30, r=0.2, g=0.2, b=0.2, **square)
    stray = Stroke.make("tape", cx=10, cy=10, length=8, width=8, angle=0, opacity=1, r=0, g=0, b=1)
    target = draw([cover])
    hidden, useful, harmful = removal_gains([red, cover, stray], target, PAPER)
    assert hidden == pytest.approx(0.0)
    assert useful > 100 and harmful < -10


def test_a_stroke_off_the_canvas_gains_nothing():
    # Block strokes can overhang the picture; one entirely outside it has an empty box.
    outside = Stroke.make("tape", cx=200, cy=30, length=20, width=10, angle=0, r=1, g=0, b=0, opacity=1)
    inside = Stroke.make("tape", cx=40, cy=30, length=20, width=10, angle=0, r=1, g=0, b=0, opacity=1)
    gains = removal_gains([outside, inside], np.zeros((HEIGHT, WIDTH, 3), np.float32), PAPER)
    assert gains[0] == 0 and gains[1] > 0


@pytest.mark.parametrize("kind", list(BRUSHES))
def test_gains_from_the_soft_drawings_refinement_makes_are_the_exact_renderers(kind):
    # Refinement starts its least useful strokes again by these gains, measured on the drawings of its step.
    rng = np.random.default_rng(12)
    strokes = [random_stroke(kind, WIDTH, HEIGHT, rng, min_size=10, max_size=40) for _ in range(8)]
    strokes.insert(3, strokes[0].transformed(1.0, 300.0, 0.0))  # off the canvas
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    target = np.stack([xx / WIDTH, yy / HEIGHT, 0.5 + 0.3 * np.sin(xx / 5)], axis=-1).astype(np.float32)
    params = {kind: soft.params_tensor(strokes)}
    placements, drawings = draw_all(params, [(kind, i) for i in range(len(strokes))], WIDTH, HEIGHT)
    gains = layer_gains(soft.patches(placements, drawings), target, PAPER)
    exact = removal_gains(strokes, target, PAPER)
    assert gains[3] == 0
    assert gains == pytest.approx(exact, abs=0.1 * np.abs(exact).max())  # the soft drawing is close, not equal
