"""Stroke-by-stroke playback of a painting: GIF, WebP, MP4, an animated SVG and an HTML player.

One `Timeline` drives every format: frame i of a clip at `fps` shows the first `count(i)` strokes,
from the bare canvas at frame 0 to the finished painting, which then stays up for the hold. The
raster formats draw their frames with `raster` onto one running canvas (each stroke drawn once, so
the cost is linear in the stroke count); the SVG and the HTML player show and hide the stroke SVG's
own elements on the same timeline, so every format shows the same prefix of strokes at any time.

The module is `brushwork.animation`; `brushwork.animate` is its entry point, `animate` below.
"""

from __future__ import annotations

import colorsys
import html
import io
import json
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from importlib.resources import files as package_files
from pathlib import Path

import svgwrite
from PIL import Image

from brushwork import brushes, raster, svg
from brushwork.errors import BrushworkError
from brushwork.files import atomic_write, load_strokes, refuse_overwriting_inputs
from brushwork.strokes import Stroke, StrokeList

FORMATS = {".gif": "GIF", ".webp": "WebP", ".mp4": "MP4", ".svg": "animated SVG", ".html": "HTML player"}
ORDERS = ("paint", "coarse-to-fine", "colour")
DEFAULT_FPS = 30.0
DEFAULT_DURATION = 10.0
DEFAULT_HOLD = 1.0  # at most: a clip shorter than 10 s holds for a tenth of its length
MAX_FPS = 120.0
# GIF delays are whole hundredths of a second and browsers play delays under 0.02 s at 0.1 s.
GIF_MAX_FPS = 50.0
# Pillow holds every GIF/WebP frame in memory until it writes the file.
MAX_FRAME_BYTES = 4 * 2**30
WHITE = (1.0, 1.0, 1.0)
# MP4 as browsers, phones and QuickTime play it: H.264, 4:2:0, BT.709 tagged. veryfast keeps a
# 1920 px clip well inside real time on two cores; crf 18 is visually lossless for paintings.
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
        "-vf", "scale=out_color_matrix=bt709:out_range=tv", "-colorspace", "bt709",
        "-color_primaries", "bt709", "-color_trc", "iec61966-2-1", "-movflags", "+faststart"]


