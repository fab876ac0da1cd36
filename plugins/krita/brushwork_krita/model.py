"""What the Krita plug-in does, without Krita or Qt: the panels' values and their memory, presets and
time estimates, the region to work on, the job parameters, the results' history and placing them.
The Krita calls are in document.py, the Qt widgets in ui.py; this file is unit-tested on its own."""

from __future__ import annotations

import base64
import json
import math
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

BRUSHES = ("oilbrush", "watercolor", "markerpen", "tape")
METHODS = ("wct", "adain", "gatys")
SETTINGS_GROUP = "brushwork"
PAINT_LAYER = "brushwork painting"
VECTOR_LAYER = "brushwork strokes"
STYLIZE_LAYER = "brushwork stylized"
PREVIEW_LAYER = "brushwork preview"  # becomes the painting when the job is done
IN_PROGRESS = " (in progress)"  # a running job's group: its name is the job's title and this, until done
BRUSH_LABELS = {"oilbrush": "oil brush", "watercolor": "watercolour", "markerpen": "marker pen", "tape": "tape"}
METHOD_LABELS = {"wct": "WCT", "adain": "AdaIN", "gatys": "Gatys"}
# What each style method does, in the words a user choosing between them needs.
METHOD_HELP = {
    "wct": "WCT: whitens and re-colours the picture's deep features at five levels; the closest match "
           "of the style's textures and colours.",
    "adain": "AdaIN: matches the mean and spread of the deep features; faster and gentler than WCT.",
    "gatys": "Gatys: optimises the picture itself towards the style; the finest result, takes minutes.",
}
PAINTER_ITERATIONS = 40  # the painter's own default steps per level (brushwork PaintSettings.iterations)
STYLE_SIZE = 512  # the stylizer's default long side for the style image
GATYS_STEPS = 100  # the stylizer's default Gatys iterations


@dataclass
class PaintOptions:
    # the defaults are the Balanced preset
    brush: str = "oilbrush"
    strokes: int = 300
    seed: int = 0
    working_size: int = 384
    iterations: int = PAINTER_ITERATIONS  # optimisation steps per level (speed vs. finish); 0: the painter's
    vector_layer: bool = True  # also add the strokes as a vector layer (editable shapes)
    refine: bool = True  # refine all strokes together at the end: closer to the image, slower
    active_layer: bool = False  # paint the active layer alone instead of the whole visible image

    def params(self) -> dict[str, Any]:
        params = {"brush": self.brush, "strokes": self.strokes, "seed": self.seed, "working_size": self.working_size}
        if self.iterations > 0:  # 0 (older settings): the painter's default
            params["iterations"] = self.iterations
        if not self.refine:
            params["refine_iterations"] = 0
        return params


@dataclass
class StylizeOptions:
    style: str = ""  # path of the style image
    method: str = "wct"
    alpha: float = 1.0
    preserve_color: bool = False
    active_layer: bool = False
    style_size: int = STYLE_SIZE  # long side the style image is reduced to: smaller is faster, coarser
    steps: int = GATYS_STEPS  # Gatys only: optimisation steps

    def params(self, style_png: bytes) -> dict[str, Any]:
        params = {"style": {"encoding": "png", "data": base64.b64encode(style_png).decode("ascii")},
                  "method": self.method, "alpha": self.alpha, "preserve_color": self.preserve_color,
                  "style_size": self.style_size}
        if self.method == "gatys":
            params["steps"] = self.steps
        return params

    def check(self) -> str | None:
        """Why the options cannot run (a message for the user), or None."""
        if not self.style:
            return "choose a style image"
        if not Path(self.style).is_file():
            return f"the style image {self.style} does not exist"
        return None


class Settings:
    """The panels' last values and the job timings, in Krita's own settings (kritarc), never in the
    plug-in folder (Krita replaces that on update). `read(group, key, default)` / `write(group, key,
    value)` are Krita.readSetting / Krita.writeSetting; values are stored as JSON strings."""

    def __init__(self, read: Callable[[str, str, str], str], write: Callable[[str, str, str], None]) -> None:
        self._read, self._write = read, write

    def load(self, cls: type):
        defaults = cls()
        try:
            stored = json.loads(self._read(SETTINGS_GROUP, cls.__name__, "") or "{}")
        except ValueError:
            stored = {}
        if not isinstance(stored, dict):
            stored = {}
        values = {}
        for f in fields(cls):
            value = stored.get(f.name, getattr(defaults, f.name))
            default = getattr(defaults, f.name)
            # a hand-edited or older setting of the wrong type falls back to the default
            values[f.name] = value if isinstance(value, type(default)) or (
                isinstance(default, float) and isinstance(value, int)) else default
        return cls(**values)

    def save(self, options) -> None:
        self._write(SETTINGS_GROUP, type(options).__name__, json.dumps(asdict(options)))


