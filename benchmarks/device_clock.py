"""The device a benchmark runs on, and a clock that waits for it (shared by the scripts in benchmarks/).

Every benchmark takes `--device auto|cpu|cuda[:N]|mps` (the library's names, `brushwork.device`; auto =
CUDA, else MPS, else CPU) and prints the device it resolved to in its header, with the GPU's name on CUDA.
CUDA and MPS run asynchronously: a clock read straight after a call measures the time to queue the work,
not to do it, so `Stopwatch` waits for the device before it reads the clock. Torch is imported when a
device is resolved, not before: the bridge benchmarks only pass the name on to the server's jobs.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from brushwork.device import DEVICES, resolve_device
from brushwork.errors import BrushworkError

if TYPE_CHECKING:
    import torch


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """`--device`, checked by `device_from(args)` (brushwork's own validation and message)."""
    parser.add_argument("--device", default="auto", metavar="|".join(DEVICES),
                        help="where the tensors live: auto (CUDA, else MPS, else CPU), cpu, cuda[:N] or mps "
                             "(default auto)")


def device_from(args: argparse.Namespace) -> torch.device:
    """The torch device `--device` names; a name brushwork does not know, or a device this machine lacks,
    ends the benchmark with brushwork's one-line message (which says what the machine has)."""
    try:
        return resolve_device(args.device)
    except BrushworkError as exc:
        raise SystemExit(str(exc)) from None


def describe(device: torch.device) -> str:
    """'cuda:0 (NVIDIA H200)', 'mps (Apple Metal)' or 'cpu (2 torch threads)': for headers and tables."""
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple Metal)"
    return f"cpu ({torch.get_num_threads()} torch threads)"


def synchronize(device: torch.device) -> None:
    """Wait until `device` has finished the work queued on it (nothing to wait for on the CPU)."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class Stopwatch:
    """Wall and process-CPU seconds of a block, read after the device has caught up:

        with Stopwatch(device) as clock:
            work()
        clock.seconds, clock.cpu_seconds
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds = self.cpu_seconds = 0.0

    def __enter__(self) -> Stopwatch:
        synchronize(self.device)  # earlier queued work is not this block's
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu
