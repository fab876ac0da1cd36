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

from brushwork import raster, svg
from brushwork.client import Bridge
from brushwork.plugin_install import install
from conftest import SHARED

HERE = Path(__file__).parent
GIMP_ROOT = Path(os.environ.get("BRUSHWORK_GIMP_ROOT", "/var/lib/brushwork/gimp-root"))
W, H = 60, 44
SELECTION = (6, 4, 40, 32)
PAINT = {"brush": "tape", "strokes": 14, "seed": 1, "working-size": 64, "iterations": 5, "refine": False,
         "import-paths": True}
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
def server(tmp_path):
    """`brushwork serve` on the host, with its own state folder."""
    env = {**os.environ, "BRUSHWORK_STATE_DIR": str(tmp_path / "state"), "BRUSHWORK_LOG_DIR": str(tmp_path / "log"),
           "BRUSHWORK_WEIGHTS": str(SHARED / "weights"), "BRUSHWORK_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--idle-timeout", "600"],
                               stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().startswith("brushwork serving on ")
    yield tmp_path / "state"
    process.terminate()
    process.wait(timeout=30)


def test_paint_and_stylize_in_gimp_batch_mode(gimp_root, server, tmp_path, monkeypatch):
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
        style = sorted((SHARED / "images" / "style").iterdir())[0]
        Image.open(style).convert("RGB").resize((64, 64)).save(work / "style.png")
        shutil.copy(HERE / "gimp_job.py", work / "job.py")
        conf = {"image": str(inside / "input.png"), "style": str(inside / "style.png"), "out": str(inside / "out"),
                "selection": SELECTION, "paint": PAINT, "stylize": STYLIZE}
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
        assert result["paint"] == {"status": "success", "error": None}, result
        assert result["stylize"] == {"status": "success", "error": None}, result
        assert result["no_style"]["status"] == "execution-error" and result["no_style"]["layers_added"] == 0
        assert "choose a style image" in result["no_style"]["error"], result["no_style"]
        layers = {layer["name"]: layer for layer in result["layers"]}
        assert set(layers) == {"brushwork painting", "brushwork stylized", "Background"}, layers
        x, y, w, h = SELECTION
        for name in ("brushwork painting", "brushwork stylized"):
            assert layers[name]["offsets"] == [x, y] and layers[name]["size"] == [w, h]
        assert result["paths"] >= 1 and result["path_strokes"] >= PAINT["strokes"]

        monkeypatch.setenv("BRUSHWORK_STATE_DIR", str(server))
        bridge = Bridge(None, start=False)
        jobs = bridge.request("GET", "/jobs")
        assert [(j["kind"], j["state"]) for j in jobs] == [("paint", "done"), ("stylize", "done"), ("paint", "done")]

        def pixels(name):
            data = (work / "out" / layers[name]["file"]).read_bytes()
            return np.frombuffer(data, np.uint8).reshape(h, w, 4)

        strokes = svg.read(bridge.result_svg(jobs[0]["id"]))
        assert len(strokes) == PAINT["strokes"] and (strokes.width, strokes.height) == (w, h)
        painting = pixels("brushwork painting")
        np.testing.assert_array_equal(painting[..., :3], raster.render(strokes))  # RGBA read the right way round
        assert (painting[..., 3] == 255).all()
        stylized = pixels("brushwork stylized")
        expected = np.asarray(Image.open(io.BytesIO(bridge.result_png(jobs[1]["id"]))).convert("RGBA"))
        np.testing.assert_array_equal(stylized, expected)
        # the job saw the selected part of the image: the gradient's mean brightness survives
        assert abs(stylized[..., :3].mean() - rgba[y:y + h, x:x + w, :3].mean()) < 60
    finally:
        shutil.rmtree(work, ignore_errors=True)
