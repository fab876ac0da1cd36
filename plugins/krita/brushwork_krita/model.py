"""What the Krita plug-in does, without Krita or Qt: the panels' values and their memory, presets and
time estimates, the region to work on, the job parameters, the results' history and placing them.
The Krita calls are in document.py, the Qt widgets in ui.py; this file is unit-tested on its own."""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .bridge_client import BridgeError, EngineOptions, Setting

SETTINGS_GROUP = "brushwork"
PAINT_LAYER = "brushwork painting"
VECTOR_LAYER = "brushwork strokes"
STYLIZE_LAYER = "brushwork stylized"
PREVIEW_LAYER = "brushwork preview"  # becomes the painting when the job is done
IN_PROGRESS = " (in progress)"  # a running job's group: its name is the job's title and this, until done
OPTIONS_SNAPSHOT = "options.json"  # beside the plug-in: the engine's options when it was installed or built
ENGINE_OPTIONS = "EngineOptions"  # Krita's setting holding the options document the engine last sent


# ------------------------------------------------------------------------------------------ panels' values
# What the engine offers (brushes, methods, devices, and every field's default, range, label and help)
# comes from its options document (bridge_client.EngineOptions); nothing of it is copied here. The
# panels' own choices (presets, layers, what to read) are the plug-in's.

@dataclass
class PaintOptions:
    """The Paint panel's values; fresh ones are `defaults(PaintOptions, engine)`."""

    brush: str = ""
    strokes: int = 1
    seed: int = 0
    working_size: int = 0
    iterations: int = 0  # optimisation steps per level (speed vs. finish); 0: the engine's
    vector_layer: bool = True  # also add the strokes as a vector layer (editable shapes)
    refine: bool = True  # refine all strokes together at the end: closer to the image, slower
    active_layer: bool = False  # paint the active layer alone instead of the whole visible image
    extra: dict = field(default_factory=dict)  # the engine's other editor settings (see `extra_settings`)
    style: str = ""  # path of a style image the painting takes on ("": none)
    style_mode: str = ""  # how it does (the engine's choices)
    style_weight: float = 0.0
    preserve_color: bool = False

    def params(self, engine: EngineOptions, device: str = "") -> dict[str, Any]:
        """The job's parameters but the style image (added in the job's thread: reading it takes a while),
        named as the engine's paint fields are (fields it lacks are not sent)."""
        brushes = engine.field_for("paint", "brushes")
        params: dict[str, Any] = {brushes.name: engine.value(brushes, self.brush)}
        wanted = {"strokes": self.strokes, "seed": self.seed, "working_size": self.working_size,
                  "iterations": self.iterations or None,  # 0 (older settings): the engine's
                  "refine_iterations": None if self.refine else 0}  # the engine decides how long to refine
        if self.style:  # the style settings only with a style image
            wanted.update({"style_mode": self.style_mode or None, "style_weight": self.style_weight,
                           "preserve_color": self.preserve_color})
        params.update({name: value for name, value in wanted.items()
                       if value is not None and engine.field("paint", name) is not None})
        return _with_device(_with_extra(params, engine, "paint", self.extra), engine, "paint", device)

    def check(self) -> str | None:
        """Why the options cannot run (a message for the user), or None."""
        if self.style and not Path(self.style).is_file():
            return f"the style image {self.style} does not exist"
        return None


@dataclass
class StylizeOptions:
    """The Stylize panel's values; fresh ones are `defaults(StylizeOptions, engine)`."""

    style: str = ""  # path of the style image
    method: str = ""
    alpha: float = 1.0
    preserve_color: bool = False
    active_layer: bool = False
    style_size: int = 0  # long side the style image is reduced to: smaller is faster, coarser
    steps: int = 0  # Gatys only: optimisation steps
    extra: dict = field(default_factory=dict)  # the engine's other editor settings (see `extra_settings`)

    def params(self, engine: EngineOptions, device: str = "") -> dict[str, Any]:
        """The job's parameters but the style image (added in the job's thread: reading it takes a while)."""
        methods = engine.field_for("stylize", "methods")
        params: dict[str, Any] = {methods.name: engine.value(methods, self.method)}
        wanted = {"alpha": self.alpha, "preserve_color": self.preserve_color, "style_size": self.style_size or None,
                  "steps": self.steps or None}  # (only Gatys takes steps; the others leave them)
        params.update({name: value for name, value in wanted.items()
                       if value is not None and engine.field("stylize", name) is not None})
        return _with_device(_with_extra(params, engine, "stylize", self.extra), engine, "stylize", device)

    def trained_style(self) -> str:
        """The trained style the panel names (the engine's `model` setting: a style's name or a .pt file;
        "": none). With one, no style image is needed or sent."""
        return str(self.extra.get("model") or "").strip()

    def check(self) -> str | None:
        """Why the options cannot run (a message for the user), or None."""
        model = self.trained_style()
        if model:  # a name is looked up by the engine; a file must be there (the engine's rule for a path)
            path = model.endswith(".pt") or os.sep in model or (os.altsep is not None and os.altsep in model)
            if path and not Path(model).expanduser().is_file():
                return f"the trained style {model} does not exist"
            return None
        if not self.style:
            return "choose a style image, or a trained style (Model)"
        if not Path(self.style).is_file():
            return f"the style image {self.style} does not exist"
        return None


