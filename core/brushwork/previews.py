"""When a painting's live preview is drawn (paint --preview-every, the bridge's previews for the
plug-ins): as often as asked, but never more than a twentieth of the painting's time.

A preview draws the strokes so far with the exact renderer and encodes a PNG, which costs about as
much as a few optimisation steps (tubingen.jpg, 1,000 oil-brush strokes at 512 px, 2 busy cores: 1.2 %
of the painting's time with one every 40 steps, 5.6 % every 10). The pacer measures what each preview
took and puts the next one off until the previews so far and one more like the last fit in the
share of the time since the start (a slow or busy machine, a large working size, a preview asked for
at every step). A budget over the whole run rather than a gap after each preview: the previews grow
dearer as the strokes add up, and with gaps sized by the last one's cost a 13 s painting spent 5.3 %
on its ten.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

SHARE = 0.05  # of the painting's time, at most (issue #17)


@dataclass
class PreviewPacer:
    """Call `due()` at every optimisation step; when it says so, draw the preview inside
    `with pacer.drawing():`. A preview is due every `every_steps` steps (None: any step) once
    `every_seconds` have passed since the last one (since the start for the first), and once the
    previews so far and one more costing as much as the last fit in `share` of the time since the
    start."""

    every_steps: int | None = None
    every_seconds: float = 0.0
    share: float = SHARE
    clock: Callable[[], float] = time.monotonic
    steps: int = 0
    previews: int = 0
    seconds: float = 0.0  # what the previews took, all together
    last_cost: float = 0.0
    start: float = field(init=False)
    next_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock()
        self.next_at = self.start + self.every_seconds

    def due(self) -> bool:
        """Count one step; whether a preview is to be drawn at it."""
        self.steps += 1
        on_step = self.every_steps is None or self.steps % self.every_steps == 0
        now = self.clock()
        return on_step and now >= self.next_at and self.seconds + self.last_cost <= self.share * (now - self.start)

    @contextlib.contextmanager
    def drawing(self) -> Iterator[None]:
        """Time the preview drawn in the block: the next one waits for its share."""
        started = self.clock()
        try:
            yield
        finally:
            self.last_cost = self.clock() - started
            self.previews += 1
            self.seconds += self.last_cost
            self.next_at = started + self.every_seconds