# ------------------------------------------------------------------------------------------ presets

PRESETS = ("Draft", "Balanced", "Final")
CUSTOM = "Custom"
# Draft: a quick look (few strokes, small working size, no refinement); Final: a finished painting.
PAINT_PRESETS: dict[str, dict[str, Any]] = {
    "Draft": {"strokes": 100, "working_size": 256, "iterations": 20, "refine": False},
    "Balanced": {"strokes": 300, "working_size": 384, "iterations": PAINTER_ITERATIONS, "refine": True},
    "Final": {"strokes": 1000, "working_size": 512, "iterations": PAINTER_ITERATIONS, "refine": True},
}
STYLIZE_PRESETS: dict[str, dict[str, Any]] = {
    "Draft": {"method": "adain", "style_size": 256},
    "Balanced": {"method": "wct", "style_size": STYLE_SIZE},
    "Final": {"method": "gatys", "style_size": STYLE_SIZE, "steps": GATYS_STEPS},
}


def _preset_table(options) -> dict[str, dict[str, Any]]:
    return PAINT_PRESETS if isinstance(options, PaintOptions) else STYLIZE_PRESETS


def apply_preset(options, name: str):
    """`options` with the preset's values (the brush, seed, style image... stay as they are)."""
    return replace(options, **_preset_table(options)[name])


def preset_of(options) -> str:
    """The preset whose values `options` has, or CUSTOM."""
    for name, values in _preset_table(options).items():
        if all(getattr(options, key) == value for key, value in values.items()):
            return name
    return CUSTOM


# ------------------------------------------------------------------------------------------ estimates

KEEP_SAMPLES = 20  # recent jobs per kind that estimates are made from
# The rough model, before a job has been timed here: `brushwork paint` timed on a 2-core CPU machine
# (the slowest kind that runs brushwork) on a 512 px photo. A step of the painter costs about half per
# stroke whatever the working size and half per working pixel (100 strokes, 40 steps per level, no
# refinement: 8 s at 512 px); refinement runs refine.default_iterations steps over all strokes, each
# dearer with more strokes and pixels (100 strokes at 256 px: 80 steps, about 8 s; 300 strokes at
# 384 px with refinement: 66 s in all). Under load the same machine was up to 4 times slower.
PAINT_START = 2.0  # seconds: the picture in, the result out
ROUGH_PAINT_SECONDS_PER_STROKE = 0.06  # at 512 px, 40 steps per level
PIXEL_SHARE = 0.5
ROUGH_REFINE_STEP_SECONDS = 0.4  # a refinement step of 100 strokes at 512 px
# Seconds per megapixel of the region, per method (timed the same way: 0.26 MP took 0.4 s with AdaIN,
# 1.2 s with WCT, 35 s with Gatys), plus a start (the style's features).
ROUGH_STYLIZE_SECONDS_PER_MP = {"adain": 2.0, "wct": 5.0, "gatys": 150.0}
STYLIZE_START = 1.0


@dataclass
class Timings:
    """Durations of the jobs finished on this machine (kept in Krita's settings): what estimates are
    measured from. paint: [strokes, working size, steps per level, refine, seconds];
    stylize: [method, megapixels, seconds]. Newest last."""

    paint: list = field(default_factory=list)
    stylize: list = field(default_factory=list)

    def add_paint(self, options: PaintOptions, seconds: float) -> None:
        self.paint = (self.paint + [[options.strokes, options.working_size, options.iterations or PAINTER_ITERATIONS,
                                     options.refine, round(seconds, 2)]])[-KEEP_SAMPLES:]

    def add_stylize(self, method: str, megapixels: float, seconds: float) -> None:
        self.stylize = (self.stylize + [[method, round(megapixels, 4), round(seconds, 2)]])[-KEEP_SAMPLES:]


@dataclass(frozen=True)
class Estimate:
    seconds: float
    measured: bool  # from this machine's own jobs; False: a rough figure


