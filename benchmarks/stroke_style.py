"""Stroke-space style transfer (issue #20): content loss, style loss and off-palette strokes per style mode.

    BRUSHWORK_WEIGHTS=../shared/weights nice python benchmarks/stroke_style.py [--pairs 3] [--strokes 600]
        [--working-size 512] [--modes plain,colour,texture,stylize-first] [--set colour.style_weight=2]
        [--contents tubingen.jpg,...] [--styles starry_night.jpg,...] [--cache DIR] [--save DIR] [--device cpu]
        [--time-restyle 1000]

Pairs are taken from --contents x --styles (3 x 6 photos of ../shared/images, the stylize benchmark's grid)
along diagonals, so that the first --pairs of them cover the contents and styles evenly; each content is
painted once (--strokes, seed 0; kept in --cache and reused), then per pair and mode:
  plain          the painting itself (no style)
  colour         the painting restyled, colours only (`brushwork restyle --style-mode colour`)
  texture        the painting restyled, colours, shapes and opacity
  stylize-first  the photo stylized (--style-method, default the stylize default), then painted
each at the library's defaults (`PaintSettings`), changed by --set MODE.FIELD=VALUE (a PaintSettings field).
Measures, on the painting drawn at the photo's size: content loss and style loss exactly as
benchmarks/stylize.py's `quality()` (relu4_1 content, relu1_1..relu5_1 Gram style, at 512 px), and the
share of strokes whose mean colour is farther than ΔE 20 (CIELAB) from every colour of a 16-colour k-means
palette of the photo and of the style image (`brushwork.palette`). Seconds are the style phase's (the
restyle, or stylize + paint for stylize-first), wall and CPU; a row per pair and mode, then the medians.

Then the restyle timing (--time-restyle N, default 1,000; 0 skips it): the first content painted with N
strokes (cached as above), restyled against the first style in `colour` mode at the defaults (and --set
colour.FIELD=VALUE), as
`brushwork restyle` does with the loss network loaded: wall and CPU seconds, torch's threads and the
load average. `--pairs 0` prints only that.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylize import GRID_CONTENTS, GRID_STYLES, SHARED, quality

from device_clock import Stopwatch, add_device_option, describe, device_from

if TYPE_CHECKING:
    import torch

    from brushwork.stylize import CD16xModels

MODES = ("plain", "colour", "texture", "stylize-first")
OFF_PALETTE_DE = 20.0  # CIELAB ΔE: farther than this from every palette colour is "off the palette"
PALETTE_COLOURS = 16


def picture(kind: str, name: str) -> Path:
    """A --contents / --styles entry: a file name in ../shared/images/`kind`, or a path (one with a '/')."""
    return Path(name) if "/" in name else SHARED / "images" / kind / name


def diagonal_pairs(contents: list[str], styles: list[str]) -> list[tuple[str, str]]:
    """Every (content, style) pair, ordered along diagonals: the first len(contents) pairs use distinct
    contents and distinct styles, and so on."""
    return [(contents[c], styles[(c + k) % len(styles)]) for k in range(len(styles)) for c in range(len(contents))]


def parse_sets(pairs: list[str]) -> dict[str, dict[str, object]]:
    """--set MODE.FIELD=VALUE as {mode: {field: value}}, read as the PaintSettings field's type."""
    from brushwork.settings import SPEC, PaintSettings

    fields = {f.name: f.metadata[SPEC] for f in dataclasses.fields(PaintSettings)}
    read: dict[str, Callable[[str], object]] = {"int": int, "float": float, "choice": str,
                                                "bool": lambda t: t.lower() in ("1", "true")}
    out: dict[str, dict[str, object]] = {mode: {} for mode in MODES}
    for pair in pairs:
        key, _, text = pair.partition("=")
        mode, _, name = key.partition(".")
        if mode not in MODES or name not in fields or not text:
            raise SystemExit(f"--set {pair!r}: expected MODE.FIELD=VALUE, MODE one of {', '.join(MODES)}, FIELD a "
                             "PaintSettings field")
        spec = fields[name]
        convert = read.get(spec.type, str)
        out[mode][name] = tuple(map(float, text.split(","))) if spec.many else convert(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=18, help="how many content x style pairs (default all 18)")
    parser.add_argument("--skip", type=int, default=0,
                        help="leave out the first SKIP of those pairs (to run a table in parts, see --combine)")
    parser.add_argument("--combine", nargs="+", type=Path, metavar="LOG",
                        help="print the medians of the rows these earlier runs printed (parts of one table), "
                             "then stop")
    parser.add_argument("--strokes", type=int, default=600)
    parser.add_argument("--working-size", type=int, default=512, help="the painter's and restyler's long side")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--set", action="append", default=[], metavar="MODE.FIELD=VALUE",
                        help="change a PaintSettings default for one mode (e.g. colour.style_weight=2); repeatable")
    parser.add_argument("--contents", default=GRID_CONTENTS,
                        help="files in ../shared/images/content, or paths (with a '/') to other photos")
    parser.add_argument("--styles", default=GRID_STYLES,
                        help="files in ../shared/images/style, or paths (with a '/') to other pictures")
    parser.add_argument("--cache", default="/tmp/brushwork-stroke-style", help="folder for the plain paintings")
    parser.add_argument("--save", help="folder for the paintings (SVG) of every pair and mode")
    parser.add_argument("--time-restyle", type=int, default=1000, metavar="STROKES",
                        help="time a colour-mode restyle of a painting of this many strokes (0: skip; default 1000)")
    add_device_option(parser)
    args = parser.parse_args()
    os.environ.setdefault("BRUSHWORK_WEIGHTS", str(SHARED / "weights"))
    run(args)


