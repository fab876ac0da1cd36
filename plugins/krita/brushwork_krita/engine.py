"""Setting up the engine from inside Krita: a Python environment in the user's data folder with
PyTorch (the CPU build, or the CUDA one when an NVIDIA GPU is present) and brushwork, made the way
an artist installs anything else, by pressing a button. Standard library only (Krita's Python has no
pip of its own); the docker shows `EngineSetup`'s progress from a UI timer while its steps run in a
background thread, so Krita never waits on pip.

The brushwork wheel comes inside the release zip (`scripts/build_krita_plugin.py` puts it in
`engine/`); without one, brushwork is installed from the package index.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .bridge_client import BridgeError, EngineOptions, engine_env

MIN_PYTHON = (3, 11)
CPU_TORCH = ("torch", "--index-url", "https://download.pytorch.org/whl/cpu")
CUDA_TORCH = ("torch",)  # PyPI's Linux and Windows wheels carry CUDA


def engine_folder() -> Path:
    """Where the engine's environment lives: the user's data folder, never the plug-in folder (Krita
    replaces that on update)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "brushwork" / "engine"


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _hidden_window() -> dict:
    # no console window flashing up on Windows for every step
    return {"creationflags": subprocess.CREATE_NO_WINDOW} if sys.platform == "win32" else {}


