"""Where trained styles (`brushwork train-style`) are kept, and which there are, without loading torch:
the options document (`settings.describe`) lists them for the editors' dialogs.

A style is a file `<name>.pt` with its model card `<name>.json` / `<name>.md` beside it. The shipped ones
are package data (`brushwork/data/styles/`); the user's live in `$BRUSHWORK_STYLES`, else
`$XDG_CONFIG_HOME/brushwork/styles`, else `~/.config/brushwork/styles`. A user style of the same name as a
shipped one takes its place.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from brushwork.errors import BrushworkError

STYLES_ENV = "BRUSHWORK_STYLES"


@dataclass(frozen=True)
class StyleFile:
    name: str
    kind: str | None  # "johnson" | "collection" as its card says; None without a card
    path: Path
    shipped: bool


def shipped_dir() -> Path:
    return Path(str(resources.files("brushwork") / "data" / "styles"))


def user_dir() -> Path:
    """Where the user's own trained styles are looked up by name."""
    if os.environ.get(STYLES_ENV):
        return Path(os.environ[STYLES_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "brushwork" / "styles"


def _kind(card: Path) -> str | None:
    try:
        kind = json.loads(card.read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


def style_files() -> list[StyleFile]:
    """The .pt files of the user's folder, then the shipped ones not named the same, each by name."""
    found: dict[str, StyleFile] = {}
    for folder, shipped in ((user_dir(), False), (shipped_dir(), True)):
        if folder.is_dir():
            for path in sorted(folder.glob("*.pt")):
                found.setdefault(path.stem, StyleFile(path.stem, _kind(path.with_suffix(".json")), path, shipped))
    return list(found.values())


def find_style(model: str) -> Path:
    """The style file for `model`: a path to a .pt file, or the name of a user or shipped style."""
    candidate = Path(model).expanduser()
    if candidate.suffix == ".pt" or os.sep in model or (os.altsep and os.altsep in model):
        if not candidate.is_file():
            raise BrushworkError(f"--model {model}: no such file")
        return candidate
    for folder in (user_dir(), shipped_dir()):
        path = folder / f"{model}.pt"
        if path.is_file():
            return path
    names = sorted(style.name for style in style_files())
    raise BrushworkError(f"--model {model!r}: no such style; expected a .pt file or one of "
                         f"{', '.join(names) or 'none'} (brushwork styles lists them; user styles live in "
                         f"{user_dir()})")
