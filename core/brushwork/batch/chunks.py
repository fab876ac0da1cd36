"""A clip painted in chunks of consecutive frames, so that the chunks can be painted anywhere.

Inside a chunk every frame starts from the frame before's strokes (`video.paint_frames`); a chunk's
first frame is painted in full, and re-seeded strokes draw from the seed and the frame's index in the
clip, so a chunk gives the same paintings in this process, in a worker or as a Ray task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.settings import PaintSettings
from brushwork.strokes import StrokeList


def chunks(frames: Iterable[np.ndarray], size: int) -> Iterator[tuple[int, list[np.ndarray]]]:
    """(index of its first frame, its frames) for each run of `size` consecutive frames (the last may be
    shorter); frames are read as the chunks are taken."""
    if size < 1:
        raise BrushworkError(f"--chunk-frames {size}: expected a whole number >= 1")
    part: list[np.ndarray] = []
    start = 0
    for index, frame in enumerate(frames):
        if not part:
            start = index
        part.append(frame)
        if len(part) == size:
            yield start, part
            part = []
    if part:
        yield start, part


def paint_chunk(frames: list[np.ndarray], settings: PaintSettings, start: int) -> list[StrokeList]:
    """The paintings of one chunk whose first frame is frame `start` of the clip."""
    from brushwork.video import paint_frames

    return list(paint_frames(frames, settings, start=start))


def in_chunks(size: int) -> Callable[[Iterable[np.ndarray], PaintSettings], Iterator[StrokeList]]:
    """A painter of frames (for `video.paint_clip(paint=...)`) that paints them `size` at a time, here."""

    def paint(frames: Iterable[np.ndarray], settings: PaintSettings) -> Iterator[StrokeList]:
        for start, part in chunks(frames, size):
            yield from paint_chunk(part, settings, start)

    return paint
