"""Where model files come from: a registry of named, checksummed files and their resolution.

Resolution order for a registered file (`resolve`):

1. an explicit path the caller gives (used as is: users may point at their own files);
2. the `BRUSHWORK_WEIGHTS` directory, laid out like the registry paths (`cd16x/1SE.pth`, ...);
3. the user cache (`$XDG_CACHE_HOME/brushwork`, else `~/.cache/brushwork`), same layout;
4. a download from the registered URL into the cache, verified against its sha256.

Files from 2–4 are checked against their registered size and sha256 before use, so a truncated or
tampered file is refused rather than loaded. Set `BRUSHWORK_OFFLINE=1` to forbid downloads.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from brushwork.errors import BrushworkError

ENV_DIR = "BRUSHWORK_WEIGHTS"
ENV_OFFLINE = "BRUSHWORK_OFFLINE"
CHUNK = 1 << 16


class WeightsError(BrushworkError):
    """A model file that is missing, corrupt, or not in the expected layout."""


@dataclass(frozen=True)
class WeightFile:
    """One registered model file."""

    name: str  # registry name, e.g. "cd16x/5SE"
    path: str  # relative path inside BRUSHWORK_WEIGHTS / the cache, e.g. "cd16x/5SE.pth"
    url: str
    sha256: str
    size: int  # bytes
    licence: str
    description: str

    @property
    def group(self) -> str:
        return self.name.split("/", 1)[0]


_CD_COMMIT = "75c1b81c1dbea11c96d3fb04e96f207dee16dcbb"
_CD_URL = f"https://github.com/MingSun-Tse/Collaborative-Distillation/raw/{_CD_COMMIT}/trained_models/"
CD16X_LICENCE = (
    "MIT (c) 2020 Huan Wang; Collaborative Distillation for Ultra-Resolution Universal Style "
    "Transfer, Wang et al., CVPR 2020"
)
# (file, path in the upstream repository, bytes, sha256) — from shared/weights/SOURCES.md.
_CD16X = [
    ("1SE", "wct_se_16x_new/20191110-133713_E20.pth", 10271,
     "f74755a65164a88e0db8cbb7d99d7078b9fa505df0953fac5123bfc7c84e0ea4"),
    ("2SE", "wct_se_16x_new/20191110-132713_E20.pth", 52833,
     "cb654af6bae77176f8c7721c965483e865b987f2f1612dda1ba0d0b5c3819a61"),
    ("3SE", "wct_se_16x_new/20191110-132705_E20.pth", 231124,
     "269cdd0e2634e3e1e5d3005b9e7eca0f4cc8077653fee1ac8c0cf1cbe9ab8758"),
    ("4SE", "wct_se_16x_new/20191110-132643_E20.pth", 1235183,
     "d2f059cbcd6669556a43aadef58d20c8b280462c18b60a9e7424a14dd271cd6b"),
    ("5SE", "wct_se_16x_new/20191109-211322_E20.pth", 3862288,
     "9417c34d0d8d621bc6af78be745f1b8d30f5f210efa01e50655c60eb3770816b"),
    ("1SD", "wct_se_16x_new_sd/20191111-091942_E20.pth", 3220,
     "05f26ad40044c019da0cf731372d5bd2ee4b477825c7f45508da70b1cd5a95fd"),
    ("2SD", "wct_se_16x_new_sd/20191111-091932_E20.pth", 30672,
     "94dd26f0e69857f79bf284a43a3708aa05c09c2593427c7f6e400ad12ce314e6"),
    ("3SD", "wct_se_16x_new_sd/20191111-091929_E20.pth", 142014,
     "005faba27859435762a8a9386116c00629cd8835a01617d0a71defa577c42174"),
    ("4SD", "wct_se_16x_new_sd/20191111-092553_E20.pth", 881308,
     "902f65e2c6033d803d02df552eb898e5985190a7ae67d155e384826eec6f04cb"),
    ("5SD", "wct_se_16x_new_sd/20191110-204615_E20.pth", 3243622,
     "17fd0f81622f01366eb21cb4d40140ee38cf988ed6eaf266629709c397a8b485"),
]

_CD16X_FILES = {
    f"cd16x/{key}": WeightFile(
        name=f"cd16x/{key}",
        path=f"cd16x/{key}.pth",
        url=_CD_URL + upstream,
        sha256=digest,
        size=size,
        licence=CD16X_LICENCE,
        description=f"16x-compressed VGG-19 {'encoder' if key.endswith('E') else 'decoder'}, level {key[0]}",
    )
    for key, upstream, size, digest in _CD16X
}

_MICROAST_COMMIT = "d2796c7dbf01dbc29ed35b11675d87fcc640f969"
_MICROAST_URL = f"https://github.com/EndyWon/MicroAST/raw/{_MICROAST_COMMIT}/models/"
MICROAST_LICENCE = (
    "MIT (c) 2022 Zhizhong Wang; MicroAST: Towards Super-Fast Ultra-Resolution Arbitrary Style Transfer, "
    "Wang et al., AAAI 2023"
)
# (network, bytes, sha256) — from shared/weights/SOURCES.md; upstream names them <network>_iter_160000.pth.tar.
_MICROAST = [
    ("content_encoder", 634983, "c8d895c0eec52507c157e102fab217c37f0c399ef3e168ef8b0b2677714660a4"),
    ("style_encoder", 634983, "94f6b3fa386828692c20809a0af8bd0eba9c04e90a7d8842086976e4d223c5af"),
    ("modulator", 12158, "8588055baf7d5ad8398d595d5518c6f030e3ff8dbb6007a7c1779776e11da28b"),
    ("decoder", 619135, "32e04a46b953fd9f94ec9e20f351511305a5260e000c18f9aef6570d5f1e23d9"),
]
_MICROAST_FILES = {
    f"microast/{network}": WeightFile(
        name=f"microast/{network}",
        path=f"microast/{network}_iter_160000.pth.tar",
        url=f"{_MICROAST_URL}{network}_iter_160000.pth.tar",
        sha256=digest,
        size=size,
        licence=MICROAST_LICENCE,
        description=f"MicroAST {network.replace('_', ' ')}",
    )
    for network, size, digest in _MICROAST
}
REGISTRY: dict[str, WeightFile] = {**_CD16X_FILES, **_MICROAST_FILES}


def lookup(name: str) -> WeightFile:
    try:
        return REGISTRY[name]
    except KeyError:
        raise WeightsError(f"unknown weights {name!r}; expected one of: {', '.join(REGISTRY)}") from None


def select(names: Iterable[str]) -> list[WeightFile]:
    """Registry entries by name or group ("cd16x"); no names means all of them."""
    names = list(names)
    if not names:
        return list(REGISTRY.values())
    chosen: list[WeightFile] = []
    for name in names:
        group = [w for w in REGISTRY.values() if w.group == name]
        for entry in group or [lookup(name)]:
            if entry not in chosen:
                chosen.append(entry)
    return chosen


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "brushwork"


def env_dir() -> Path | None:
    value = os.environ.get(ENV_DIR)
    return Path(value).expanduser() if value else None


def offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").lower() not in ("", "0", "false", "no")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(entry: WeightFile, path: Path) -> None:
    """Raise WeightsError unless `path` has the registered size and sha256."""
    size = path.stat().st_size
    if size != entry.size:
        raise WeightsError(f"{path}: {size} bytes, expected {entry.size} for {entry.name} (truncated or wrong file)")
    digest = sha256_of(path)
    if digest != entry.sha256:
        raise WeightsError(f"{path}: sha256 {digest} does not match {entry.name}'s registered {entry.sha256}")


def locate(entry: WeightFile) -> Path | None:
    """A verified local copy (BRUSHWORK_WEIGHTS, then the cache), or None. Never downloads."""
    folder = env_dir()
    if folder is not None and (folder / entry.path).is_file():
        # A bad file in the user's own folder is an error, not something to silently skip or delete.
        verify(entry, folder / entry.path)
        return folder / entry.path
    cached = cache_dir() / entry.path
    if cached.is_file():
        try:
            verify(entry, cached)
        except WeightsError:
            cached.unlink(missing_ok=True)  # our own cache: a corrupt copy is replaced by a fresh download
            return None
        return cached
    return None


def resolve(name: str, explicit: str | os.PathLike | None = None, download: bool = True,
            progress: bool = True) -> Path:
    """The path of a usable copy of registered file `name`, downloading it if allowed."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsError(f"{path}: no such weights file")
        return path
    entry = lookup(name)
    found = locate(entry)
    if found is not None:
        return found
    places = ([f"${ENV_DIR}={env_dir()}"] if env_dir() else []) + [str(cache_dir())]
    if not download or offline():
        raise WeightsError(
            f"weights {entry.name} ({entry.path}) not found in {' or '.join(places)} and downloads are off "
            f"(offline); run `brushwork weights fetch {entry.group}` when online, or set ${ENV_DIR} to a folder "
            f"holding {entry.path}"
        )
    return fetch(entry, progress=progress)


