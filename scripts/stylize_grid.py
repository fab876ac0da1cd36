"""The README's stylize grid: for a few content x style pairs, a row of the photo, the style, and the
result of each method at its defaults (docs/stylize_grid.png).

    BRUSHWORK_WEIGHTS=../shared/weights python scripts/stylize_grid.py [-o docs/stylize_grid.png] [--cell 200]

Each method stylizes at twice the cell's width, shown at the cell's width.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from contact_sheet import contact_sheet, fit_cell

SHARED = Path(__file__).resolve().parents[2] / "shared"
# the_scream and udnie were held out of the AdaIN decoder's training
PAIRS = (("tubingen.jpg", "starry_night.jpg"), ("chicago.jpg", "the_scream.jpg"), ("astronaut.png", "udnie.jpg"),
         ("sailboat.jpg", "wave.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/stylize_grid.png"))
    parser.add_argument("--cell", type=int, default=200, help="width of each picture, px")
    parser.add_argument("--methods", default="adain,wct,gatys,microast")
    args = parser.parse_args()

    from brushwork.files import atomic_write
    from brushwork.images import fit_long_side, load_rgb8
    from brushwork.stylize import CD16xModels, StyleOptions, stylize

    methods = args.methods.split(",")
    models = CD16xModels()
    rows = []
    for content_name, style_name in PAIRS:
        photo = load_rgb8(SHARED / "images" / "content" / content_name)
        style = load_rgb8(SHARED / "images" / "style" / style_name)
        height, width = fit_long_side(photo.shape[0], photo.shape[1], args.cell)
        cells = [fit_cell(photo, width, height), fit_cell(style, width, height)]  # the style squeezed to the cell
        for method in methods:
            out = stylize(photo, [style], StyleOptions(method=method, size=2 * args.cell), models=models)
            cells.append(fit_cell(out, width, height))
            print(f"{content_name} x {style_name}: {method}", flush=True)
        rows.append(cells)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.output, contact_sheet(rows, ["photo", "style", *methods]))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
