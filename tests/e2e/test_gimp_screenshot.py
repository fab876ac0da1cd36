"""The README's GIMP screenshots, taken from the real GIMP 3 GUI (so they stay current): GIMP runs in
the Debian 13 root (scripts/install_editors.sh) on an Xvfb of the host that listens on TCP (the chroot
shares the host's network, not its X11 socket folder), under openbox for window frames. With the
installed plug-in and a server on the host, a batch command in the GUI paints the opened photo (the
result group and the strokes as paths, seen in the Layers and Paths dialogs: gimp-result.png), then
calls "Paint with strokes…" interactively: its dialog is cropped out of the screen with its frame
(gimp-paint-dialog.png). GIMP is killed after the shots; nothing it started is left running."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageGrab

from brushwork.plugin_install import install

import gimp_support
from conftest import BUNDLED_PHOTO
from gimp_support import wait_until

HERE = Path(__file__).parent
SHOTS = HERE.parents[1] / "docs" / "screenshots"
SCREEN = (1280, 800)
DIALOG = "Paint with strokes…"
PAINT = {"brushes": "oilbrush", "strokes": 300, "seed": 1, "working-size": 160, "iterations": 10,
         "refine-iterations": False, "import-paths": True}
GROUP = "brushwork: oil brush, 300 strokes"
TOOLS = ("Xvfb", "openbox", "xdotool", "xwininfo", "xprop")

pytestmark = pytest.mark.slow

# GIMP's profile: no welcome dialog (it shows for a config-version older than GIMP's), no colour
# profile question, no update check; one window filling the screen, with the Layers dialog above the
# Paths dialog on the right.
GIMPRC = """(config-version "{version}")
(show-welcome-dialog no)
(check-updates no)
(color-profile-policy keep)
(show-tips no)
"""
SESSIONRC = """(session-info "toplevel"
    (factory-entry "gimp-single-image-window")
    (position 0 0)
    (size 1278 775)
    (open-on-exit)
    (aux-info
        (left-docks-width "210")
        (right-docks-width "400")
        (maximized "no"))
    (gimp-toolbox
        (side left)
        (book
            (current-page 0)
            (dockable "gimp-tool-options"
                (tab-style automatic)
                (aux-info
                    (show-button-bar "true")))
            (dockable "gimp-undo-history"
                (tab-style automatic)
                (aux-info
                    (show-button-bar "true")))))
    (gimp-dock
        (side right)
        (book
            (current-page 0)
            (dockable "gimp-layer-list"
                (tab-style automatic)
                (preview-size 32)
                (aux-info
                    (show-button-bar "true"))))
        (book
            (position 330)
            (current-page 0)
            (dockable "gimp-vectors-list"
                (tab-style automatic)
                (preview-size 24)
                (aux-info
                    (show-button-bar "true"))))))
