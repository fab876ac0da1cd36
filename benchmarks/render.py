"""Exact-renderer speed: 1,000 mixed strokes (every brush kind in turn) drawn at 1024 x 1024.

    python benchmarks/render.py [--strokes 1000] [--size 1024] [--repeats 7] [--device auto|cpu|cuda|mps]

Prints the median and spread of the wall time of `raster.render`, and per kind.
--device is taken like every benchmark's and named in the header, but the exact renderer is cairo:
it draws on the CPU whatever the device (a painting's tensors live on the device; its pixels do not).
"""

import argparse
import statistics
import time

import numpy as np

from brushwork import raster
from brushwork.strokes import BRUSHES, StrokeList, random_stroke

from device_clock import add_device_option, describe, device_from


def timed(strokes: StrokeList, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        raster.render(strokes)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    add_device_option(parser)
    args = parser.parse_args()
    print(f"device {describe(device_from(args))}; the exact renderer is cairo: it draws on the CPU whatever the device")
    rng = np.random.default_rng(0)
    kinds = list(BRUSHES)
    # Painting-like sizes: 1 % .. 12 % of the canvas side (a 1,000-stroke painting's range).
    strokes = [
        random_stroke(kinds[i % len(kinds)], args.size, args.size, rng,
                      min_size=0.01 * args.size, max_size=0.12 * args.size)
        for i in range(args.strokes)
    ]
    mixed = StrokeList(args.size, args.size, strokes)
    times = timed(mixed, args.repeats)
    print(f"{args.strokes} mixed strokes at {args.size}x{args.size}: median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f}, {args.repeats} runs)")
    for kind in kinds:
        only = StrokeList(args.size, args.size, [s for s in strokes if s.kind == kind])
        t = statistics.median(timed(only, args.repeats))
        print(f"  {kind:<10} {len(only):>5} strokes  median {t:.3f} s  ({1e3 * t / max(1, len(only)):.2f} ms/stroke)")


if __name__ == "__main__":
    main()
