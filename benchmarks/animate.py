"""Animation speed (and, with --parity, browser parity).

    python benchmarks/animate.py [--strokes 2000] [--width 1920] [--fps 30] [--duration 10]
                                 [--repeats 3] [--formats] [--parity] [--device auto|cpu|cuda|mps]

The target: 2,000 strokes to a 10 s, 30 fps, 1920 px MP4 in at most 30 s on a 2-core machine.
Prints the median wall time of `brushwork.animate` for that clip (frames drawn incrementally by
`raster` and piped to the bundled ffmpeg), the file size and the frame rate achieved.
--formats adds every format at 960 px; --parity screenshots the animated SVG and the HTML player in
headless Chromium at the start, middle and end and prints their PSNR against `raster`.
--device is taken like every benchmark's and named in the header, but the exact renderer is cairo:
it draws on the CPU whatever the device (a painting's tensors live on the device; its pixels do not).
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from brushwork import raster
from brushwork.animation import FORMATS, Timeline, animate
from brushwork.strokes import BRUSHES, StrokeList, random_stroke

from device_clock import add_device_option, describe, device_from

TARGET_SECONDS = 30.0


def painting(count: int, width: int, height: int, seed: int = 0) -> StrokeList:
    """Painting-like sizes: 1 %..12 % of the canvas side, every brush kind in turn."""
    rng = np.random.default_rng(seed)
    kinds = list(BRUSHES)
    side = max(width, height)
    return StrokeList(width, height, [
        random_stroke(kinds[i % len(kinds)], width, height, rng, min_size=0.01 * side, max_size=0.12 * side)
        for i in range(count)
    ], (0.96, 0.94, 0.9))


def timed(strokes: StrokeList, path: Path, repeats: int, **options) -> tuple[list[float], object]:
    times, clip = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        clip = animate(strokes, path, **options)
        times.append(time.perf_counter() - start)
    return times, clip


def speed(args: argparse.Namespace, folder: Path) -> None:
    height = round(args.width * 2 / 3)
    strokes = painting(args.strokes, args.width, height)
    out = folder / "clip.mp4"
    times, clip = timed(strokes, out, args.repeats, fps=args.fps, duration=args.duration, width=args.width)
    median = statistics.median(times)
    verdict = "meets" if median <= TARGET_SECONDS else "MISSES"
    print(f"{args.strokes} strokes -> {clip.seconds:g} s, {args.fps:g} fps, {clip.width}x{clip.height} MP4: "
          f"median {median:.2f} s (min {min(times):.2f}, max {max(times):.2f}, {args.repeats} runs), "
          f"{clip.frames} frames, {clip.frames / median:.1f} frames/s, {out.stat().st_size / 1e6:.1f} MB; "
          f"{verdict} the {TARGET_SECONDS:g} s target")
    start = time.perf_counter()
    raster.render(strokes)
    print(f"  for scale: one raster.render of the whole painting at {clip.width} px takes "
          f"{time.perf_counter() - start:.2f} s")
    if args.formats:
        for suffix in FORMATS:
            path = folder / f"clip{suffix}"
            t, clip = timed(strokes, path, 1, fps=args.fps, duration=args.duration, width=960)
            print(f"  {suffix:<6} at 960 px: {t[0]:6.2f} s, {clip.frames:4d} frames, "
                  f"{path.stat().st_size / 1e6:6.2f} MB")


def parity(folder: Path) -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    def psnr(a: np.ndarray, b: np.ndarray) -> float:
        mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
        return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)

    def shot(locator) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"))

    strokes = painting(300, 480, 320, seed=1)
    tl = Timeline.plan(len(strokes), 10, 6, 1)
    animate(strokes, folder / "p.svg", fps=10, duration=6, hold=1)
    animate(strokes, folder / "p.html", fps=10, duration=6, hold=1)
    frames = {"start": 1, "middle": tl.paint_frames // 2, "end": tl.frames - 1}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync",
                  "--force-color-profile=srgb"])
        page = browser.new_page(viewport={"width": 900, "height": 700}, device_scale_factor=1)
        for kind in ("svg", "html"):
            page.goto((folder / f"p.{kind}").as_uri())
            scores = []
            for name, frame in frames.items():
                count = tl.count(frame)
                if kind == "svg":
                    page.evaluate("() => document.documentElement.pauseAnimations()")
                    page.evaluate(f"() => document.documentElement.setCurrentTime({(frame + 0.5) / tl.fps})")
                    pixels = shot(page.locator("svg").first)
                else:
                    page.evaluate(f"() => {{ brushworkPlayer.pause(); brushworkPlayer.seek({frame / tl.fps}); }}")
                    pixels = shot(page.locator("#bw-stage > svg"))
                want = raster.render(strokes.with_strokes(strokes.strokes[:count]))
                earlier = tl.count(min(frame, tl.paint_frames - 1) - 1)
                off = raster.render(strokes.with_strokes(strokes.strokes[:earlier]))
                scores.append(f"{name} ({count} strokes) {psnr(pixels, want):.1f} dB "
                              f"[the previous prefix: {psnr(pixels, off):.1f} dB]")
            print(f"  Chromium {kind:<4}: " + "; ".join(scores))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=2000)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", action="store_true", help="also time every format at 960 px")
    parser.add_argument("--parity", action="store_true", help="also measure Chromium screenshot parity")
    add_device_option(parser)
    args = parser.parse_args()
    print(f"device {describe(device_from(args))}; frames are drawn by cairo on the CPU and encoded by ffmpeg, "
          "whatever the device")
    with tempfile.TemporaryDirectory(prefix="brushwork-bench-") as scratch:
        speed(args, Path(scratch))
        if args.parity:
            print("browser parity, 300 strokes at 480x320 (PSNR against raster of the same prefix):")
            parity(Path(scratch))


if __name__ == "__main__":
    main()
