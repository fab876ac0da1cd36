"""Painter quality and speed over the shared content photos.

    python benchmarks/paint.py [--images tubingen.jpg,...] [--brushes oilbrush,markerpen]
                               [--counts 200,500,1000,2000] [--ot-weights 0.5] [--exact-forward both]
                               [--working-size 512] [--threads 2] [--variant prune=0 --variant prune=0.1]
                               [--scaling [--sizes 512,1024]] [--busy 1] [--preview-every K]
                               [--device auto|cpu|cuda|mps]

For every image, brush, stroke count and variant it paints from scratch and prints the wall time
and the PSNR / SSIM of the exact (`raster`) rendering against the photo, both at the working size
(long side). Then medians per brush and count. Floor to beat (fogleman/primitive, tubingen.jpg,
rotated ellipses, 512 px output): 20.9 dB at 100 shapes, 21.6 at 200, 22.3 at 500.

--scaling paints one photo (the first of --images, default tubingen.jpg) with the first brush at
every count of --counts (default here 1000,2000,5000) and every working size of --sizes (default
512,1024), and prints time and PSNR per run and the time per stroke per megapixel against the
smallest run: 1.0 everywhere when time grows linearly in strokes x pixels (issue #17's budget table).

--busy N starts N CPU-bound processes (busy loops) for the whole run: the painter's time on a busy
machine, as an editor plug-in sees it, against a run without.

--preview-every K does what `brushwork paint --preview-every K` does: every K optimisation steps it
draws the painting so far (`Progress.preview`) and writes it as a PNG (into a temporary folder), less often
where that would take more than 5 % of the time (`brushwork.previews`). Three more columns give the number
of previews, the seconds they took and their share of the run (issue #17: at most 5 %).

--device picks where the painter's tensors live (the header names it, with the GPU's name on CUDA).
Before the first timed painting, one small untimed painting per brush loads its renderer and starts
the device (a first call's one-off costs); every timed painting ends with the device synchronised.
"""

import argparse
import ast
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from pytorch_msssim import ssim

from brushwork import raster
from brushwork.files import save_png
from brushwork.images import load_image, resize
from brushwork.painter import paint
from brushwork.painter.threads import load_aware_threads, other_work
from brushwork.previews import PreviewPacer

from cpu_hogs import busy
from device_clock import Stopwatch, add_device_option, describe, device_from

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images" / "content"


def quality(strokes, photo: np.ndarray, long_side: int) -> tuple[float, float]:
    scale = long_side / max(strokes.width, strokes.height)
    drawn = raster.render(strokes, scale=scale).astype(np.float32) / 255
    reference = resize(photo, drawn.shape[1], drawn.shape[0])
    mse = float(np.mean((drawn - reference) ** 2))
    to_tensor = lambda a: torch.from_numpy(a.transpose(2, 0, 1).copy())[None]  # noqa: E731
    return 10 * np.log10(1 / mse), float(ssim(to_tensor(drawn), to_tensor(reference), data_range=1.0))


def parse_settings(text: str) -> dict:
    """'prune=0,colour_refit=False' -> {'prune': 0, 'colour_refit': False} (PaintSettings fields)."""
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {key.strip(): ast.literal_eval(value.strip()) for key, value in pairs}


class PreviewWriter:
    """A progress callback that writes the preview as paint --preview-every K does (every K steps, paced
    to a twentieth of the time), and adds up the seconds it took."""

    def __init__(self, every: int | None, folder: Path) -> None:
        self.pacer, self.path = PreviewPacer(every_steps=every), folder / "preview.png"

    def __call__(self, report) -> None:
        if self.pacer.due():
            with self.pacer.drawing():
                save_png(report.preview(), self.path, compress_level=1)  # as PaintTask writes it


