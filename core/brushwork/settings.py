"""What a painting and a stylization can be asked for: the settings' fields, defaults and ranges,
owned here once. Torch-free, so the CLI, the server's schema and the editor plug-ins can read them
without loading the engine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from brushwork.device import validate_device
from brushwork.errors import BrushworkError
from brushwork.strokes import BRUSHES

METHODS = ("adain", "wct", "gatys")
DEFAULT_LEVELS = {"adain": (4,), "wct": (5, 4, 3, 2, 1)}
OPTIMIZERS = ("lbfgs", "adam")
MAX_STYLIZE_SIDE = 32768  # px, long side of a stylized output (it runs tile by tile)
ALIGN = 16  # px: the deepest (level-5) encoder pools four times, so sizes are multiples of 2^4


@dataclass(frozen=True)
class PaintSettings:
    strokes: int = 1000
    brushes: tuple[str, ...] = ("oilbrush",)
    seed: int = 0
    working_size: int = 512
    iterations: int = 40
    learning_rate: float = 0.02
    ot_weight: float = 0.5  # beta: weight of the Sinkhorn term against pixel L1
    ot_grid: int = 8  # mass maps are ot_grid x ot_grid per block
    # The transport term moves strokes into place early in a level; the rest of the level refines
    # with the pixel loss alone, which also halves the Sinkhorn cost (the painter's largest).
    ot_fraction: float = 0.5
    exact_forward: bool = False  # loss on the exact rendering, gradients through the neural one
    min_size: float | None = None  # stroke extents, output pixels
    max_size: float | None = None
    opaque: bool = False
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # After the last level, the colours that minimise the squared error for the strokes' final
    # shapes (`colours.refit_colours`): +0.3-0.6 dB on tubingen.jpg at 200-1,000 strokes.
    colour_refit: bool = True
    # Strokes of a pass that remove less error than this fraction of the pass's median stroke
    # are dropped and their budget goes to the next pass, or to one extra pass after the last
    # (`pruning`); 0 keeps every stroke.
    prune: float = 0.1
    # After the levels, all new strokes are optimised together on the whole canvas for this many
    # steps (`refine`); 0 skips it, None picks `refine.default_iterations` for the budget.
    refine_iterations: int | None = None
    device: str = "auto"  # auto (CUDA, else MPS, else CPU), cpu, cuda[:N] or mps: where the tensors live


def validate_settings(s: PaintSettings) -> None:
    if not isinstance(s.strokes, int) or s.strokes < 1:
        raise BrushworkError(f"strokes must be a whole number >= 1, got {s.strokes!r}")
    if not s.brushes:
        raise BrushworkError("brush: give at least one brush kind")
    for kind in s.brushes:
        if kind not in BRUSHES:
            raise BrushworkError(f"unknown brush {kind!r}; expected one of {', '.join(BRUSHES)}")
    if s.working_size < 16:
        raise BrushworkError(f"working size must be at least 16 pixels, got {s.working_size}")
    if s.iterations < 1:
        raise BrushworkError(f"iterations must be at least 1, got {s.iterations}")
    for name in ("min_size", "max_size"):
        value = getattr(s, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise BrushworkError(f"{name.replace('_', '-')} must be a positive number of pixels, got {value}")
    if s.min_size is not None and s.max_size is not None and s.min_size > s.max_size:
        raise BrushworkError(f"min-size {s.min_size} is larger than max-size {s.max_size}")
    if s.refine_iterations is not None and s.refine_iterations < 0:
        raise BrushworkError(f"refine iterations must be 0 or more, got {s.refine_iterations}")
    if not (0 <= s.prune < 1):
        raise BrushworkError(f"prune must be in [0, 1), got {s.prune}")
    if len(s.background) != 3 or not all(0 <= c <= 1 for c in s.background):
        raise BrushworkError(f"background must be an RGB colour with channels in 0..1, got {s.background}")
    validate_device(s.device)


@dataclass(frozen=True)
class StyleOptions:
    """Everything that shapes a stylization besides the images themselves."""

    method: str = "wct"
    alpha: float = 1.0  # 0 = the content (its reconstruction), 1 = full style
    style_weights: tuple[float, ...] | None = None  # one per style image; None = equal
    levels: tuple[int, ...] | None = None  # adain / wct encoder levels, applied in this order
    preserve_color: bool = False  # keep the content's colours (chroma), take the style's luminance
    size: int | None = None  # long side of the output in pixels; None = the content's own size
    style_size: int = 512  # larger style images are shrunk to this long side before their statistics
    tile: int = 1024  # images larger than this (long side, px) run tile by tile
    margin: int = 128  # context around each tile at level 5 (px); level k uses margin / 2^(5-k), >= 16
    steps: int = 100  # gatys: iterations at the working size
    work_size: int = 512  # gatys: long side of the first, full optimisation
    refine_steps: int = 20  # gatys: iterations at the output size when it exceeds work_size
    optimizer: str = "lbfgs"  # gatys: lbfgs or adam
    style_weight: float = 10.0  # gatys: style term weight (relative losses; content weight is 1)
    device: str = "auto"  # auto (CUDA, else MPS, else CPU), cpu, cuda[:N] or mps: where the tensors live

    def validate(self, style_count: int) -> "StyleOptions":
        """Check ranges (errors name the parameter) and return options with defaults filled in."""
        if self.method not in METHODS:
            raise BrushworkError(f"--method {self.method!r}: expected one of {', '.join(METHODS)}")
        if not (isinstance(self.alpha, (int, float)) and 0.0 <= self.alpha <= 1.0):
            raise BrushworkError(f"--alpha {self.alpha}: expected a number in [0, 1]")
        weights = validate_style_weights(self.style_weights, style_count)
        levels = self.levels
        if self.method == "gatys":
            if levels is not None:
                raise BrushworkError("--levels applies to adain and wct; gatys uses relu1_1..relu5_1")
        else:
            levels = tuple(levels) if levels is not None else DEFAULT_LEVELS[self.method]
            if not levels or any(level not in (1, 2, 3, 4, 5) for level in levels):
                raise BrushworkError(f"--levels {','.join(map(str, levels))}: expected levels from 1 to 5")
        for name, value, low, high in (("--size", self.size, ALIGN, MAX_STYLIZE_SIDE),
                                       ("--style-size", self.style_size, 32, 4096),
                                       ("--tile", self.tile, 64, MAX_STYLIZE_SIDE), ("--margin", self.margin, 0, 1024),
                                       ("--steps", self.steps, 0, 100000), ("--work-size", self.work_size, 32, 8192),
                                       ("--refine-steps", self.refine_steps, 0, 100000)):
            if value is not None and not (isinstance(value, int) and low <= value <= high):
                raise BrushworkError(f"{name} {value}: expected a whole number in [{low}, {high}]")
        if self.optimizer not in OPTIMIZERS:
            raise BrushworkError(f"--optimizer {self.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
        if not (math.isfinite(self.style_weight) and self.style_weight > 0):
            raise BrushworkError(f"--style-weight {self.style_weight}: expected a number > 0")
        validate_device(self.device)
        return replace(self, style_weights=weights, levels=levels)


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
