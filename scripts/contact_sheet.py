"""Rows of equally tall pictures under a line of column labels, as one PNG: the README's grids."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

LABEL_HEIGHT = 18  # px above each column


def fit_cell(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """`picture` resized to exactly width x height (LANCZOS), uint8 RGB."""
    if picture.shape[:2] == (height, width):
        return picture
    return np.asarray(Image.fromarray(picture).resize((width, height), Image.LANCZOS))


def contact_sheet(rows: Sequence[Sequence[np.ndarray]], columns: Sequence[str]) -> bytes:
    """PNG bytes of `rows` (each a list of (H, W, 3) uint8 pictures of one height) under `columns`' labels,
    each label over the column of the first row's cell."""
    joined = [np.concatenate(list(row), axis=1) for row in rows]
    sheet = np.full((LABEL_HEIGHT + sum(row.shape[0] for row in joined), max(row.shape[1] for row in joined), 3),
                    255, np.uint8)
    y = LABEL_HEIGHT
    for row in joined:
        sheet[y:y + row.shape[0], :row.shape[1]] = row
        y += row.shape[0]
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    x = 0
    for name, cell in zip(columns, rows[0], strict=False):
        draw.text((x + 4, 3), name, fill=(0, 0, 0))
        x += cell.shape[1]
    buffer = io.BytesIO()
    # 256 colours (median cut, dithered): a third of the bytes of the full-colour sheet, hardly visible
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
        buffer, format="PNG", optimize=True)
    return buffer.getvalue()
