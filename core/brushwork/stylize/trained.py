"""Trained styles: the model files `train-style` writes, finding them, and running them.

A style file (`.pt`) holds {"format": FORMAT, "kind": "johnson" | "collection", "shape": the network's
size, "state": its weights, ...}; its model card (`.md`, `.json`) lies beside it. Styles are found by
name among the user's and the shipped ones (`brushwork.style_files` says where), or given as a path.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from brushwork.errors import BrushworkError
from brushwork.files import atomic_write
from brushwork.style_files import STYLES_ENV, find_style, shipped_dir, user_dir
from brushwork.stylize.collection import Generator, GeneratorShape, translate_tiles
from brushwork.stylize.job import Job
from brushwork.stylize.johnson import JohnsonNet, JohnsonShape

FORMAT = "brushwork-style/1"
KINDS = ("johnson", "collection")
__all__ = ["STYLES_ENV", "StyleEntry", "available", "build", "read", "run", "save", "shipped_dir", "user_dir"]


@dataclass(frozen=True)
class StyleEntry:
    """A style `brushwork styles` lists."""

    name: str
    kind: str
    path: Path
    card: Path | None
    shipped: bool


def save(path: Path, kind: str, shape: dict, state: dict[str, torch.Tensor], **extra: object) -> None:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "kind": kind, "shape": shape,
                "state": {key: tensor.detach().cpu().contiguous() for key, tensor in state.items()}, **extra}, buffer)
    atomic_write(path, buffer.getvalue())


def read(path: Path) -> dict:
    """The contents of a style file; anything else is an error naming the path."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BrushworkError(f"--model {path}: no such file") from None
    except Exception as exc:  # UnpicklingError, RuntimeError (not a zip), EOFError, OSError, ...
        lines = str(exc).strip().splitlines()
        raise BrushworkError(f"--model {path}: not a brushwork style file "
                             f"({lines[0][:160] if lines else type(exc).__name__})") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT or saved.get("kind") not in KINDS:
        raise BrushworkError(f"--model {path}: not a brushwork style file (expected format {FORMAT} from "
                             "`brushwork train-style`)")
    return saved


def build(path: Path, device: torch.device) -> nn.Module:
    """The network in the style file `path`, on `device`, in inference mode."""
    saved = read(path)
    try:
        net: nn.Module = (JohnsonNet(JohnsonShape(**saved["shape"])) if saved["kind"] == "johnson"
                          else Generator(GeneratorShape(**saved["shape"])))
        net.load_state_dict(saved["state"])
    except (TypeError, RuntimeError, KeyError) as exc:
        lines = str(exc).strip().splitlines()
        raise BrushworkError(f"--model {path}: the {saved['kind']} weights do not fit "
                             f"({lines[0][:160] if lines else type(exc).__name__})") from None
    return net.to(device).eval().requires_grad_(False)


def _entries(folder: Path, shipped: bool) -> list[StyleEntry]:
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.pt")):
        try:
            kind = read(path)["kind"]
        except BrushworkError:
            continue  # a checkpoint or other file in the folder: not a style
        card = path.with_suffix(".md")
        found.append(StyleEntry(path.stem, kind, path, card if card.is_file() else None, shipped))
    return found


def available(extra: list[Path] | None = None) -> list[StyleEntry]:
    """The shipped styles, the user's (a user style of the same name comes after, and `find` prefers
    it) and the files in `extra`."""
    entries = _entries(shipped_dir(), True) + _entries(user_dir(), False)
    for path in extra or []:
        saved = read(path)
        card = path.with_suffix(".md")
        entries.append(StyleEntry(path.stem, saved["kind"], path, card if card.is_file() else None, False))
    return entries


def run(job: Job) -> torch.Tensor:
    """Stylize the job's content with the trained style `job.options.model` (the style images are not
    used): Johnson's network with whole-image instance-norm statistics, tile by tile above `tile`; the
    collection generator tile by tile as it was trained."""
    assert job.options.model is not None  # validate() requires it for this method
    path = find_style(job.options.model)
    net = job.models.kept(f"style:{path.resolve()}:{path.stat().st_mtime_ns}", job.device,
                          lambda device: build(path, device))

    def report(part: float) -> None:
        job.progress(part, f"{job.options.method} {path.stem}")

    with torch.inference_mode():
        if isinstance(net, JohnsonNet):
            out = net.tiled(job.content, job.options.tile, report)
        else:
            assert isinstance(net, Generator)
            out = translate_tiles(net, job.content, report=report)
        report(1.0)
        alpha = job.options.alpha  # strength: a blend with the photo (the network has no feature-space knob)
        assert alpha is not None  # validate() fills it in
        return (alpha * out + (1 - alpha) * job.content).clamp(0, 1) if alpha < 1 else out.clamp(0, 1)
