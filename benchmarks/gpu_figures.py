"""One of issue #15's GPU figures, measured in this process (benchmarks/gpu.sh runs each in its own).

    python benchmarks/gpu_figures.py FIGURE [--device auto] [--quick] [--kind oilbrush]

FIGURE is one of:
  paint-1k    paint 1,000 strokes at 512 px (oil brush, default settings)          target <= 3 s
  paint-4k    paint 4,000 strokes at 1,024 px                                      target <= 15 s
  wct-4096    5-level WCT (levels 5,4,3,2,1, default tile) to a 4,096 px output     target <= 1 s
  gatys-512   Gatys at 512 px with the default settings (100 L-BFGS steps)         target <= 5 s
  train       train a --kind renderer with its card's configuration until its held-out PSNR reaches
              the card's (renderers/<kind>/card.json, "psnr") or 2 minutes pass   target <= 120 s

Photos: ../shared/images (content tubingen.jpg, style starry_night.jpg) when that folder sits next to the
repository, else the bundled photo for both. Style models: wherever `brushwork.weights` finds them
(gpu.sh points $BRUSHWORK_WEIGHTS at ../shared/weights when it is there and sets BRUSHWORK_OFFLINE=1).
Each timed call follows an untimed warm-up that pays the one-off costs (the device's start, kernel
selection, models loaded and moved); the clock waits for the device (`device_clock.Stopwatch`).
--quick shrinks every figure so that the whole set runs on a CPU in seconds (a check that it works,
not a measurement). The last line printed is `FIGURE<TAB>figure<TAB>target<TAB>measured<TAB>device`,
which gpu.sh gathers into its table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import torch

from brushwork import renderers
from brushwork.errors import BrushworkError
from brushwork.images import fit_long_side, load_image, load_rgb8, resize
from brushwork.neural.train import TrainConfig, train
from brushwork.painter import paint
from brushwork.stylize import CD16xModels, StyleOptions, stylize

from device_clock import Stopwatch, add_device_option, describe, device_from

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
BUNDLED_PHOTO = Path(str(files("brushwork") / "data" / "chelsea.jpg"))
TRAIN_CHUNK_SECONDS = 20.0  # training resumes from its checkpoint this often to check the PSNR


@dataclass(frozen=True)
class Result:
    figure: str  # what ran, e.g. "paint 1,000 strokes at 512 px"
    target: str  # e.g. "<= 3 s"; "- (quick)" when --quick
    measured: str


class ProgressLog:
    """Prints how far a timed run has got every `every` seconds, so that a run stopped at its time limit
    still says where it was. Costs one clock read per call (the painter calls it after every step)."""

    def __init__(self, every: float = 10.0) -> None:
        self.every, self.started = every, time.perf_counter()
        self.next = self.started + every

    def __call__(self, fraction: float, what: str) -> None:
        now = time.perf_counter()
        if now >= self.next:
            self.next = now + self.every
            print(f"  {now - self.started:6.1f} s: {100 * fraction:3.0f} % ({what})", flush=True)


def photo(folder: str, name: str) -> tuple[Path, str]:
    """A shared photo, else the bundled one; with a note naming which."""
    shared = SHARED_IMAGES / folder / name
    return (shared, name) if shared.is_file() else (BUNDLED_PHOTO, f"{BUNDLED_PHOTO.name} (no {shared})")


def verdict(seconds: float, target: float | None) -> str:
    if target is None:
        return f"{seconds:.2f} s"
    return f"{seconds:.2f} s ({'meets' if seconds <= target else 'MISSES'})"


def target_text(target: float, quick: bool) -> str:
    return "- (quick)" if quick else f"<= {target:g} s"


def paint_figure(device: torch.device, quick: bool, strokes: int, size: int, target: float) -> Result:
    path, note = photo("content", "tubingen.jpg")
    picture = load_image(path)
    shrunk = dict(iterations=3, refine_iterations=0) if quick else {}
    if quick:  # the figure's proportions, at an eightieth of the strokes and an eighth of the size
        strokes, size = strokes // 80, size // 8
    height, width = picture.shape[:2]
    if max(height, width) < size:  # the painter never works above the photo's size: enlarge it to the figure's
        height, width = fit_long_side(height, width, size)
        picture, note = resize(picture, width, height), f"{note}, enlarged to {width}x{height}"
    print(f"photo {note}; warm-up (untimed): a 20-stroke painting at 64 px", flush=True)
    paint(picture, strokes=20, working_size=64, iterations=2, device=str(device))
    log = ProgressLog()
    with Stopwatch(device) as clock:
        paint(picture, strokes=strokes, working_size=size, device=str(device),
              callback=lambda p: log(p.fraction, f"{p.strokes:,} of {p.total:,} strokes, level {p.level}"), **shrunk)
    figure = f"paint {strokes:,} strokes at {size:,} px" + (" (3 iterations)" if quick else "")
    return Result(figure, target_text(target, quick), verdict(clock.seconds, None if quick else target))


def style_figure(device: torch.device, quick: bool, method: str, size: int, target: float) -> Result:
    content_path, content_note = photo("content", "tubingen.jpg")
    style_path, style_note = photo("style", "starry_night.jpg")
    content, style = load_rgb8(content_path), load_rgb8(style_path)
    models = CD16xModels(download=False)
    shrunk = dict(steps=3) if quick else {}
    if quick:
        size = 96
    warm = StyleOptions(method=method, size=128, steps=2, device=str(device))
    print(f"content {content_note}, style {style_note}; warm-up (untimed): {method} at {warm.size} px "
          "(models loaded and moved)", flush=True)
    stylize(content, [style], warm, models=models)
    timed = StyleOptions(method=method, size=size, device=str(device), **shrunk)
    with Stopwatch(device) as clock:
        stylize(content, [style], timed, models=models, progress=ProgressLog())
    figure = f"5-level WCT at {size:,} px" if method == "wct" else f"Gatys at {size:,} px"
    figure += f" ({timed.steps} steps)" if quick and method == "gatys" else ""
    return Result(figure, target_text(target, quick), verdict(clock.seconds, None if quick else target))


def train_figure(device: torch.device, quick: bool, kind: str, target: float) -> Result:
    card = renderers.card(kind)
    if card is None:
        raise BrushworkError(f"--kind {kind}: the shipped renderer has no card.json to take a PSNR target from")
    config = TrainConfig(kind=kind, size=card["size"], hidden=card["hidden"], pathways=card["pathways"],
                         steps=card["steps"], batch=card["batch"],
                         validation=64 if quick else card["validation_strokes"])
    limit = 2.0 if quick else target
    goal = card["psnr"]
    print(f"{kind}: the card's configuration ({config.steps} steps of {config.batch}, size {config.size}, "
          f"hidden {config.hidden}); goal: held-out PSNR {goal:.2f} dB (the card's mean of foreground and "
          f"alpha) or {limit:g} s; warm-up (untimed): the device's start", flush=True)
    torch.ones(1, device=device).sum().item()
    with tempfile.TemporaryDirectory(prefix="brushwork-gpu-train-") as scratch:
        checkpoint = Path(scratch) / "checkpoint.pt"
        with Stopwatch(device) as clock:
            started = time.perf_counter()
            while True:  # in chunks, each resuming the last one's checkpoint, to stop once the PSNR is there
                left = limit - (time.perf_counter() - started)
                _, state, fidelity = train(config, checkpoint, max_seconds=min(TRAIN_CHUNK_SECONDS, left),
                                           log=print, device=str(device))
                reached = fidelity.psnr >= goal
                if reached or state.step >= config.steps or time.perf_counter() - started >= limit:
                    break
    outcome = f"{fidelity.psnr:.2f} dB reached" if reached else f"not reached: {fidelity.psnr:.2f} of {goal:.2f} dB"
    seconds = verdict(clock.seconds, None if quick or not reached else target)
    return Result(f"train the {kind} renderer to its card's PSNR", target_text(target, quick),
                  f"{seconds}, {outcome} at step {state.step} of {config.steps}")


FIGURES: dict[str, Callable[[torch.device, argparse.Namespace], Result]] = {
    "paint-1k": lambda device, args: paint_figure(device, args.quick, 1000, 512, 3.0),
    "paint-4k": lambda device, args: paint_figure(device, args.quick, 4000, 1024, 15.0),
    "wct-4096": lambda device, args: style_figure(device, args.quick, "wct", 4096, 1.0),
    "gatys-512": lambda device, args: style_figure(device, args.quick, "gatys", 512, 5.0),
    "train": lambda device, args: train_figure(device, args.quick, args.kind, 120.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("figure", choices=list(FIGURES))
    add_device_option(parser)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that it runs, measures nothing")
    parser.add_argument("--kind", default="oilbrush", help="the renderer the train figure trains")
    args = parser.parse_args()
    device = device_from(args)
    print(f"{args.figure} on {describe(device)}, torch {torch.__version__}", flush=True)
    try:
        result = FIGURES[args.figure](device, args)
    except BrushworkError as exc:  # missing weights, a device this machine lacks, ...: one line in the table
        result = Result(args.figure, "-", f"failed: {exc}")
    print("\t".join(("FIGURE", result.figure, result.target, result.measured, describe(device))))


if __name__ == "__main__":
    main()
