"""Video: clips (video files or folders of frames) painted and stylized frame by frame, with temporal
coherence.

    from brushwork.video import open_clip, paint_frames, write_video
    clip = open_clip("clip.mp4")
    paintings = paint_frames(clip.frames(), PaintSettings(strokes=300))  # warm-started, lazily

- `frames`: reading (`open_clip`, `read_frames`, `probe` -> `VideoInfo`) and writing (`write_video`, sound kept);
- `painting`: `paint_frames` (each frame starts from the previous frame's strokes), `WarmPainter`;
- `styling`: `stylize_frames` (one set of style statistics, content statistics smoothed over time);
- `clip_jobs`: `paint_clip` / `stylize_clip`, paths to files, as the CLI runs them;
- `clips`: test clips made from a still photo (pans, zooms, a still camera);
- `api`: `run_clip(kind, source, output, settings, progress=fn(fraction, message))`, which the package
  itself answers when called: `brushwork.video("paint", "clip.mp4", "painted.mp4", ...)`.
"""


from brushwork.callable_package import make_callable
from brushwork.video.api import VideoProgress, run_clip
from brushwork.video.clip_jobs import ClipCancelled, ClipResult, is_video_output, paint_clip, stylize_clip
from brushwork.video.frames import Clip, VideoInfo, is_clip, is_video, open_clip, probe, read_frames, write_video
from brushwork.video.painting import WarmPainter, paint_frames
from brushwork.video.styling import ClipStatistics, stylize_frames

__all__ = ["Clip", "ClipCancelled", "ClipResult", "ClipStatistics", "VideoInfo", "WarmPainter", "is_clip",
           "is_video", "is_video_output", "open_clip", "paint_clip", "paint_frames", "probe", "read_frames",
           "run_clip", "stylize_clip", "stylize_frames", "write_video", "VideoProgress"]


make_callable(__name__, run_clip)  # brushwork.video(...) is run_clip(...)
