"""Where the painter works: coarse-to-fine levels of overlapping square blocks.

Level m cuts the picture into about m blocks along its long side. Every block is optimised at
the neural renderer's size S, so a level is a copy of the picture at m * S pixels (long side)
tiled by S x S blocks that overlap by a quarter, which covers any aspect ratio and lets strokes
cross block borders. Pure functions of sizes: easy to test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

OVERLAP = 0.25
DIVISIONS = (1, 2, 3, 4, 6, 8, 11, 16, 22, 32)
DENSITY_EXPONENT = 0.75
# A level is used only while the budget holds this many strokes per block of it: a finer level
# with fewer strokes than blocks scatters small strokes over too much of the picture (2 measured
# +0.4-0.7 dB at 200 strokes on tubingen.jpg against 1; the same from 1,000 strokes up).
STROKES_PER_BLOCK = 2
# Each level is painted in this many passes; a later pass starts its strokes where the earlier
# ones left the most error (SNP adds strokes progressively; two passes measured +0.2-0.5 dB at the
# same cost with benchmarks/paint.py, three did not help further).
PASSES = 2


@dataclass(frozen=True)
class Level:
    divisions: int
    width: int  # the level's copy of the picture, pixels
    height: int
    block: int  # block side S
    xs: tuple[int, ...]  # block origins along x and y, level pixels
    ys: tuple[int, ...]
    scale: float  # level pixels per working pixel
    strokes: int = 0

    @property
    def blocks(self) -> list[tuple[int, int]]:
        return [(x, y) for y in self.ys for x in self.xs]


def _origins(length: int, block: int) -> tuple[int, ...]:
    if length <= block:
        return (0,)
    stride = block * (1 - OVERLAP)
    count = math.ceil((length - block) / stride) + 1
    return tuple(round(i * (length - block) / (count - 1)) for i in range(count))


def level_grid(width: int, height: int, divisions: int, block: int) -> Level:
    """The level that cuts a width x height working picture into ~divisions blocks (long side)."""
    scale = divisions * block / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    return Level(divisions, w, h, block, _origins(w, block), _origins(h, block), w / width)


def plan_levels(width: int, height: int, strokes: int, block: int) -> list[Level]:
    """Levels from coarse to fine with the stroke budget spread over them, exactly, each level
    listed once per pass.

    Every level up to the working resolution is used while the budget has STROKES_PER_BLOCK
    strokes per block of it. Strokes go to levels in proportion to (block count) **
    DENSITY_EXPONENT, at least one each: SNP gives every block the same number (exponent 1);
    coarse blocks get more here, because large strokes remove the most error per stroke
    (measured with benchmarks/paint.py).
    """
    if strokes < 1:
        raise ValueError("strokes must be at least 1")
    levels: list[Level] = []
    for divisions in DIVISIONS:
        level = level_grid(width, height, divisions, block)
        too_fine = len(level.blocks) * STROKES_PER_BLOCK > strokes or divisions * block > max(width, height)
        if levels and too_fine:
            break
        levels.append(level)
    levels = levels[: max(1, min(len(levels), strokes))]
    counts = [len(level.blocks) ** DENSITY_EXPONENT for level in levels]
    shares = [strokes * c / sum(counts) for c in counts]
    allotted = [max(1, math.floor(s)) for s in shares]
    while sum(allotted) > strokes:  # only when the minimum of one per level overshoots
        allotted[allotted.index(max(allotted))] -= 1
    remainders = sorted(range(len(levels)), key=lambda i: allotted[i] - shares[i])
    for i in remainders[: strokes - sum(allotted)]:
        allotted[i] += 1
    return [
        replace(lv, strokes=part)
        for lv, n in zip(levels, allotted, strict=True)
        for part in (n // PASSES + (i < n % PASSES) for i in range(PASSES))
        if part > 0
    ]
