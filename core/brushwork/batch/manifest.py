"""When a batch item is complete: a small record written atomically after its outputs.

An item's record (`OUTDIR/.brushwork-batch/<name>.json`) holds its settings, the sha256 of each input
file and of each output file. The item is complete when the record is there, the settings and the
inputs are the same as now, and every output still has the content recorded. So an item stopped
half-way (outputs written, record not), an output changed or deleted since, a new photo under an old
name or a change of settings all make the item run again; nothing else does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brushwork.files import atomic_write

FOLDER = ".brushwork-batch"
FORMAT = "brushwork-batch-item"
VERSION = 1


def record_path(outdir: Path, name: str) -> Path:
    return outdir / FOLDER / f"{name}.json"


def digest(path: Path) -> str | None:
    """sha256 of a file's bytes, None when it cannot be read."""
    sha = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                sha.update(block)
    except OSError:
        return None
    return sha.hexdigest()


def _record(settings: dict[str, Any], inputs: Sequence[Path], outputs: Sequence[Path]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "settings": settings,
        "inputs": [digest(p) for p in inputs],
        "outputs": {p.name: digest(p) for p in outputs},
    }


def write(path: Path, settings: dict[str, Any], inputs: Sequence[Path], outputs: Sequence[Path]) -> None:
    """Record an item as complete; call it after every output is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(_record(settings, inputs, outputs), indent=1) + "\n").encode())


def is_complete(path: Path, settings: dict[str, Any], inputs: Sequence[Path], outputs: Sequence[Path]) -> bool:
    """Whether the record at `path` says these outputs were made from these inputs with these settings,
    and the outputs are still exactly what was written."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict) or recorded.get("format") != FORMAT or recorded.get("version") != VERSION:
        return False
    # Settings through JSON, so tuples compare with the lists they were written as.
    if recorded.get("settings") != json.loads(json.dumps(settings)):
        return False
    if recorded.get("outputs") is None or set(recorded["outputs"]) != {p.name for p in outputs}:
        return False
    current = _record(settings, inputs, outputs)
    return None not in current["outputs"].values() and all(
        recorded[key] == current[key] for key in ("inputs", "outputs"))
