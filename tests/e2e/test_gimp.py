"""End to end in the real GIMP 3 (batch mode, in the Debian 13 root that scripts/install_editors.sh
makes): the installed plug-in registers both procedures, and "Paint with strokes" and "Stylize" called
non-interactively on a selection add the right layers (and paths) through a real server on the host.
chroot shares the host's network: the plug-in inside reaches the server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
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

HERE = Path(__file__).parent
GIMP_ROOT = Path(os.environ.get("BRUSHWORK_GIMP_ROOT", "/var/lib/brushwork/gimp-root"))
W, H = 60, 44
SELECTION = (6, 4, 40, 32)
PAINT = {"brush": "tape", "strokes": 14, "seed": 1, "working-size": 64, "iterations": 5, "refine": False,
         "import-paths": True}
PAINTS = [{**PAINT, "brush": brush} for brush in ("oilbrush", "watercolor", "markerpen", "tape")]  # default first
TITLES = {"oilbrush": "oil brush", "watercolor": "watercolour", "markerpen": "marker pen", "tape": "tape"}
STYLIZE = {"method": "adain", "alpha": 0.9, "preserve-color": False}

pytestmark = pytest.mark.slow


@pytest.fixture
def gimp_root() -> Path:
    if not (GIMP_ROOT / "usr/bin/gimp-console-3.0").exists():
        pytest.fail(f"GIMP 3 is not installed in {GIMP_ROOT}: run `bash scripts/setup.sh test` as root "
                    "(it calls scripts/install_editors.sh)")
    if os.geteuid() != 0:
        pytest.fail("the GIMP end-to-end test needs root (chroot)")
    return GIMP_ROOT


@pytest.fixture
def server(tmp_path, weights_dir):
    """`brushwork serve` on the host, with its own state folder."""
    env = {**os.environ, "BRUSHWORK_STATE_DIR": str(tmp_path / "state"), "BRUSHWORK_LOG_DIR": str(tmp_path / "log"),
           "BRUSHWORK_WEIGHTS": str(weights_dir), "BRUSHWORK_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--idle-timeout", "600"],
                               stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().startswith("brushwork serving on ")
    yield tmp_path / "state"
    process.terminate()
    process.wait(timeout=30)


def test_paint_and_stylize_in_gimp_batch_mode(gimp_root, server, tmp_path, monkeypatch, style_image):
    # Everything GIMP sees lives in a fresh folder inside the root.
    inside = Path("/tmp") / f"brushwork-e2e-{uuid.uuid4().hex[:8]}"
    work = gimp_root / inside.relative_to("/")
    home = work / "home"
    try:
        install("gimp", home / ".config" / "GIMP" / "3.0" / "plug-ins")
        (work / "out").mkdir(parents=True)
        (work / "state").mkdir(mode=0o700)
        shutil.copy(server / "server.json", work / "state" / "server.json")  # the plug-in finds the host's server
        rgba = np.zeros((H, W, 4), np.uint8)
        rgba[..., :3] = np.linspace(30, 230, W, dtype=np.uint8)[None, :, None]
        rgba[:, :, 1] = 90
        rgba[..., 3] = 255
        Image.fromarray(rgba).save(work / "input.png")
        # any format GIMP opens: a JPEG style image goes through GIMP's own loader
        Image.open(style_image("composition_vii.jpg")).convert("RGB").resize((64, 64)).save(work / "style.jpg")
        shutil.copy(HERE / "gimp_job.py", work / "job.py")
        conf = {"image": str(inside / "input.png"), "style": str(inside / "style.jpg"), "out": str(inside / "out"),
                "selection": SELECTION, "paints": PAINTS, "stylize": STYLIZE}
        (work / "job.json").write_text(json.dumps(conf))

        start = time.monotonic()
        run = subprocess.run(
            ["chroot", str(gimp_root), "/usr/bin/env", "-i", f"HOME={inside / 'home'}", "PATH=/usr/bin:/bin",
             "LANG=C.UTF-8", f"BRUSHWORK_STATE_DIR={inside / 'state'}", f"BRUSHWORK_LOG_DIR={inside / 'log'}",
             f"BRUSHWORK_E2E={inside / 'job.json'}", "gimp-console-3.0", "-i",
             "--batch-interpreter=python-fu-eval", "-b", f"exec(open('{inside / 'job.py'}').read())", "--quit"],
            capture_output=True, text=True, timeout=400)
        elapsed = time.monotonic() - start
        assert run.returncode == 0, f"GIMP exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
        result = json.loads((work / "out" / "result.json").read_text())
        print(f"gimp e2e: {elapsed:.1f} s")

        assert result["procedures"] == {"brushwork-paint": True, "brushwork-stylize": True}
        assert result["menus"] == {"brushwork-paint": ["Paint with strokes…", ["<Image>/Filters/brushwork"]],
                                   "brushwork-stylize": ["Stylize…", ["<Image>/Filters/brushwork"]]}
        assert result["deep"] == {"status": "success", "error": None, "layers_added": 1}, result["deep"]
        for options in PAINTS:  # every stroke became one path
            assert result["paints"][options["brush"]] == {"status": "success", "error": None,
                                                          "paths": options["strokes"]}, result["paints"]
        assert result["stylize"] == {"status": "success", "error": None}, result
        assert result["no_style"]["status"] == "execution-error" and result["no_style"]["layers_added"] == 0
        assert "choose a style image" in result["no_style"]["error"], result["no_style"]
        # one named group per job (newest on top), holding its layer
        titles = [f"brushwork: {TITLES[p['brush']]}, {p['strokes']} strokes" for p in PAINTS]
        # (GIMP keeps layer names unique across the image: the later ones are "brushwork painting #2", ...)
        assert [(layer["group"], layer["name"].split(" #")[0]) for layer in result["layers"]] == [
            ("brushwork: AdaIN style", "brushwork stylized"),
            *[(title, "brushwork painting") for title in reversed(titles)], (None, "Background")]
        x, y, w, h = SELECTION
        for layer in result["layers"][:-1]:
            assert layer["offsets"] == [x, y] and layer["size"] == [w, h]

        monkeypatch.setenv("BRUSHWORK_STATE_DIR", str(server))
        bridge = Bridge(None, start=False)
        jobs = bridge.request("GET", "/jobs")
        assert [(j["kind"], j["state"]) for j in jobs] == [("paint", "done")] * len(PAINTS) + [
            ("stylize", "done"), ("paint", "done")]

        def pixels(layer):
            return np.frombuffer((work / "out" / layer["file"]).read_bytes(), np.uint8).reshape(h, w, 4)

        paintings = {layer["group"]: layer for layer in result["layers"]
                     if layer["name"].startswith("brushwork painting")}
        for options, title, job in zip(PAINTS, titles, jobs):
            strokes = svg.read(bridge.result_svg(job["id"]))
            assert len(strokes) == options["strokes"] and (strokes.width, strokes.height) == (w, h)
            assert {s.kind for s in strokes.strokes} == {options["brush"]}
            painting = pixels(paintings[title])
            np.testing.assert_array_equal(painting[..., :3], raster.render(strokes))  # RGBA the right way round
            assert (painting[..., 3] == 255).all()
            # GIMP's own filling of the paths traces the strokes within a pixel, at the selection's place
            # (paths are not cut at the selection: compare inside it, where the exact renderer draws)
            mask = np.frombuffer((work / "out" / f"{options['brush']}.paths.y8").read_bytes(), np.uint8)
            mask = mask.reshape(H, W)[y:y + h, x:x + w]
            exact = raster.render(strokes, transparent=True)[..., 3] >= 128
            assert not ((mask >= 192) & ~ndimage.binary_dilation(exact)).any(), options["brush"]
            assert not ((mask <= 64) & ndimage.binary_erosion(exact)).any(), options["brush"]
        stylized = pixels(result["layers"][0])
        expected = np.asarray(Image.open(io.BytesIO(bridge.result_png(jobs[len(PAINTS)]["id"]))).convert("RGBA"))
        np.testing.assert_array_equal(stylized, expected)
        # the job saw the selected part of the image: the gradient's mean brightness survives
        assert abs(stylized[..., :3].mean() - rgba[y:y + h, x:x + w, :3].mean()) < 60
    finally:
        shutil.rmtree(work, ignore_errors=True)
