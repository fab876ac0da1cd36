"""The canonical stroke list, and the valid ranges of the brush kinds' parameters.

Geometry is stored in canvas pixels (floats, origin top-left, y down) together with the canvas
width and height, so any aspect ratio is first-class. Colours are linear 0..1 floats per channel in
sRGB order R, G, B; opacities are 0..1; angles are radians, measured from +x towards +y.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from brushwork import brushes
from brushwork.brushes.base import BrushKind
from brushwork.errors import InvalidStrokeError

# How far a stroke's control points may lie outside the canvas, as a fraction of its size: strokes
# that start off-canvas and sweep in are legitimate paint, anything further is a bug upstream.
COORDINATE_MARGIN = 1.0
MAX_CANVAS_SIDE = 32768
# Strokes in one painting (and so in one stroke file). Reading and drawing are linear in the count:
# 10^6 strokes took 1.1 GB and 27 s to render, 200,000 take a fifth of that, and paintings have
# thousands. Readers check it while parsing, before building the stroke list.
MAX_STROKES = 200_000


# Every brush kind's layout, by name, in the registry's order: `brushwork.brushes` owns the kinds.
BRUSHES: Mapping[str, BrushKind] = {brush.kind.name: brush.kind for brush in brushes.registered()}


def field_range(role: str, width: int, height: int) -> tuple[float, float, bool]:
    """(low, high, low_is_open) of a parameter with this role on a width x height canvas."""
    if role == "x":
        return -COORDINATE_MARGIN * width, (1 + COORDINATE_MARGIN) * width, False
    if role == "y":
        return -COORDINATE_MARGIN * height, (1 + COORDINATE_MARGIN) * height, False
    if role == "size":
        return 0.0, 2.0 * max(width, height), True
    if role in ("color", "opacity"):
        return 0.0, 1.0, False
    if role == "angle":
        return -math.pi, math.pi, False
    raise ValueError(f"unknown field role {role!r}")


@dataclass(frozen=True)
class Stroke:
    """One brush stroke: its kind and its parameters in the order of `BRUSHES[kind].fields`."""

    kind: str
    params: tuple[float, ...]

    def __post_init__(self) -> None:
        values = []
        for i, v in enumerate(self.params):
            number = _number(v)
            if number is None:  # the message is built only on the error path: strokes are made in bulk
                names = BRUSHES[self.kind].names if isinstance(self.kind, str) and self.kind in BRUSHES else ()
                raise InvalidStrokeError(
                    f"{self.kind} stroke: field {names[i] if i < len(names) else i!r} = {_shown(v)} is not a number")
            values.append(number)
        object.__setattr__(self, "params", tuple(values))

    @classmethod
    def make(cls, kind: str, **values: float) -> Stroke:
        """Build a stroke from named parameters, e.g. `Stroke.make(kind, cx=1, cy=2, ...)`."""
        brush = _brush(kind)
        missing = [n for n in brush.names if n not in values]
        extra = [n for n in values if n not in brush.names]
        if missing or extra:
            raise InvalidStrokeError(
                f"{kind} stroke: missing fields {missing}, unknown fields {extra}; "
                f"expected {list(brush.names)}"
            )
        return cls(kind, tuple(values[n] for n in brush.names))

    @property
    def brush(self) -> BrushKind:
        return _brush(self.kind)

    def __getitem__(self, name: str) -> float:
        return self.params[self.brush.index(name)]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.brush.names, self.params, strict=True))

    def transformed(self, scale: float, dx: float = 0.0, dy: float = 0.0) -> Stroke:
        """The same stroke with its geometry scaled about the origin, then shifted by (dx, dy):
        how strokes move between block, working and output canvases."""
        offset = {"x": dx, "y": dy, "size": 0.0}
        return Stroke(self.kind, tuple(
            v * scale + offset[f.role] if f.role in offset else v
            for f, v in zip(self.brush.fields, self.params, strict=True)
        ))


@dataclass(frozen=True)
class StrokeList:
    """A painting: canvas size in pixels, background, and strokes in paint order.

    `background` is an RGB triple in 0..1, or None for a transparent canvas. Construction validates
    everything and raises InvalidStrokeError naming the stroke index and field at fault.
    """

    width: int
    height: int
    strokes: tuple[Stroke, ...] = ()
    background: tuple[float, float, float] | None = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strokes", tuple(self.strokes))
        if self.background is not None:
            if isinstance(self.background, (str, bytes)) or not hasattr(self.background, "__len__") \
                    or len(self.background) != 3:
                raise InvalidStrokeError(f"background must be an RGB triple or None, got {_shown(self.background)}")
            channels = tuple(_number(c) for c in self.background)
            for channel, c, number in zip("rgb", self.background, channels, strict=True):
                if number is None:
                    raise InvalidStrokeError(f"background {channel} = {_shown(c)} is not a number")
            object.__setattr__(self, "background", channels)
        _validate(self)

    def __len__(self) -> int:
        return len(self.strokes)

    def counts(self) -> dict[str, int]:
        """Strokes per brush kind, every kind listed."""
        counted = Counter(s.kind for s in self.strokes)
        return {name: counted.get(name, 0) for name in BRUSHES}

    def with_strokes(self, strokes: Iterable[Stroke]) -> StrokeList:
        return StrokeList(self.width, self.height, tuple(strokes), self.background)


def _brush(kind: str) -> BrushKind:
    try:
        return BRUSHES[kind]
    except (KeyError, TypeError):
        raise InvalidStrokeError(
            f"unknown brush kind {kind!r}; expected one of {', '.join(BRUSHES)}"
        ) from None


def _number(value: object) -> float | None:
    """`value` as a float, or None for what float() would take but no stroke file means as a
    number: text ("50"), booleans (true), and ints too large for a float."""
    if isinstance(value, (str, bytes, bool)):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


def _shown(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit
        return f"a {type(value).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


def _check_value(where: str, value: float, low: float, high: float, low_open: bool) -> None:
    if not math.isfinite(value):
        raise InvalidStrokeError(f"{where} = {value} is not a finite number")
    if value > high or value < low or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise InvalidStrokeError(f"{where} = {value:g} is out of range {bracket}{low:g}, {high:g}]")


def check_count(count: int) -> None:
    """Refuse more than MAX_STROKES strokes. Readers call it while parsing, with the count so far
    (or an upper bound), so an oversized file is refused before its strokes are built."""
    if count > MAX_STROKES:
        raise InvalidStrokeError(f"more than {MAX_STROKES:,} strokes; a painting holds at most {MAX_STROKES:,}")


def _validate(strokes: StrokeList) -> None:
    w, h = strokes.width, strokes.height
    for name, side in (("width", w), ("height", h)):
        if isinstance(side, bool) or not isinstance(side, int) or not 1 <= side <= MAX_CANVAS_SIDE:
            raise InvalidStrokeError(
                f"canvas {name} must be an integer in [1, {MAX_CANVAS_SIDE}], got {side!r}"
            )
    check_count(len(strokes.strokes))
    if strokes.background is not None:
        for channel, value in zip("rgb", strokes.background, strict=True):
            _check_value(f"background {channel}", value, 0.0, 1.0, False)
    ranges = {role: field_range(role, w, h) for role in ("x", "y", "size", "color", "opacity", "angle")}
    for i, stroke in enumerate(strokes.strokes):
        if not isinstance(stroke, Stroke):
            raise InvalidStrokeError(f"stroke {i}: expected a Stroke, got {type(stroke).__name__}")
        try:
            brush = _brush(stroke.kind)
        except InvalidStrokeError as exc:
            raise InvalidStrokeError(f"stroke {i}: {exc}") from None
        if len(stroke.params) != len(brush.fields):
            raise InvalidStrokeError(
                f"stroke {i} ({brush.name}): {len(stroke.params)} parameters, expected "
                f"{len(brush.fields)} ({' '.join(brush.names)})"
            )
        for f, value in zip(brush.fields, stroke.params, strict=True):
            _check_value(f"stroke {i} ({brush.name}) field {f.name!r}", value, *ranges[f.role])


def random_stroke(
    kind: str,
    width: int,
    height: int,
    rng: np.random.Generator,
    *,
    min_size: float | None = None,
    max_size: float | None = None,
) -> Stroke:
    """A plausible random stroke on a width x height canvas: centred inside the canvas, extents
    between min_size and max_size pixels (default 2 % .. 25 % of the longer side), any colour.
    Used for benchmarks, tests and neural-renderer training data."""
    side = max(width, height)
    lo = max(0.5, min_size if min_size is not None else 0.02 * side)
    hi = max(lo, max_size if max_size is not None else 0.25 * side)
    brush = _brush(kind)
    u = rng.uniform
    cx, cy = u(0, width), u(0, height)
    length = u(lo, hi)
    values: dict[str, float] = {}
    if "x0" in brush.names:
        # Start, control and end points spread over `length` around the centre.
        for i, name in enumerate(("0", "1", "2")):
            angle = u(-math.pi, math.pi)
            reach = length / 2 if i != 1 else u(0, length / 2)
            values["x" + name] = cx + reach * math.cos(angle)
            values["y" + name] = cy + reach * math.sin(angle)
    else:
        values.update(cx=cx, cy=cy, length=length, angle=u(-math.pi, math.pi))
    thickness = lambda: u(lo, max(lo, min(hi, length))) / 2  # noqa: E731 - strokes are longer than wide
    for f in brush.fields:
        if f.name in values:
            continue
        if f.role == "size":
            values[f.name] = thickness()
        elif f.role == "color":
            values[f.name] = u(0, 1)
        elif f.role == "opacity":
            values[f.name] = u(0.5, 1)
    return Stroke.make(kind, **values)
