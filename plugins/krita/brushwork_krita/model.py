"""What the Krita plug-in does, without Krita or Qt: dialog values and their memory, the region to
work on, the job parameters, and placing the results. The Krita calls are in document.py, the Qt
widgets in ui.py; this file is unit-tested on its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

BRUSHES = ("oilbrush", "watercolor", "markerpen", "tape")
METHODS = ("wct", "adain", "gatys")
SETTINGS_GROUP = "brushwork"
PAINT_LAYER = "brushwork painting"
VECTOR_LAYER = "brushwork strokes"
STYLIZE_LAYER = "brushwork stylized"
BRUSH_LABELS = {"oilbrush": "oil brush", "watercolor": "watercolour", "markerpen": "marker pen", "tape": "tape"}
METHOD_LABELS = {"wct": "WCT", "adain": "AdaIN", "gatys": "Gatys"}


@dataclass
class PaintOptions:
    brush: str = "oilbrush"
    strokes: int = 500
    seed: int = 0
    working_size: int = 512
    iterations: int = 0  # optimisation steps per level; 0 = the painter's default (speed vs. finish)
    vector_layer: bool = True  # also add the strokes as a vector layer (editable shapes)
    refine: bool = True  # refine all strokes together at the end: closer to the image, slower

    def params(self) -> dict[str, Any]:
        params = {"brush": self.brush, "strokes": self.strokes, "seed": self.seed, "working_size": self.working_size}
        if self.iterations > 0:
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

    def params(self, style_png: bytes) -> dict[str, Any]:
        import base64

        return {"style": {"encoding": "png", "data": base64.b64encode(style_png).decode("ascii")},
                "method": self.method, "alpha": self.alpha, "preserve_color": self.preserve_color}

    def check(self) -> str | None:
        """Why the options cannot run (a message for the user), or None."""
        if not self.style:
            return "choose a style image"
        if not Path(self.style).is_file():
            return f"the style image {self.style} does not exist"
        return None


class Settings:
    """The dialogs' last values, in Krita's own settings (kritarc), never in the plug-in folder
    (Krita replaces that on update). `read(group, key, default)` / `write(group, key, value)` are
    Krita.readSetting / Krita.writeSetting; values are stored as JSON strings."""

    def __init__(self, read: Callable[[str, str, str], str], write: Callable[[str, str, str], None]) -> None:
        self._read, self._write = read, write

    def load(self, cls: type):
        defaults = cls()
        try:
            stored = json.loads(self._read(SETTINGS_GROUP, cls.__name__, "") or "{}")
        except ValueError:
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


def install_info(folder: Path) -> dict[str, Any]:
    """What `brushwork plugins install` recorded (the interpreter with brushwork)."""
    try:
        return json.loads((folder / "install.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
