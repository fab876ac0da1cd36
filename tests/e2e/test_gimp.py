"""End to end in the real GIMP 3 (batch mode, in the Debian 13 root that scripts/install_editors.sh
makes): the installed plug-in registers both procedures, and "Paint with strokes" and "Stylize" called
non-interactively on a selection add the right layers (and paths) through a real server on the host;
they read the visible image (or, on request, the active layer alone); GIMP's Cancel, which kills the
plug-in, cancels the server's job within a second; without brushwork's engine the error names the
command that sets it up. chroot shares the host's network: the plug-in inside reaches the server on
127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from brushwork import raster, svg
from brushwork.client import Bridge
from brushwork.plugin_install import install

import gimp_support
from gimp_support import wait_until
from recording_proxy import RecordingProxy

HERE = Path(__file__).parent
W, H = 60, 44
SELECTION = (6, 4, 40, 32)
PAINT = {"brushes": "tape", "strokes": 14, "seed": 1, "working-size": 64, "iterations": 5, "refine-iterations": False,
         "import-paths": True}
PAINTS = [{**PAINT, "brushes": brush} for brush in ("oilbrush", "watercolor", "markerpen", "tape")]  # default first
TITLES = {"oilbrush": "oil brush", "watercolor": "watercolour", "markerpen": "marker pen", "tape": "tape"}
STYLIZE = {"method": "adain", "alpha": 0.9, "preserve-color": False}

pytestmark = pytest.mark.slow


@pytest.fixture
def gimp_root() -> Path:
    return gimp_support.gimp_root("gimp-console-3.0")


@pytest.fixture
def server(tmp_path, weights_dir):
    """`brushwork serve` on the host, with its own state folder."""
    yield from gimp_support.serve(tmp_path, weights_dir)


class GimpBatch:
    """A fresh folder inside the GIMP root (removed afterwards) with the plug-in installed in its own
    HOME, gimp_job.py as the batch code and a state folder; `command(conf)` is the chroot command line
    that runs the batch code with `conf` in GIMP's console."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inside = Path("/tmp") / f"brushwork-e2e-{uuid.uuid4().hex[:8]}"  # the path GIMP sees
        self.work = root / self.inside.relative_to("/")  # the same folder seen from here
        self.plugin = self.work / "home" / ".config" / "GIMP" / "3.0" / "plug-ins" / "brushwork"
        install("gimp", self.plugin.parent)
        (self.work / "out").mkdir(parents=True)
        (self.work / "state").mkdir(mode=0o700)
        shutil.copy(HERE / "gimp_job.py", self.work / "job.py")

    def use_server(self, doc: dict) -> None:
        """The state file the plug-in finds: a server on the host (chroot shares its network)."""
        fd = os.open(self.work / "state" / "server.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)

    def command(self, conf: dict) -> list[str]:
        (self.work / "job.json").write_text(json.dumps({"out": str(self.inside / "out"), **conf}))
        inside = self.inside
        return ["chroot", str(self.root), "/usr/bin/env", "-i", f"HOME={inside / 'home'}", "PATH=/usr/bin:/bin",
                "LANG=C.UTF-8", f"BRUSHWORK_STATE_DIR={inside / 'state'}", f"BRUSHWORK_LOG_DIR={inside / 'log'}",
                f"BRUSHWORK_E2E={inside / 'job.json'}", "gimp-console-3.0", "-i",
                "--batch-interpreter=python-fu-eval", "-b", f"exec(open('{inside / 'job.py'}').read())", "--quit"]

    def run(self, conf: dict, timeout: float = 400) -> dict:
        start = time.monotonic()
        run = subprocess.run(self.command(conf), capture_output=True, text=True, timeout=timeout)
        print(f"gimp e2e ({conf.get('scenario', 'paint')}): {time.monotonic() - start:.1f} s")
        assert run.returncode == 0, f"GIMP exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
        return self.result()

    def result(self) -> dict:
        return json.loads((self.work / "out" / "result.json").read_text())

    def log(self) -> str:
        path = self.work / "log" / "server.log"
        return path.read_text() if path.exists() else ""

    def processes(self, name: str) -> list[tuple[int, list[str]]]:
        """(pid, argv) of the processes running this folder's copy of plug-in file `name`."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if any(arg == str(self.inside / "home" / ".config" / "GIMP" / "3.0" / "plug-ins" / "brushwork" / name)
                   for arg in argv):
                found.append((int(entry.name), argv))
        return found


@pytest.fixture
def gimp(gimp_root):
    batch = GimpBatch(gimp_root)
    yield batch
    shutil.rmtree(batch.work, ignore_errors=True)


def _input_image(path: Path) -> np.ndarray:
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = np.linspace(30, 230, W, dtype=np.uint8)[None, :, None]
    rgba[:, :, 1] = 90
    rgba[..., 3] = 255
    Image.fromarray(rgba).save(path)
    return rgba


def test_paint_and_stylize_in_gimp_batch_mode(gimp, server, tmp_path, monkeypatch, style_image):
    work, inside = gimp.work, gimp.inside
    shutil.copy(server / "server.json", work / "state" / "server.json")  # the plug-in finds the host's server
    rgba = _input_image(work / "input.png")
    # any format GIMP opens: a JPEG style image goes through GIMP's own loader
    Image.open(style_image("composition_vii.jpg")).convert("RGB").resize((64, 64)).save(work / "style.jpg")
    # a trained style file of the user's own, at the same path inside GIMP's root and on the host (where the
    # server reads it)
    from test_trained_api import tiny_style

    own = Path(tiny_style(work / "own.pt"))
    (inside / "own.pt").parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(own, inside / "own.pt")
    trained = [{"model": "starry_night", "alpha": 0.9}, {"model-file": str(inside / "own.pt")}]
    conf = {"image": str(inside / "input.png"), "style": str(inside / "style.jpg"),
            "selection": SELECTION, "paints": PAINTS, "stylize": STYLIZE, "trained": trained}
    try:
        result = gimp.run(conf)
    finally:
        shutil.rmtree(inside, ignore_errors=True)  # the host's copy

    assert result["procedures"] == {"brushwork-paint": True, "brushwork-stylize": True}
    assert result["menus"] == {"brushwork-paint": ["Paint with strokes…", ["<Image>/Filters/brushwork"]],
                               "brushwork-stylize": ["Stylize…", ["<Image>/Filters/brushwork"]]}
    assert result["deep"] == {"status": "success", "error": None, "layers_added": 1}, result["deep"]
    for options in PAINTS:  # every stroke became one path
        assert result["paints"][options["brushes"]] == {"status": "success", "error": None,
                                                      "paths": options["strokes"]}, result["paints"]
    assert result["stylize"] == {"status": "success", "error": None}, result
    assert result["trained"] == [{"status": "success", "error": None}] * 2, result["trained"]
    assert result["no_style"]["status"] == "execution-error" and result["no_style"]["layers_added"] == 0
    assert "choose a style image" in result["no_style"]["error"], result["no_style"]
    # one named group per job (newest on top), holding its layer
    titles = [f"brushwork: {TITLES[p['brushes']]}, {p['strokes']} strokes" for p in PAINTS]
    # (GIMP keeps layer names unique across the image: the later ones are "brushwork painting #2", ...)
    assert [(layer["group"], layer["name"].split(" #")[0]) for layer in result["layers"]] == [
        ("brushwork: own style", "brushwork stylized"), ("brushwork: starry_night style", "brushwork stylized"),
        ("brushwork: AdaIN style", "brushwork stylized"),
        *[(title, "brushwork painting") for title in reversed(titles)], (None, "Background")]
    x, y, w, h = SELECTION
    for layer in result["layers"][:-1]:
        assert layer["offsets"] == [x, y] and layer["size"] == [w, h]

    monkeypatch.setenv("BRUSHWORK_STATE_DIR", str(server))
    bridge = Bridge(None, start=False)
    jobs = bridge.request("GET", "/jobs")
    assert [(j["kind"], j["state"]) for j in jobs] == [("paint", "done")] * len(PAINTS) + [
        ("stylize", "done")] * 3 + [("paint", "done")]

    def pixels(layer):
        return np.frombuffer((work / "out" / layer["file"]).read_bytes(), np.uint8).reshape(h, w, 4)

    paintings = {layer["group"]: layer for layer in result["layers"]
                 if layer["name"].startswith("brushwork painting")}
    for options, title, job in zip(PAINTS, titles, jobs[:len(PAINTS)], strict=True):
        strokes = svg.read(bridge.result_svg(job["id"]))
        assert len(strokes) == options["strokes"] and (strokes.width, strokes.height) == (w, h)
        assert {s.kind for s in strokes.strokes} == {options["brushes"]}
        painting = pixels(paintings[title])
        np.testing.assert_array_equal(painting[..., :3], raster.render(strokes))  # RGBA the right way round
        assert (painting[..., 3] == 255).all()
        # GIMP's own filling of the paths traces the strokes within a pixel, at the selection's place
        # (paths are not cut at the selection: compare inside it, where the exact renderer draws)
        mask = np.frombuffer((work / "out" / f"{options['brushes']}.paths.y8").read_bytes(), np.uint8)
        mask = mask.reshape(H, W)[y:y + h, x:x + w]
        exact = raster.render(strokes, transparent=True)[..., 3] >= 128
        assert not ((mask >= 192) & ~ndimage.binary_dilation(exact)).any(), options["brushes"]
        assert not ((mask <= 64) & ndimage.binary_erosion(exact)).any(), options["brushes"]
    def result_png(job):
        return np.asarray(Image.open(io.BytesIO(bridge.result_png(job["id"]))).convert("RGBA"))

    stylized = pixels(result["layers"][2])
    np.testing.assert_array_equal(stylized, result_png(jobs[len(PAINTS)]))
    # the trained styles' results, each in its own group (newest on top); they are not the AdaIN one
    for layer, job in zip(result["layers"][:2], reversed(jobs[len(PAINTS) + 1:len(PAINTS) + 3]), strict=True):
        np.testing.assert_array_equal(pixels(layer), result_png(job))
        assert np.abs(pixels(layer).astype(int) - stylized).mean() > 1
    # the job saw the selected part of the (visible) image: the gradient's mean brightness survives
    assert abs(stylized[..., :3].mean() - rgba[y:y + h, x:x + w, :3].mean()) < 60


COVER = {"rgba": [200, 30, 40, 255], "rect": [10, 8, 20, 16]}  # an opaque layer inside the selection
QUICK = {"brushes": "tape", "strokes": 6, "seed": 3, "working-size": 64, "iterations": 3, "refine-iterations": False,
         "import-paths": False}
LONG = {**QUICK, "strokes": 100, "iterations": 3000}  # minutes of work, to be cancelled


def _picture(submission: dict) -> np.ndarray:
    image = submission["image"]
    assert (image["encoding"], image["channels"]) == ("raw", "RGBA8")
    data = base64.b64decode(image["data"])
    return np.frombuffer(data, np.uint8).reshape(image["height"], image["width"], 4)


def test_gimp_reads_the_visible_image_and_its_cancel_stops_the_server_job(gimp, server, monkeypatch):
    """Input: by default the visible image (a hidden layer left out, an opaque layer in a group merged
    in); with "active-layer-only" one layer alone, its result in that layer's own stack. Cancel: GIMP's
    Cancel kills the plug-in (gimp_plug_in_close: GP_QUIT on the wire, 10 ms, SIGKILL); the plug-in's
    guard process cancels the server's job within a second, and the next job runs at once."""
    doc = json.loads((server / "server.json").read_text())
    proxy = RecordingProxy(doc["port"])  # sees the pixels the plug-in sends
    gimp.use_server({**doc, "port": proxy.port})
    rgba = _input_image(gimp.work / "input.png")
    conf = {"scenario": "layers", "image": str(gimp.inside / "input.png"), "selection": SELECTION, "cover": COVER,
            "paint": QUICK, "long": LONG}
    monkeypatch.setenv("BRUSHWORK_STATE_DIR", str(server))
    bridge = Bridge(None, start=False)
    process = subprocess.Popen(gimp.command(conf), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        # the long job (the fourth) is painting
        def long_job():
            jobs = bridge.request("GET", "/jobs")
            assert process.poll() is None, process.communicate()
            return jobs[3] if len(jobs) > 3 and jobs[3]["message"].startswith("painting") else None

        job = wait_until(long_job, 120, "the long job to paint", interval=0.05)
        assert job["state"] == "running"
        plug_ins = [pid for pid, argv in gimp.processes("brushwork.py") if "-run" in argv]
        guards = gimp.processes("cancel_guard.py")
        assert len(plug_ins) == 1 and len(guards) == 1, (plug_ins, guards)
        # What GIMP's Cancel does to a plug-in (gimp_plug_in_close): GP_QUIT, which a plug-in waiting
        # between its polls never reads, then SIGKILL. Nothing of the plug-in's own runs after it.
        os.kill(plug_ins[0], signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: bridge.status(job["id"]).state == "cancelled", 5, "the job to be cancelled", interval=0.005)
        took = time.monotonic() - killed
        print(f"gimp e2e: the server's job was cancelled {took * 1000:.0f} ms after the plug-in was killed")
        assert took < 1.0
        # the next job from GIMP does not wait behind the cancelled one
        def fifth_job():
            jobs = bridge.request("GET", "/jobs")
            return jobs[4] if len(jobs) > 4 else None

        following = wait_until(fifth_job, 60, "the next job", interval=0.005)
        # It may be seen queued for the moment the worker takes to drop the cancelled job; it starts
        # within seconds, not after the cancelled painting would have finished (minutes).
        def next_started():
            status = bridge.status(following["id"])
            return status if status.state in ("running", "done") else None

        started = wait_until(next_started, 10, "the next job to start", interval=0.05)
        assert started.position == 0, started
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"GIMP exited {process.returncode}:\n{stdout[-2000:]}\n{stderr[-3000:]}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        proxy.close()
    result = gimp.result()
    assert not gimp.processes("cancel_guard.py")  # every guard has gone
    # a plug-in killed from outside: GIMP's caller sees a calling error (after GIMP's own Cancel: "cancel")
    print(f"gimp e2e: the killed call returned {result['long']['status']}: {result['long']['error']}")
    assert result["long"]["status"] == "calling-error" and result["next"]["status"] == "success", result
    assert result["temporary"] == []
    assert f"job {job['id']}" in gimp.log() and "asked the server to cancel it: HTTP 200" in gimp.log()
    assert [(j["kind"], j["state"]) for j in bridge.request("GET", "/jobs")] == [
        ("paint", "done")] * 3 + [("paint", "cancelled"), ("paint", "done")]

    # what each job read: the visible image by default, one layer alone with "active-layer-only"
    assert all(result["layers_jobs"][k] == {"status": "success", "error": None} for k in result["layers_jobs"])
    x, y, w, h = SELECTION
    cx, cy, cw, ch = COVER["rect"]
    visible = rgba.copy()
    visible[cy:cy + ch, cx:cx + cw] = COVER["rgba"]  # the hidden green layer is not seen
    sent = [_picture(s) for s in proxy.submissions]
    assert len(sent) == 5
    np.testing.assert_array_equal(sent[0], visible[y:y + h, x:x + w])
    np.testing.assert_array_equal(sent[1], rgba[y:y + h, x:x + w])
    np.testing.assert_array_equal(sent[2], np.broadcast_to(np.uint8(COVER["rgba"]), (ch, cw, 4)))
    # results: on top of the image, or on top of the active layer's own stack
    title = f"brushwork: tape, {QUICK['strokes']} strokes"
    tree = result["tree"]
    assert [item["name"] for item in tree] == [f"{title} (2)", title, "hidden", "stack", "Background"]
    assert [item["name"] for item in tree[3]["children"]] == [f"{title} (3)", "cover"]
    for group, (gx, gy, gw, gh) in ((tree[1], (x, y, w, h)), (tree[0], (x, y, w, h)),
                                    (tree[3]["children"][0], (cx, cy, cw, ch))):
        assert group["children"][0]["offsets"] == [gx, gy] and group["children"][0]["size"] == [gw, gh], group


def test_gimp_without_the_engine_names_the_command_that_sets_it_up(gimp, tmp_path):
    """No server runs and install.json names no usable Python: the batch call fails with a message
    that carries the one command to run (interactively the same shows in a dialog with a "Copy
    command" button), and nothing is added to the image."""
    _input_image(gimp.work / "input.png")
    clone = gimp.work / "clone"  # a brushwork clone whose .venv has gone
    (clone / "scripts").mkdir(parents=True)
    (clone / "scripts" / "setup.sh").write_text("")
    pythons = {"gone": "/nowhere/brushwork/.venv/bin/python", "unset": None,
               "clone": str(gimp.inside / "clone" / ".venv" / "bin" / "python")}
    result = gimp.run({"scenario": "engine", "image": str(gimp.inside / "input.png"), "pythons": pythons,
                       "paint": QUICK})
    command = "bash scripts/setup.sh && .venv/bin/brushwork plugins install gimp"
    engine = result["engine"]
    assert all(outcome["status"] == "execution-error" for outcome in engine.values()), engine
    assert f"its Python {pythons['gone']} does not exist any more" in engine["gone"]["error"]
    assert "no brushwork Python is configured" in engine["unset"]["error"]
    for case in ("gone", "unset"):
        assert engine[case]["error"].endswith(f"in your brushwork folder (a clone of its repository), then run the "
                                              f"filter again: {command}"), engine[case]
    assert engine["clone"]["error"].endswith(f": cd {gimp.inside / 'clone'} && {command}"), engine["clone"]
    assert result["engine_layers"] == 1
    assert not gimp.processes("cancel_guard.py")
