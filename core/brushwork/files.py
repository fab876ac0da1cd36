"""Reading and writing the files users keep: stroke lists (.svg, .json) and PNGs.

Every write goes to a temporary file in the target folder and is renamed into place, so a failed or
interrupted write never leaves a half-written file, and an existing file is only ever replaced whole.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from brushwork import svg
from brushwork.errors import BrushworkError, InvalidStrokeError, StrokeFileError
from brushwork.strokes import BRUSHES, Stroke, StrokeList, check_count

JSON_FORMAT = "brushwork-strokes"
JSON_VERSION = 1
STROKE_SUFFIXES = (".svg", ".json")


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as exc:
        raise BrushworkError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise BrushworkError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def to_json(strokes: StrokeList) -> str:
    """The versioned JSON schema: parameters by name, so files are readable and diffable."""
    doc = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "width": strokes.width,
        "height": strokes.height,
        "background": None if strokes.background is None else list(strokes.background),
        "strokes": [{"kind": s.kind, "params": s.as_dict()} for s in strokes.strokes],
    }
    return json.dumps(doc, indent=1) + "\n"


def from_json(text: str | bytes) -> StrokeList:
    # Every '{' opens an object and each stroke is two of them ({"kind", "params": {...}}): a cheap
    # upper bound on the strokes, so a file far over the limit is refused before json builds it.
    check_count(((text.count(b"{") if isinstance(text, bytes) else text.count("{")) - 1) // 2)
    try:
        doc = json.loads(text)
    except RecursionError:
        raise StrokeFileError("malformed JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, or an int past Python's digit limit
        raise StrokeFileError(f"malformed JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise StrokeFileError(f'not a brushwork stroke list (expected "format": "{JSON_FORMAT}")')
    version = doc.get("version")
    if isinstance(version, bool) or version != JSON_VERSION:  # true == 1 in Python
        raise StrokeFileError(
            f"stroke JSON version {version!r} is not supported; this brushwork reads "
            f"version {JSON_VERSION}"
        )
    for key in ("width", "height", "strokes"):
        if key not in doc:
            raise StrokeFileError(f'missing "{key}"')
    if not isinstance(doc["strokes"], list):
        raise StrokeFileError('"strokes" must be a list')
    check_count(len(doc["strokes"]))
    strokes = []
    for i, item in enumerate(doc["strokes"]):
        if not isinstance(item, dict) or not isinstance(item.get("params"), dict):
            raise StrokeFileError(f'stroke {i}: expected {{"kind": ..., "params": {{...}}}}')
        kind = item.get("kind")
        if not isinstance(kind, str) or kind not in BRUSHES:
            raise StrokeFileError(
                f"stroke {i}: unknown brush kind {kind!r}; expected one of {', '.join(BRUSHES)}"
            )
        try:
            strokes.append(Stroke.make(kind, **item["params"]))
        except InvalidStrokeError as exc:
            raise StrokeFileError(f"stroke {i}: {exc}") from None
    background = doc.get("background", [1.0, 1.0, 1.0])
    return StrokeList(doc["width"], doc["height"], tuple(strokes), background)


def _kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in STROKE_SUFFIXES:
        raise BrushworkError(
            f"{path}: unknown stroke file type {suffix or '(none)'!r}; expected .svg or .json"
        )
    return suffix


def load_strokes(path: str | os.PathLike) -> StrokeList:
    """Read a stroke list from a .svg or .json file; errors name the file."""
    path = Path(path)
    suffix = _kind_of(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BrushworkError(f"{path}: no such file") from None
    except OSError as exc:
        raise BrushworkError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return svg.read(data) if suffix == ".svg" else from_json(data)
    except BrushworkError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def save_strokes(strokes: StrokeList, path: str | os.PathLike) -> None:
    path = Path(path)
    text = svg.write(strokes) if _kind_of(path) == ".svg" else to_json(strokes)
    atomic_write(path, text.encode("utf-8"))


def save_png(pixels: np.ndarray, path: str | os.PathLike, *, compress_level: int = 6) -> None:
    """Save an (H, W, 3|4) uint8 array as PNG; `compress_level` is zlib's (0-9: 1 writes about 4 times
    as fast as the default 6, about 10 % larger)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=compress_level)
    atomic_write(path, buffer.getvalue())


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths reach the same file: the same inode when both exist (hard links, symlinks,
    any spelling), else the same path once symlinks, '..' and the working folder are resolved
    (an output that does not exist yet)."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass  # one of them does not exist (yet): compare where they lead
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def refuse_collisions(
    outputs: Sequence[tuple[str, str | os.PathLike]],
    inputs: Sequence[tuple[str | None, str | os.PathLike]] = (),
) -> None:
    """Refuse a run whose outputs would replace one of its inputs, or each other, before any work.

    Each item is (label, path); the labels name the option in the message ("--png output",
    "--style"; an input label of None says just "the input file"). Writing is atomic (temporary
    file + rename), so a replaced input would be gone whole, and two outputs of one run would
    leave only the last."""
    for i, (label, output) in enumerate(outputs):
        for source_label, source in inputs:
            if same_file(output, source):
                what = f" ({source_label})" if source_label else ""
                raise BrushworkError(
                    f"{label} {output} is the input file {source}{what}; choose another output path"
                )
        for earlier_label, earlier in outputs[:i]:
            if same_file(output, earlier):
                raise BrushworkError(
                    f"{earlier_label} {earlier} and {label} {output} are the same file; "
                    "choose different output paths"
                )


def refuse_overwriting_inputs(output: str | os.PathLike, *inputs: str | os.PathLike) -> None:
    """Outputs never replace an input file, whatever path spelling reaches it."""
    refuse_collisions([("output", output)], [(None, source) for source in inputs])
