"""Frames in and out: video files (decoded and encoded by the ffmpeg that imageio-ffmpeg ships) and
folders of numbered images, as one kind of source (`Clip`), and MP4 written atomically with the
source's sound track kept.

Frames are (H, W, 3) uint8 RGB arrays, read one at a time: a clip is never held in memory whole.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.images import load_rgb8

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".avi", ".webm")
WRITE_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")  # H.264 + AAC fit all of these containers
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
FOLDER_FPS = 24.0  # a folder of frames says nothing of its rate
# H.264 as the animation module writes it: visually lossless, playable everywhere (yuv420p, faststart).
X264 = ["-preset", "veryfast", "-crf", "18", "-movflags", "+faststart"]


@dataclass(frozen=True)
class VideoInfo:
    """What a clip is: frames per second, frame size, number of frames, and whether it has sound."""

    fps: float
    width: int
    height: int
    frames: int
    has_audio: bool


@dataclass(frozen=True)
class Clip:
    """A source of frames: a video file or a folder of images. `names` are the frames' names for
    frame-by-frame outputs (the folder's file names without suffix, or frame_000001 ...)."""

    path: Path
    info: VideoInfo
    names: tuple[str, ...]
    files: tuple[Path, ...] = ()  # a folder's images, in frame order

    @property
    def is_folder(self) -> bool:
        return bool(self.files)

    def frames(self) -> Iterator[np.ndarray]:
        """The frames in order, one (H, W, 3) uint8 array at a time."""
        if self.is_folder:
            for file in self.files:
                frame = load_rgb8(file)
                if frame.shape[:2] != (self.info.height, self.info.width):
                    raise BrushworkError(f"{file}: {frame.shape[1]}x{frame.shape[0]}, but the first frame of "
                                         f"{self.path} is {self.info.width}x{self.info.height}; the frames of a "
                                         "folder must all have one size")
                yield frame
        else:
            yield from read_frames(self.path)


def is_video(path: str | os.PathLike) -> bool:
    """Whether `path` names a video file (by its suffix)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_clip(path: str | os.PathLike) -> bool:
    """Whether `path` is a clip: a video file or a folder (of frames)."""
    return is_video(path) or Path(path).is_dir()


def _natural_key(path: Path) -> list:
    """frame2 before frame10: digits compared as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def open_clip(path: str | os.PathLike, fps: float | None = None) -> Clip:
    """The clip at `path`: a video file, or a folder whose images (sorted by name, numbers as
    numbers) are the frames, played at `fps` (default 24; a video keeps its own rate)."""
    path = Path(path)
    if path.is_dir():
        files = tuple(sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES),
                             key=_natural_key))
        if not files:
            raise BrushworkError(f"{path}: no frames in this folder (expected {', '.join(FRAME_SUFFIXES)} images)")
        height, width = load_rgb8(files[0]).shape[:2]
        info = VideoInfo(fps or FOLDER_FPS, width, height, len(files), has_audio=False)
        return Clip(path, info, tuple(f.stem for f in files), files)
    info = probe(path)
    if fps is not None:
        info = VideoInfo(fps, info.width, info.height, info.frames, info.has_audio)
    return Clip(path, info, tuple(f"frame_{i:06d}" for i in range(1, info.frames + 1)))


def probe(path: str | os.PathLike) -> VideoInfo:
    """Rate, size, frame count (counted by decoding: exact) and sound of a video file."""
    import imageio_ffmpeg  # ships its own ffmpeg; imported here to keep `import brushwork` light

    path = _readable(path)
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise BrushworkError(f"{path}: not a video ffmpeg can read ({_first_line(exc)})") from None
    finally:
        reader.close()
    try:
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except RuntimeError as exc:
        raise BrushworkError(f"{path}: cannot count its frames ({_first_line(exc)})") from None
    width, height = meta["size"]
    if not frames:
        raise BrushworkError(f"{path}: the video has no frames")
    return VideoInfo(float(meta["fps"]) or FOLDER_FPS, int(width), int(height), int(frames),
                     has_audio="audio_codec" in meta)


def read_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """The frames of a video file in order, (H, W, 3) uint8 RGB, one at a time."""
    import imageio_ffmpeg

    path = _readable(path)
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        try:
            meta = next(reader)
        except (OSError, RuntimeError, StopIteration) as exc:
            raise BrushworkError(f"{path}: not a video ffmpeg can read ({_first_line(exc)})") from None
        width, height = meta["size"]
        while True:
            try:
                data = next(reader)
            except StopIteration:
                return
            except RuntimeError as exc:
                raise BrushworkError(f"{path}: {_first_line(exc)}") from None
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
    finally:
        reader.close()  # stops ffmpeg when the caller stops early


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float,
                audio_from: str | os.PathLike | None = None) -> int:
    """Encode `frames` ((H, W, 3) uint8 RGB, all one size) as H.264 at `fps` into `path` (.mp4, .mov,
    .mkv, .m4v), with the sound track of the video `audio_from` when given (re-encoded as AAC, cut to
    the frames' length). Written atomically: an error or an interrupt leaves no file. Returns the
    number of frames. Odd sizes are rounded up to even ones (H.264 in yuv420p needs them)."""
    import imageio_ffmpeg

    path = Path(path)
    if path.suffix.lower() not in WRITE_SUFFIXES:
        raise BrushworkError(f"{path}: unknown video type {path.suffix or '(none)'!r}; expected "
                             f"{', '.join(WRITE_SUFFIXES)}")
    if not path.parent.is_dir():
        raise BrushworkError(f"cannot write {path}: no folder {path.parent}")
    if not fps > 0:
        raise BrushworkError(f"--fps {fps}: expected a number > 0")
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise BrushworkError(f"{path}: no frames to write")
    height, width = first.shape[:2]
    # ffmpeg needs a seekable file with the container's suffix; it is renamed into place when complete.
    fd, scratch = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    count = 0
    try:
        writer = imageio_ffmpeg.write_frames(
            scratch, (width, height), fps=Fraction(fps).limit_denominator(1001), codec="libx264", quality=None,
            macro_block_size=2, ffmpeg_log_level="error", output_params=[*X264, "-shortest"],
            audio_path=None if audio_from is None else str(audio_from), audio_codec="aac")
        writer.send(None)  # starts ffmpeg
        try:
            for frame in _same_size(first, iterator, path):
                writer.send(np.ascontiguousarray(frame, dtype=np.uint8))
                count += 1
        finally:
            writer.close()
        os.chmod(scratch, 0o644 & ~_umask())
        os.replace(scratch, path)
    except (OSError, RuntimeError) as exc:
        raise BrushworkError(f"ffmpeg could not encode {path}: {_first_line(exc)}") from None
    finally:
        Path(scratch).unlink(missing_ok=True)
    return count


def _same_size(first: np.ndarray, rest: Iterator[np.ndarray], path: Path) -> Iterator[np.ndarray]:
    yield first
    for index, frame in enumerate(rest, start=2):
        if frame.shape != first.shape:
            raise BrushworkError(f"{path}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, the first "
                                 f"{first.shape[1]}x{first.shape[0]}; a video's frames have one size")
        yield frame


def _readable(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise BrushworkError(f"{path}: no such file")
    return path


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.startswith("===")]
    return lines[0] if lines else type(exc).__name__


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
