"""Painter quality and speed over the shared content photos.

    python benchmarks/paint.py [--images tubingen.jpg,...] [--brushes oilbrush,markerpen]
                               [--counts 200,500,1000,2000] [--ot-weights 0.5] [--exact-forward both]
                               [--working-size 512] [--threads 2] [--variant prune=0 --variant prune=0.1]
                               [--device auto|cpu|cuda|mps]

For every image, brush, stroke count and variant it paints from scratch and prints the wall time
and the PSNR / SSIM of the exact (`raster`) rendering against the photo, both at the working size
(long side). Then medians per brush and count. Floor to beat (fogleman/primitive, tubingen.jpg,
rotated ellipses, 512 px output): 20.9 dB at 100 shapes, 21.6 at 200, 22.3 at 500.

--device picks where the painter's tensors live (the header names it, with the GPU's name on CUDA).
Before the first timed painting, one small untimed painting per brush loads its renderer and starts
the device (a first call's one-off costs); every timed painting ends with the device synchronised.
"""

import argparse
import ast
import statistics
from pathlib import Path

import numpy as np
import torch
from pytorch_msssim import ssim

from brushwork import raster
from brushwork.images import load_image, resize
from brushwork.painter import paint

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="comma list of photos in ../shared/images/content (default: all)")
    parser.add_argument("--brushes", default="oilbrush,markerpen")
    parser.add_argument("--counts", default="200,500,1000,2000")
    parser.add_argument("--ot-weights", default=None, help="comma list of beta values to compare")
    parser.add_argument("--exact-forward", choices=["off", "on", "both"], default="off")
    parser.add_argument("--working-size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
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
    results: dict[tuple, list[tuple[float, float, float]]] = {}
    print(f"device {describe(device)}; warm-up (untimed): a 20-stroke painting at 64 px per brush", flush=True)
    for brush in args.brushes.split(","):
        paint(np.full((64, 64, 3), 0.5, np.float32), strokes=20, brush=brush, working_size=64, iterations=2,
              device=str(device))
    # CPU seconds (all threads) next to wall seconds tell a busy machine from a slow painter.
    print(f"{'image':<14}{'brush':<11}{'strokes':>8}  {'variant':<34}{'time s':>8}{'cpu s':>8}{'PSNR':>8}{'SSIM':>8}")
    for name in args.images.split(",") if args.images else sorted(p.name for p in IMAGES.iterdir()):
        photo = load_image(IMAGES / name)
        for brush in args.brushes.split(","):
            for count in (int(c) for c in args.counts.split(",")):
                for settings in variants:
                    with Stopwatch(device) as clock:
                        strokes = paint(photo, strokes=count, brush=brush, **settings)
                    seconds, cpu = clock.seconds, clock.cpu_seconds
                    psnr, similarity = quality(strokes, photo, args.working_size)
                    label = " ".join(f"{k}={v}" for k, v in settings.items() if k not in ("working_size", "device"))
                    print(f"{name:<14}{brush:<11}{count:>8}  {label:<34}{seconds:>8.1f}{cpu:>8.1f}{psnr:>8.2f}"
                          f"{similarity:>8.4f}", flush=True)
                    results.setdefault((brush, count, label), []).append((seconds, psnr, similarity))
    print("\nmedians over images")
    for (brush, count, label), rows in results.items():
        t, p, s = (statistics.median(col) for col in zip(*rows, strict=True))
        print(f"{brush:<11}{count:>8}  {label:<34}{t:>8.1f}{p:>8.2f}{s:>8.4f}  ({len(rows)} images)")


if __name__ == "__main__":
    main()
