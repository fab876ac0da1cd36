"""Raster stylization: time, peak memory and quality per method and output size.

    BRUSHWORK_WEIGHTS=../shared/weights python benchmarks/stylize.py [--methods adain,wct,gatys]
        [--sizes 512,1024,2048,4096] [--content tubingen.jpg] [--style starry_night.jpg] [--save DIR]
        [--device auto|cpu|cuda|mps]

Each (method, size) runs in a fresh process, so its peak resident memory (ru_maxrss, the whole
process: Python, torch, images and the largest tile's activations) is its own. The time covers
`stylize` only (images decoded and models loaded first, plus one untimed 256 px warm-up run); "cpu s"
is the process's CPU time over the same span (on a machine shared with other jobs, wall time exceeds
CPU time / threads by what the others took). Quality is
measured at 512 px (long side) with the level-5 cd16x encoder, whatever the output size: content loss
‖F(x) − F(c)‖²/‖F(c)‖² at relu4_1, and Gram style loss Σ ‖G(x) − G(s)‖²/‖G(s)‖² over relu1_1..relu5_1.
Outputs larger than --tile run tile by tile; for them it prints the gradient energy along the tile
borders against the interior (`seam_energy_ratio`: the mean squared intensity step across border
lines over that across nearby lines at the same 16-px phase). A photo is not uniform, so the same
lines of an untiled picture score far from 1 too (tubingen.jpg itself, upscaled to 4096 px: 1.31).
Hence three figures: "seams", the tiled output's ratio divided by the untiled output's on the same
lines (what the tiling adds; the target is within 10 %, i.e. 0.90-1.10), then the raw ratios of the
tiled output, the untiled output and the content photo. Up to --compare-up-to it also prints how far
the tiled output is from the untiled one (mean and max, 0-255); above it only the raw ratios.
--device picks where the tensors live (the header names it, with the GPU's name on CUDA); the clock is
read after the device has finished, and on CUDA the row ends with the GPU's peak allocated memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from device_clock import Stopwatch, add_device_option, describe, device_from

SHARED = Path(__file__).resolve().parents[2] / "shared"


def child(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from brushwork.files import save_png
    from brushwork.images import fit_long_side, load_rgb8, resize_tensor, to_array, to_tensor
    from brushwork.stylize import CD16xModels, StyleOptions, gatys, stylize
    from brushwork.stylize.tiling import borders, pad_to_grid, plan, seam_energy_ratio

    device = device_from(args)
    content = load_rgb8(SHARED / "images" / "content" / args.content)
    style = load_rgb8(SHARED / "images" / "style" / args.style)
    models = CD16xModels()
    common = dict(steps=args.gatys_steps, refine_steps=args.gatys_refine_steps, work_size=512, device=str(device))
    options = StyleOptions(method=args.method, alpha=1.0, size=args.size, tile=args.tile, **common)
    stylize(content, [style], StyleOptions(method=args.method, size=256, **common), models=models)  # warm-up
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with Stopwatch(device) as clock:
        out = stylize(content, [style], options, models=models)
    seconds, cpu = clock.seconds, clock.cpu_seconds
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_peak_mib = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None

    net = models.loss_network(device)
    h, w = fit_long_side(*out.shape[:2], 512)
    small_out = resize_tensor(to_tensor(out, device), h, w)
    small_content = resize_tensor(to_tensor(content, device), h, w)
    s = to_tensor(style, device)
    targets = gatys.style_targets(net, [resize_tensor(s, *fit_long_side(*s.shape[-2:], 512))], [1.0])
    losses = gatys.measure(net, small_out, small_content, targets)
    result = {"method": args.method, "size": list(out.shape[:2]), "seconds": seconds, "cpu_seconds": cpu,
              "peak_mib": peak_mib, "gpu_peak_mib": gpu_peak_mib, "content_loss": losses.content,
              "style_loss": losses.style}
    padded = pad_to_grid(torch.zeros(1, 1, *out.shape[:2]))[0].shape[-2:]
    tiles = plan(*padded, args.tile, 0)
    if len(tiles) > 1:
        rows, cols = borders(tiles)
        result["tiles"] = len(tiles)
        result["border_ratio"] = seam_energy_ratio(out, rows, cols)
        photo = to_array(resize_tensor(to_tensor(content), *out.shape[:2]))
        result["content_ratio"] = seam_energy_ratio(photo, rows, cols)
        if args.size <= args.compare_up_to:
            # The same run in one piece: the picture's own energy on these lines, and the direct test
            # (equal images cannot differ at tile borders).
            whole = stylize(content, [style], replace(options, tile=max(padded)), models=models)
            difference = np.abs(whole.astype(np.int16) - out)
            result["untiled_diff"] = [float(difference.mean()), int(difference.max())]
            result["untiled_ratio"] = seam_energy_ratio(whole, rows, cols)
            result["seam_ratio"] = result["border_ratio"] / result["untiled_ratio"]
    if args.save:
        save_png(np.ascontiguousarray(out), Path(args.save) / f"{args.method}-{args.size}.png")
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="adain,wct,gatys")
    parser.add_argument("--sizes", default="512,1024,2048,4096")
    parser.add_argument("--content", default="tubingen.jpg", help="file in ../shared/images/content")
    parser.add_argument("--style", default="starry_night.jpg", help="file in ../shared/images/style")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--gatys-steps", type=int, default=50, help="L-BFGS iterations at 512 px")
    parser.add_argument("--gatys-refine-steps", type=int, default=3,
                        help="L-BFGS iterations at the output size when it is larger than 512 px")
    parser.add_argument("--compare-up-to", type=int, default=4096,
                        help="also run tiled sizes up to this one untiled and print the difference")
    parser.add_argument("--save", help="folder for the outputs (PNG)")
    add_device_option(parser)
    parser.add_argument("--method", help=argparse.SUPPRESS)  # set in the per-run child process
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("BRUSHWORK_WEIGHTS", str(SHARED / "weights"))
    if args.method:
        child(args)
        return
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
    print(f"content {args.content}, style {args.style}, tile {args.tile} px, gatys {args.gatys_steps} steps at "
          f"512 px + {args.gatys_refine_steps} at the output size; device {describe(device_from(args))}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; one untimed 256 px warm-up per run")
    print(f"{'method':<7}{'size':>11}{'time s':>9}{'cpu s':>8}{'peak MiB':>10}{'content':>9}{'style':>8}{'seams':>7}"
          "  border/interior: tiled untiled photo  tiled vs untiled (0-255)")
    for method in args.methods.split(","):
        for size in map(int, args.sizes.split(",")):
            command = [sys.executable, __file__, "--method", method, "--size", str(size), "--content", args.content,
                       "--style", args.style, "--tile", str(args.tile), "--gatys-steps", str(args.gatys_steps),
                       "--gatys-refine-steps", str(args.gatys_refine_steps),
                       "--compare-up-to", str(args.compare_up_to), "--device", args.device] + (
                           ["--save", args.save] if args.save else [])
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                print(f"{method:<7}{size:>11}  failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            seams = f"{r['seam_ratio']:.3f}" if "seam_ratio" in r else "-"
            raw = " ".join(f"{r[k]:.3f}" if k in r else "-" for k in ("border_ratio", "untiled_ratio", "content_ratio"))
            untiled = "mean {:.3f} max {}".format(*r["untiled_diff"]) if "untiled_diff" in r else "-"
            gpu = f"  GPU peak {r['gpu_peak_mib']:.0f} MiB" if r["gpu_peak_mib"] is not None else ""
            print(f"{method:<7}{r['size'][1]:>5}x{r['size'][0]:<5}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}"
                  f"{r['peak_mib']:>10.0f}{r['content_loss']:>9.3f}{r['style_loss']:>8.3f}{seams:>7}"
                  f"  {raw:<32}{untiled}{gpu}",
                  flush=True)


if __name__ == "__main__":
    main()
