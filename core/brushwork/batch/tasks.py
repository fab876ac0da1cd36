"""One picture in, its files out: the work of `brushwork paint` and `brushwork stylize` for one image.

The single commands run these with a progress bar; a batch runs the same functions once per item, in
this process, in worker processes or as Ray tasks. A task is a record of paths and settings (picklable),
`check()` refuses what would fail before any work (outputs over inputs, unknown types, missing
folders) and `run()` reads the inputs, computes and writes every output atomically.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brushwork.errors import BrushworkError, Terminated
from brushwork.files import atomic_write, load_strokes, refuse_collisions, save_png, save_strokes
from brushwork.previews import PreviewPacer
from brushwork.settings import PaintSettings, StyleOptions, validate_settings
from brushwork.strokes import MAX_STROKES, StrokeList

if TYPE_CHECKING:
    from brushwork.painter import Progress
    from brushwork.stylize import Models
    from brushwork.video import ClipResult

# Output types of a stylized picture and the Pillow format that writes each.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}

Log = Callable[[str], None]


@dataclass(frozen=True)
class PaintTask:
    """Paint `image` into the stroke SVG `output`, plus the PNG / JSON beside it and an animation
    when asked. `preview_every` K writes `<output>.preview.png` every K optimisation steps, less often
    where that would take more than a twentieth of the time (`brushwork.previews`)."""

    image: Path
    output: Path
    settings: PaintSettings = PaintSettings()
    resume: Path | None = None
    png: bool = False
    png_width: int | None = None
    json: bool = False
    animation: Path | None = None
    styles: tuple[Path, ...] = ()  # paint in their style, as settings.style_mode says
    mask: Path | None = None  # where the style applies (white) and not (black)
    preview_every: int | None = None

    @property
    def preview(self) -> Path:
        return self.output.with_suffix(".preview.png")

    def outputs(self) -> list[Path]:
        """The files a finished run writes (the preview, a by-product of progress, is not one)."""
        return ([self.output] + [self.output.with_suffix(s) for s, wanted in ((".png", self.png),
                                                                             (".json", self.json)) if wanted]
                + ([self.animation] if self.animation is not None else []))

    def inputs(self) -> list[Path]:
        return [self.image, *self.styles] + [p for p in (self.mask, self.resume) if p is not None]

    def check(self) -> None:
        """Bad settings, and every file this run writes against every file it reads and each other,
        before any file is read."""
        validate_settings(self.settings)
        if self.output.suffix.lower() != ".svg":
            raise BrushworkError(f"{self.output}: the painting is written as .svg (use --json and --png for the "
                                 "others)")
        refuse_collisions(
            [("output", self.output)]
            + [(f"--{suffix[1:]} output", self.output.with_suffix(suffix))
               for suffix, wanted in ((".png", self.png), (".json", self.json)) if wanted]
            + ([("--preview-every output", self.preview)] if self.preview_every else [])
            + ([("--animate", self.animation)] if self.animation else []),
            [("the photo", self.image)] + [("--style", style) for style in self.styles]
            + ([("--mask", self.mask)] if self.mask else []) + ([("--resume", self.resume)] if self.resume else []),
        )
        if self.animation is not None:
            from brushwork.animation import FORMATS

            kind = self.animation.suffix.lower()
            if kind not in FORMATS:
                raise BrushworkError(f"--animate {self.animation}: unknown animation type {kind or '(none)'!r}; "
                                     f"expected {', '.join(FORMATS)}")
        for path in [self.output] + ([self.animation] if self.animation else []):
            if not path.parent.is_dir():  # found now, not after minutes of painting
                raise BrushworkError(f"cannot write {path}: no folder {path.parent}")

    def run(self, progress: Callable[[Progress], bool | None] | None = None, log: Log | None = None) -> PaintResult:
        """Paint and write the outputs. A cancelled painting (the callback returned False, Ctrl-C,
        SIGTERM) still writes the strokes painted so far, not the animation, and says so in the result."""
        from brushwork import raster
        from brushwork.images import image_size, load_image, load_mask
        from brushwork.painter import PaintCancelled, paint as paint_strokes
        from brushwork.painter.restyle import STYLE_SIDE

        self.check()
        chosen = self.settings
        width, height = image_size(self.image)  # from the header: refuses pictures over the size limit unread
        previous = None
        if self.resume is not None:
            previous = load_strokes(self.resume)
            if abs(previous.width / previous.height - width / height) > 0.01:
                raise BrushworkError(f"--resume {self.resume}: its canvas {previous.width}x{previous.height} does "
                                     f"not have the aspect ratio of {self.image} ({width}x{height})")
            if len(previous) + chosen.strokes > MAX_STROKES:
                raise BrushworkError(f"--resume {self.resume}: its {len(previous):,} strokes and --strokes "
                                     f"{chosen.strokes:,} make more than the {MAX_STROKES:,} a painting holds")
        # The painter works at --working-size, so the photo is decoded no larger than that; its canvas
        # comes from the painting it continues, here a blank one of the photo's full size.
        picture = load_image(self.image, chosen.background, max_side=chosen.working_size)
        canvas = previous if previous is not None else StrokeList(width, height, (), chosen.background)
        if max(width, height) > chosen.working_size and log is not None:
            log(f"{self.image}: {width}x{height}, painting at {chosen.working_size} px on the long side; "
                f"the strokes are scaled to the full {width}x{height} canvas")
        pacer = PreviewPacer(every_steps=self.preview_every)

        def step(report: Progress) -> bool | None:
            if self.preview_every and pacer.due():
                with pacer.drawing():
                    save_png(report.preview(), self.preview, compress_level=1)  # written often: fast beats small
            return progress(report) if progress is not None else None

        # Every style image is read now, so a bad one fails (naming it) before any painting.
        styles = [load_image(style, max_side=STYLE_SIDE) for style in self.styles]
        mask = load_mask(self.mask) if self.mask is not None else None
        started = time.perf_counter()
        try:
            result = paint_strokes(picture, callback=step, resume=canvas, styles=styles, mask=mask,
                                   **dataclasses.asdict(chosen))
            cancelled = terminated = False
        except PaintCancelled as stop:
            result, cancelled = stop.strokes, True
            # The painter turns Ctrl-C (and SIGTERM) into PaintCancelled raised while handling it.
            terminated = isinstance(stop.__context__, Terminated)
        if previous is not None and previous.background is None:
            # The painter paints over paper (--background); the painting it continues stays transparent.
            result = StrokeList(result.width, result.height, result.strokes, None)
        save_strokes(result, self.output)
        if self.json:
            save_strokes(result, self.output.with_suffix(".json"))
        if self.png:
            save_png(raster.render(result, width=self.png_width), self.output.with_suffix(".png"))
        written = [p for p in self.outputs() if p != self.animation]
        if self.animation is not None and not cancelled:
            from brushwork.animation import animate

            animate(result, self.animation)
            written.append(self.animation)
        return PaintResult(result, tuple(written), time.perf_counter() - started, cancelled, terminated)


@dataclass(frozen=True)
class PaintResult:
    strokes: StrokeList
    written: tuple[Path, ...]
    seconds: float
    cancelled: bool = False
    terminated: bool = False  # cancelled by SIGTERM rather than Ctrl-C or the callback


@dataclass(frozen=True)
class StyleTask:
    """Stylize `content` with `styles` into the image `output` (.png, .jpg or .webp). `vgg` (and
    `decoder`) choose the user's own VGG-19 files over the default cd16x models."""

    content: Path
    styles: tuple[Path, ...]
    output: Path
    options: StyleOptions = StyleOptions()
    mask: Path | None = None
    vgg: Path | None = None
    decoder: Path | None = None

    def outputs(self) -> list[Path]:
        return [self.output]

    def inputs(self) -> list[Path]:
        return [self.content, *self.styles] + [p for p in (self.mask, self.vgg, self.decoder) if p is not None]

    def check(self) -> None:
        """Output type, files, and options, before any image or model is loaded."""
        suffix = self.output.suffix.lower()
        if suffix not in IMAGE_FORMATS:
            raise BrushworkError(f"{self.output}: unknown output type {suffix or '(none)'!r}; expected .png, .jpg "
                                 "or .webp")
        if self.decoder is not None and self.vgg is None:
            raise BrushworkError("--decoder needs --vgg (the vgg_normalised encoder it was trained with)")
        refuse_collisions([("output", self.output)],
                          [("the photo", self.content)] + [("--style", s) for s in self.styles]
                          + [(name, path) for name, path in (("--mask", self.mask), ("--vgg", self.vgg),
                                                             ("--decoder", self.decoder)) if path is not None])
        self.options.validate(len(self.styles))

    def models(self) -> Models:
        from brushwork.stylize import CD16xModels, VGGModels

        return VGGModels(self.vgg, self.decoder) if self.vgg is not None else CD16xModels()

    def run(self, progress: Callable[[float, str], None] | None = None, models: Models | None = None) -> StyleResult:
        """Stylize and write the output. `models` lets a caller that runs many tasks keep the networks
        loaded (they are kept per device inside the Models object)."""
        from PIL import Image

        from brushwork.images import image_size, load_mask, load_rgb8
        from brushwork.stylize import stylize

        self.check()
        if self.mask is not None:
            image_size(self.mask)  # the size limit, from the header, before the mask is decoded
        started = time.perf_counter()
        options = self.options
        # Decoded no larger than used: the content at --size (when smaller), the styles at --style-size.
        result = stylize(load_rgb8(self.content, max_side=options.size),
                         [load_rgb8(s, max_side=options.style_size) for s in self.styles], options,
                         mask=load_mask(self.mask) if self.mask else None, models=models or self.models(),
                         progress=progress)
        suffix = self.output.suffix.lower()
        buffer = io.BytesIO()
        Image.fromarray(result).save(buffer, format=IMAGE_FORMATS[suffix],
                                     **({"quality": 95} if suffix != ".png" else {}))
        atomic_write(self.output, buffer.getvalue())
        return StyleResult((result.shape[1], result.shape[0]), (self.output,), time.perf_counter() - started)