@dataclass(frozen=True)
class Timeline:
    """When each stroke appears. The clip has `paint_frames` frames in which the strokes go down
    evenly, from none at frame 0 to all at the last of them, then `hold_frames` of the finished
    painting. Frame i is shown from time i / fps."""

    strokes: int
    fps: float
    paint_frames: int
    hold_frames: int

    @classmethod
    def plan(cls, strokes: int, fps: float, duration: float, hold: float | None = None) -> Timeline:
        """The timeline of a clip `duration` seconds long in total, the last `hold` of them on the
        finished painting (default: 1 s, or a tenth of a shorter clip); errors say which value to
        change."""
        if strokes < 1:
            raise BrushworkError("the painting has no strokes to animate")
        if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
            raise BrushworkError(f"fps must be a number in (0, {MAX_FPS:g}], got {fps}")
        if not (math.isfinite(duration) and duration > 0):
            raise BrushworkError(f"duration must be a positive number of seconds, got {duration}")
        if hold is None:
            hold = min(DEFAULT_HOLD, duration / 10)
        if not (math.isfinite(hold) and hold >= 0):
            raise BrushworkError(f"hold must be zero or more seconds, got {hold}")
        total = _round(duration * fps)
        held = _round(hold * fps)
        # Two frames at least: the bare canvas and the finished painting.
        if total - held < 2:
            shortest = (held + 2) / fps
            raise BrushworkError(
                f"duration {duration:g} s is too short for {fps:g} fps"
                + (f" with a {hold:g} s hold" if held else "")
                + f": painting needs at least 2 frames, so the duration must be at least {shortest:.3g} s"
            )
        return cls(strokes, float(fps), total - held, held)

    @property
    def frames(self) -> int:
        return self.paint_frames + self.hold_frames

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def count(self, frame: int) -> int:
        """Strokes visible in `frame`: i * n / (F - 1) rounded half up (the player's JavaScript
        uses the same integer formula)."""
        last = self.paint_frames - 1
        if frame >= last:
            return self.strokes
        return (2 * frame * self.strokes + last) // (2 * last)

    def first_frame(self, stroke: int) -> int:
        """The frame in which stroke number `stroke` (0-based) first shows: the least i with
        count(i) > stroke."""
        return -(-(2 * stroke + 1) * (self.paint_frames - 1) // (2 * self.strokes))

    def runs(self) -> list[tuple[int, int, int]]:
        """(strokes visible, first frame, frames) for each run of frames that show the same
        strokes; the hold belongs to the last run."""
        runs: list[tuple[int, int, int]] = []
        for frame in range(self.paint_frames):
            count = self.count(frame)
            if runs and runs[-1][0] == count:
                runs[-1] = (count, runs[-1][1], runs[-1][2] + 1)
            else:
                runs.append((count, frame, 1))
        count, first, length = runs[-1]
        runs[-1] = (count, first, length + self.hold_frames)
        return runs


@dataclass(frozen=True)
class Animation:
    """What `animate` wrote. `frames` counts the frames stored in the file: GIF and WebP keep one
    frame per change (a longer delay stands for repeats), MP4 keeps every frame, and the SVG and
    the HTML player count the timeline's frames."""

    path: Path
    format: str
    width: int
    height: int
    frames: int
    seconds: float
    strokes: int
    order: str


def _round(x: float) -> int:
    """Half up, not to even: frame boundaries must not depend on parity."""
    return math.floor(x + 0.5)


# --- orders -------------------------------------------------------------------------------------


def stroke_area(stroke: Stroke) -> float:
    """Roughly the area a stroke covers, in canvas pixels squared (ranks strokes by size)."""
    return brushes.get(stroke.kind).area(stroke)


def stroke_colour(stroke: Stroke) -> tuple[float, float, float]:
    """The stroke's mean colour (gradient strokes: the middle of their two ends)."""
    return brushes.get(stroke.kind).colour(stroke)


def colour_group(stroke: Stroke) -> int:
    """One of 12 hue families (0-11), or for greys one of three lightness bands (12-14)."""
    hue, saturation, value = colorsys.rgb_to_hsv(*stroke_colour(stroke))
    if saturation < 0.15 or value < 0.12:
        return 12 + min(2, int(value * 3))
    return int(hue * 12) % 12


def order_strokes(strokes: StrokeList, order: str) -> StrokeList:
    """The strokes in the order the animation paints them.

    - `paint`: as painted (the animation ends on exactly the painting);
    - `coarse-to-fine`: largest strokes first (ties keep paint order);
    - `colour`: one colour family after another, families in the order they first appear, each
      in paint order.

    The last two repaint in a new order, so where strokes overlap the finished frame can differ
    from the painting: it is the painting of the reordered list.
    """
    if order not in ORDERS:
        raise BrushworkError(f"unknown order {order!r}; expected one of {', '.join(ORDERS)}")
    items = list(strokes.strokes)
    if order == "coarse-to-fine":
        items.sort(key=stroke_area, reverse=True)  # stable: equal sizes stay in paint order
    elif order == "colour":
        first_seen: dict[int, int] = {}
        for i, s in enumerate(items):
            first_seen.setdefault(colour_group(s), i)
        items.sort(key=lambda s: first_seen[colour_group(s)])
    return strokes.with_strokes(items)


# --- entry point --------------------------------------------------------------------------------


def animate(
    strokes: StrokeList | str | os.PathLike,
    path: str | os.PathLike,
    *,
    fps: float = DEFAULT_FPS,
    duration: float = DEFAULT_DURATION,
    width: int | None = None,
    hold: float | None = None,
    order: str = "paint",
) -> Animation:
    """Write a stroke-by-stroke animation of `strokes` (a StrokeList, or a .svg/.json stroke file)
    to `path`; the suffix picks the format: .gif, .webp, .mp4, .svg (plays with no script) or
    .html (a self-contained player).

    `duration` is the whole clip in seconds, the last `hold` of them on the finished painting
    (default: 1 s, or a tenth of a clip shorter than 10 s);
    `fps` sets the frame rate (strokes per frame follow); `width` the output width in pixels
    (height follows; default the canvas width). Transparent canvases are shown over white in GIF,
    WebP and MP4 and stay transparent in SVG and HTML. The file is written atomically.
    """
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in FORMATS:
        raise BrushworkError(
            f"{path}: unknown animation type {kind or '(none)'!r}; expected "
            + ", ".join(FORMATS)
        )
    source = ""
    if not isinstance(strokes, StrokeList):
        source = f"{strokes}: "
        refuse_overwriting_inputs(path, strokes)
        strokes = load_strokes(strokes)
    folder = path.parent
    if not folder.is_dir():
        raise BrushworkError(f"cannot write {path}: no folder {folder}")
    if kind == ".gif" and fps > GIF_MAX_FPS:
        raise BrushworkError(
            f"GIF plays at most {GIF_MAX_FPS:g} fps (its delays are hundredths of a second and "
            f"browsers slow shorter ones down); use fps {GIF_MAX_FPS:g} or less, or .webp / .mp4"
        )
    if not strokes.strokes:
        raise BrushworkError(f"{source}the painting has no strokes to animate")
    timeline = Timeline.plan(len(strokes), fps, duration, hold)
    ordered = order_strokes(strokes, order)
    out_w, out_h = _frame_size(ordered, width, even=kind == ".mp4")
    writer = {".gif": _write_gif, ".webp": _write_webp, ".mp4": _write_mp4,
              ".svg": _write_svg, ".html": _write_html}[kind]
    frames = writer(ordered, timeline, (out_w, out_h), path)
    return Animation(path, FORMATS[kind], out_w, out_h, frames, timeline.seconds, len(ordered), order)


def _frame_size(strokes: StrokeList, width: int | None, *, even: bool) -> tuple[int, int]:
    out_w, out_h = raster.output_size(strokes, width=width)
    if even:
        # H.264 in 4:2:0 needs even sides; the height moves by under a pixel to get there.
        if width is not None and width % 2:
            raise BrushworkError(
                f"MP4 frames need an even width (H.264, 4:2:0); use width {width - 1} or {width + 1}"
            )
        out_w = max(2, out_w - out_w % 2)
        out_h = max(2, 2 * _round(out_w * strokes.height / strokes.width / 2))
    return out_w, out_h


# --- raster formats -----------------------------------------------------------------------------


def _over_white(strokes: StrokeList) -> StrokeList:
    if strokes.background is not None:
        return strokes
    return StrokeList(strokes.width, strokes.height, strokes.strokes, WHITE)


def _drawn_runs(
    strokes: StrokeList, timeline: Timeline, size: tuple[int, int]
) -> Iterator[tuple[raster.RasterCanvas, int, int]]:
    """(canvas, first frame, frames) per run: one running canvas, each stroke drawn once."""
    canvas = raster.RasterCanvas(
        strokes.width, strokes.height, out_width=size[0], out_height=size[1],
        background=_over_white(strokes).background,
    )
    drawn = 0
    for count, first, length in timeline.runs():
        for stroke in strokes.strokes[drawn:count]:
            canvas.draw(stroke)
        drawn = count
        yield canvas, first, length


def _durations_ms(timeline: Timeline, tick_ms: int) -> list[int]:
    """Each run's delay in whole ticks, rounded at the run boundaries so the clip keeps its length
    (30 fps GIF: 30, 30, 40 ms, ... rather than 30 ms throughout)."""
    def at(frame: int) -> int:
        return _round(frame * 1000 / timeline.fps / tick_ms) * tick_ms

    return [at(first + length) - at(first) for _, first, length in timeline.runs()]


def _check_memory(timeline: Timeline, size: tuple[int, int], bytes_per_pixel: int, name: str) -> None:
    needed = len(timeline.runs()) * size[0] * size[1] * bytes_per_pixel
    if needed > MAX_FRAME_BYTES:
        raise BrushworkError(
            f"{name} holds every frame in memory: {len(timeline.runs())} frames at "
            f"{size[0]}x{size[1]} need {needed / 2**30:.1f} GiB; lower the width or fps, or use .mp4"
        )


def _gif_palette(strokes: StrokeList, size: tuple[int, int]) -> Image.Image:
    """One palette for every frame, so colours do not flicker from frame to frame: the finished
    painting drawn small (256 px) quantised to 255 colours, plus the exact canvas colour (the
    first frame is all canvas, and median cut would shade it)."""
    small = Image.fromarray(raster.render(strokes, width=min(256, size[0])))
    quantised = small.quantize(colors=255, method=Image.Quantize.MEDIANCUT).getpalette()
    assert quantised is not None  # quantize() makes a "P" image: it has a palette
    assert strokes.background is not None  # _write_gif draws over white
    background = [round(c * 255) for c in strokes.background]
    # Pillow maps colours through a cache of 4-level cells, measuring from a cell corner, so a
    # median-cut entry within a few levels of the canvas colour would win over the canvas colour
    # itself; beyond 8 levels it cannot (9 levels in one channel > 3 x 3 levels off the corner).
    entries = [quantised[i : i + 3] for i in range(0, len(quantised), 3)]
    kept = [e for e in entries if max(abs(a - b) for a, b in zip(e, background, strict=True)) > 8]
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for e in kept[:255] for v in e] + background)
    return palette


def _write_gif(strokes: StrokeList, timeline: Timeline, size: tuple[int, int], path: Path) -> int:
    _check_memory(timeline, size, 1, "GIF")
    strokes = _over_white(strokes)
    palette = _gif_palette(strokes, size)
    # No dithering: error diffusion would re-dither the whole frame below every new stroke.
    frames = [
        Image.fromarray(canvas.to_rgb()).quantize(palette=palette, dither=Image.Dither.NONE)
        for canvas, _, _ in _drawn_runs(strokes, timeline, size)
    ]
    return _save_pillow(frames, "GIF", path, duration=_durations_ms(timeline, 10), optimize=False)


def _write_webp(strokes: StrokeList, timeline: Timeline, size: tuple[int, int], path: Path) -> int:
    _check_memory(timeline, size, 3, "WebP")
    frames = [Image.fromarray(canvas.to_rgb()) for canvas, _, _ in _drawn_runs(strokes, timeline, size)]
    return _save_pillow(frames, "WEBP", path, duration=_durations_ms(timeline, 1), quality=90, method=4)


def _save_pillow(frames: list[Image.Image], fmt: str, path: Path, **options: object) -> int:
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:], loop=0, **options)
    atomic_write(path, buffer.getvalue())
    return len(frames)


def _write_mp4(strokes: StrokeList, timeline: Timeline, size: tuple[int, int], path: Path) -> int:
    import imageio_ffmpeg  # ships its own ffmpeg binary; imported here to keep `import brushwork` light

    width, height = size
    rate = _rate(timeline.fps)
    with tempfile.TemporaryDirectory(prefix="brushwork-mp4-") as scratch:
        # ffmpeg needs a seekable file (the moov atom goes first for +faststart); the finished
        # file then reaches `path` through atomic_write, so a failed run leaves nothing behind.
        video, log_path = Path(scratch) / "clip.mp4", Path(scratch) / "ffmpeg.log"
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-v", "error",
            "-f", "rawvideo", "-pix_fmt", "bgra", "-s", f"{width}x{height}", "-r", rate, "-i", "-",
            *X264, "-r", rate, "-f", "mp4", str(video),
        ]
        # stderr goes to a file: a pipe nobody reads while frames are written could fill and hang.
        with open(log_path, "wb") as log:
            encoder = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=log)
            assert encoder.stdin is not None  # stdin=PIPE
            try:
                with encoder.stdin as pipe:
                    for canvas, _, length in _drawn_runs(strokes, timeline, size):
                        canvas.surface.flush()
                        # cairo's ARGB32 rows are B, G, R, A bytes with no padding: ffmpeg reads
                        # the surface as it is, no conversion or copy in Python.
                        assert canvas.surface.get_stride() == 4 * width
                        pixels = canvas.surface.get_data()
                        for _ in range(length):
                            pipe.write(pixels)
            except BrokenPipeError:
                pass  # ffmpeg stopped early; its exit status and message follow
            except BaseException:
                encoder.kill()
                raise
            finally:
                encoder.wait()
        if encoder.returncode != 0:
            # ffmpeg names the cause first and the consequence last: keep both, on one line.
            lines = [re.sub(r"^\[[^]]*\] ", "", line)
                     for line in log_path.read_text(errors="replace").strip().splitlines()]
            reason = "; ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else f"exit status {encoder.returncode}"
            raise BrushworkError(f"ffmpeg could not encode {path}: {reason}")
        atomic_write(path, video.read_bytes())
    return timeline.frames