(hide-docks no)
(single-window-mode yes)
"""


@pytest.fixture
def gimp_root() -> Path:
    root = gimp_support.gimp_root("gimp-3.0")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `bash scripts/setup.sh test` (xvfb, openbox, xdotool, "
                    "x11-utils)")
    return root


@pytest.fixture
def server(tmp_path, weights_dir):
    """`brushwork serve` on the host, with its own state folder."""
    yield from gimp_support.serve(tmp_path, weights_dir)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def display(gimp_root, tmp_path):
    """An Xvfb on a free display number (Xvfb picks it: -displayfd), listening on TCP too, with openbox
    managing its windows; the pointer rests on the top edge, where no tooltip shows. Yields N."""
    read, write = os.pipe()
    with open(tmp_path / "xvfb.log", "w") as log:
        # -noreset: without it, a reset of the fresh server now and then turned openbox away
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-listen", "tcp", "-noreset", "-screen", "0",
                                 f"{SCREEN[0]}x{SCREEN[1]}x24"], pass_fds=(write,), stdout=log, stderr=log)
    os.close(write)
    openbox = None
    try:
        ready, _, _ = select.select([read], [], [], 20)
        number = os.read(read, 64).decode().strip() if ready else ""
        assert number.isdigit(), f"Xvfb did not start: {(tmp_path / 'xvfb.log').read_text()[-2000:]}"
        env = {**os.environ, "DISPLAY": f":{number}", "XDG_CONFIG_HOME": str(tmp_path / "openbox")}
        openbox = subprocess.Popen(["openbox", "--sm-disable"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        def managed():
            assert openbox.poll() is None, f"openbox exited {openbox.returncode}"
            return "_NET_SUPPORTING_WM_CHECK(WINDOW)" in _x(number, "xprop", "-root", "_NET_SUPPORTING_WM_CHECK")

        wait_until(managed, 20, "openbox to manage the screen")
        _x(number, "xdotool", "mousemove", str(SCREEN[0] // 2), "2")
        yield number
    finally:
        os.close(read)
        for process in (openbox, xvfb):
            if process is not None:
                _stop(process)


def _x(number: str, *command: str) -> str:
    """An X client of the host run against the display: its output."""
    run = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=20,
                         env={**os.environ, "DISPLAY": f":{number}"})
    return run.stdout


def _windows(number: str) -> dict[str, tuple[str, str]]:
    """id -> (name, WM_CLASS instance) of every named window on the screen."""
    found = {}
    for line in _x(number, "xwininfo", "-root", "-tree").splitlines():
        match = re.match(r'\s*(0x[0-9a-f]+) "(.*)": \("([^"]*)"', line)
        if match:
            found[match[1]] = (match[2], match[3])
    return found


def _window(number: str, name: str) -> str | None:
    """The id of the viewable window called `name`, if there is one."""
    for wid, (title, _) in _windows(number).items():
        if title == name and "Map State: IsViewable" in _x(number, "xwininfo", "-id", wid):
            return wid
    return None


def _frame(number: str, wid: str) -> tuple[int, int, int, int]:
    """The window with openbox's frame around it: (left, top, right, bottom) on the screen."""
    info = _x(number, "xwininfo", "-id", wid)

    def value(key):
        return int(re.search(rf"{key}:\s+(-?\d+)", info)[1])

    x, y, w, h = value("Absolute upper-left X"), value("Absolute upper-left Y"), value("Width"), value("Height")
    extents = re.search(r"= (\d+), (\d+), (\d+), (\d+)", _x(number, "xprop", "-id", wid, "_NET_FRAME_EXTENTS"))
    left, right, top, bottom = (int(v) for v in extents.groups()) if extents else (0, 0, 0, 0)
    return max(0, x - left), max(0, y - top), min(SCREEN[0], x + w + right), min(SCREEN[1], y + h + bottom)


def _settled_shot(number: str, timeout: float = 15) -> Image.Image:
    """The screen once it has stopped changing (GTK draws after mapping; thumbnails come later): two
    grabs half a second apart that differ in at most a text cursor's worth of pixels."""
    deadline = time.monotonic() + timeout
    last = np.asarray(ImageGrab.grab(xdisplay=f":{number}").convert("RGB"))
    while True:
        time.sleep(0.5)
        shot = ImageGrab.grab(xdisplay=f":{number}").convert("RGB")
        pixels = np.asarray(shot)
        if (pixels != last).any(axis=2).sum() <= 40 or time.monotonic() > deadline:
            return shot
        last = pixels


def _busy(pixels: np.ndarray) -> bool:
    """Not blank: many colours, and contrast."""
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    return len(colours) > 50 and float(pixels.std()) > 20