def scaling(photo: np.ndarray, name: str, brush: str, counts: list[int], sizes: list[int], device) -> None:
    """Time and PSNR for every stroke count at every working size on one photo, and the time per
    stroke per megapixel relative to the smallest run (1.0 = growing linearly in strokes x pixels)."""
    print(f"scaling on {name}, {brush}: seconds per stroke per megapixel relative to the first run")
    print(f"{'strokes':>8}{'size':>6}{'pixels':>10}{'time s':>8}{'cpu s':>8}{'PSNR':>8}{'relative':>10}")
    first = None
    for size in sizes:
        for count in counts:
            with Stopwatch(device) as clock:
                strokes = paint(photo, strokes=count, brush=brush, working_size=size, device=str(device))
            factor = min(1.0, size / max(photo.shape[:2]))
            pixels = round(photo.shape[1] * factor) * round(photo.shape[0] * factor)
            per_unit = clock.seconds / (count * pixels / 1e6)
            first = first or per_unit
            psnr, _ = quality(strokes, photo, size)
            print(f"{count:>8}{size:>6}{pixels:>10}{clock.seconds:>8.1f}{clock.cpu_seconds:>8.1f}{psnr:>8.2f}"
                  f"{per_unit / first:>10.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="comma list of photos in ../shared/images/content (default: all)")
    parser.add_argument("--brushes", default="oilbrush,markerpen")
    parser.add_argument("--counts", default=None, help="comma list (default 200,500,1000,2000; "
                        "with --scaling 1000,2000,5000)")
    parser.add_argument("--scaling", action="store_true",
                        help="time and PSNR over --counts x --sizes on one photo (the first of --images)")
    parser.add_argument("--sizes", default="512,1024", help="working sizes for --scaling")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes to run alongside (default 0)")
    parser.add_argument("--ot-weights", default=None, help="comma list of beta values to compare")
    parser.add_argument("--exact-forward", choices=["off", "on", "both"], default="off")
    parser.add_argument("--working-size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--preview-every", type=int, default=None, metavar="K",
                        help="write a preview PNG every K steps, as paint --preview-every does, and time it")
    parser.add_argument("--variant", action="append", default=[],
                        help="painter settings to compare, e.g. 'prune=0,colour_refit=False' (repeatable)")
    add_device_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = device_from(args)
    variants = []
    betas = [None] if args.ot_weights is None else [float(b) for b in args.ot_weights.split(",")]
    exact = {"off": [False], "on": [True], "both": [False, True]}[args.exact_forward]
    for beta in betas:
        for forward in exact:
            settings = {"exact_forward": forward, "working_size": args.working_size, "device": str(device)}
            if beta is not None:
                settings["ot_weight"] = beta
            if args.iterations:
                settings["iterations"] = args.iterations
            variants.append(settings)
    if args.variant:
        variants = [{**base, **parse_settings(text)} for base in variants for text in args.variant]
    print(f"device {describe(device)}; warm-up (untimed): a 20-stroke painting at 64 px per brush", flush=True)
    for brush in args.brushes.split(","):
        paint(np.full((64, 64, 3), 0.5, np.float32), strokes=20, brush=brush, working_size=64, iterations=2,
              device=str(device))
    with busy(args.busy):
        with load_aware_threads() as threads:  # what a painting picks at the machine's load now
            print(f"{args.busy} busy processes alongside; load average {os.getloadavg()[0]:.1f}, other tasks "
                  f"runnable {other_work()}: a painting starting now uses {threads} threads", flush=True)
        if args.scaling:
            name = args.images.split(",")[0] if args.images else "tubingen.jpg"
            counts = [int(c) for c in (args.counts or "1000,2000,5000").split(",")]
            scaling(load_image(IMAGES / name), name, args.brushes.split(",")[0], counts,
                    [int(s) for s in args.sizes.split(",")], device)
        else:
            compare(args, variants, device)


def compare(args: argparse.Namespace, variants: list[dict], device) -> None:
    """Every image x brush x count x variant: time, CPU time, PSNR and SSIM (and the previews' seconds),
    then medians over images."""
    results: dict[tuple, list[tuple[float, float, float]]] = {}
    # CPU seconds (all threads) next to wall seconds tell a busy machine from a slow painter.
    previews = f"{'previews':>9}{'preview s':>10}{'share':>7}" if args.preview_every else ""
    print(f"{'image':<14}{'brush':<11}{'strokes':>8}  {'variant':<34}{'time s':>8}{'cpu s':>8}{'PSNR':>8}{'SSIM':>8}"
          + previews)
    folder = tempfile.TemporaryDirectory(prefix="brushwork-previews-")
    for name in args.images.split(",") if args.images else sorted(p.name for p in IMAGES.iterdir()):
        photo = load_image(IMAGES / name)
        for brush in args.brushes.split(","):
            for count in (int(c) for c in (args.counts or "200,500,1000,2000").split(",")):
                for settings in variants:
                    watcher = PreviewWriter(args.preview_every, Path(folder.name))
                    with Stopwatch(device) as clock:
                        # no callback without previews: with one the refinement reads its strokes back
                        strokes = paint(photo, strokes=count, brush=brush,
                                        callback=watcher if args.preview_every else None, **settings)
                    seconds, cpu = clock.seconds, clock.cpu_seconds
                    psnr, similarity = quality(strokes, photo, args.working_size)
                    label = " ".join(f"{k}={v}" for k, v in settings.items() if k not in ("working_size", "device"))
                    if args.preview_every:
                        paced = watcher.pacer
                        previews = f"{paced.previews:>9}{paced.seconds:>10.2f}{paced.seconds / seconds:>7.1%}"
                    print(f"{name:<14}{brush:<11}{count:>8}  {label:<34}{seconds:>8.1f}{cpu:>8.1f}{psnr:>8.2f}"
                          f"{similarity:>8.4f}{previews}", flush=True)
                    results.setdefault((brush, count, label), []).append((seconds, psnr, similarity))
    folder.cleanup()
    print("\nmedians over images")
    for (brush, count, label), rows in results.items():
        t, p, s = (statistics.median(col) for col in zip(*rows, strict=True))
        print(f"{brush:<11}{count:>8}  {label:<34}{t:>8.1f}{p:>8.2f}{s:>8.4f}  ({len(rows)} images)")


if __name__ == "__main__":
    main()
