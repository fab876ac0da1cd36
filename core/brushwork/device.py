"""Where the tensors live: `--device auto|cpu|cuda[:N]|mps`.

`validate_device` is torch-free (settings check a name without loading the engine); `resolve_device`
turns a name into a `torch.device`, refusing one this machine does not have with a message that says
what it does have. Models move to the device once; every tensor after that follows its input's device.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from brushwork.errors import BrushworkError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
_NAME = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def validate_device(name: str) -> str:
    """`name` if it is a device brushwork knows (auto, cpu, cuda, cuda:N, mps), else a BrushworkError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BrushworkError(f"--device {name!r}: expected one of auto, cpu, cuda, cuda:N (a GPU index) or mps")
    return name


def available_devices() -> list[str]:
    """The devices this machine can use now, best first (what `auto` picks is the first)."""
    import torch

    found = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return [*found, "cpu"]


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for `name`: auto = CUDA, else MPS, else CPU."""
    import torch

    validate_device(name)
    have = available_devices()
    if name == "auto":
        return torch.device(have[0])
    device = torch.device(name)
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise BrushworkError(f"--device {name}: no such CUDA GPU here (this machine has: {', '.join(have)})")
    if device.type == "mps" and "mps" not in have:
        raise BrushworkError(f"--device mps: Apple's Metal backend is not available here (this machine has: "
                             f"{', '.join(have)})")
    return device


def statistics_dtype(device: torch.device) -> torch.dtype:
    """The dtype for feature statistics (covariances, eigendecompositions): float64 where the device has
    it. MPS has no float64, so statistics there are float32 (WCT's eigh then runs on the CPU in float64:
    see `stylize.transforms`)."""
    import torch

    return torch.float32 if device.type == "mps" else torch.float64