def refine_steps(strokes: int) -> int:
    """The painter's refinement steps for a painting of this many strokes (refine.default_iterations)."""
    return max(20, min(80, round(30 * math.sqrt(1000 / max(strokes, 1)))))


def rough_paint_seconds(strokes: int, working_size: int, iterations: int, refine: bool) -> float:
    """The rough model's seconds for a paint job (see ROUGH_PAINT_SECONDS_PER_STROKE)."""
    pixels = (working_size / 512) ** 2
    seconds = PAINT_START + strokes * ROUGH_PAINT_SECONDS_PER_STROKE * (PIXEL_SHARE * pixels + 1 - PIXEL_SHARE) * (
        iterations / PAINTER_ITERATIONS)
    if refine:
        seconds += refine_steps(strokes) * ROUGH_REFINE_STEP_SECONDS * strokes / 100 * pixels
    return seconds


def _paint_samples(timings: Timings) -> list[tuple[int, int, int, bool, float]]:
    """The well-formed samples (settings may have been edited by hand)."""
    good = []
    for sample in timings.paint:
        try:
            strokes, size, steps, refine, seconds = sample
            if int(strokes) > 0 and int(size) > 0 and int(steps) > 0 and float(seconds) > 0:
                good.append((int(strokes), int(size), int(steps), bool(refine), float(seconds)))
        except (TypeError, ValueError):
            continue
    return good


def estimate_paint(options: PaintOptions, timings: Timings) -> Estimate:
    """Seconds a paint job will take here: the rough model times how much slower or faster this
    machine was than the model on earlier jobs; on jobs with the same working size, steps and
    refinement (a preset run again) when there are any, else on all of them. No jobs yet: the model."""
    steps = options.iterations or PAINTER_ITERATIONS
    rough = rough_paint_seconds(options.strokes, options.working_size, steps, options.refine)
    samples = _paint_samples(timings)
    same = [s for s in samples if (s[1], s[2], s[3]) == (options.working_size, steps, options.refine)]
    if not same and not samples:
        return Estimate(rough, False)
    speed = statistics.median(seconds / rough_paint_seconds(strokes, size, steps_, refine)
                              for strokes, size, steps_, refine, seconds in (same or samples))
    return Estimate(rough * speed, True)


def estimate_stylize(method: str, megapixels: float, timings: Timings) -> Estimate:
    """Seconds a stylize job will take here: seconds per megapixel of earlier jobs with this method
    when there are any, else of the other methods scaled by how much slower or faster this one is,
    else a rough figure."""
    rates: dict[str, list[float]] = {}
    for sample in timings.stylize:
        try:
            kind, mp, seconds = sample
            if kind in ROUGH_STYLIZE_SECONDS_PER_MP and float(seconds) > 0:
                rates.setdefault(kind, []).append(max(float(seconds) - STYLIZE_START, 0.1) / max(float(mp), 0.01))
        except (TypeError, ValueError):
            continue
    rough = ROUGH_STYLIZE_SECONDS_PER_MP.get(method, max(ROUGH_STYLIZE_SECONDS_PER_MP.values()))
    if method in rates:
        return Estimate(STYLIZE_START + statistics.median(rates[method]) * megapixels, True)
    if rates:  # this machine's speed, measured with another method
        ratios = [statistics.median(r) / ROUGH_STYLIZE_SECONDS_PER_MP[kind] for kind, r in rates.items()]
        return Estimate(STYLIZE_START + statistics.median(ratios) * rough * megapixels, True)
    return Estimate(STYLIZE_START + rough * megapixels, False)


def format_duration(seconds: float) -> str:
    """'about 40 s', 'about 3 min', 'about 1 h 10 min': an estimate's precision, no more."""
    if seconds < 60:
        return f"about {max(1, round(seconds / 5) * 5 if seconds >= 10 else round(seconds))} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"about {round(minutes)} min" if minutes >= 2 else f"about {round(seconds / 10) * 10} s"
    hours, rest = divmod(round(minutes), 60)
    return f"about {hours} h" + (f" {rest} min" if rest else "")


def estimate_text(estimate: Estimate) -> str:
    if estimate.measured:
        return f"Estimated time: {format_duration(estimate.seconds)} (measured on this machine)"
    return (f"Estimated time: {format_duration(estimate.seconds)} (rough guess: no job has been timed on "
            "this machine yet)")