def fetch(entry: WeightFile, progress: bool = True, opener: Callable = urllib.request.urlopen) -> Path:
    """Download `entry` into the user cache, verify it, and return its path.

    The download streams into a temporary file next to the destination; only a file whose sha256
    matches is renamed into place, anything else is removed, so the cache never holds a partial file.
    """
    dest = cache_dir() / entry.path
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise WeightsError(f"cannot write to the weights cache {dest.parent}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = opener(entry.url, timeout=60)
            except (urllib.error.URLError, OSError) as exc:
                if isinstance(exc, urllib.error.HTTPError):
                    reason = f"HTTP {exc.code} {exc.reason}"
                else:
                    reason = str(getattr(exc, "reason", None) or exc)
                raise WeightsError(
                    f"cannot download {entry.name} from {entry.url} ({reason}); when offline, set "
                    f"${ENV_DIR} to a folder holding {entry.path}"
                ) from None
            with response, tqdm(total=entry.size, unit="B", unit_scale=True, desc=entry.name,
                                disable=not progress, leave=False) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        if digest.hexdigest() != entry.sha256:
            raise WeightsError(
                f"download of {entry.name} from {entry.url} has sha256 {digest.hexdigest()}, expected "
                f"{entry.sha256}; the partial file was removed"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest
