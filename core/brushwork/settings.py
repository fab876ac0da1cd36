"""What a painting and a stylization can be asked for: the settings' fields, defaults, ranges, labels
and help, owned here once. Torch-free, so the CLI, the server's schema and the editor plug-ins can
read them without loading the engine.

Each field of `PaintSettings` and `StyleOptions` carries a `FieldSpec` (its metadata): the CLI's
options (cli.py), the server's request schema (server/app.py) and the options document the plug-ins
build their dialogs from (`describe`, served as GET /v1/options and printed by `brushwork options`)
are all derived from these, and the validation below checks the same ranges. Adding a setting is one
field here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from brushwork import __version__
from brushwork.brushes import DEFAULT as DEFAULT_BRUSH
from brushwork.device import DEVICES, validate_device
from brushwork.errors import BrushworkError
from brushwork.strokes import BRUSHES, MAX_STROKES
from brushwork.style_files import style_files

OPTIMIZERS = ("lbfgs", "adam")
STYLE_MODES = ("colour", "texture", "stylize-first")  # how a painting takes on a style image (PaintSettings)
MAX_STYLIZE_SIDE = 32768  # px, long side of a stylized output (it runs tile by tile)
ALIGN = 16  # px: the deepest (level-5) encoder pools four times, so sizes are multiples of 2^4
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Choice:
    """One entry of a list the user picks from (a stylize method, a device)."""

    name: str
    label: str
    help: str


@dataclass(frozen=True)
class MethodChoice(Choice):
    """A stylize method: `levels` are the encoder levels it transforms by default, coarse to fine
    (None: it does not work level by level, and --levels does not apply)."""

    levels: tuple[int, ...] | None = None
    alpha: float = 1.0  # the default strength (StyleOptions.alpha when not given)


# The stylize methods (each registered in `stylize.methods`), in the words a user choosing needs.
METHOD_CHOICES = (
    MethodChoice("adain", "AdaIN", "Matches the mean and spread of the deep features: faster and gentler than WCT, "
                                   "keeps more of the picture's structure.", levels=(4,)),
    MethodChoice("wct", "WCT", "Whitens and re-colours the picture's deep features at five levels: the closest "
                               "match of the style's textures and colours (a few seconds).", levels=(5, 4, 3, 2, 1),
              # Li et al.'s multi-level results blend at 0.6; at 1.0 the photo's structure is lost (medians over
              # 18 pairs, `benchmarks/stylize.py --grid`: content 0.401 -> 0.299, style 0.143 -> 0.258)
              alpha=0.6),
    MethodChoice("gatys", "Gatys", "Optimises the picture itself towards the style (Gatys et al.): the finest "
                                   "result, but minutes of work."),
    MethodChoice("microast", "MicroAST", "A small network trained to predict how a style reshapes the picture "
                                         "(MicroAST): the fastest, works on very large pictures."),
    MethodChoice("trained", "Trained style", "A network trained for one style or a painter's collection "
                                             "(brushwork train-style), named by Model: one pass, no style image."),
)
METHODS = tuple(method.name for method in METHOD_CHOICES)


def method_choice(name: str) -> MethodChoice:
    """The method called `name`; any other name is an error listing the choices."""
    for method in METHOD_CHOICES:
        if method.name == name:
            return method
    raise BrushworkError(f"--method {name!r}: expected one of {', '.join(m.name for m in METHOD_CHOICES)}")


DEVICE_CHOICES = (
    Choice("auto", "Automatic (GPU if there is one)", "CUDA if there is a GPU, else Apple's Metal (MPS), else the "
                                                      "CPU."),
    Choice("cpu", "CPU", "The processor: works everywhere, the slowest."),
    Choice("cuda", "NVIDIA GPU (CUDA)", "The first CUDA GPU; cuda:N picks GPU number N."),
    Choice("mps", "Apple GPU (Metal)", "Apple silicon's GPU through Metal (MPS)."),
)
assert tuple(device.name for device in DEVICE_CHOICES) == DEVICES  # the device module owns the names

FieldType = Literal["int", "float", "bool", "str", "choice", "choices", "colour"]
Layer = Literal["cli", "server"]


@dataclass(frozen=True)
class FieldSpec:
    """What the outer layers need to know about one settings field; its name, type and default are the
    dataclass field's own."""

    label: str  # what an editor's dialog calls it
    help: str  # one sentence for --help, the OpenAPI description and the dialogs' tooltips
    type: FieldType  # of one value; "choices" is a list of values from `choices`, "colour" an RGB triple in 0..1
    min: float | None = None  # the range of a number (of each number in a list)
    max: float | None = None
    min_open: bool = False  # the value must be > min (sizes), not >= min
    max_open: bool = False  # the value must be < max
    # "brushes", "methods", "devices" (the lists `describe` gives) or the values themselves
    choices: str | tuple[Any, ...] | None = None
    many: bool = False  # a list of values (the CLI takes them comma-separated)
    max_items: int | None = None  # of a list
    editor: bool = False  # the editors' dialogs offer it
    layers: tuple[Layer, ...] = ("cli", "server")  # where it is offered; () = the library's own tuning
    cli_names: tuple[str, ...] = ()  # the CLI option's spellings when not (only) `--` + name with `-`
    cli_help: str | None = None  # the CLI's help when it must say more (e.g. how to spell a list)
    cli_default: str | None = None  # the default as the CLI spells it, where the value reads badly (a colour)
    # the list whose chosen entry gives the default (None): e.g. "methods" for a method's own strength, read
    # from the method's record under this field's name
    default_by: str | None = None

    def option(self, name: str) -> str:
        """The CLI option that sets this field: what messages call it."""
        return self.cli_names[0] if self.cli_names else "--" + name.replace("_", "-")