def _rate(fps: float) -> str:
    """fps as ffmpeg's exact fraction (29.97 -> 2997/100)."""
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


# --- SVG and HTML -------------------------------------------------------------------------------


def _key_time(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _sized_drawing(strokes: StrokeList, size: tuple[int, int]) -> svgwrite.Drawing:
    """The stroke SVG shown at `size` pixels (its viewBox stays in canvas pixels)."""
    dwg = svg.drawing(strokes)
    dwg["width"], dwg["height"] = size
    return dwg


def animated_svg(strokes: StrokeList, timeline: Timeline, size: tuple[int, int]) -> str:
    """The stroke SVG with SMIL timing: each stroke element gets an <animate> of its visibility,
    hidden from the start of the loop until its frame. Viewers without SMIL show the finished
    painting, and brushwork reads the file back as the same stroke list."""
    dwg = _sized_drawing(strokes, size)
    cycle = f"{timeline.frames / timeline.fps:.6g}s"
    elements = [e for e in dwg.elements if "data-brush" in e.attribs]
    for index, element in enumerate(elements):
        appears = timeline.first_frame(index) / timeline.frames
        element.add(dwg.animate(
            attributeName="visibility", values="hidden;visible", keyTimes=f"0;{_key_time(appears)}",
            dur=cycle, calcMode="discrete", repeatCount="indefinite",
        ))
    return svg.to_text(dwg)


def _write_svg(strokes: StrokeList, timeline: Timeline, size: tuple[int, int], path: Path) -> int:
    atomic_write(path, animated_svg(strokes, timeline, size).encode("utf-8"))
    return timeline.frames


def player_html(strokes: StrokeList, timeline: Timeline, size: tuple[int, int], title: str) -> str:
    """A self-contained page: the stroke SVG inline, and a player that shows the first k of its
    elements on the timeline (play/pause, scrub, speed, loop, stroke counter, downloads)."""
    template = (package_files("brushwork") / "data" / "player.html").read_text(encoding="utf-8")
    config = {
        "strokes": timeline.strokes,
        "fps": timeline.fps,
        "paintFrames": timeline.paint_frames,
        "holdFrames": timeline.hold_frames,
        "width": size[0],
        "height": size[1],
        "name": title,
    }
    # The name is the only text in the JSON: escaping "</" keeps it from closing the <script>.
    fills = {
        "TITLE": html.escape(title),
        "CONFIG": json.dumps(config).replace("</", "<\\/"),
        "SVG": _sized_drawing(strokes, size).tostring(),
    }
    # One pass, so text filled in is never searched for further markers.
    return re.sub(r"@@(TITLE|CONFIG|SVG)@@", lambda m: fills[m.group(1)], template)


def _write_html(strokes: StrokeList, timeline: Timeline, size: tuple[int, int], path: Path) -> int:
    atomic_write(path, player_html(strokes, timeline, size, path.stem).encode("utf-8"))
    return timeline.frames
