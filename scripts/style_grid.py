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

MODES = ("plain", "colour", "texture", "stylize-first")  # the benchmark's, in its order
SHARED = Path(__file__).resolve().parents[2] / "shared"
NAME = re.compile(r"(?P<content>.+?)-(?P<style>.+)-(?P<mode>plain|colour|texture|stylize-first)\.svg$")
LABEL_HEIGHT = 18  # px above each column


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
    from PIL import Image, ImageDraw

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
    columns = ["photo", "style", *modes]
    rows = []
    for (content, style), paintings in found.items():
        photo = load_rgb8(find(SHARED / "images" / "content", (".jpg", ".png"), content))
        height, width = fit_long_side(photo.shape[0], photo.shape[1], args.cell)
        cells = [np.asarray(Image.fromarray(photo).resize((width, height), Image.LANCZOS))]
        style_picture = Image.fromarray(load_rgb8(find(SHARED / "images" / "style", (".jpg", ".png"), style)))
        cells.append(np.asarray(style_picture.resize((width, height), Image.LANCZOS)))  # squeezed to the cell
        for mode in modes:
            if mode in paintings:
                cells.append(raster.render(load_strokes(paintings[mode]), width=width)[:height, :width])
            else:
                cells.append(np.full((height, width, 3), 255, np.uint8))
        rows.append(np.concatenate(cells, axis=1))
    side = max(row.shape[1] for row in rows)
    sheet = np.full((LABEL_HEIGHT + sum(row.shape[0] for row in rows), side, 3), 255, np.uint8)
    y = LABEL_HEIGHT
    for row in rows:
        sheet[y:y + row.shape[0], :row.shape[1]] = row
        y += row.shape[0]
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    cell_width = rows[0].shape[1] // len(columns)
    for index, name in enumerate(columns):
        draw.text((index * cell_width + 4, 3), name, fill=(0, 0, 0))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    import io

    buffer = io.BytesIO()
    # 256 colours (median cut, dithered): a third of the bytes of the full-colour sheet, hardly visible
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
        buffer, format="PNG", optimize=True)
    atomic_write(args.output, buffer.getvalue())
    print(f"wrote {args.output} ({image.width}x{image.height}, {len(rows)} pairs, modes {', '.join(modes)})")


if __name__ == "__main__":
    main()