def empty_options() -> EngineOptions:
    """Nothing known of the engine (no snapshot, no engine yet): no choices, no fields."""
    return EngineOptions({"paint": {"fields": []}, "stylize": {"fields": []}})


# The settings the panels have widgets of their own for (the brush, method and device fields are
# found by their lists); the engine's other editor settings get plain ones (`extra_settings`).
PANEL_SETTINGS = {"paint": ("strokes", "seed", "working_size", "iterations", "refine_iterations", "style_mode",
                            "style_weight", "preserve_color"),
                  "stylize": ("alpha", "preserve_color", "style_size", "steps")}
OWN_LISTS = ("brushes", "methods", "devices")


def extra_settings(engine: EngineOptions, section: str) -> list[Setting]:
    """The engine's editor settings that a panel has no widget of its own for (e.g. opaque strokes): a
    setting the engine adds shows up in the panel without a plug-in update. Numbers the engine picks
    by itself (no default) are left to it."""
    return [s for s in engine.fields(section) if s.editor and s.server and s.name not in PANEL_SETTINGS[section]
            and s.choices not in OWN_LISTS and s.type in ("bool", "int", "float", "str", "choice", "choices")
            and (s.default is not None or s.type not in ("int", "float"))]


def takes(engine: EngineOptions, setting: Setting, value: Any) -> bool:
    """Whether the engine takes `value` for `setting` (its type, range or choices)."""
    if setting.type in ("choice", "choices"):
        return engine.choice(setting, value) is not None
    if setting.type in ("int", "float"):
        number = isinstance(value, int) or (setting.type == "float" and isinstance(value, float))
        return number and not isinstance(value, bool) and setting.allows(value)
    return isinstance(value, {"bool": bool, "str": str}.get(setting.type, type(None)))


def _with_extra(params: dict[str, Any], engine: EngineOptions, section: str, extra: dict) -> dict[str, Any]:
    for setting in extra_settings(engine, section):
        if setting.name in extra:
            params[setting.name] = engine.value(setting, extra[setting.name])
    return params


def _with_device(params: dict[str, Any], engine: EngineOptions, section: str, device: str) -> dict[str, Any]:
    field_ = engine.find(section, "devices")
    if device and field_ is not None:
        params[field_.name] = device
    return params


def _setting(engine: EngineOptions, section: str, attribute: str) -> Setting | None:
    """The engine's field behind a panel's value."""
    if attribute in ("brush", "method"):
        return engine.find(section, "brushes" if attribute == "brush" else "methods")
    return engine.field(section, attribute)


def _section(options) -> str:
    return "paint" if isinstance(options, PaintOptions) else "stylize"


def fit(options, engine: EngineOptions):
    """`options` with every value the engine does not take (a brush or method it lacks, a number out of
    its range: an older engine, hand-edited settings) replaced by the engine's default."""
    section, changes = _section(options), {}
    for f in fields(options):
        setting = _setting(engine, section, f.name)
        value = getattr(options, f.name)
        if setting is None or not value and f.name in ("iterations", "style_size", "steps"):
            continue  # 0: the engine's own
        if not takes(engine, setting, value):
            changes[f.name] = engine.default(setting)
    extra = {s.name: options.extra[s.name] for s in extra_settings(engine, section)
             if s.name in options.extra and takes(engine, s, options.extra[s.name])}
    return replace(options, extra=extra, **{k: v for k, v in changes.items() if v is not None})


def defaults(cls: type, engine: EngineOptions):
    """A fresh panel's values (`cls`: PaintOptions or StylizeOptions): the engine's defaults, with the
    Balanced preset's values."""
    options = cls()
    section = _section(options)
    values = {}
    for f in fields(options):
        setting = _setting(engine, section, f.name)
        default = engine.default(setting) if setting is not None else None
        if default is not None and (isinstance(default, type(getattr(options, f.name))) or (
                isinstance(default, int) and f.type == "float")):
            values[f.name] = default
    options = replace(options, **values)
    options = apply_preset(options, "Balanced", engine) if "Balanced" in presets(options, engine) else options
    return follow_choices(options, engine)


def follow_choices(options, engine: EngineOptions):
    """`options` with the values that follow the chosen method or brush (the engine's `default_by`, e.g.
    WCT's own strength) set to that choice's defaults: a fresh panel, a preset or a newly picked method."""
    section, changes = _section(options), {}
    for f in fields(options):
        setting = _setting(engine, section, f.name)
        if setting is None or not setting.default_by:
            continue
        chosen = getattr(options, "method" if setting.default_by == "methods" else "brush", None)
        value = engine.default(setting, chosen)
        if value is not None and takes(engine, setting, value):
            changes[f.name] = value
    return replace(options, **changes)


class Settings:
    """The panels' last values and the job timings, in Krita's own settings (kritarc), never in the
    plug-in folder (Krita replaces that on update). `read(group, key, default)` / `write(group, key,
    value)` are Krita.readSetting / Krita.writeSetting; values are stored as JSON strings."""

    def __init__(self, read: Callable[[str, str, str], str], write: Callable[[str, str, str], None]) -> None:
        self._read, self._write = read, write

    def load(self, cls: type, defaults=None):
        """The stored values of `cls` (a dataclass); missing or unusable ones are `defaults`' (cls())."""
        defaults = defaults if defaults is not None else cls()
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

    def load_engine_options(self) -> EngineOptions | None:
        """The options document the engine last sent, if any (and it is readable)."""
        text = self._read(SETTINGS_GROUP, ENGINE_OPTIONS, "")
        try:
            return EngineOptions.from_json(text) if text else None
        except BridgeError:
            return None

    def save_engine_options(self, engine: EngineOptions) -> None:
        self._write(SETTINGS_GROUP, ENGINE_OPTIONS, json.dumps(engine.document))


def engine_options(settings: Settings, folder: Path) -> EngineOptions | None:
    """What the panels are built from before the engine answers: the document it last sent (kept in
    Krita's settings), else the snapshot shipped beside the plug-in (`OPTIONS_SNAPSHOT`), else None."""
    remembered = settings.load_engine_options()
    if remembered is not None:
        return remembered
    try:
        return EngineOptions.from_json((folder / OPTIONS_SNAPSHOT).read_bytes())
    except (OSError, BridgeError):
        return None


# ------------------------------------------------------------------------------------------ presets

PRESETS = ("Draft", "Balanced", "Final")
CUSTOM = "Custom"
ENGINE = None  # a preset's value that is the engine's default
# Draft: a quick look (few strokes, small working size, no refinement); Final: a finished painting.
PAINT_PRESETS: dict[str, dict[str, Any]] = {
    "Draft": {"strokes": 100, "working_size": 256, "iterations": 20, "refine": False},
    "Balanced": {"strokes": 300, "working_size": 384, "iterations": ENGINE, "refine": True},
    "Final": {"strokes": 1000, "working_size": 512, "iterations": ENGINE, "refine": True},
}
STYLIZE_PRESETS: dict[str, dict[str, Any]] = {
    "Draft": {"method": "adain", "style_size": 256},
    "Balanced": {"method": ENGINE, "style_size": ENGINE},
    "Final": {"method": "gatys", "style_size": ENGINE, "steps": ENGINE},
}


def presets(options, engine: EngineOptions) -> dict[str, dict[str, Any]]:
    """The presets for this kind of options that the engine can run, their ENGINE values filled in: a
    preset naming a method or brush the engine lacks, or a value outside a field's range, is left out."""
    section = _section(options)
    table = PAINT_PRESETS if section == "paint" else STYLIZE_PRESETS
    offered = {}
    for name, values in table.items():
        resolved = {}
        for key, value in values.items():
            setting = _setting(engine, section, "refine_iterations" if key == "refine" else key)
            if setting is None:
                break  # the engine has no such field
            if key == "refine":
                resolved[key] = value
                continue
            if value is ENGINE:
                value = engine.default(setting)
            if value is None or (engine.choice(setting, value) is None if setting.type in ("choice", "choices")
                                 else not setting.allows(value)):
                break
            resolved[key] = value
        else:
            offered[name] = resolved
    return offered


def apply_preset(options, name: str, engine: EngineOptions):
    """`options` with the preset's values and those that follow its method (the brush, seed, style
    image... stay as they are)."""
    return follow_choices(replace(options, **presets(options, engine)[name]), engine)


def preset_of(options, engine: EngineOptions) -> str:
    """The preset whose values `options` has, or CUSTOM."""
    for name, values in presets(options, engine).items():
        if all(getattr(options, key) == value for key, value in values.items()):
            return name
    return CUSTOM


# ------------------------------------------------------------------------------------------ estimates

