"""A batch's items: the pictures named by files, folders and globs, and the outputs named after them.

`photo.jpg` becomes `OUTDIR/photo.svg` (paint; `.png`, `.json` and `photo.<animation type>` beside it
on request) or `OUTDIR/photo.png|jpg|webp` (stylize). Outputs are named by the input's stem alone, so
two inputs with the same stem (`a/photo.jpg` and `b/photo.jpg`, or `photo.jpg` and `photo.png`) would
write the same files: that is refused before any work, naming both, rather than guessed apart. An
output that would land on any input of the batch is refused the same way.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from brushwork.batch import manifest
from brushwork.batch.tasks import ClipTask, PaintTask, StyleTask, Task
from brushwork.errors import BrushworkError
from brushwork.video.frames import VIDEO_SUFFIXES

# Files a folder contributes (what Pillow reads and people keep photos as); a file named outright is
# taken whatever its suffix, and fails as one item if it is not a picture.
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
_GLOB = set("*?[")


@dataclass(frozen=True)
class Item:
    """One picture of a batch: its task, and where its completeness record goes."""

    name: str  # the input's stem: the outputs' and the record's name
    task: Task
    record: Path


def pictures(inputs: Iterable[str | os.PathLike], videos: bool = False) -> list[Path]:
    """The picture files named by `inputs`, in order, each once: a file as it is, a folder's pictures
    (and its videos, with `videos`; not its subfolders'), a glob's matches (`**` reaches into subfolders)."""
    wanted = PICTURE_SUFFIXES + (VIDEO_SUFFIXES if videos else ())
    found: list[Path] = []
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            matches = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in wanted)
            if not matches:
                raise BrushworkError(f"{path}: no pictures in this folder (looked for {', '.join(wanted)})")
        elif path.exists():
            matches = [path]
        elif _GLOB & set(str(spec)):
            matches = sorted(Path(p) for p in glob.glob(str(spec), recursive=True) if Path(p).is_file())
            if not matches:
                raise BrushworkError(f"{spec}: no files match")
        else:
            raise BrushworkError(f"{path}: no such file or folder")
        found.extend(matches)
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(os.path.realpath(path), path)  # a file named twice (a folder and a glob) is one item
    if not unique:
        raise BrushworkError("no inputs: name picture files, folders or globs")
    return list(unique.values())


def _identity(path: Path) -> set[object]:
    """Keys under which two spellings of one file meet: the resolved path, and the inode if it exists."""
    keys: set[object] = {os.path.normcase(os.path.realpath(path))}
    try:
        stat = path.stat()
        keys.add((stat.st_dev, stat.st_ino))
    except OSError:
        pass
    return keys


def plan(sources: Sequence[Path], outdir: Path, make: Callable[[Path, Path], Task]) -> list[Item]:
    """One item per source: `make(source, outdir / stem)` gives its task, whose outputs are then
    checked against every input of the batch and each other."""
    items: list[Item] = []
    by_name: dict[str, Path] = {}
    for source in sources:
        name = source.stem
        if name in by_name:
            raise BrushworkError(f"{by_name[name]} and {source} would both be written as {outdir / name}.*: "
                                 "rename one, or run them in separate batches with different -o folders")
        by_name[name] = source
        items.append(Item(name, make(source, outdir / name), manifest.record_path(outdir, name)))
    read: dict[object, Path] = {}
    for item in items:
        for path in item.task.inputs():
            read.update(dict.fromkeys(_identity(path), path))
    for item in items:
        for output in item.task.outputs():
            hit = next((read[key] for key in _identity(output) if key in read), None)
            if hit is not None:
                raise BrushworkError(f"{output} (from {item.task.inputs()[0]}) is the input file {hit}; choose "
                                     "another -o folder")
    return items


def paint_items(sources: Sequence[Path], outdir: Path, template: PaintTask, animation: str | None = None,
                chunk: int | None = None) -> list[Item]:
    """Paint items: `template` holds the settings and extras (png, json, style image) every item shares;
    `animation` is the animation's type (mp4, gif, webp, svg, html), written as OUTDIR/<name>.<type>
    (an animated SVG as <name>.animated.svg, beside the painting's <name>.svg). A video is painted
    into OUTDIR/<name>.mp4, `chunk` frames at a time when given (`ClipTask`), with the settings alone."""
    from dataclasses import replace

    suffix = None if animation is None else "." + animation.lower().lstrip(".")
    extras = suffix is not None or replace(template, animation=None) != PaintTask(template.image, template.output,
                                                                                    template.settings)

    def make(source: Path, stem: Path) -> Task:
        if source.suffix.lower() in VIDEO_SUFFIXES:
            if extras:
                raise BrushworkError(f"{source}: a video is painted into {stem}.mp4 with the paint settings alone; "
                                     "--png, --json, --animate, --style ... are for pictures (batch it separately)")
            return ClipTask(source, stem.with_name(stem.name + ".mp4"), template.settings, chunk)
        moving = None if suffix is None else stem.with_name(stem.name + (".animated.svg" if suffix == ".svg"
                                                                         else suffix))
        return replace(template, image=source, output=stem.with_name(stem.name + ".svg"), animation=moving)

    return plan(sources, outdir, make)


def style_items(sources: Sequence[Path], outdir: Path, template: StyleTask, image_format: str = "png"
                ) -> list[Item]:
    """Stylize items: `template` holds the styles and options; each writes OUTDIR/<name>.<image_format>."""
    from dataclasses import replace

    suffix = "." + image_format.lower().lstrip(".")
    return plan(sources, outdir, lambda source, stem: replace(template, content=source,
                                                              output=stem.with_name(stem.name + suffix)))
