import math

import numpy as np
import pytest

from brushwork import brushes
from brushwork.painter.refine import refine
from brushwork.painter.relocate import edge_angles, error_peaks, moved, size_of, useless
from brushwork.strokes import BRUSHES, Stroke, StrokeList, random_stroke

from conftest import drawn

WIDTH, HEIGHT = 96, 72
PAPER = np.ones((HEIGHT, WIDTH, 3), np.float32)


def test_the_least_useful_strokes_go_first_and_only_those_far_below_the_median():
    gains = np.array([10.0, 0.5, 8.0, -1.0, 12.0, 2.4, 9.0])  # median 8: below 2 is useless
    assert useless(gains, most=5) == [3, 1]
    assert useless(gains, most=1) == [3]
    assert useless(np.array([]), most=3) == []


def test_error_peaks_land_on_the_blobs_of_error_largest_first_and_spread_out():
    error = np.zeros((HEIGHT, WIDTH))
    error[10:20, 10:20] = 1.0
    error[50:60, 70:80] = 2.0
    (x0, y0), (x1, y1) = error_peaks(error, 2, radius=5)
    assert 70 <= x0 <= 80 and 50 <= y0 <= 60
    assert 10 <= x1 <= 20 and 10 <= y1 <= 20
    assert error_peaks(np.zeros((HEIGHT, WIDTH)), 3, radius=5) == []  # nothing to correct


def test_edge_angles_run_along_an_edge():
    picture = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    picture[:, WIDTH // 2:] = 1.0  # a vertical edge
    angle = edge_angles(picture, 2.0)[HEIGHT // 2, WIDTH // 2]
    assert abs(math.sin(angle)) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("kind", list(BRUSHES))
def test_a_moved_stroke_has_the_place_size_direction_and_colour_asked_for(kind):
    stroke = random_stroke(kind, WIDTH, HEIGHT, np.random.default_rng(3), min_size=20, max_size=40)
    target = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    target[..., 0], target[..., 2] = 0.8, 0.3
    new = moved(stroke, (30.0, 40.0), 8.0, 0.5, target)
    StrokeList(WIDTH, HEIGHT, (new,), (1.0, 1.0, 1.0))  # every field valid
    left, top, right, bottom = brushes.get(kind).bounds(new)
    assert ((left + right) / 2, (top + bottom) / 2) == pytest.approx((30.0, 40.0), abs=1e-6)
    assert size_of(new) == pytest.approx(8.0, rel=1e-3)
    assert brushes.get(kind).colour(new) == pytest.approx((0.8, 0.0, 0.3), abs=1e-6)
    if "angle" in new.brush.names:
        assert new["angle"] == pytest.approx(0.5)
    else:
        assert math.atan2(new["y2"] - new["y0"], new["x2"] - new["x0"]) == pytest.approx(0.5)


@pytest.mark.parametrize("kind", ["oilbrush", "markerpen"])
def test_refinement_moves_a_hidden_stroke_to_the_part_of_the_picture_nothing_paints(kind):
    # Four strokes paint the left square; a fifth lies hidden under them. The right square is
    # left bare: relocation starts the hidden stroke again there, plain refinement cannot.
    target = PAPER.copy()
    target[20:52, 8:40] = (0.1, 0.2, 0.6)
    target[28:44, 64:80] = (0.7, 0.2, 0.1)
    blue = {"r": 0.1, "g": 0.2, "b": 0.6}

    def make(cx: float, cy: float, side: float) -> Stroke:
        if kind == "oilbrush":
            return Stroke.make(kind, cx=cx, cy=cy, length=side, width=side, angle=0.0,
                               **{c + end: v for end in "01" for c, v in blue.items()})
        return Stroke.make(kind, x0=cx - side / 4, y0=cy, x1=cx, y1=cy, x2=cx + side / 4, y2=cy, width=side,
                           opacity=1.0, **blue)

    hidden = make(24, 36, 10)
    cover = [make(16 + 16 * i, 28 + 16 * j, 18) for j in range(2) for i in range(2)]
    start = [hidden, *cover]
    plain = refine(start, target, PAPER, iterations=40)
    relocated = refine(start, target, PAPER, iterations=40, relocate=True)
    error = [float(np.mean((drawn(s, WIDTH, HEIGHT) - target) ** 2)) for s in (plain, relocated)]
    assert error[1] < 0.8 * error[0]
    left, top, right, bottom = brushes.get(kind).bounds(relocated[-1])  # lifted to the top
    assert 56 <= (left + right) / 2 <= 88 and 20 <= (top + bottom) / 2 <= 52