@dataclass(frozen=True)
class StyleResult:
    size: tuple[int, int]  # (width, height) of the written picture
    written: tuple[Path, ...]
    seconds: float


@dataclass(frozen=True)
class ClipTask:
    """Paint every frame of the video `source` into the video `output` (the paintings drawn at the
    frames' size, the sound kept): `chunk` frames at a time when given (`batch.chunks`; on a Ray cluster
    each chunk is a task), else as one warm-started run, as `brushwork paint clip.mp4` paints it."""

    source: Path
    output: Path
    settings: PaintSettings = PaintSettings()
    chunk: int | None = None

    def outputs(self) -> list[Path]:
        return [self.output]

    def inputs(self) -> list[Path]:
        return [self.source]

    def check(self) -> None:
        from brushwork.video.frames import WRITE_SUFFIXES

        validate_settings(self.settings)
        if self.output.suffix.lower() not in WRITE_SUFFIXES:
            raise BrushworkError(f"{self.output}: a painted clip is written as a video ({', '.join(WRITE_SUFFIXES)})")
        if self.chunk is not None and self.chunk < 1:
            raise BrushworkError(f"--chunk-frames {self.chunk}: expected a whole number >= 1")
        refuse_collisions([("output", self.output)], [("the clip", self.source)])
        if not self.output.parent.is_dir():
            raise BrushworkError(f"cannot write {self.output}: no folder {self.output.parent}")

    def run(self, paint: Callable | None = None) -> ClipResult:
        """Paint and write the video; `paint` (a `video.clip_jobs.FramePainter`) replaces the painting
        of the frames here (a Ray cluster's)."""
        from brushwork.batch.chunks import in_chunks
        from brushwork.video import paint_clip, paint_frames

        self.check()
        return paint_clip(self.source, self.output, self.settings,
                          paint=paint or (in_chunks(self.chunk) if self.chunk else paint_frames))


Task = PaintTask | StyleTask | ClipTask


def settings_record(task: Task) -> dict[str, Any]:
    """What a task computes with besides its files, as JSON-able values: two runs with equal records
    and equal input files make the same outputs. Paths are left out (the files are compared by content)."""
    record: dict[str, Any] = {"task": type(task).__name__}
    for f in dataclasses.fields(task):
        value = getattr(task, f.name)
        if isinstance(value, Path) or (isinstance(value, tuple) and value and isinstance(value[0], Path)):
            continue
        record[f.name] = dataclasses.asdict(value) if isinstance(value, PaintSettings | StyleOptions) else value
    return record
