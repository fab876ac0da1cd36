"""Raster stylization: time, peak memory and quality per method and output size.

    BRUSHWORK_WEIGHTS=../shared/weights python benchmarks/stylize.py [--methods adain,wct,gatys]
        [--sizes 512,1024,2048,4096] [--content tubingen.jpg] [--style starry_night.jpg] [--save DIR]

Each (method, size) runs in a fresh process, so its peak resident memory (ru_maxrss, the whole
process: Python, torch, images and the largest tile's activations) is its own. The time covers
`stylize` only (images decoded and models loaded first, plus one untimed 256 px warm-up run); "cpu s"
is the process's CPU time over the same span (on a machine shared with other jobs, wall time exceeds
CPU time / threads by what the others took). Quality is
measured at 512 px (long side) with the level-5 cd16x encoder, whatever the output size: content loss
‖F(x) − F(c)‖²/‖F(c)‖² at relu4_1, and Gram style loss Σ ‖G(x) − G(s)‖²/‖G(s)‖² over relu1_1..relu5_1.
Outputs larger than --tile run tile by tile; for them it also prints the seam ratio: the mean squared
intensity step across tile borders over that across every other pair of neighbouring pixels (1 = no
seam; the target is within 10 %; see `seam_energy_ratio` for the reference lines) and, up to
--compare-up-to, how far the tiled output is from the same run in one piece (mean and max, 0-255).
As a control it prints the range of the same ratio on lines a quarter or half tile away from the
borders: with a handful of lines the picture alone moves the ratio by 10-20 %, so the direct
tiled-vs-untiled comparison is the sharper test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def child(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from brushwork.files import save_png
    from brushwork.stylize import CD16xModels, StyleOptions, load_image, stylize
    from brushwork.stylize import gatys
    from brushwork.stylize.api import fit, resize, to_tensor
    from brushwork.stylize.tiling import pad_to_grid, plan, borders, seam_energy_ratio

    content = load_image(SHARED / "images" / "content" / args.content)
    style = load_image(SHARED / "images" / "style" / args.style)
    models = CD16xModels()
    steps = dict(steps=args.gatys_steps, refine_steps=args.gatys_refine_steps, work_size=512)
    options = StyleOptions(method=args.method, alpha=1.0, size=args.size, tile=args.tile, **steps)
    stylize(content, [style], StyleOptions(method=args.method, size=256, **steps), models=models)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    out = stylize(content, [style], options, models=models)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    net = models.loss_network()
    h, w = fit(*out.shape[:2], 512)
    small_out = resize(to_tensor(out), h, w)
    small_content = resize(to_tensor(content), h, w)
    s = to_tensor(style)
    targets = gatys.style_targets(net, [resize(s, *fit(*s.shape[-2:], 512))], [1.0])
    losses = gatys.measure(net, small_out, small_content, targets)
    result = {"method": args.method, "size": list(out.shape[:2]), "seconds": seconds, "cpu_seconds": cpu, "peak_mib": peak_mib,
              "content_loss": losses.content, "style_loss": losses.style}
    padded = pad_to_grid(torch.zeros(1, 1, *out.shape[:2]))[0].shape[-2:]
    tiles = plan(*padded, args.tile, 0)
    if len(tiles) > 1:
        rows, cols = borders(tiles)
        result["tiles"] = len(tiles)
        result["seam_ratio"] = seam_energy_ratio(out, rows, cols)
        # Control: the same measurement on lines that are not tile borders (shifted by a quarter and a
        # half tile). Their spread is how much the ratio varies with the picture alone.
        controls = []
        for shift in (-args.tile // 2, -args.tile // 4, args.tile // 4, args.tile // 2):
            moved_rows = [r + shift for r in rows if 0 < r + shift < out.shape[0]]
            moved_cols = [c + shift for c in cols if 0 < c + shift < out.shape[1]]
            if moved_rows or moved_cols:
                controls.append(seam_energy_ratio(out, moved_rows, moved_cols))
        result["seam_control"] = [min(controls), max(controls)]
        if args.size <= args.compare_up_to:
            # The direct test: the same run in one piece. Equal images cannot differ at tile borders.
            whole = stylize(content, [style], replace(options, tile=max(padded)), models=models)
            difference = np.abs(whole.astype(np.int16) - out)
            result["untiled_diff"] = [float(difference.mean()), int(difference.max())]
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
    parser.add_argument("--compare-up-to", type=int, default=2048,
                        help="also run tiled sizes up to this one untiled and print the difference")
    parser.add_argument("--save", help="folder for the outputs (PNG)")
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
          f"512 px + {args.gatys_refine_steps} at the output size; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'method':<7}{'size':>11}{'time s':>9}{'cpu s':>8}{'peak MiB':>10}{'content':>9}{'style':>8}{'seams':>7}"
          "  tiled vs untiled (0-255)  seam ratio on non-border lines")
    for method in args.methods.split(","):
        for size in map(int, args.sizes.split(",")):
            command = [sys.executable, __file__, "--method", method, "--size", str(size), "--content", args.content,
                       "--style", args.style, "--tile", str(args.tile), "--gatys-steps", str(args.gatys_steps),
                       "--gatys-refine-steps", str(args.gatys_refine_steps), "--compare-up-to", str(args.compare_up_to)] + (["--save", args.save] if args.save else [])
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                print(f"{method:<7}{size:>11}  failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            seams = f"{r['seam_ratio']:.3f}" if "seam_ratio" in r else "-"
            control = "control {:.3f}-{:.3f}".format(*r["seam_control"]) if "seam_control" in r else ""
            untiled = "mean {:.3f} max {}".format(*r["untiled_diff"]) if "untiled_diff" in r else "-"
            print(f"{method:<7}{r['size'][1]:>5}x{r['size'][0]:<5}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}"
                  f"{r['peak_mib']:>10.0f}{r['content_loss']:>9.3f}{r['style_loss']:>8.3f}{seams:>7}  {untiled}  {control}",
                  flush=True)


if __name__ == "__main__":
    main()
