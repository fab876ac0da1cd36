import numpy as np
import pytest

from brushwork.painter.refine import MOST_STEPS, RefineLimits, default_iterations, refine
from brushwork.strokes import BRUSHES, Stroke, StrokeList, random_stroke

from conftest import drawn

WIDTH, HEIGHT = 96, 72
PAPER = np.ones((HEIGHT, WIDTH, 3), np.float32)


def draw(strokes) -> np.ndarray:
    return drawn(strokes, WIDTH, HEIGHT)


def displaced(stroke: Stroke, dx: float) -> Stroke:
    """The stroke moved dx pixels to the right, greyer."""
    params = []
    for f, v in zip(stroke.brush.fields, stroke.params, strict=True):
        params.append(v + dx if f.role == "x" else 0.5 * v + 0.25 if f.role == "color" else v)
    return Stroke(stroke.kind, tuple(params))


def centre_x(stroke: Stroke) -> float:
    return stroke["cx"] if "cx" in stroke.brush.names else (stroke["x0"] + stroke["x2"]) / 2


@pytest.mark.parametrize("kind", list(BRUSHES))
def test_refinement_moves_and_recolours_strokes_back_onto_the_painting_they_came_from(kind):
    rng = np.random.default_rng(7)
    truth = [random_stroke(kind, WIDTH, HEIGHT, rng, min_size=18, max_size=36) for _ in range(4)]
    target = draw(truth)
    start = [displaced(s, 4.0) for s in truth]
    refined = refine(start, target, PAPER, iterations=60)
    before, after = (float(np.mean((draw(s) - target) ** 2)) for s in (start, refined))
    assert after < 0.2 * before
    assert [s.kind for s in refined] == [kind] * 4
    # Most strokes end nearer the place they were drawn (one may be hidden under the others).
    nearer = [abs(centre_x(r) - centre_x(t)) < abs(centre_x(s) - centre_x(t))
              for r, s, t in zip(refined, start, truth, strict=True)]
    assert sum(nearer) >= 3


def test_refined_strokes_stay_valid_and_within_the_limits():
    rng = np.random.default_rng(8)
    truth = [random_stroke("tape", WIDTH, HEIGHT, rng, min_size=4, max_size=60) for _ in range(6)]
    start = [displaced(s, 2.0) for s in truth]
    limits = RefineLimits(min_size=10, max_size=20, opaque=True)
    refined = refine(start, draw(truth), PAPER, iterations=20, limits=limits)
    StrokeList(WIDTH, HEIGHT, tuple(refined), (1.0, 1.0, 1.0))  # validates every field
    for stroke in refined:
        assert 10 <= stroke["length"] <= 20 and 10 <= stroke["width"] <= 20
        assert stroke["opacity"] == 1.0
        assert -np.pi <= stroke["angle"] <= np.pi


def test_no_iterations_or_no_strokes_change_nothing_and_the_callback_sees_every_step():
    stroke = random_stroke("oilbrush", WIDTH, HEIGHT, np.random.default_rng(9))
    assert refine([stroke], PAPER, PAPER, iterations=0) == [stroke]
    assert refine([], PAPER, PAPER, iterations=5) == []
    seen = []
    refine([stroke], draw([stroke]), PAPER, iterations=3, callback=lambda i, current: seen.append((i, len(current()))))
    assert seen == [(0, 1), (1, 1), (2, 1)]


def test_the_default_steps_follow_the_brushes_and_fall_as_the_budget_grows():
    # The oil brush's step is the cheap one (its drawing compiled, its backward pass written out): it
    # refines longest.
    assert default_iterations(1000, ["oilbrush"]) > default_iterations(1000, ["markerpen"])
    # A mix refines as long as its dearest kind allows, whatever the order of its kinds.
    for mix in (["oilbrush", "markerpen"], ["markerpen", "oilbrush"]):
        assert default_iterations(1000, mix) == default_iterations(1000, ["markerpen"])
    for kind in BRUSHES:
        steps = [default_iterations(n, [kind]) for n in (1, 100, 500, 1000, 2000, 5000, 50000)]
        assert steps == sorted(steps, reverse=True) and steps[0] == MOST_STEPS and steps[-1] == 20, (kind, steps)
