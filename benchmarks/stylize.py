"""Raster stylization: time, peak memory and quality per method and output size.

    BRUSHWORK_WEIGHTS=../shared/weights python benchmarks/stylize.py [--methods adain,wct,gatys]
        [--sizes 512,1024,2048,4096] [--content tubingen.jpg] [--style starry_night.jpg] [--save DIR]
        [--device auto|cpu|cuda|mps] [--busy N]

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

--busy N runs N CPU-bound processes (busy loops) alongside the whole benchmark: the time on a busy machine,
as an editor plug-in sees it, against a run without.

--model NAME|FILE.pt adds the method `trained` with that trained style (brushwork styles lists them); it
uses no style image, so --style names the image(s) its style loss is scored against: several,
comma-separated (a collection's paintings), give the mean of the Gram losses against each.

--grid measures the defaults instead (issue #16's targets): every method of brushwork.settings.METHODS
(or --methods) at its defaults, changed by --set METHOD.FIELD=VALUE (e.g. --set wct.alpha=0.6, repeatable),
over --grid-contents x --grid-styles (3 x 6 photos) at 512 px, in one process (models loaded once, one
untimed 256 px warm-up per method). It prints a row per pair, then the medians per method: content loss,
style loss (the measures above), wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpu_hogs import busy
from device_clock import Stopwatch, add_device_option, describe, device_from

if TYPE_CHECKING:
    import numpy as np
    import torch

    from brushwork.stylize import CD16xModels

SHARED = Path(__file__).resolve().parents[2] / "shared"
QUALITY_SIDE = 512  # px: every output is measured at this long side
GRID_CONTENTS = "tubingen.jpg,chicago.jpg,astronaut.png"
GRID_STYLES = "composition_vii.jpg,contrast_of_forms.jpg,starry_night.jpg,the_scream.jpg,udnie.jpg,wave.jpg"


def quality(models: CD16xModels, device: torch.device, out: np.ndarray, content: np.ndarray,
            style: np.ndarray) -> tuple[float, float]:
    """Content and style loss of `out` at QUALITY_SIDE px (the module docstring defines them)."""
    from brushwork.images import fit_long_side, resize_tensor, to_tensor
    from brushwork.stylize import gatys

    net = models.loss_network(device)
    h, w = fit_long_side(*out.shape[:2], QUALITY_SIDE)
    small_out = resize_tensor(to_tensor(out, device), h, w)
    small_content = resize_tensor(to_tensor(content, device), h, w)
    s = to_tensor(style, device)
    targets = gatys.style_targets(net, [resize_tensor(s, *fit_long_side(*s.shape[-2:], QUALITY_SIDE))], [1.0])
    losses = gatys.measure(net, small_out, small_content, targets)
    return losses.content, losses.style


def child(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from brushwork.files import save_png
    from brushwork.images import load_rgb8, resize_tensor, to_array, to_tensor
    from brushwork.stylize import CD16xModels, StyleOptions, stylize
    from brushwork.stylize.tiling import borders, pad_to_grid, plan, seam_energy_ratio

    device = device_from(args)
    content = load_rgb8(SHARED / "images" / "content" / args.content)
    against = [load_rgb8(SHARED / "images" / "style" / name) for name in args.style.split(",")]
    style = against[0]
    models = CD16xModels()
    common = dict(steps=args.gatys_steps, refine_steps=args.gatys_refine_steps, work_size=512, device=str(device))
    if args.method == "trained":
        common["model"] = args.model
    options = StyleOptions(method=args.method, alpha=1.0, size=args.size, tile=args.tile, **common)
    stylize(content, [style], StyleOptions(method=args.method, size=256, **common), models=models)  # warm-up
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with Stopwatch(device) as clock:
        out = stylize(content, [style], options, models=models)
    seconds, cpu = clock.seconds, clock.cpu_seconds
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_peak_mib = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None

    scores = [quality(models, device, out, content, image) for image in against]
    content_loss, style_loss = scores[0][0], sum(score[1] for score in scores) / len(scores)
    result = {"method": args.method, "size": list(out.shape[:2]), "seconds": seconds, "cpu_seconds": cpu,
              "peak_mib": peak_mib, "gpu_peak_mib": gpu_peak_mib, "content_loss": content_loss,
              "style_loss": style_loss}
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
        name = Path(args.model).stem if args.method == "trained" else args.method
        save_png(np.ascontiguousarray(out), Path(args.save) / f"{name}-{args.size}.png")
    print(json.dumps(result))


def parse_overrides(pairs: list[str], methods: list[str]) -> dict[str, dict[str, Any]]:
    """--set METHOD.FIELD=VALUE strings as {method: {field: value}}, each value read as its StyleOptions
    field's type (a list comma-separated); a wrong method, field or value ends the benchmark naming it."""
    from brushwork.settings import METHODS, SPEC, StyleOptions

    fields = {f.name: f.metadata[SPEC] for f in dataclasses.fields(StyleOptions)}
    read = {"int": int, "float": float, "choices": int,
            "bool": lambda text: {"1": True, "true": True, "0": False, "false": False}[text.lower()]}
    overrides: dict[str, dict[str, Any]] = {method: {} for method in methods}
    for pair in pairs:
        key, _, text = pair.partition("=")
        method, _, name = key.partition(".")
        if method not in METHODS or name not in fields or name in ("method", "size", "device") or not text:
            raise SystemExit(f"--set {pair!r}: expected METHOD.FIELD=VALUE with METHOD one of {', '.join(METHODS)} "
                             f"and FIELD a StyleOptions field other than method, size and device")
        spec = fields[name]
        convert = read.get(spec.type, str)
        try:
            value = tuple(map(convert, text.split(","))) if spec.many else convert(text)
        except (KeyError, ValueError):
            raise SystemExit(f"--set {pair!r}: {text!r} is not a {spec.type} value") from None
        overrides.setdefault(method, {})[name] = value
    return overrides


