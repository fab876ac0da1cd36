"""A throwaway Krita profile for the end-to-end tests: the environment that starts the real Krita
under Xvfb with its own HOME/XDG folders and plug-ins pre-enabled in kritarc."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is required: run `bash scripts/setup.sh test` (as root) to install the editors")
    return path


def krita_env(root: Path, plugins: list[str]) -> dict[str, str]:
    """Environment for a Krita whose profile lives in `root` with these pykrita plug-ins enabled (their
    files go to root/data/krita/pykrita). brushwork's own variables are dropped: the test sets them."""
    data, config = root / "data", root / "config"
    (data / "krita" / "pykrita").mkdir(parents=True, exist_ok=True)
    config.mkdir(exist_ok=True)
    (root / "home").mkdir(exist_ok=True)
    (config / "kritarc").write_text("[python]\n" + "".join(f"enable_{name}=true\n" for name in plugins))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BRUSHWORK_", "XDG_", "PYTHON")) and k != "VIRTUAL_ENV"}
    # Krita's embedded Python finds its prefix through PATH: an activated virtual environment
    # would hide the system's PyQt5 from it (seen: "No module named 'PyQt5'").
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep) if not d.startswith(venv))
    env.update(HOME=str(root / "home"), XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(config),
               XDG_CACHE_HOME=str(root / "cache"), QT_QPA_PLATFORM="xcb")
    return env


def add_plugin(root: Path, folder: Path) -> None:
    """Copy a pykrita plug-in (`folder` holds <name>.desktop and the <name>/ package) into the profile."""
    pykrita = root / "data" / "krita" / "pykrita"
    for item in folder.iterdir():
        if item.is_dir():
            shutil.copytree(item, pykrita / item.name)
        else:
            shutil.copy(item, pykrita)