def _processes(inside: Path) -> list[int]:
    """Live processes that belong to this run of GIMP: its HOME, or its folder on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            env = (entry / "environ").read_bytes().split(b"\0")
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"HOME={inside}/home".encode() in env or str(inside).encode() in argv:
            found.append(int(entry.name))
    return found


def test_screenshots_of_gimp_with_the_plug_in(gimp_root, server, display, tmp_path):
    inside = Path("/tmp") / f"brushwork-shot-{uuid.uuid4().hex[:8]}"  # the folder GIMP sees
    work = gimp_root / inside.relative_to("/")
    config = work / "home" / ".config" / "GIMP" / "3.0"
    install("gimp", config / "plug-ins")
    version = subprocess.run(["chroot", str(gimp_root), "gimp-3.0", "--version"], capture_output=True, text=True,
                             timeout=60).stdout.split()[-1]
    (config / "gimprc").write_text(GIMPRC.format(version=version))
    (config / "sessionrc").write_text(SESSIONRC)
    (work / "out").mkdir()
    (work / "state").mkdir(mode=0o700)
    shutil.copy(server / "server.json", work / "state" / "server.json")  # the plug-in finds the host's server
    Image.open(BUNDLED_PHOTO).convert("RGB").save(work / "chelsea.png")
    (work / "job.json").write_text(json.dumps({"out": str(inside / "out"), "paint": PAINT}))
    shutil.copy(HERE / "gimp_screenshot_job.py", work / "job.py")
    command = ["chroot", str(gimp_root), "/usr/bin/env", "-i", f"HOME={inside / 'home'}", "PATH=/usr/bin:/bin",
               "LANG=C.UTF-8", f"DISPLAY=127.0.0.1:{display}", "NO_AT_BRIDGE=1",
               f"BRUSHWORK_STATE_DIR={inside / 'state'}", f"BRUSHWORK_LOG_DIR={inside / 'log'}",
               f"BRUSHWORK_E2E={inside / 'job.json'}", "gimp-3.0", "--no-splash",
               "--batch-interpreter=python-fu-eval", "-b", f"exec(open('{inside / 'job.py'}').read())",
               str(inside / "chelsea.png")]
    start = time.monotonic()
    log = open(tmp_path / "gimp.log", "w")
    gimp = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def out(name):
            assert gimp.poll() is None, f"GIMP exited {gimp.returncode}:\n{(tmp_path / 'gimp.log').read_text()[-3000:]}"
            path = work / "out" / name
            return json.loads(path.read_text()) if path.exists() else None

        # 1. after a batch-mode paint: the result group in the Layers dialog, the strokes in Paths
        painted = wait_until(lambda: out("painted.json"), 90, "the batch paint in GIMP's GUI", interval=0.2)
        print(f"gimp screenshot: painted {time.monotonic() - start:.1f} s after GIMP started")
        assert painted["menu"] == [DIALOG, ["<Image>/Filters/brushwork"]], painted  # Filters ▸ brushwork ▸ ...
        assert painted["paint"] == {"status": "success", "error": None}, painted
        assert painted["layers"] == [{"name": GROUP, "children": [{"name": "brushwork painting"}]},
                                     {"name": "chelsea.png"}], painted["layers"]
        assert len(painted["paths"]) == PAINT["strokes"]
        main = _window(display, next(title for title, _ in _windows(display).values()
                                     if "[chelsea]" in title and title.endswith("GIMP")))
        assert main is not None
        result = _settled_shot(display)
        assert result.size == SCREEN and _busy(np.asarray(result))

        # 2. the plug-in's dialog, called interactively
        (work / "out" / "go").write_text("")
        def shown():
            assert out("dialog.json") is None, out("dialog.json")  # the call returned: no dialog
            return _window(display, DIALOG)

        dialog = wait_until(shown, 60, f'the "{DIALOG}" dialog')
        assert _windows(display)[dialog][1] == "brushwork"  # the plug-in's window, not GIMP's
        time.sleep(0.5)
        shot = _settled_shot(display)
        left, top, right, bottom = box = _frame(display, dialog)
        print(f"gimp screenshot: dialog {right - left}x{bottom - top} at ({left}, {top}), "
              f"{time.monotonic() - start:.1f} s after GIMP started")
        assert 300 <= right - left <= 900 and 250 <= bottom - top <= 780, box
        cropped = shot.crop(box)
        pixels = np.asarray(cropped)
        assert _busy(pixels)
        # the dialog covers what was there before
        assert (pixels != np.asarray(result.crop(box))).any(axis=2).mean() > 0.3
        assert out("dialog.json") is None  # still open: the interactive call waits for it
    finally:
        if gimp.poll() is None:
            os.killpg(gimp.pid, signal.SIGKILL)
        gimp.wait()
        log.close()
        for pid in _processes(inside):  # anything GIMP started outside its process group
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while (left_over := _processes(inside)) and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(work, ignore_errors=True)
    assert left_over == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    result.save(SHOTS / "gimp-result.png", optimize=True)
    cropped.save(SHOTS / "gimp-paint-dialog.png", optimize=True)