def python_version(python: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter, or None when it does not run."""
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=20, env=engine_env(), **_hidden_window())
        major, minor = (int(v) for v in out.stdout.split())
        return major, minor
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def find_python() -> str | None:
    """A Python >= 3.11 on PATH that can make the engine's environment, newest first."""
    for name in ("python3.13", "python3.12", "python3.11", "python3", "python"):
        path = shutil.which(name)
        if path and (python_version(path) or (0, 0)) >= MIN_PYTHON:
            return path
    return None


def nvidia_gpu() -> str | None:
    """The name of an NVIDIA GPU the driver reports, or None."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20, **_hidden_window())
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return names[0] if out.returncode == 0 and names else None


def bundled_wheel(plugin_folder: Path) -> Path | None:
    """The brushwork wheel shipped in the release zip, if any (the newest by name)."""
    wheels = sorted((plugin_folder / "engine").glob("brushwork-*.whl"))
    return wheels[-1] if wheels else None


@dataclass(frozen=True)
class Step:
    label: str  # what the docker shows while it runs
    command: tuple[str, ...]
    weight: float  # share of the whole set-up's time, for the progress bar


@dataclass(frozen=True)
class EnginePlan:
    """What "Set up engine" will do, shown to the user before it starts."""

    python: str  # the interpreter that makes the environment
    folder: Path
    torch: tuple[str, ...]  # pip arguments that install PyTorch
    brushwork: str  # the wheel file, or the package name
    gpu: str | None

    @property
    def torch_build(self) -> str:
        if os.environ.get("BRUSHWORK_TORCH"):
            return f"PyTorch from BRUSHWORK_TORCH ({os.environ['BRUSHWORK_TORCH']})"
        return f"PyTorch with CUDA for {self.gpu}" if self.gpu else "PyTorch for the CPU (no NVIDIA GPU found)"

    @property
    def engine_python(self) -> Path:
        return venv_python(self.folder)

    def steps(self) -> list[Step]:
        pip = (str(self.engine_python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off")
        return [
            Step(f"making the environment in {self.folder}", (self.python, "-m", "venv", str(self.folder)), 0.05),
            Step(f"installing {self.torch_build} (a large download)", (*pip, *self.torch), 0.6),
            Step("installing brushwork", (*pip, self.brushwork), 0.3),
            Step("checking the engine", (str(self.engine_python), "-m", "brushwork", "--version"), 0.05),
        ]


def plan(plugin_folder: Path, python: str | None = None, gpu: str | None = None,
         folder: Path | None = None) -> EnginePlan:
    """The set-up for this machine. `python` defaults to the newest suitable one on PATH; the PyTorch
    build follows the GPU (BRUSHWORK_TORCH, pip arguments, overrides it, as for scripts/setup.sh)."""
    python = python or find_python()
    if python is None:
        raise EngineError("no Python 3.11 or newer found on PATH: install Python from python.org (or your "
                          "system's packages), or choose 'Use an existing Python'")
    override = os.environ.get("BRUSHWORK_TORCH")
    torch = tuple(shlex.split(override)) if override else CUDA_TORCH if gpu else CPU_TORCH
    wheel = bundled_wheel(plugin_folder)
    return EnginePlan(python, folder or engine_folder(), torch, str(wheel) if wheel else "brushwork", gpu)


class EngineError(Exception):
    """The engine cannot be set up or used; the message tells the user what to do."""


def check_engine(python: str) -> str | None:
    """Why `python` cannot run the engine (a message), or None when it can."""
    if not Path(python).exists():
        return f"{python} does not exist"
    try:
        out = subprocess.run([python, "-m", "brushwork", "--version"], capture_output=True, text=True, timeout=120,
                             env=engine_env(), **_hidden_window())
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{python} does not run ({exc})"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return f"brushwork is not installed for {python} ({last}); install it there with `{python} -m pip install " \
               "brushwork`, or set up the engine"
    return None


def read_options(python: str, timeout: float = 60.0) -> EngineOptions | None:
    """The engine's options document from `python -m brushwork options --json` (torch-free: quick, no
    server needed); None when that engine cannot say (an older brushwork, a broken install)."""
    try:
        out = subprocess.run([python, "-m", "brushwork", "options", "--json"], capture_output=True, timeout=timeout,
                             env=engine_env(), stdin=subprocess.DEVNULL, **_hidden_window())
        return EngineOptions.from_json(out.stdout) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, BridgeError):
        return None


@dataclass
class EngineSetup:
    """Runs a plan's steps one after the other in a background thread (`start()`); a UI reads
    `state`, `fraction`, `message` and `log` from a timer and may `cancel()` at any time."""

    plan: EnginePlan
    state: str = "ready"  # ready | running | done | failed | cancelled
    fraction: float = 0.0
    message: str = ""
    log: list[str] = field(default_factory=list)
    _process: subprocess.Popen | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def start(self) -> None:
        self.state = "running"
        self._thread = threading.Thread(target=self.run, name="brushwork-engine-setup", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def cancel(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.state, self.message = "cancelled", "set-up cancelled"
            if self._process is not None and self._process.poll() is None:
                self._process.kill()

    def run(self) -> None:
        """The steps in order (blocking); stops at the first failure or a cancel."""
        try:
            self._run()
        except Exception as exc:  # a bug must still end the set-up, not leave it "running" for ever
            with self._lock:
                self.state, self.message = "failed", f"{self.message}: {type(exc).__name__}: {exc}"
            if self._process is not None and self._process.poll() is None:
                self._process.kill()

    def _run(self) -> None:
        self.state = "running"
        done = 0.0
        for step in self.plan.steps():
            with self._lock:
                if self.state == "cancelled":
                    return
                self.message = step.label
                self.log.append(f"$ {' '.join(step.command)}")
                try:
                    # pip writes UTF-8 whatever the locale Krita runs in (seen: ASCII, which killed
                    # the reading thread on pip's first progress bar)
                    self._process = subprocess.Popen(step.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                     stdin=subprocess.DEVNULL, encoding="utf-8", errors="replace",
                                                     env=engine_env(), **_hidden_window())
                except OSError as exc:
                    self.state, self.message = "failed", f"{step.label}: cannot run {step.command[0]} ({exc})"
                    return
            assert self._process.stdout is not None
            for line in self._process.stdout:
                self.log.append(line.rstrip())
            code = self._process.wait()
            with self._lock:
                if self.state == "cancelled":
                    return
                if code != 0:
                    tail = next((line for line in reversed(self.log) if line.strip()), "")
                    self.state, self.message = "failed", f"{step.label} failed (exit code {code}): {tail}"
                    return
                done += step.weight
                self.fraction = min(1.0, done)
        self.state, self.fraction, self.message = "done", 1.0, f"the engine is ready: {self.plan.engine_python}"

