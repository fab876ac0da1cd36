"""Video painting: warm-started frames against painting every frame from scratch.

    python benchmarks/video.py [--image tubingen.jpg] [--motions still,pan,zoom] [--frames 8] [--size 256]
                               [--strokes 200] [--frame-steps 10] [--reseed 0.1] [--threads 1] [--device cpu]
                               [--stylize [--methods adain,wct]]

Test clips are made from a photo of ../shared/images/content (`video.clips.camera_clip`: a still camera
with sensor noise, a pan, a zoom). Each clip is painted twice with the same settings and seed: warm-started
(`video.paint_frames`: every frame from the previous frame's strokes) and from scratch (every frame painted
in full). Per clip and mode it prints the PSNR of each output frame against its input frame (mean and
lowest over frames 2..N, where the modes differ), flicker (mean absolute difference between consecutive
output frames / the same for the input frames, frames 1..N), and seconds per frame (frames 2..N; CPU and
wall: the cores are shared). Issue #19's targets: warm >= 5x faster per frame than scratch at the same PSNR
(within 0.5 dB), with less flicker on the still camera.

--stylize also prints the stylize flicker of a still camera with an object entering, with and without
content statistics smoothed over time (background pumping: mean change per frame away from the object).
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from brushwork import raster
from brushwork.images import load_rgb8
from brushwork.settings import PaintSettings, StyleOptions
from brushwork.video import paint_frames, stylize_frames
from brushwork.video.clips import MOTIONS, camera_clip

from device_clock import add_device_option, device_from

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def mean_change(frames: list[np.ndarray]) -> float:
    """Mean absolute difference between consecutive frames (grey levels)."""
    return float(np.mean([np.abs(b.astype(float) - a).mean() for a, b in zip(frames, frames[1:], strict=False)]))


def timed_paintings(clip: list[np.ndarray], settings: PaintSettings, warm: bool) -> tuple[list, list, list]:
    """The paintings of every frame with the CPU and wall seconds each took."""
    paintings, cpu, wall = [], [], []
    frames = paint_frames(clip, settings, warm=warm)
    while True:
        started, started_cpu = time.perf_counter(), time.process_time()
        painting = next(frames, None)
        if painting is None:
            return paintings, cpu, wall
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
        paintings.append(painting)


def paint_benchmark(args, photo: np.ndarray) -> None:
    width, height = args.size, args.size * 3 // 4
    settings = PaintSettings(strokes=args.strokes, working_size=args.size, frame_steps=args.frame_steps,
                             reseed=args.reseed, seed=args.seed, device=args.device)
    print(f"{args.image}, {args.frames} frames of {width}x{height}, {args.strokes} strokes, frame steps "
          f"{args.frame_steps}, re-seed {args.reseed}, {torch.get_num_threads()} thread(s), {args.device}")
    print(f"{'clip':<7}{'mode':<8}{'PSNR':>7}{'lowest':>8}{'flicker':>9}{'CPU s/frame':>13}{'wall s/frame':>14}"
          f"{'first frame':>13}")
    for motion in args.motions.split(","):
        clip = camera_clip(photo, args.frames, width, height, motion, speed=args.speed, seed=args.seed)
        rows = {}
        for mode in ("warm", "scratch"):
            paintings, cpu, wall = timed_paintings(clip, settings, warm=mode == "warm")
            drawn = [raster.render(p) for p in paintings]
            quality = [psnr(d, f) for d, f in zip(drawn, clip, strict=True)]
            rows[mode] = (np.mean(quality[1:]), min(quality[1:]), mean_change(drawn) / mean_change(clip),
                          np.mean(cpu[1:]), np.mean(wall[1:]), cpu[0])
            print(f"{motion:<7}{mode:<8}{rows[mode][0]:>7.2f}{rows[mode][1]:>8.2f}{rows[mode][2]:>9.3f}"
                  f"{rows[mode][3]:>13.2f}{rows[mode][4]:>14.2f}{rows[mode][5]:>13.2f}", flush=True)
        warm, scratch = rows["warm"], rows["scratch"]
        print(f"{motion:<7}warm/scratch: {scratch[3] / warm[3]:.1f}x faster (CPU), {scratch[4] / warm[4]:.1f}x "
              f"(wall), PSNR {warm[0] - scratch[0]:+.2f} dB, flicker {warm[2] / scratch[2]:.2f}x", flush=True)


def stylize_benchmark(args, photo: np.ndarray) -> None:
    width, height = args.size, args.size * 3 // 4
    style = load_rgb8(SHARED / "style" / "starry_night.jpg", max_side=256)
    clip = camera_clip(photo, args.frames, width, height, "enter", speed=width / args.frames, noise=0)
    band = np.ones((height, width), bool)
    band[height // 3 - height // 8:2 * height // 3 + height // 8] = False  # away from the object and its reach
    print(f"\nstylize, {args.frames} frames of {width}x{height}, an object entering a still camera: mean change per "
          "frame away from the object (grey levels)")
    for method in args.methods.split(","):
        for smoothing in (0.0, 0.5, 0.8, 0.9):
            options = StyleOptions(method=method, frame_smoothing=smoothing, device=args.device)
            started = time.perf_counter()
            out = [f.astype(float) for f in stylize_frames(clip, [style], options)]
            change = np.mean([np.abs(b - a)[band].mean() for a, b in zip(out, out[1:], strict=False)])
            seconds = (time.perf_counter() - started) / len(out)
            print(f"  {method:<6} smoothing {smoothing:.1f}: {change:6.2f}  ({seconds:.2f} s/frame)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="tubingen.jpg", help="a photo of ../shared/images/content")
    parser.add_argument("--motions", default=",".join(m for m in MOTIONS if m != "enter"))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=256, help="frame width (height: 3/4 of it)")
    parser.add_argument("--speed", type=float, default=2.0, help="pan/zoom pixels per frame")
    parser.add_argument("--strokes", type=int, default=200)
    parser.add_argument("--frame-steps", type=int, default=PaintSettings.frame_steps)
    parser.add_argument("--reseed", type=float, default=PaintSettings.reseed)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    add_device_option(parser)
    parser.add_argument("--stylize", action="store_true", help="also the stylize smoothing figures")
    parser.add_argument("--no-paint", action="store_true", help="skip the painting figures")
    parser.add_argument("--methods", default="adain,wct", help="--stylize: the methods (at their default levels)")
    args = parser.parse_args()
    args.device = str(device_from(args))  # checked, with brushwork's message for a bad name
    torch.set_num_threads(args.threads)
    photo = load_rgb8(SHARED / "content" / args.image, max_side=round(1.5 * args.size))
    if not args.no_paint:
        paint_benchmark(args, photo)
    if args.stylize:
        stylize_benchmark(args, photo)


if __name__ == "__main__":
    main()