def run(args: argparse.Namespace) -> None:
    from brushwork.stylize import CD16xModels

    device = device_from(args)
    modes = args.modes.split(",")
    if any(mode not in MODES for mode in modes):
        raise SystemExit(f"--modes {args.modes}: expected some of {', '.join(MODES)}")
    changes = parse_sets(args.set)
    if args.combine:
        combine(args.combine)
        return
    pairs = diagonal_pairs(args.contents.split(","), args.styles.split(","))[args.skip:args.pairs]
    models = CD16xModels()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    save = Path(args.save) if args.save else None
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
    if pairs:
        table(pairs, modes, changes, args, models, device, cache, save)
    if args.time_restyle > 0:
        time_restyle(args.time_restyle, args.contents.split(",")[0], args.styles.split(",")[0], args.working_size,
                     cache, models, device, changes["colour"])


def table(pairs: list[tuple[str, str]], modes: list[str], changes: dict[str, dict[str, object]],
          args: argparse.Namespace, models: CD16xModels, device: torch.device, cache: Path, save: Path | None) -> None:
    """Paint, restyle and measure every pair in every mode: a row each, then the medians."""
    import numpy as np

    from brushwork import raster
    from brushwork.files import load_strokes, save_strokes
    from brushwork.images import load_image, load_rgb8
    from brushwork.painter import paint
    from brushwork.painter.restyle import STYLE_SIDE, RestyleSettings, restyle, stroke_colour
    from brushwork.painter.style import StyleGoal
    from brushwork.palette import off_palette, palette
    from brushwork.settings import PaintSettings, StyleOptions

    base = dict(strokes=args.strokes, working_size=args.working_size, seed=0, device=str(device))
    print(f"{len(pairs)} pairs, {args.strokes} strokes at {args.working_size} px, modes {', '.join(modes)}; device "
          f"{describe(device)}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for mode in modes:
        shown = {**PaintSettings().__dict__, **changes[mode]}
        if mode in ("colour", "texture"):
            print(f"  {mode}: style_weight {shown['style_weight']}, style_steps {shown['style_steps']}, "
                  f"preserve_color {shown['preserve_color']}")
        elif mode == "stylize-first":
            print(f"  {mode}: style_method {shown['style_method'] or StyleOptions().method}")
    print(f"{'content':<20}{'style':<22}{'mode':<15}{'content':>8}{'style':>8}{'off %':>7}{'time s':>8}{'cpu s':>8}")
    rows: dict[str, list[Row]] = {mode: [] for mode in modes}
    for content_name, style_name in pairs:
        photo8 = load_rgb8(picture("content", content_name))
        style8 = load_rgb8(picture("style", style_name))
        photo = load_image(picture("content", content_name), max_side=args.working_size)
        style = load_image(picture("style", style_name), max_side=STYLE_SIDE)
        colours = np.concatenate([palette(photo8, PALETTE_COLOURS), palette(style8, PALETTE_COLOURS)])
        cached = cache / f"{Path(content_name).stem}-{args.strokes}-{args.working_size}.svg"
        if not cached.exists():
            save_strokes(paint(photo, **base), cached)
        plain = load_strokes(cached)
        for mode in modes:
            chosen = PaintSettings(**{**base, "style_mode": mode if mode != "plain" else "colour", **changes[mode]})
            with Stopwatch(device) as clock:
                if mode == "plain":
                    painting = plain
                elif mode == "stylize-first":
                    painting = paint(photo, styles=[style], **dataclasses.asdict(chosen))
                else:
                    goal = StyleGoal((style,), (1.0,), chosen.style_weight, chosen.preserve_color, models)
                    painting = restyle(plain, photo, goal, RestyleSettings(
                        mode, chosen.style_weight, chosen.style_steps, device=str(device)))
            drawn = raster.render(painting, width=photo8.shape[1])
            content_loss, style_loss = quality(models, device, drawn, photo8, style8)
            strokes = np.array([stroke_colour(stroke) for stroke in painting.strokes])
            off = 100 * float(off_palette(strokes, colours, OFF_PALETTE_DE).mean())
            rows[mode].append((content_loss, style_loss, off, clock.seconds, clock.cpu_seconds))
            print(f"{Path(content_name).name:<19} {Path(style_name).name:<21} {mode:<14} {content_loss:>7.3f}"
                  f"{style_loss:>8.3f}{off:>7.1f}{clock.seconds:>8.1f}{clock.cpu_seconds:>8.1f}", flush=True)
            if save is not None:
                save_strokes(painting, save / f"{Path(content_name).stem}-{Path(style_name).stem}-{mode}.svg")
    print(f"\nmedians over {len(pairs)} pairs (load average {os.getloadavg()[0]:.1f})")
    print_medians(rows)


Row = tuple[float, float, float, float, float]  # content, style, off-palette %, wall s, CPU s


def print_medians(rows: dict[str, list[Row]]) -> None:
    print(f"{'mode':<15}{'content':>8}{'style':>8}{'off %':>7}{'time s':>8}{'cpu s':>8}{'pairs':>7}")
    for mode, measured in rows.items():
        if not measured:
            continue
        medians = [statistics.median(column) for column in zip(*measured, strict=True)]
        print(f"{mode:<15}{medians[0]:>8.3f}{medians[1]:>8.3f}{medians[2]:>7.1f}{medians[3]:>8.1f}{medians[4]:>8.1f}"
              f"{len(measured):>7}")


def read_rows(text: str) -> dict[tuple[str, str, str], Row]:
    """The (content, style, mode) rows a run printed."""
    rows = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 8 and words[2] in MODES:
            try:
                rows[words[0], words[1], words[2]] = tuple(float(word) for word in words[3:])
            except ValueError:  # a header or another line with eight words
                continue
    return rows  # type: ignore[return-value]


def combine(logs: list[Path]) -> None:
    """The medians over the rows of several runs' logs (each pair and mode counted once)."""
    rows: dict[tuple[str, str, str], Row] = {}
    for log in logs:
        rows.update(read_rows(log.read_text()))
    by_mode: dict[str, list[Row]] = {mode: [] for mode in MODES}
    for (_, _, mode), row in rows.items():
        by_mode[mode].append(row)
    pairs = {(content, style) for content, style, _ in rows}
    print(f"medians over {len(pairs)} pairs, from {', '.join(str(log) for log in logs)}")
    print_medians(by_mode)


def time_restyle(strokes: int, content_name: str, style_name: str, working_size: int, cache: Path,
                 models: CD16xModels, device: torch.device, changes: dict[str, Any] | None = None) -> None:
    """Print the wall and CPU seconds of restyling a `strokes`-stroke painting of `content_name` in `colour`
    mode against `style_name`, at the defaults changed by `changes` (PaintSettings fields; the painting cached in
    `cache`; the models already loaded)."""
    import torch

    from brushwork.files import load_strokes, save_strokes
    from brushwork.images import load_image
    from brushwork.painter import paint
    from brushwork.painter.restyle import STYLE_SIDE, RestyleSettings, restyle
    from brushwork.painter.style import StyleGoal
    from brushwork.settings import PaintSettings

    photo = load_image(picture("content", content_name), max_side=working_size)
    style = load_image(picture("style", style_name), max_side=STYLE_SIDE)
    cached = cache / f"{Path(content_name).stem}-{strokes}-{working_size}.svg"
    if not cached.exists():
        save_strokes(paint(photo, strokes=strokes, working_size=working_size, seed=0, device=str(device)), cached)
    painting = load_strokes(cached)
    chosen = PaintSettings(**(changes or {}))
    load = os.getloadavg()[0]
    threads: set[int] = set()  # torch's count while restyling: fewer than the process's on a busy machine
    with Stopwatch(device) as clock:
        goal = StyleGoal((style,), (1.0,), chosen.style_weight, chosen.preserve_color, models)
        restyle(painting, photo, goal, RestyleSettings("colour", chosen.style_weight, chosen.style_steps,
                                                       device=str(device)),
                callback=lambda _: threads.add(torch.get_num_threads()))
    print(f"\nrestyle of {len(painting.strokes)} strokes ({Path(content_name).name} x {Path(style_name).name}), "
          f"colour mode, {chosen.style_steps} steps: {clock.seconds:.1f} s wall, {clock.cpu_seconds:.1f} s CPU; "
          f"torch threads {'/'.join(map(str, sorted(threads)))} of {torch.get_num_threads()}, load average "
          f"{load:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
