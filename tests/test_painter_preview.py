"""The live preview (`Progress.preview`, which paint --preview-every and the bridge's previews show):
the painting grows stroke by stroke within a pass, is what the exact renderer draws of the strokes
so far, and watching it changes nothing in the painting; the bridge paces its previews."""

import io
from dataclasses import asdict, replace

import numpy as np
from PIL import Image

from brushwork import raster, svg
from brushwork.files import save_png
from brushwork.painter import paint
from brushwork.painter.optimise import Painter
from brushwork.previews import PreviewPacer
from brushwork.server.worker import JobDone, JobProgress, Picture, WorkerJob, run_paint
from brushwork.settings import PaintSettings
from brushwork.strokes import StrokeList

SETTINGS = PaintSettings(strokes=24, working_size=48, iterations=8, refine_iterations=2, seed=3, device="cpu")


def picture(width: int = 48, height: int = 32) -> np.ndarray:
    """Stripes and a disc: error peaks all over, so every pass has strokes in several blocks."""
    yy, xx = np.mgrid[:height, :width]
    image = np.stack([(xx // 8) % 2 * 0.8 + 0.1, np.full(xx.shape, 0.4), (yy // 6) % 2 * 0.7 + 0.2], -1)
    image[(xx - 30) ** 2 + (yy - 14) ** 2 < 64] = (0.9, 0.2, 0.1)
    return image.astype(np.float32)


def drawn_from_scratch(painter: Painter) -> np.ndarray:
    """The painting so far drawn the slow way: paper, then every stroke, on a fresh canvas."""
    height, width = painter.job.working.shape[:2]
    canvas = raster.RasterCanvas(width, height, background=painter.job.background)
    for stroke in painter.job.kept_working + tuple(painter.state.so_far()):
        canvas.draw(stroke)
    return canvas.to_rgb()


def watch(painter: Painter) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """(pass, strokes, preview, the same drawn from scratch) at every step of `painter.run()`."""
    seen = []

    def look(progress) -> None:
        seen.append((progress.level, progress.strokes, progress.preview(), drawn_from_scratch(painter)))

    painter.callback = look
    painter.run()
    return seen


def test_the_painting_grows_stroke_by_stroke_within_a_pass():
    painter = Painter(picture(), SETTINGS)
    seen = watch(painter)
    largest = max(painter.job.passes, key=lambda level: level.strokes)
    index = painter.job.passes.index(largest) + 1
    counts = [strokes for level, strokes, _, _ in seen if level == index]
    assert len(counts) == SETTINGS.iterations and counts == sorted(counts)
    assert len(set(counts)) >= min(largest.strokes, SETTINGS.iterations) > 2  # more strokes step after step
    previews = [preview for level, _, preview, _ in seen if level == index]
    changed = [not np.array_equal(a, b) for a, b in zip(previews, previews[1:], strict=False)]
    assert all(changed)


def test_every_preview_is_the_exact_rendering_of_the_strokes_so_far():
    # passes draw over a copy of the canvas frozen so far, the refinement from the paper up
    for settings in (SETTINGS, replace(SETTINGS, brushes=("oilbrush", "tape"), strokes=10)):
        seen = watch(Painter(picture(), settings))
        assert seen and all(np.array_equal(preview, scratch) for _, _, preview, scratch in seen)


def test_a_resumed_painting_shows_its_strokes_under_the_new_ones():
    first = paint(picture(), strokes=6, working_size=48, iterations=4, seed=1, device="cpu")
    canvas = StrokeList(first.width, first.height, first.strokes, first.background)
    painter = Painter(picture(), SETTINGS, resume=canvas)
    seen = watch(painter)
    assert all(np.array_equal(preview, scratch) for _, _, preview, scratch in seen)
    assert seen[0][1] > len(first)  # the count includes the resumed strokes


def test_watching_the_preview_leaves_the_painting_as_it_is():
    unwatched = paint(picture(), **asdict(SETTINGS))
    watched = paint(picture(), callback=lambda progress: progress.preview(), **asdict(SETTINGS))
    assert svg.write(watched) == svg.write(unwatched)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def paced(pacer: PreviewPacer, clock: FakeClock, steps: int, step_seconds: float, preview_seconds: float) -> list[int]:
    """The steps at which `pacer` has a preview drawn, each step and preview taking the seconds given."""
    drawn = []
    for step in range(1, steps + 1):
        clock.now += step_seconds
        if pacer.due():
            with pacer.drawing():
                clock.now += preview_seconds
            drawn.append(step)
    return drawn


def test_previews_come_as_often_as_asked_when_they_are_cheap():
    clock = FakeClock()
    assert paced(PreviewPacer(every_steps=10, clock=clock), clock, 50, 1.0, 0.01) == [10, 20, 30, 40, 50]
    clock = FakeClock()
    bridge = PreviewPacer(every_seconds=2.0, clock=clock)  # the first after the interval, then every interval
    assert paced(bridge, clock, 9, 0.5, 0.01) == [4, 8]


def test_previews_never_take_more_than_a_twentieth_of_the_time():
    clock = FakeClock()
    pacer = PreviewPacer(every_steps=1, clock=clock)
    drawn = paced(pacer, clock, 1000, 0.1, 0.2)  # a preview costing two steps, asked for at every step
    assert drawn[0] == 1 and pacer.previews == len(drawn)
    assert 0.045 < pacer.seconds / clock.now <= 0.05 + 1e-9  # paced to the share, not starved


def test_previews_that_grow_dearer_as_strokes_add_up_keep_to_their_share():
    """A preview draws every stroke so far: the last ones cost several times the first."""
    clock = FakeClock()
    pacer = PreviewPacer(every_steps=5, clock=clock)
    drawn = []
    for step in range(1, 501):
        clock.now += 0.05
        if pacer.due():
            with pacer.drawing():
                clock.now += 0.02 + 0.0004 * step
            drawn.append(step)
    assert drawn[0] == 5 and len(drawn) > 10
    assert pacer.seconds / clock.now <= 0.05


def test_the_bridge_sends_the_growing_painting_as_small_previews():
    pixels = (picture(96, 64) * 255).astype(np.uint8)
    rgba = np.concatenate([pixels, np.full((64, 96, 1), 255, np.uint8)], axis=2)
    job = WorkerJob("job", "paint", {"strokes": 24, "working_size": 48, "iterations": 8, "seed": 3, "device": "cpu"},
                    Picture(96, 64, rgba.tobytes()), preview_interval=0.0)
    sent = []
    run_paint(job, sent.append)
    previews = [Image.open(io.BytesIO(m.preview)) for m in sent if isinstance(m, JobProgress) and m.preview]
    assert previews and all(image.size == (48, 32) for image in previews)  # the working size, under 256 px
    assert isinstance(sent[-1], JobDone)


def test_previews_are_written_fast_and_read_back_the_same(tmp_path):
    pixels = (picture() * 255).astype(np.uint8)
    save_png(pixels, tmp_path / "fast.png", compress_level=1)  # as paint --preview-every writes them
    save_png(pixels, tmp_path / "small.png")
    for name in ("fast.png", "small.png"):
        assert np.array_equal(np.asarray(Image.open(tmp_path / name)), pixels)