SPEC = "brushwork"  # the key of a field's FieldSpec in its dataclasses.Field metadata


def setting(default: Any, label: str, help: str, type: FieldType, **spec: Any) -> Any:
    """A settings dataclass field with its `FieldSpec`."""
    return dataclasses.field(default=default, metadata={SPEC: FieldSpec(label, help, type, **spec)})


def specs(cls: type, layer: Layer | None = None) -> list[tuple[dataclasses.Field, FieldSpec]]:
    """The fields of a settings dataclass with their specs, in declaration order; with `layer`, only
    those that layer offers."""
    return [(f, f.metadata[SPEC]) for f in dataclasses.fields(cls)
            if layer is None or layer in f.metadata[SPEC].layers]


def _spec(cls: type, name: str) -> FieldSpec:
    return next(spec for f, spec in specs(cls) if f.name == name)


def choice_values(choices: str | tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """The values a field may take: a named list (brushes, methods, devices) or the spec's own."""
    if isinstance(choices, str):
        methods = tuple(method.name for method in METHOD_CHOICES)
        return {"brushes": tuple(BRUSHES), "methods": methods, "devices": DEVICES}[choices]
    return choices


_DEVICE_HELP = "Where the computation runs: auto (CUDA, else MPS, else CPU), cpu, cuda[:N] or mps."


@dataclass(frozen=True)
class PaintSettings:
    strokes: int = setting(1000, "Strokes", "Exact number of strokes to add.", "int", min=1, max=MAX_STROKES,
                           editor=True)
    brushes: tuple[str, ...] = setting(
        (DEFAULT_BRUSH,), "Brush", "Brush kinds to paint with; several are mixed.", "choices", choices="brushes",
        many=True, max_items=len(BRUSHES), editor=True, cli_names=("--brush", "--brushes"),
        cli_help="Brush kind, or several separated by commas to mix.")
    seed: int = setting(0, "Seed", "Same seed and input give the same SVG.", "int", min=0, max=MAX_SEED, editor=True)
    working_size: int = setting(512, "Working size", "Long side, in pixels, the optimiser works at (larger images "
                                "are reduced).", "int", min=16, max=4096, editor=True)
    # 25: the refinement at the end (`refine`, which starts useless strokes again) fits the photo
    # better per second than more steps here (tubingen.jpg, 1,000 oil-brush strokes: 40 steps and
    # 60 refinement steps 23.85 dB, 25 and 60 23.84 dB in 11 % less time).
    iterations: int = setting(25, "Steps per level", "Optimisation steps per level: more is closer to the image, "
                              "slower.", "int", min=1, max=10000, editor=True)
    learning_rate: float = setting(0.02, "Learning rate", "Adam's step size for the stroke parameters.", "float",
                                   min=0, min_open=True, layers=())
    ot_weight: float = setting(0.5, "Transport weight", "Weight (beta) of the Sinkhorn transport term against "
                               "the pixel L1 loss.", "float", min=0, layers=())
    ot_grid: int = setting(8, "Transport grid", "The transport term's mass maps are ot_grid x ot_grid per block.",
                           "int", min=1, layers=())
    # The transport term moves strokes into place early in a level; the rest of the level refines
    # with the pixel loss alone, which also halves the Sinkhorn cost (the painter's largest).
    ot_fraction: float = setting(0.5, "Transport fraction", "Fraction of each level's steps that use the "
                                 "transport term.", "float", min=0, max=1, layers=())
    exact_forward: bool = setting(False, "Exact forward", "Loss on the exact rendering, gradients through the "
                                  "neural one.", "bool", layers=())
    min_size: float | None = setting(None, "Smallest stroke", "Smallest stroke extent, output pixels.", "float",
                                     min=0, min_open=True, max=1e5)
    max_size: float | None = setting(None, "Largest stroke", "Largest stroke extent, output pixels.", "float",
                                     min=0, min_open=True, max=1e5)
    opaque: bool = setting(False, "Opaque strokes", "Paint every stroke fully opaque.", "bool", editor=True)
    # The server paints over white paper (transparency is the layer's); the command line picks the paper.
    background: tuple[float, float, float] = setting(
        (1.0, 1.0, 1.0), "Background", "Canvas colour (name or #rrggbb).", "colour", min=0, max=1, layers=("cli",),
        cli_default="white")
    # After the last level, the colours that minimise the squared error for the strokes' final
    # shapes (`colours.refit_colours`): +0.3-0.6 dB on tubingen.jpg at 200-1,000 strokes.
    colour_refit: bool = setting(True, "Refit colours", "Refit the strokes' colours to their final shapes at the "
                                 "end.", "bool", layers=())
    # Strokes of a pass that remove less error than this fraction of the pass's median stroke
    # are dropped and their budget goes to the next pass, or to one extra pass after the last
    # (`pruning`); 0 keeps every stroke.
    prune: float = setting(0.1, "Prune", "Drop strokes that remove less error than this fraction of the median "
                           "stroke; 0 keeps every stroke.", "float", min=0, max=1, max_open=True, layers=())
    # After the levels, all new strokes are optimised together on the whole canvas for this many
    # steps (`refine`); 0 skips it, None picks `refine.default_iterations` for the budget and brushes.
    refine_iterations: int | None = setting(
        None, "Refine at the end", "Steps that refine all strokes together at the end; 0 skips (default: "
        "picked for the stroke budget and the brushes).", "int", min=0, max=10000, editor=True)
    # Video (`video.painting`): every frame after the first starts from the previous frame's strokes and
    # adapts them in a few steps, instead of painting from a blank canvas (faster, and it does not flicker).
    frame_steps: int = setting(10, "Steps per frame", "Video: steps that adapt the previous frame's strokes to "
                               "the next frame (the first frame is painted in full).", "int", min=1, max=10000,
                               layers=("cli",))
    reseed: float = setting(0.1, "Re-seed", "Video: at most this fraction of the strokes is started afresh in "
                            "each frame, where the picture changed (the strokes that fit it least).", "float",
                            min=0, max=1, layers=("cli",))
    device: str = setting("auto", "Device", _DEVICE_HELP, "choice", choices="devices", editor=True)
    # With a style image (`painter.restyle`): the photo is painted first and the finished strokes are then
    # optimised towards the style (colour, texture), or the photo is stylized first and the result painted.
    # texture is the default: the best style loss within issue #20's content target (0.5); medians of 3 pairs at
    # 600 strokes (content / style, benchmarks/stroke_style.py; README, Painting in a style): texture 0.396 /
    # 0.529 at style weight 0.5 (0.436 / 0.460 at 0.7, which passed 0.5 on two tubingen pairs), colour 0.361 /
    # 0.725 (weight 0.7), stylize-first 0.390 / 0.798.
    style_mode: str = setting(
        "texture", "Style mode", "With a style image: colour (restyle the finished strokes' colours), texture "
        "(their colours, shapes and opacity) or stylize-first (stylize the photo, then paint it).", "choice",
        choices=STYLE_MODES, editor=True)
    style_weight: float = setting(0.5, "Style weight", "Weight of the style loss against the photo's (its pixels "
                                  "and features) when the strokes are restyled (colour and texture modes).", "float",
                                  min=0, max=1000, editor=True)
    style_steps: int = setting(100, "Style steps", "Steps that restyle the finished strokes (colour and texture "
                               "modes).", "int", min=0, max=10000)
    style_weights: tuple[float, ...] | None = setting(
        None, "Style weights", "One weight per style image, to interpolate between them; default equal.", "float",
        min=0, many=True, layers=("cli",),
        cli_help="One weight per --style, comma-separated (e.g. 0.7,0.3); default equal.")
    preserve_color: bool = setting(False, "Preserve colours", "Keep the photo's colours: the style's luminance "
                                   "patterns only.", "bool", editor=True)
    style_method: str | None = setting(None, "Stylize method", "stylize-first: how the photo is stylized (default: "
                                       "the stylize command's; trained takes --model).", "choice", choices="methods")
    model: str | None = setting(None, "Model", "A trained style, by name (brushwork styles lists them) or as a .pt "
                                "file: the photo is stylized with it first and the result painted (stylize-first "
                                "with the trained method); no style image is needed.", "str")

    @property
    def trained_style(self) -> str | None:
        """The trained style `model` names (an editor's empty field names none)."""
        return (self.model.strip() or None) if self.model else None


def _number(value: float | None) -> str:
    """A bound as people write it: 100000, not 1e+05; 0.5 as it is."""
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


def _number_problem(option: str, value: Any, spec: FieldSpec) -> str | None:
    """Why `value` is not a number in the spec's range (a message naming `option`), or None."""
    whole = spec.type == "int" or (spec.type == "choices" and all(isinstance(c, int) for c in spec.choices or ()))
    kind = "a whole number" if whole else "a number"
    is_number = isinstance(value, int) if whole else isinstance(value, (int, float))
    if is_number and not isinstance(value, bool) and math.isfinite(value):
        low_ok = spec.min is None or (value > spec.min if spec.min_open else value >= spec.min)
        high_ok = spec.max is None or (value < spec.max if spec.max_open else value <= spec.max)
        if low_ok and high_ok:
            return None
    low, high = _number(spec.min), _number(spec.max)
    if spec.min is not None and spec.max is not None:
        bounds = f"in {'(' if spec.min_open else '['}{low}, {high}{')' if spec.max_open else ']'}"
    elif spec.min is not None:
        bounds = f"{'>' if spec.min_open else '>='} {low}"
    else:
        bounds = f"{'<' if spec.max_open else '<='} {high}" if spec.max is not None else ""
    return f"{option} {value}: expected {kind} {bounds}".rstrip()


def check_fields(settings: Any) -> None:
    """Every field of a settings dataclass against its spec: ranges, choices, list lengths. Errors
    name the CLI option (the Python keyword is the same name with `_`)."""
    for f, spec in specs(type(settings)):
        value, option = getattr(settings, f.name), spec.option(f.name)
        if value is None and f.default is None:
            continue
        if spec.choices == "devices":
            validate_device(value)
            continue
        allowed = choice_values(spec.choices)
        values = tuple(value) if spec.many and isinstance(value, (tuple, list)) else (value,)
        if spec.many:
            if not isinstance(value, (tuple, list)) or not value:
                raise BrushworkError(f"{option}: give at least one value")
            if spec.max_items is not None and len(values) > spec.max_items:
                raise BrushworkError(f"{option}: at most {spec.max_items} values, got {len(values)}")
        if spec.type == "bool":
            if not isinstance(value, bool):
                raise BrushworkError(f"{option} {value!r}: expected true or false")
        elif allowed is not None:
            for item in values:
                if item not in allowed:
                    shown = item if isinstance(item, int) else repr(item)
                    raise BrushworkError(f"{option} {shown}: expected one of {', '.join(map(str, allowed))}")
        elif spec.type in ("int", "float"):
            for item in values:
                problem = _number_problem(option, item, spec)
                if problem is not None:
                    raise BrushworkError(problem)
        elif spec.type == "colour":
            if len(value) != 3 or any(_number_problem(option, c, spec) for c in value):
                raise BrushworkError(f"{option} {value}: expected an RGB colour with channels in 0..1")


def validate_settings(s: PaintSettings) -> None:
    for kind in s.brushes if isinstance(s.brushes, (tuple, list)) else ():
        if kind not in BRUSHES:  # said as the registry's answer: the brush kinds there are
            raise BrushworkError(f"unknown brush {kind!r}; expected one of {', '.join(BRUSHES)}")
    check_fields(s)
    if s.min_size is not None and s.max_size is not None and s.min_size > s.max_size:
        raise BrushworkError(f"min-size {s.min_size} is larger than max-size {s.max_size}")
    if s.style_method == "trained" and s.trained_style is None:
        raise BrushworkError("--style-method trained needs --model (a style name or .pt file; brushwork styles lists "
                             "them)")


@dataclass(frozen=True)
class StyleOptions:
    """Everything that shapes a stylization besides the images themselves."""

    # microast by default: the best content and style losses of the feed-forward methods and the fastest
    # (README, Stylize), and it keeps faces and edges readable where WCT redraws them
    method: str = setting("microast", "Method", f"How the style is carried over: {', '.join(METHODS[:-1])} or "
                          f"{METHODS[-1]} (the methods' help says how they differ).", "choice", choices="methods",
                          editor=True)
    model: str | None = setting(None, "Model", "trained: a trained style, by name (brushwork styles lists them) "
                                "or as a .pt file from brushwork train-style; giving one selects the trained "
                                "method, and no style image is needed.", "str", editor=True)
    alpha: float | None = setting(
        None, "Strength", "Style strength: 0 = the content (its reconstruction), 1 = full style; default: the "
        f"method's own ({', '.join(f'{m.name} {m.alpha:g}' for m in METHOD_CHOICES)}).", "float", min=0, max=1,
        editor=True, default_by="methods", cli_help="Style strength in [0, 1]  [default: the method's own: "
        f"{', '.join(f'{m.name} {m.alpha:g}' for m in METHOD_CHOICES)}]")
    style_weights: tuple[float, ...] | None = setting(
        None, "Style weights", "One weight per style image, to interpolate between them; default equal.", "float",
        min=0, many=True, layers=("cli",),
        cli_help="One weight per --style, comma-separated (e.g. 0.7,0.3); default equal.")
    levels: tuple[int, ...] | None = setting(
        None, "Levels", "adain/wct encoder levels, applied in this order (default adain 4, wct 5,4,3,2,1).",
        "choices", choices=(1, 2, 3, 4, 5), many=True, max_items=5,
        cli_help="adain/wct encoder levels in order (default adain 4, wct 5,4,3,2,1).")
    preserve_color: bool = setting(False, "Preserve colours", "Keep the content's colours (the style's luminance "
                                   "only).", "bool", editor=True)
    size: int | None = setting(None, "Size", "Long side of the output in pixels (default: the content's).", "int",
                               min=ALIGN, max=MAX_STYLIZE_SIDE, layers=("cli",))
    style_size: int = setting(512, "Style size", "Style images' long side: larger ones are shrunk to it before "
                              "their statistics (smaller is faster, coarser).", "int", min=32, max=4096, editor=True)
    tile: int = setting(1024, "Tile", "Run tile by tile above this size (px); bounds memory.", "int", min=64,
                        max=MAX_STYLIZE_SIDE, layers=("cli",))
    margin: int = setting(128, "Tile margin", "Context around each tile at level 5 (px); less is faster but can "
                          "show seams.", "int", min=0, max=1024, layers=("cli",))
    # gatys: Adam for 50 steps at 512 px meets the 30 s / style 0.05 goal on 2 CPU cores (median style loss
    # 0.020, content 0.265 over 18 content x style pairs, 12 s each); L-BFGS (100 steps: 63 s) stalls on
    # some pairs at style 0.10-0.20 (`benchmarks/stylize.py --grid --methods gatys`).
    steps: int = setting(50, "Steps", "gatys: iterations at the working size.", "int", min=0, max=100000,
                         editor=True, cli_help="gatys: iterations at --work-size.")
    work_size: int = setting(512, "Work size", "gatys: long side of the first optimisation; larger outputs are "
                             "then refined.", "int", min=32, max=8192, layers=("cli",))
    refine_steps: int = setting(20, "Refine steps", "gatys: iterations at the output size when it exceeds the work "
                                "size.", "int", min=0, max=100000, layers=("cli",),
                                cli_help="gatys: iterations at the output size when it exceeds --work-size.")
    optimizer: str = setting("adam", "Optimizer", "gatys: lbfgs or adam.", "choice", choices=OPTIMIZERS,
                             layers=("cli",))
    style_weight: float = setting(10.0, "Style weight", "gatys: weight of the style loss against the content loss "
                                  "(before the strength).", "float", min=0, min_open=True, layers=("cli",),
                                  cli_help="gatys: weight of the style loss against the content loss (before "
                                  "--alpha).")
    # Video (`video.styling`): adain/wct/microast build each frame's map from content statistics averaged over
    # the frames so far, so the colours do not pump as things enter and leave the picture.
    frame_smoothing: float = setting(0.8, "Frame smoothing", "Video: how much of the content statistics carry "
                                     "over from frame to frame (adain, wct, microast); 0 = each frame its own.",
                                     "float", min=0, max=1, max_open=True, layers=("cli",))
    device: str = setting("auto", "Device", _DEVICE_HELP, "choice", choices="devices", editor=True)

    def validate(self, style_count: int) -> StyleOptions:
        """Check ranges (errors name the parameter) and return options with defaults filled in."""
        if self.model is not None and not self.model.strip():
            return replace(self, model=None).validate(style_count)  # an editor's empty Model field: none
        if self.model is not None:  # a trained style needs no style image and replaces the method
            return replace(self, method="trained")._validated(max(style_count, 1))
        if self.method == "trained":
            raise BrushworkError("--method trained needs --model (a style name or .pt file; brushwork styles lists "
                                 "them)")
        return self._validated(style_count)

    def _validated(self, style_count: int) -> StyleOptions:
        method = method_choice(self.method)
        levels = self.levels
        if method.levels is None:
            if levels is not None:
                level_based = ", ".join(m.name for m in METHOD_CHOICES if m.levels is not None)
                raise BrushworkError(f"--levels applies to {level_based}; {method.name} does not work level by level")
        else:
            levels = tuple(levels) if levels is not None else method.levels
            allowed = choice_values(_spec(StyleOptions, "levels").choices) or ()
            if not levels or any(level not in allowed for level in levels):
                raise BrushworkError(f"--levels {','.join(map(str, levels))}: expected levels from {min(allowed)} "
                                     f"to {max(allowed)}")
        # the weights are checked against the number of style images
        alpha = method.alpha if self.alpha is None else self.alpha
        check_fields(replace(self, style_weights=None, levels=levels, alpha=alpha))
        weights = validate_style_weights(self.style_weights, style_count)
        return replace(self, style_weights=weights, levels=levels, alpha=alpha)


def validate_style_weights(style_weights: Sequence[float] | None, count: int) -> tuple[float, ...]:
    """One non-negative weight per style image, not all zero; returned normalised to sum 1."""
    if count < 1:
        raise BrushworkError("give at least one style image")
    if style_weights is None:
        return (1.0 / count,) * count
    values = tuple(float(w) for w in style_weights)
    if len(values) != count:
        raise BrushworkError(f"--style-weights has {len(values)} value(s) for {count} style image(s); "
                             "expected one weight per --style")
    if any(not math.isfinite(w) or w < 0 for w in values):
        raise BrushworkError(f"--style-weights {','.join(map(str, values))}: weights must be finite and >= 0")
    total = sum(values)
    if total <= 0:
        raise BrushworkError("--style-weights are all zero; at least one must be > 0")
    return tuple(w / total for w in values)


# ------------------------------------------------------------------------------------------ the options document

def _json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def describe_field(f: dataclasses.Field, spec: FieldSpec) -> dict[str, Any]:
    """One FIELD of the options document."""
    return {"name": f.name, "type": spec.type, "default": _json(f.default), "min": spec.min, "max": spec.max,
            "min_open": spec.min_open, "max_open": spec.max_open, "choices": _json(spec.choices),
            "many": spec.many, "max_items": spec.max_items, "label": spec.label, "help": spec.help,
            "editor": spec.editor, "server": "server" in spec.layers, "option": spec.option(f.name),
            "default_by": spec.default_by}


def describe() -> dict[str, Any]:
    """The options document: brushes, methods, devices and the paint and stylize fields the CLI and the
    server offer (names, types, defaults, ranges, labels, help, which ones the editors show). Served
    as GET /v1/options (with the server's `available_devices`) and printed by `brushwork options --json`;
    the plug-ins build their dialogs from it. JSON-serialisable, and torch-free."""
    def choices(records: Sequence[Choice]) -> list[dict[str, str]]:
        return [dataclasses.asdict(record) for record in records]

    return {
        "version": __version__,
        "brushes": [{"name": BRUSHES[name].name, "label": BRUSHES[name].label,
                     "description": BRUSHES[name].description} for name in BRUSHES],
        "methods": choices(METHOD_CHOICES),
        "devices": choices(DEVICE_CHOICES),
        # the trained styles StyleOptions.model can name (the user's and the shipped ones)
        "styles": [{"name": s.name, "kind": s.kind, "path": str(s.path), "shipped": s.shipped} for s in style_files()],
        "paint": {"fields": [describe_field(f, spec) for f, spec in specs(PaintSettings) if spec.layers]},
        "stylize": {"fields": [describe_field(f, spec) for f, spec in specs(StyleOptions) if spec.layers]},
    }