def grid(args: argparse.Namespace) -> None:
    """Every method at its defaults (with the --set overrides) over contents x styles at 512 px: a row per
    pair, then the medians per method."""
    from brushwork.images import load_rgb8
    from brushwork.settings import METHODS
    from brushwork.stylize import CD16xModels, StyleOptions, stylize

    device = device_from(args)
    methods = args.methods.split(",") if args.methods else list(METHODS)
    overrides = parse_overrides(args.set, methods)
    contents = {name: load_rgb8(SHARED / "images" / "content" / name) for name in args.grid_contents.split(",")}
    styles = {name: load_rgb8(SHARED / "images" / "style" / name) for name in args.grid_styles.split(",")}
    models = CD16xModels()
    print(f"grid: {len(contents)} contents x {len(styles)} styles at {QUALITY_SIDE} px; device {describe(device)}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; one untimed 256 px warm-up per method")
    print(f"{'method':<10}{'content':<16}{'style':<22}{'time s':>8}{'cpu s':>8}{'content':>9}{'style':>8}")
    medians: list[tuple[str, str, float, float, float, float]] = []
    for method in methods:
        changes = overrides[method]
        trained = {"model": args.model} if method == "trained" and args.model else {}
        options = StyleOptions(method=method, size=QUALITY_SIDE, device=str(device), **trained, **changes)
        described = ", ".join(f"{name}={value}" for name, value in changes.items()) or "defaults"
        try:
            stylize(next(iter(contents.values())), [next(iter(styles.values()))], replace(options, size=256),
                    models=models)  # warm-up
        except Exception as exc:  # a method that cannot run here (missing weights) is reported, not fatal
            print(f"{method:<10}failed: {type(exc).__name__}: {exc}", flush=True)
            continue
        rows = []
        for content_name, content in contents.items():
            for style_name, style in styles.items():
                with Stopwatch(device) as clock:
                    out = stylize(content, [style], options, models=models)
                content_loss, style_loss = quality(models, device, out, content, style)
                rows.append((clock.seconds, clock.cpu_seconds, content_loss, style_loss))
                print(f"{method:<10}{content_name:<16}{style_name:<22}{clock.seconds:>8.2f}{clock.cpu_seconds:>8.2f}"
                      f"{content_loss:>9.3f}{style_loss:>8.3f}", flush=True)
        seconds, cpu_seconds, content_losses, style_losses = zip(*rows, strict=True)
        medians.append((method, described, statistics.median(content_losses), statistics.median(style_losses),
                        statistics.median(seconds), statistics.median(cpu_seconds)))
    print(f"\nmedians over {len(contents) * len(styles)} pairs (load average {os.getloadavg()[0]:.1f})")
    print(f"{'method':<10}{'content':>9}{'style':>8}{'time s':>8}{'cpu s':>8}  settings")
    for method, described, content_loss, style_loss, seconds, cpu_seconds in medians:
        print(f"{method:<10}{content_loss:>9.3f}{style_loss:>8.3f}{seconds:>8.2f}{cpu_seconds:>8.2f}  {described}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", help="comma-separated (default adain,wct,gatys; with --grid all methods)")
    parser.add_argument("--sizes", default="512,1024,2048,4096")
    parser.add_argument("--content", default="tubingen.jpg", help="file in ../shared/images/content")
    parser.add_argument("--style", default="starry_night.jpg", help="file in ../shared/images/style")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--gatys-steps", type=int, default=50,
                        help="Gatys iterations at 512 px (with the settings' optimiser)")
    parser.add_argument("--gatys-refine-steps", type=int, default=3,
                        help="Gatys iterations at the output size when it is larger than 512 px")
    parser.add_argument("--compare-up-to", type=int, default=4096,
                        help="also run tiled sizes up to this one untiled and print the difference")
    parser.add_argument("--save", help="folder for the outputs (PNG)")
    parser.add_argument("--grid", action="store_true",
                        help="each method at its defaults over --grid-contents x --grid-styles at 512 px: medians")
    parser.add_argument("--set", action="append", default=[], metavar="METHOD.FIELD=VALUE",
                        help="with --grid: change one of a method's defaults (e.g. wct.alpha=0.6); repeatable")
    parser.add_argument("--grid-contents", default=GRID_CONTENTS, help="files in ../shared/images/content")
    parser.add_argument("--grid-styles", default=GRID_STYLES, help="files in ../shared/images/style")
    add_device_option(parser)
    parser.add_argument("--model", help="a trained style (name or .pt file): adds the method trained")
    parser.add_argument("--busy", type=int, default=0,
                        help="CPU-bound processes to run alongside (a busy machine, as a plug-in sees it; default 0)")
    parser.add_argument("--method", help=argparse.SUPPRESS)  # set in the per-run child process
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("BRUSHWORK_WEIGHTS", str(SHARED / "weights"))
    if args.method:
        child(args)
        return
    with busy(args.busy):
        if args.grid:
            grid(args)
        else:
            runs(args)


