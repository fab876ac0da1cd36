"""`brushwork.video(...)`: a clip from Python, as `brushwork paint|stylize clip.mp4 -o out.mp4` runs it,
with a progress callback that can cancel.

    result = brushwork.video("paint", "clip.mp4", "painted.mp4", PaintSettings(strokes=300),
                             progress=lambda fraction, message: print(f"{fraction:.0%} {message}"))

`progress(fraction, message)` is called after every frame (the fraction of the clip's frames done, never
decreasing); an exception it raises, or returning False, cancels between frames (`ClipCancelled`,
carrying the frames done; the exception it raised is its cause). A video output is written whole or
not at all; a folder of frames keeps the frames done.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from brushwork.errors import BrushworkError
from brushwork.settings import PaintSettings, StyleOptions, validate_settings
from brushwork.video.clip_jobs import ClipCancelled, ClipProgress, ClipResult, paint_clip, stylize_clip

if TYPE_CHECKING:
    from brushwork.stylize import Models

# progress(fraction of the frames done, what was done); False or an exception cancels.
VideoProgress = Callable[[float, str], bool | None]


def run_clip(kind: Literal["paint", "stylize"], source: str | os.PathLike, output: str | os.PathLike,
             settings: PaintSettings | StyleOptions | None = None, *, styles: Sequence[str | os.PathLike] = (),
             extras: Sequence[str] = (), fps: float | None = None,
             progress: VideoProgress | None = None, models: Models | None = None) -> ClipResult:
    """Paint (`paint_clip`: each frame warm-started from the previous one's strokes) or stylize
    (`stylize_clip` with the style images `styles`: one set of style statistics, content statistics
    smoothed over time) every frame of `source` (a video file or a folder of frames) into `output` (a
    video file, or a folder: paint writes each frame's .svg plus `extras` ".png" / ".json"; stylize .png).
    `models` keeps the style networks loaded across calls (default: the cd16x ones, loaded here)."""
    stopped: list[BaseException] = []
    reported = _reporting(progress, stopped) if progress is not None else None
    try:
        if kind == "paint":
            chosen = settings if settings is not None else PaintSettings()
            if not isinstance(chosen, PaintSettings):
                raise BrushworkError(f"settings: painting a clip takes PaintSettings, not {type(chosen).__name__}")
            if styles:
                raise BrushworkError("styles: a clip is painted with the paint settings alone (stylize it instead)")
            validate_settings(chosen)
            return paint_clip(source, output, chosen, extras=extras, fps=fps, progress=reported)
        if kind == "stylize":
            from brushwork.images import load_rgb8

            options = settings if settings is not None else StyleOptions()
            if not isinstance(options, StyleOptions):
                raise BrushworkError(f"settings: stylizing a clip takes StyleOptions, not {type(options).__name__}")
            if extras:
                raise BrushworkError("extras: a stylized clip's frames are .png alone")
            options.validate(len(styles))
            pictures = [load_rgb8(style, max_side=options.style_size) for style in styles]
            return stylize_clip(source, output, pictures, options, fps=fps, progress=reported,
                                inputs=[("a style image", style) for style in styles], models=models)
        raise BrushworkError(f"kind {kind!r}: expected 'paint' or 'stylize'")
    except ClipCancelled as cancelled:
        if stopped:
            raise cancelled from stopped[0]
        raise


def _reporting(progress: VideoProgress, stopped: list[BaseException]) -> ClipProgress:
    """The clip jobs' progress(done, total) as progress(fraction, message); the callback's exception is
    kept in `stopped` and becomes a cancel between frames (so a video output is left unwritten)."""

    def report(done: int, total: int) -> bool:
        try:
            answer = progress(done / total if total else 1.0, f"frame {done} of {total}")
        except Exception as exc:
            stopped.append(exc)
            return False
        return answer is not False

    return report