# ------------------------------------------------------------------------------------------ naming, regions

def job_title(kind: str, options) -> str:
    """What a job's layer group is called: the brush and stroke count, or the style method."""
    if kind == "paint":
        return f"brushwork: {BRUSH_LABELS.get(options.brush, options.brush)}, {options.strokes:,} strokes"
    return f"brushwork: {METHOD_LABELS.get(options.method, options.method)} style"


def unique_name(name: str, taken: list[str]) -> str:
    """`name`, or `name (2)`, `name (3)`, ... so that every run's group can be told apart."""
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    width: int
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def work_region(doc_width: int, doc_height: int, selection: Region | None) -> Region:
    """The selection's bounds clipped to the canvas, or the whole canvas."""
    if selection is None or selection.width <= 0 or selection.height <= 0:
        return Region(0, 0, doc_width, doc_height)
    x0, y0 = max(0, selection.x), max(0, selection.y)
    x1 = min(doc_width, selection.x + selection.width)
    y1 = min(doc_height, selection.y + selection.height)
    if x1 <= x0 or y1 <= y0:
        return Region(0, 0, doc_width, doc_height)
    return Region(x0, y0, x1 - x0, y1 - y0)


def fits(region: Region, doc_width: int, doc_height: int) -> bool:
    """Whether a result made for `region` can be placed in a document of this size."""
    return region.x + region.width <= doc_width and region.y + region.height <= doc_height


def unsupported_format(color_model: str, color_depth: str) -> str | None:
    """Documents whose pixels Krita can convert to the 8-bit sRGB the server exchanges are worked on
    (the conversion happens on a copy); others get a message."""
    if color_model in ("RGBA", "GRAYA", "CMYKA", "LABA", "XYZA", "YCbCrA") and \
            color_depth in ("U8", "U16", "F16", "F32"):
        return None
    return (f"brushwork cannot read {color_model}/{color_depth} images; convert a copy with Image > "
            "Convert Image Color Space (RGB/Alpha, 8-bit integer/channel)")


def unsupported_krita(version: str) -> str | None:
    """The plug-in uses Krita 5's API (vector layers from SVG, Python 3.10); older Krita gets a reason."""
    try:
        major = int(version.split(".")[0])
    except ValueError:
        return None  # a development build with an odd version string: let it try
    if major >= 5:
        return None
    return f"brushwork needs Krita 5.0 or newer; this is Krita {version}"


@dataclass
class EngineSettings:
    """The engine the docker set up or was pointed at (kept in Krita's settings, so it outlives
    plug-in updates); empty: the interpreter `brushwork plugins install` recorded, if any."""

    python: str = ""


def install_info(folder: Path) -> dict[str, Any]:
    """What `brushwork plugins install` recorded (the interpreter with brushwork)."""
    try:
        return json.loads((folder / "install.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# ------------------------------------------------------------------------------------------ queue, history

def queue_row(title: str, state: str, message: str, fraction: float) -> str:
    """One line of the docker's queue: the job, where it is, how far."""
    if state in ("running", "finishing"):
        return f"{title} · {math.floor(fraction * 100)} % · {message}"
    return f"{title} · {message}"


@dataclass
class HistoryEntry:
    """A finished job's result, kept to be applied again (to this or another document)."""

    title: str
    kind: str  # paint | stylize
    region: Region
    pixels: bytes = field(repr=False)  # BGRA8, region-sized
    svg: str | None = field(default=None, repr=False)  # flat SVG at the region's place, for a vector layer
    seconds: float = 0.0

    @property
    def size(self) -> int:
        return len(self.pixels) + len(self.svg or "")

    def label(self) -> str:
        r = self.region
        return f"{self.title} · {r.width}×{r.height} at {r.x},{r.y} · took {self.seconds:.0f} s"


class History:
    """The latest results, newest first, within a count and a memory budget (results of large
    regions are tens of MB each; the oldest go first)."""

    def __init__(self, limit: int = 12, max_bytes: int = 512 << 20) -> None:
        self.limit, self.max_bytes = limit, max_bytes
        self.entries: list[HistoryEntry] = []

    def add(self, entry: HistoryEntry) -> None:
        self.entries.insert(0, entry)
        while len(self.entries) > self.limit or (
                len(self.entries) > 1 and sum(e.size for e in self.entries) > self.max_bytes):
            self.entries.pop()