def runs(args: argparse.Namespace) -> None:
    """Each method at each size in a fresh process (see the module docstring)."""
    args.methods = args.methods or ("trained" if args.model else "adain,wct,gatys")
    if args.model and "trained" not in args.methods.split(","):
        args.methods += ",trained"
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
    print(f"content {args.content}, style {args.style}, tile {args.tile} px, gatys {args.gatys_steps} steps at "
          f"512 px + {args.gatys_refine_steps} at the output size; device {describe(device_from(args))}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {args.busy} busy processes alongside; "
          "one untimed 256 px warm-up per run")
    print(f"{'method':<7}{'size':>11}{'time s':>9}{'cpu s':>8}{'peak MiB':>10}{'content':>9}{'style':>8}{'seams':>7}"
          "  border/interior: tiled untiled photo  tiled vs untiled (0-255)")
    for method in args.methods.split(","):
        for size in map(int, args.sizes.split(",")):
            command = [sys.executable, __file__, "--method", method, "--size", str(size), "--content", args.content,
                       "--style", args.style, "--tile", str(args.tile), "--gatys-steps", str(args.gatys_steps),
                       "--gatys-refine-steps", str(args.gatys_refine_steps),
                       "--compare-up-to", str(args.compare_up_to), "--device", args.device] + (
                           ["--save", args.save] if args.save else []) + (["--model", args.model] if args.model else [])
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
