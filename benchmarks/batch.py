"""Batch throughput: items per minute for 1, 2, ... local worker processes (issue #19).

    nice -n 10 python benchmarks/batch.py [--items 6] [--strokes 100] [--size 128] [--jobs 1,2]
                                          [--device auto|cpu|cuda|mps]

Paints `--items` small pictures (crops of ../shared/images/content, or of the bundled photo, at `--size`
px on the long side, painted at that working size) with `brushwork.batch.run_batch`, once per `--jobs`
value, from scratch each time (force), and prints wall seconds, items per minute, the CPU seconds all
processes used and the load average before each run (the machine may be shared: a busy one shows up as
CPU seconds well below jobs x wall seconds). One job paints in this process; more are spawned worker
processes that each import torch first, which is part of what they cost.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from PIL import Image

from brushwork.batch import PaintTask, paint_items, pictures, run_batch, threads_per_worker
from brushwork.settings import PaintSettings

from device_clock import add_device_option, device_from

SHARED_CONTENT = Path(__file__).resolve().parents[1].parent / "shared" / "images" / "content"
BUNDLED = Path(__file__).resolve().parents[1] / "core" / "brushwork" / "data" / "chelsea.jpg"


def make_pictures(folder: Path, count: int, size: int) -> list[Path]:
    """`count` different pictures of `size` px on the long side: the shared photos in turn, each
    cropped a little differently on its next turn."""
    sources = sorted(SHARED_CONTENT.glob("*")) if SHARED_CONTENT.is_dir() else [BUNDLED]
    made = []
    for index in range(count):
        with Image.open(sources[index % len(sources)]) as image:
            image = image.convert("RGB")
            turn = index // len(sources)
            w, h = image.size
            cut = int(min(w, h) * 0.05 * turn)
            image = image.crop((cut, cut, w - cut, h - cut))
            image.thumbnail((size, size), Image.LANCZOS)
            path = folder / f"picture{index:03d}.png"
            image.save(path)
            made.append(path)
    return made


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have ended (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=6, help="pictures in the batch (default 6)")
    parser.add_argument("--strokes", type=int, default=100, help="strokes per painting (default 100)")
    parser.add_argument("--size", type=int, default=128, help="long side of each picture, px (default 128)")
    parser.add_argument("--jobs", default="1,2", help="worker process counts to compare (default 1,2)")
    add_device_option(parser)
    args = parser.parse_args()
    device = device_from(args)
    job_counts = [int(j) for j in args.jobs.split(",")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    settings = PaintSettings(strokes=args.strokes, working_size=args.size, device=str(device))
    print(f"batch paint: {args.items} pictures of {args.size} px, {args.strokes} strokes each, {settings.brushes[0]}, "
          f"{settings.iterations} steps per level, on {device}; {cores} cores here")
    print(f"{'jobs':>4} {'threads':>7} {'wall s':>8} {'items/min':>9} {'CPU s':>8} {'load before':>11}")
    with tempfile.TemporaryDirectory(prefix="brushwork-batch-bench-") as folder:
        root = Path(folder)
        (root / "in").mkdir()
        sources = pictures(make_pictures(root / "in", args.items, args.size))
        for jobs in job_counts:
            out = root / f"out{jobs}"
            out.mkdir()
            items = paint_items(sources, out, PaintTask(Path(), Path(), settings))
            load = os.getloadavg()[0]
            cpu, started = cpu_seconds(), time.perf_counter()
            summary = run_batch(items, jobs=jobs, force=True)
            wall = time.perf_counter() - started
            if summary.failed:
                raise SystemExit(f"{len(summary.failed)} items failed: {summary.failed[0].message}")
            threads = threads_per_worker(jobs)
            print(f"{jobs:>4} {threads:>7} {wall:>8.1f} {60 * args.items / wall:>9.2f} {cpu_seconds() - cpu:>8.1f} "
                  f"{load:>11.1f}")


if __name__ == "__main__":
    main()