KEEP_SAMPLES = 20  # recent jobs per kind that estimates are made from
# The rough model, before a job has been timed here: `brushwork.painter.paint` timed on one thread of
# a 2-core CPU machine (the slowest kind that runs brushwork, or a busy one; both cores of an idle one
# are 1.3-1.9x faster), oil brush on a 512 px photo, 25 steps per level. The levels cost a part per
# working pixel and a part per stroke (100 strokes 4.0 s at 512 px, 1.8 s at 256 px; 1,000 strokes
# 12.2 s); a refinement step, of which there are refine.default_iterations, costs a part for the canvas
# and a part per stroke, both growing with the working size's side (timed with the CPU's compiled
# drawing on a machine where the same levels take about 2.4x less, and scaled by that: 100 strokes
# 0.027 s at 512 px, 0.011 s at 256 px; 1,000 strokes 0.055 s). 300 strokes at 384 px with
# refinement took 6.5 s there (x 2.4: 15.6 s), the model says 14.3.
PAINT_START = 2.0  # seconds: the picture in, the result out
ROUGH_ITERATIONS = 25  # the steps per level the rough model was timed with
ROUGH_LEVEL_SECONDS = (3.1, 0.0091)  # per pass over the levels: per (working size / 512 px)^2, per stroke
ROUGH_REFINE_STEP_SECONDS = (0.058, 0.000075)  # per step: for the canvas, per stroke; times working size / 512
# Seconds per megapixel of the region, per method (timed the same way: 0.26 MP took 0.4 s with AdaIN,
# 1.2 s with WCT, 12 s with Gatys's default 50 Adam steps, 0.2 s with MicroAST), plus a start (the style's
# features). A method not listed (a newer engine's) is estimated as the slowest until it has been timed here.
ROUGH_STYLIZE_SECONDS_PER_MP = {"adain": 2.0, "wct": 5.0, "gatys": 50.0, "microast": 1.0}
STYLIZE_START = 1.0


@dataclass
class Timings:
    """Durations of the jobs finished on this machine (kept in Krita's settings): what estimates are
    measured from. paint: [strokes, working size, steps per level, refine, seconds];
    stylize: [method, megapixels, seconds]. Newest last."""

    paint: list = field(default_factory=list)
    stylize: list = field(default_factory=list)

    def add_paint(self, options: PaintOptions, seconds: float) -> None:
        self.paint = (self.paint + [[options.strokes, options.working_size, options.iterations or ROUGH_ITERATIONS,
                                     options.refine, round(seconds, 2)]])[-KEEP_SAMPLES:]

    def add_stylize(self, method: str, megapixels: float, seconds: float) -> None:
        self.stylize = (self.stylize + [[method, round(megapixels, 4), round(seconds, 2)]])[-KEEP_SAMPLES:]


@dataclass(frozen=True)
class Estimate:
    seconds: float
    measured: bool  # from this machine's own jobs; False: a rough figure


def refine_steps(strokes: int) -> int:
    """The painter's refinement steps for an oil-brush painting of this many strokes (the rough model's
    brush: refine.default_iterations, 130 steps at 1,000 strokes)."""
    return max(20, min(130, round(130 * math.sqrt(1000 / max(strokes, 1)))))


def rough_paint_seconds(strokes: int, working_size: int, iterations: int, refine: bool) -> float:
    """The rough model's seconds for a paint job (see ROUGH_LEVEL_SECONDS)."""
    side = working_size / 512
    per_pixel, per_stroke = ROUGH_LEVEL_SECONDS
    seconds = PAINT_START + (per_pixel * side ** 2 + per_stroke * strokes) * iterations / ROUGH_ITERATIONS
    if refine:
        canvas, per_stroke = ROUGH_REFINE_STEP_SECONDS
        seconds += refine_steps(strokes) * (canvas + per_stroke * strokes) * side
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
    steps = options.iterations or ROUGH_ITERATIONS
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

def job_title(kind: str, options, engine: EngineOptions) -> str:
    """What a job's layer group is called: the brush (as the engine names it) and stroke count, or the
    style method (the trained style's name when there is one)."""
    setting = engine.find(kind, "brushes" if kind == "paint" else "methods")
    value = options.brush if kind == "paint" else options.method
    choice = engine.choice(setting, value) if setting is not None else None
    if kind == "paint":
        return f"brushwork: {choice.label.lower() if choice else value}, {options.strokes:,} strokes"
    if options.trained_style():  # the style's name, not the method's
        return f"brushwork: {Path(options.trained_style()).stem} style"
    return f"brushwork: {choice.label if choice else value} style"


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
    """The engine the docker set up or was pointed at, and the device jobs run on (kept in Krita's
    settings, so they outlive plug-in updates). python "": the interpreter `brushwork plugins install`
    recorded, if any; device "": the engine's default."""

    python: str = ""
    device: str = ""


def device_setting(engine: EngineOptions) -> Setting | None:
    """The engine's device field (paint's and stylize's offer the same devices)."""
    return engine.find("paint", "devices") or engine.find("stylize", "devices")


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
