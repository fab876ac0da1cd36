"""`brushwork plugins install|uninstall krita|gimp`: copy an editor plug-in and the bridge client.

The plug-in gets `bridge_client.py` (a copy of brushwork/client.py: stdlib only, the editors'
Pythons have no torch), `install.json`, which records this interpreter so the plug-in can start
`python -m brushwork serve` from the environment brushwork is installed in, and `options.json`, the
engine's options document (`brushwork.settings.describe()`) as it is now: what the plug-in's dialogs
are built from when the engine cannot be asked (GIMP registers its procedures before any server
runs). Settings and logs are kept elsewhere (the editor's own settings, the user's cache folder), so
reinstalling or an editor update that replaces the folder loses nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from importlib.resources import as_file, files
from pathlib import Path

from brushwork import __version__, settings
from brushwork.client import log_file
from brushwork.errors import BrushworkError

KRITA_NAME = "brushwork_krita"
OPTIONS_SNAPSHOT = "options.json"  # the engine's options document, for when the engine cannot be asked
GIMP_NAME = "brushwork"  # GIMP registers a plug-in only if folder name == script name (without .py)


def _app_data(windows_var: str, mac: str, xdg_var: str, xdg_default: str) -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get(windows_var) or Path.home() / "AppData" / "Roaming")
    if sys.platform == "darwin":
        return Path.home() / "Library" / mac
    return Path(os.environ.get(xdg_var) or Path.home() / xdg_default)


def default_dest(editor: str) -> Path:
    if editor == "krita":
        return _app_data("APPDATA", "Application Support", "XDG_DATA_HOME", ".local/share") / "krita" / "pykrita"
    return _app_data("APPDATA", "Application Support", "XDG_CONFIG_HOME", ".config") / "GIMP" / "3.0" / "plug-ins"


def _installed_paths(editor: str, dest: Path) -> list[Path]:
    if editor == "krita":
        return [dest / f"{KRITA_NAME}.desktop", dest / KRITA_NAME]
    return [dest / GIMP_NAME]


def _check(editor: str) -> None:
    if editor not in ("krita", "gimp"):
        raise BrushworkError(f"unknown editor {editor!r}; expected krita or gimp")


def install(editor: str, dest: Path | None = None, python: str | None = None) -> list[str]:
    """Install the plug-in; returns what was done, one line each."""
    _check(editor)
    dest = Path(dest) if dest is not None else default_dest(editor)
    python = python or sys.executable
    sources = files("brushwork.editors") / editor
    done = []
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for path in _installed_paths(editor, dest):  # a clean copy: no files of an older version linger
            _remove(path)
        with as_file(sources) as source:
            if editor == "krita":
                shutil.copy2(source / f"{KRITA_NAME}.desktop", dest / f"{KRITA_NAME}.desktop")
                package = dest / KRITA_NAME
                shutil.copytree(source / KRITA_NAME, package, ignore=shutil.ignore_patterns("__pycache__"))
                done.append(f"copied the Krita plug-in to {dest / f'{KRITA_NAME}.desktop'} and {package}")
            else:
                package = dest / GIMP_NAME
                shutil.copytree(source / GIMP_NAME, package, ignore=shutil.ignore_patterns("__pycache__"))
                script = package / f"{GIMP_NAME}.py"
                script.chmod(0o755)  # GIMP silently skips plug-ins that are not executable
                done.append(f"copied the GIMP plug-in to {package} (made {script.name} executable)")
        with as_file(files("brushwork") / "client.py") as client:
            shutil.copy2(client, package / "bridge_client.py")
        (package / "install.json").write_text(json.dumps({"python": python, "version": __version__}, indent=1) + "\n",
                                              encoding="utf-8")
        write_options_snapshot(package)
    except OSError as exc:
        raise BrushworkError(f"cannot install into {dest}: {exc.strerror or exc}") from None
    done.append(f"added the bridge client; the plug-in starts the server with {python}")
    if editor == "krita":
        done.append("enable it in Krita: Settings > Configure Krita > Python Plugin Manager > brushwork, "
                    "then restart Krita")
    else:
        done.append("restart GIMP: Filters > brushwork > Paint with strokes... / Stylize...")
    done.append(f"server log: {log_file()}")
    return done


def write_options_snapshot(folder: Path) -> Path:
    """The engine's options document, as `brushwork options --json` prints it, into a plug-in folder."""
    path = folder / OPTIONS_SNAPSHOT
    path.write_text(json.dumps(settings.describe(), indent=1) + "\n", encoding="utf-8")
    return path


def uninstall(editor: str, dest: Path | None = None) -> list[str]:
    _check(editor)
    dest = Path(dest) if dest is not None else default_dest(editor)
    removed = []
    try:
        for path in _installed_paths(editor, dest):
            if path.exists() or path.is_symlink():
                _remove(path)
                removed.append(f"removed {path}")
    except OSError as exc:
        raise BrushworkError(f"cannot remove the plug-in from {dest}: {exc.strerror or exc}") from None
    if not removed:
        return [f"the {editor} plug-in is not installed in {dest}; nothing to do"]
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
