"""Trained neural stroke renderers, one folder per brush kind, installed as package data:
`<kind>/renderer.pt` (configuration + weights), `<kind>/card.json` (figures) and
`<kind>/card.md` (the model card)."""

from __future__ import annotations

import json
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from brushwork.errors import BrushworkError
from brushwork.strokes import BRUSHES

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = "renderer.pt"
CARD_FILE = "card.json"


def renderer_dir(kind: str) -> Traversable:
    """The folder that holds the shipped renderer of one brush kind."""
    if kind not in BRUSHES:
        raise BrushworkError(f"unknown brush kind {kind!r}; expected one of {', '.join(BRUSHES)}")
    return files(__name__) / kind


def load(kind: str, path: str | Path | None = None, device: torch.device | str = "cpu"):
    """The trained `NeuralRenderer` for `kind` (shipped, or from an explicit renderer.pt), in
    evaluation mode, on `device`. Missing or corrupt files raise a BrushworkError that says what
    to do."""
    import torch

    from brushwork.neural.model import NeuralRenderer

    source = Path(path) if path is not None else None
    with as_file(renderer_dir(kind) / WEIGHTS_FILE) as shipped:
        weights = source or Path(shipped)
        if not weights.is_file():
            raise BrushworkError(
                f"no trained {kind} renderer: {weights} is missing; reinstall brushwork or train "
                f"one with `brushwork train-renderer --kind {kind}`"
            )
        try:
            saved = torch.load(weights, map_location="cpu", weights_only=True)
            config = saved["config"]
            if config["kind"] != kind:
                raise ValueError(f"it holds a {config['kind']} renderer")
            with torch.device(device):  # built where it runs: the weights are copied there once
                model = NeuralRenderer(**config)
            model.load_state_dict(saved["state_dict"])
        except BrushworkError:
            raise
        except Exception as exc:  # torch raises many types for a damaged file
            raise BrushworkError(
                f"renderer file {weights} is corrupt or incompatible ({type(exc).__name__}: {exc}); "
                f"reinstall brushwork or retrain with `brushwork train-renderer --kind {kind}`"
            ) from None
    return model.eval()


def card(kind: str) -> dict | None:
    """The figures of the shipped renderer of `kind`, or None when it has none."""
    path = renderer_dir(kind) / CARD_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def installed() -> list[dict]:
    """Cards of every shipped renderer, in brush-kind order."""
    return [c for c in (card(kind) for kind in BRUSHES) if c is not None]
