"""A clip in, a clip out: the paint and stylize commands' video work, from paths to files.

The source is a video file or a folder of frames (`frames.open_clip`); the output is a video file
(.mp4, .mov, .mkv, .m4v: every frame drawn, the source's sound kept) or a folder that gets one file per
frame, named after the frame (paint: .svg, plus .png and .json on request; stylize: .png). Every output is
checked against every input before any work, and written atomically; a folder of frames keeps the frames
done when a run stops.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brushwork import raster
from brushwork.errors import BrushworkError
from brushwork.files import refuse_collisions, save_png, save_strokes
from brushwork.settings import PaintSettings, StyleOptions
from brushwork.strokes import StrokeList
from brushwork.video.frames import WRITE_SUFFIXES, Clip, open_clip, write_video
from brushwork.video.painting import paint_frames
from brushwork.video.styling import stylize_frames

# progress(frames done, frames in all) after every frame; returning False stops the run (ClipCancelled).
ClipProgress = Callable[[int, int], bool | None]
# frames, settings -> the painting of each frame, in order (`painting.paint_frames`).
FramePainter = Callable[[Iterator[np.ndarray], PaintSettings], Iterator[StrokeList]]
PAINT_FRAME_SUFFIXES = (".svg", ".png", ".json")


class ClipCancelled(BrushworkError):
    """The progress callback stopped the run; `.frames` were finished (and, for a folder, written)."""

    def __init__(self, frames: int) -> None:
        super().__init__(f"stopped after {frames} frames")
        self.frames = frames


@dataclass(frozen=True)
class ClipResult:
    """What a clip run wrote: the frames done and the files (the video, or every frame's files)."""

    frames: int
    outputs: tuple[Path, ...]
    fps: float
    audio: bool  # the source's sound went into the output video


def is_video_output(output: str | os.PathLike) -> bool:
    """A video file by its suffix; anything else is a folder of frames (an existing one, or a new name
    without a suffix)."""
    return Path(output).suffix.lower() in WRITE_SUFFIXES


def paint_clip(source: str | os.PathLike, output: str | os.PathLike, settings: PaintSettings, *,
               extras: Sequence[str] = (), fps: float | None = None, progress: ClipProgress | None = None,
               inputs: Sequence[tuple[str, str | os.PathLike]] = (), paint: FramePainter = paint_frames) -> ClipResult:
    """Paint every frame of `source` (warm-started: `painting.paint_frames`) into `output`: a video of the
    paintings drawn at the frames' size, or a folder with each frame's stroke SVG and `extras` (".png",
    ".json"). `fps` overrides the source's rate (a folder's default is 24). `inputs` are other files
    the run reads (label, path), refused as outputs too. `paint` makes the paintings from the frames
    (a batch paints a clip in chunks, on a Ray cluster too: `brushwork.batch.chunks`)."""
    if settings.trained_style:  # the frame painter works from the frames alone
        raise BrushworkError(f"{source}: a clip is painted from its own frames, without --model "
                             f"{settings.trained_style}; stylize it with the model first (brushwork stylize "
                             f"{Path(source).name} --model {settings.trained_style} -o styled.mp4) and paint that")
    clip = open_clip(source, fps)
    unknown = [suffix for suffix in extras if suffix not in PAINT_FRAME_SUFFIXES[1:]]
    if unknown:
        raise BrushworkError(f"unknown frame outputs {', '.join(unknown)}; expected .png or .json")
    paintings = paint(clip.frames(), settings)
    if is_video_output(output):
        if extras:
            raise BrushworkError(f"{output}: --png and --json write frames to a folder; give a folder as the "
                                 "output for them")
        return _to_video(clip, Path(output), (raster.render(p) for p in paintings), progress, inputs)

    def write(painting: StrokeList, stem: Path) -> None:
        save_strokes(painting, stem.with_suffix(".svg"))
        for suffix in extras:
            if suffix == ".png":
                save_png(raster.render(painting), stem.with_suffix(".png"))
            else:
                save_strokes(painting, stem.with_suffix(".json"))

    return _to_folder(clip, Path(output), (".svg", *extras), paintings, write, progress, inputs)


def stylize_clip(source: str | os.PathLike, output: str | os.PathLike, styles: Sequence[np.ndarray],
                 options: StyleOptions, *, mask: np.ndarray | None = None, fps: float | None = None,
                 progress: ClipProgress | None = None, inputs: Sequence[tuple[str, str | os.PathLike]] = (),
                 **stylize_args) -> ClipResult:
    """Stylize every frame of `source` (`styling.stylize_frames`: one set of style statistics, content
    statistics smoothed over time) into `output`: a video, or a folder of PNG frames. `inputs`: the
    style images and other files read, as (label, path), refused as outputs."""
    clip = open_clip(source, fps)
    results = stylize_frames(clip.frames(), styles, options, mask=mask, **stylize_args)
    if is_video_output(output):
        return _to_video(clip, Path(output), results, progress, inputs)
    return _to_folder(clip, Path(output), (".png",), results,
                      lambda frame, stem: save_png(frame, stem.with_suffix(".png")), progress, inputs)


def _source_inputs(clip: Clip) -> list[tuple[str | None, str | os.PathLike]]:
    return [("a frame of the clip", f) for f in clip.files] if clip.is_folder else [("the clip", clip.path)]


def _to_video(clip: Clip, output: Path, frames: Iterator[np.ndarray], progress: ClipProgress | None,
              inputs: Sequence[tuple[str, str | os.PathLike]]) -> ClipResult:
    refuse_collisions([("output", output)], [*_source_inputs(clip), *inputs])
    if not output.parent.is_dir():
        raise BrushworkError(f"cannot write {output}: no folder {output.parent}")
    audio = clip.info.has_audio
    count = write_video(_reported(frames, clip.info.frames, progress), output, clip.info.fps,
                        audio_from=clip.path if audio else None)
    return ClipResult(count, (output,), clip.info.fps, audio)


def _to_folder(clip: Clip, output: Path, suffixes: Sequence[str], results: Iterator, write: Callable,
               progress: ClipProgress | None, inputs: Sequence[tuple[str, str | os.PathLike]]) -> ClipResult:
    if (output.exists() and not output.is_dir()) or (not output.exists() and output.suffix):
        raise BrushworkError(f"{output}: expected a video file ({', '.join(WRITE_SUFFIXES)}) or a folder for the "
                             "frames")
    if not output.parent.is_dir():
        raise BrushworkError(f"cannot write {output}: no folder {output.parent}")
    stems = [output / name for name in clip.names]
    planned = [(f"output for frame {stem.name}", stem.with_suffix(suffix)) for stem in stems for suffix in suffixes]
    refuse_collisions(planned, [*_source_inputs(clip), *inputs])
    output.mkdir(exist_ok=True)
    written: list[Path] = []
    done = 0
    for done, (result, stem) in enumerate(zip(results, stems, strict=False), start=1):
        write(result, stem)
        written.extend(stem.with_suffix(suffix) for suffix in suffixes)
        if progress is not None and progress(done, clip.info.frames) is False:
            raise ClipCancelled(done)
    return ClipResult(done, tuple(written), clip.info.fps, False)


def _reported(results: Iterator, total: int, progress: ClipProgress | None) -> Iterator:
    """`results` passed on, each one counted to `progress` once taken; its False stops the run."""
    for done, result in enumerate(results, start=1):
        yield result
        if progress is not None and progress(done, total) is False:
            raise ClipCancelled(done)
