"""Which strokes earn their place: the squared error each stroke removes from the painting.

A stroke that ended up hidden under later ones, or that the optimiser left where it makes the
painting worse, wastes part of the budget. The painter measures every stroke of a pass on the
exact rendering and gives the budget of the useless ones to the next pass, whose strokes start
where the error is now largest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from brushwork import brushes
from brushwork.painter.colours import draw_alone
from brushwork.strokes import Stroke

# A stroke's marks as `layer_gains` takes them: its pixel box (x0, y0, x1, y1), and premultiplied
# colour (h, w, 3) and alpha (h, w, 1) over that box, or None for both where the box is empty.
Patch = tuple[tuple[int, int, int, int], np.ndarray | None, np.ndarray | None]


def removal_gains(strokes: Sequence[Stroke], target: np.ndarray, below: np.ndarray) -> np.ndarray:
    """For each stroke, how much the summed squared error against `target` would grow if it were
    left out of the painting (`strokes` painted in order over `below`, drawn by the exact renderer;
    negative: it does harm).

    `target` and `below` are (H, W, 3) float RGB in [0, 1] in the strokes' pixels. Compositing is
    done in float, so results match `raster`'s 8-bit canvas to rounding.
    """
    height, width = below.shape[:2]

    def patches() -> Iterator[Patch]:
        for stroke in strokes:
            x0, y0, x1, y1 = box = brushes.pixel_box(stroke, width, height)
            if x1 > x0 and y1 > y0:
                patch = draw_alone(stroke, box)
                yield box, patch.premultiplied, patch.alpha[..., None]
            else:  # entirely off the canvas
                yield box, None, None

    return layer_gains(patches(), target, below)


def layer_gains(patches: Iterable[Patch], target: np.ndarray, below: np.ndarray) -> np.ndarray:
    """`removal_gains` of strokes given as their drawn patches, in paint order."""
    height, width = below.shape[:2]
    canvas = below.astype(np.float32).copy()
    boxes, layers, alphas = [], [], []
    for box, premultiplied, alpha in patches:  # bottom to top: what each stroke covers, and what it lays down
        x0, y0, x1, y1 = box
        under = canvas[y0:y1, x0:x1]
        if premultiplied is not None and alpha is not None:
            layer = premultiplied - alpha * under  # the stroke's change to the canvas where it lands
        else:  # nothing laid down
            alpha, layer = np.zeros_like(under[..., :1]), np.zeros_like(under)
        canvas[y0:y1, x0:x1] = under + layer
        boxes.append(box)
        layers.append(layer)
        alphas.append(alpha)
    gains = np.zeros(len(boxes))
    through = np.ones((height, width, 1), np.float32)  # transmittance of the strokes above
    for i in range(len(boxes) - 1, -1, -1):
        x0, y0, x1, y1 = boxes[i]
        seen = through[y0:y1, x0:x1]
        painted = canvas[y0:y1, x0:x1]
        aim = target[y0:y1, x0:x1]
        without = painted - seen * layers[i]
        gains[i] = float(((without - aim) ** 2).sum() - ((painted - aim) ** 2).sum())
        through[y0:y1, x0:x1] = seen * (1 - alphas[i])
    return gains
