import math

import numpy as np
import pytest

from brushwork.errors import InvalidStrokeError
from brushwork.strokes import BRUSHES, Stroke, StrokeList, random_stroke


def tape(**changes):
    values = dict(cx=50, cy=40, length=30, width=10, angle=0.5, r=0.1, g=0.2, b=0.3, opacity=0.9)
    values.update(changes)
    return Stroke.make("tape", **values)


def test_five_kinds_with_documented_layouts():
    assert list(BRUSHES) == ["markerpen", "watercolor", "oilbrush", "tape", "pencil"]
    assert BRUSHES["markerpen"].names == ("x0", "y0", "x1", "y1", "x2", "y2", "width", "r", "g", "b", "opacity")
    assert BRUSHES["watercolor"].names[6:8] == ("width0", "width1")
    assert "opacity" not in BRUSHES["oilbrush"].names  # oil paint is opaque
    for brush in BRUSHES.values():
        assert all(f.doc for f in brush.fields)


def test_named_access_and_counts():
    s = tape()
    assert s["angle"] == 0.5 and s.as_dict()["length"] == 30
    painting = StrokeList(100, 60, [s, s, random_stroke("oilbrush", 100, 60, np.random.default_rng(0))])
    assert painting.counts() == {"markerpen": 0, "watercolor": 0, "oilbrush": 1, "tape": 2, "pencil": 0}
    assert len(painting) == 3


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(cx=math.nan), "stroke 1 (tape) field 'cx' = nan is not a finite number"),
        (dict(length=0.0), "stroke 1 (tape) field 'length' = 0 is out of range (0, 200]"),
        (dict(r=1.5), "stroke 1 (tape) field 'r' = 1.5 is out of range [0, 1]"),
        (dict(opacity=-0.1), "field 'opacity' = -0.1 is out of range [0, 1]"),
        (dict(angle=4.0), "field 'angle' = 4 is out of range"),
        (dict(cy=500.0), "field 'cy' = 500 is out of range [-60, 120]"),
        (dict(cx=math.inf), "field 'cx' = inf is not a finite number"),
    ],
)
def test_validation_names_stroke_index_and_field(bad, message):
    with pytest.raises(InvalidStrokeError) as error:
        StrokeList(100, 60, [tape(), tape(**bad)])
    assert str(error.value).startswith("stroke 1 (tape) ")
    assert message in str(error.value)


def test_unknown_kind_and_wrong_parameter_count():
    with pytest.raises(InvalidStrokeError, match=r"stroke 0: unknown brush kind 'crayon'; expected one of markerpen"):
        StrokeList(10, 10, [Stroke("crayon", (1, 2))])
    with pytest.raises(InvalidStrokeError, match=r"stroke 0 \(tape\): 2 parameters, expected 9"):
        StrokeList(10, 10, [Stroke("tape", (1, 2))])
    with pytest.raises(InvalidStrokeError, match=r"missing fields \['opacity'\]"):
        Stroke.make("tape", cx=1, cy=1, length=1, width=1, angle=0, r=0, g=0, b=0)


@pytest.mark.parametrize("width, height", [(0, 10), (10, -1), (2.5, 10), (40000, 10)])
def test_canvas_size_is_checked(width, height):
    with pytest.raises(InvalidStrokeError, match="canvas"):
        StrokeList(width, height)


def test_background_is_checked():
    with pytest.raises(InvalidStrokeError, match="background g = 2"):
        StrokeList(10, 10, background=(0, 2, 0))
    assert StrokeList(10, 10, background=None).background is None


@pytest.mark.parametrize("kind", list(BRUSHES))
def test_random_strokes_are_valid_on_non_square_canvases(kind):
    rng = np.random.default_rng(1)
    strokes = [random_stroke(kind, 640, 200, rng) for _ in range(200)]
    StrokeList(640, 200, strokes)  # validates
    assert len({s.params for s in strokes}) == 200


@pytest.mark.parametrize("value", ["50", b"50", True, None, [1.0], 10**400],
                         ids=["str", "bytes", "bool", "None", "list", "huge-int"])
def test_parameters_must_be_numbers(value):
    # float() would take "50" and True; a stroke file holding them is wrong, not a number to guess
    with pytest.raises(InvalidStrokeError, match=r"tape stroke: field 'cx' = .* is not a number"):
        tape(cx=value)


@pytest.mark.parametrize("background", ["abc", 5, (0, "1", 0), (True, 0, 0), (0, 0, 0, 0)])
def test_background_must_be_three_numbers(background):
    with pytest.raises(InvalidStrokeError, match="background"):
        StrokeList(10, 10, background=background)


def test_stroke_count_is_limited(monkeypatch):
    import brushwork.strokes as strokes_module

    monkeypatch.setattr(strokes_module, "MAX_STROKES", 3)
    StrokeList(100, 60, [tape()] * 3)
    with pytest.raises(InvalidStrokeError, match=r"more than 3 strokes; a painting holds at most 3"):
        StrokeList(100, 60, [tape()] * 4)
    assert strokes_module.MAX_STROKES == 3  # the limit is read when validating, not copied at import
