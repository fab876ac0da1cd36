"""The README's stroke-style grid: for each content x style pair a row of the photo, the style, and the
painting in each style mode, drawn small into one PNG (docs/stroke_style_grid.png).

    BRUSHWORK_WEIGHTS=../shared/weights nice python benchmarks/stroke_style.py --pairs 3 --strokes 300 \\
        --save /tmp/stroke-style
    python scripts/style_grid.py /tmp/stroke-style -o docs/stroke_style_grid.png [--cell 200]

The paintings are those the benchmark saved (`--save DIR`: CONTENT-STYLE-MODE.svg), drawn here by the
exact renderer; the pairs and modes are whatever the folder holds, in the benchmark's order.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from contact_sheet import contact_sheet, fit_cell

MODES = ("plain", "colour", "texture", "stylize-first")  # the benchmark's, in its order
SHARED = Path(__file__).resolve().parents[2] / "shared"
NAME = re.compile(r"(?P<content>.+?)-(?P<style>.+)-(?P<mode>plain|colour|texture|stylize-first)\.svg$")


def find(folder: Path, suffixes: tuple[str, ...], stem: str) -> Path:
    """The picture named `stem` in `folder` (any of `suffixes`)."""
    for suffix in suffixes:
        if (folder / (stem + suffix)).exists():
            return folder / (stem + suffix)
    raise SystemExit(f"no picture {stem} in {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paintings", type=Path, help="folder written by benchmarks/stroke_style.py --save")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/stroke_style_grid.png"))
    parser.add_argument("--cell", type=int, default=200, help="width of each picture, px")
    args = parser.parse_args()

    import numpy as np

    from brushwork import raster
    from brushwork.files import atomic_write, load_strokes
    from brushwork.images import fit_long_side, load_rgb8

    found: dict[tuple[str, str], dict[str, Path]] = {}
    for path in sorted(args.paintings.glob("*.svg")):
        match = NAME.match(path.name)
        if match:
            found.setdefault((match["content"], match["style"]), {})[match["mode"]] = path
    if not found:
        raise SystemExit(f"{args.paintings}: no CONTENT-STYLE-MODE.svg paintings (benchmarks/stroke_style.py --save)")
    modes = [mode for mode in MODES if any(mode in row for row in found.values())]
    rows = []
    for (content, style), paintings in found.items():
        photo = load_rgb8(find(SHARED / "images" / "content", (".jpg", ".png"), content))
        height, width = fit_long_side(photo.shape[0], photo.shape[1], args.cell)
        style_picture = load_rgb8(find(SHARED / "images" / "style", (".jpg", ".png"), style))
        cells = [fit_cell(photo, width, height), fit_cell(style_picture, width, height)]  # the style squeezed
        for mode in modes:
            if mode in paintings:
                cells.append(raster.render(load_strokes(paintings[mode]), width=width)[:height, :width])
            else:
                cells.append(np.full((height, width, 3), 255, np.uint8))
        rows.append(cells)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.output, contact_sheet(rows, ["photo", "style", *modes]))
    print(f"wrote {args.output} ({len(rows)} pairs, modes {', '.join(modes)})")


if __name__ == "__main__":
    main()
