"""End to end in the real Krita under Xvfb: the installed plug-in's "Paint with strokes…" and
"Stylize…" actions through their dialogs (with remembered values), the bridge client starting the
real server, the new paint, vector and stylized layers' pixels, progress with previews, a responsive
UI thread, and Cancel in the progress dialog. Krita comes from scripts/install_editors.sh (the README
test command runs it); the driver plug-in is tests/e2e/krita_driver."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork import client, raster, svg
from brushwork.plugin_install import install
from conftest import SHARED

HERE = Path(__file__).parent
W, H = 64, 48
SELECTION = (8, 6, 40, 32)  # x, y, w, h
OPTIONS = {"brush": "tape", "strokes": 16, "seed": 2, "working_size": 64, "iterations": 6,
           "vector_layer": True}
LONG = {**OPTIONS, "strokes": 100, "working_size": 64, "iterations": 3000}  # minutes of work, to be cancelled

pytestmark = pytest.mark.slow


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is required: run `bash scripts/setup.sh test` (as root) to install the editors")
    return path


@pytest.fixture
def profile(tmp_path, monkeypatch):
    """A fresh Krita profile with the brushwork plug-in installed and enabled (plus the test driver)."""
    data, config = tmp_path / "data", tmp_path / "config"
    pykrita = data / "krita" / "pykrita"
    install("krita", pykrita)
    shutil.copy(HERE / "krita_driver" / "brushwork_e2e.desktop", pykrita)
    shutil.copytree(HERE / "krita_driver" / "brushwork_e2e", pykrita / "brushwork_e2e")
    config.mkdir()
    (config / "kritarc").write_text("[python]\nenable_brushwork_krita=true\nenable_brushwork_e2e=true\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BRUSHWORK_", "XDG_", "PYTHON")) and k != "VIRTUAL_ENV"}
    # Krita's embedded Python finds its prefix through PATH: an activated virtual environment
    # would hide the system's PyQt5 from it (seen: "No module named 'PyQt5'").
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep) if not d.startswith(venv))
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(config),
               XDG_CACHE_HOME=str(tmp_path / "cache"), BRUSHWORK_STATE_DIR=str(tmp_path / "state"),
               BRUSHWORK_LOG_DIR=str(tmp_path / "log"), BRUSHWORK_WEIGHTS=str(SHARED / "weights"),
               BRUSHWORK_OFFLINE="1", QT_QPA_PLATFORM="xcb")
    (tmp_path / "home").mkdir()
    return tmp_path, env


def _server(state_dir: Path) -> dict | None:
    try:
        return json.loads((state_dir / "server.json").read_text())
    except OSError:
        return None


def test_paint_stylize_and_cancel_in_krita(profile):
    xvfb_run, krita = _need("xvfb-run"), _need("krita")
    tmp, env = profile
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:, : W // 2] = (220, 40, 30, 255)  # red left, blue right: the selection covers both
    rgba[:, W // 2:] = (30, 60, 210, 255)
    Image.fromarray(rgba).save(tmp / "input.png")
    out = tmp / "out"
    out.mkdir()
    style = sorted((SHARED / "images" / "style").glob("*.jpg"))[0]  # any format Qt reads; sent as PNG
    stylize = {"style": str(style), "method": "adain", "alpha": 0.8, "preserve_color": False}
    job = {"image": str(tmp / "input.png"), "out": str(out), "selection": SELECTION, "paint": OPTIONS,
           "stylize": stylize, "cancel": LONG, "timeout": 240}
    (tmp / "job.json").write_text(json.dumps(job))
    env["BRUSHWORK_E2E"] = str(tmp / "job.json")

    start = time.monotonic()
    run = subprocess.run(["timeout", "300", xvfb_run, "-a", "-s", "-screen 0 1280x1024x24", krita, "--nosplash"],
                         env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    state = _server(tmp / "state")
    try:
        result_file = out / "result.json"
        assert result_file.exists(), f"Krita exited {run.returncode} without a result:\n{run.stderr[-3000:]}"
        result = json.loads(result_file.read_text())
        assert result.get("ok"), result
        seconds = result["seconds"]
        print(f"krita e2e: {elapsed:.1f} s in all; paint job {seconds['brushwork painting']:.1f} s, "
              f"stylize job {seconds['brushwork stylized']:.1f} s")

        # the dialogs showed the remembered values, and the jobs ran with them
        paint_dialog, style_dialog, cancel_dialog = result["dialogs"]
        assert paint_dialog["strokes"] == OPTIONS["strokes"] and paint_dialog["brush"] == "tape"
        assert style_dialog["style"] == str(style) and style_dialog["method"] == "adain"
        assert cancel_dialog["strokes"] == LONG["strokes"]
        layers = {name: layer["type"] for name, layer in result["layers"].items() if layer["type"] != "selectionmask"}
        assert layers == {"Background": "paintlayer", "brushwork painting": "paintlayer",
                          "brushwork strokes": "vectorlayer", "brushwork stylized": "paintlayer"}
        # progress reached the dialog, with previews, and Krita's UI thread never stalled
        assert any(0 < value < 1000 for value in result["progress"]), result["progress"]
        assert result["previews"] > 0
        assert result["paint_stall"] < 2.0, result["events"]
        # Cancel closed the progress dialog, added nothing, and stopped the job on the server
        assert result["cancel"] == {"dialog_open": False, "layers_added": 0}

        # the plug-in started the server with the recorded interpreter; its job made these layers
        assert state is not None, "no server state file"
        bridge = client.Bridge(None, start=False)
        os.environ["BRUSHWORK_STATE_DIR"] = str(tmp / "state")
        try:
            bridge.connect()
            jobs = bridge.request("GET", "/jobs")
            text = bridge.result_svg(jobs[0]["id"])
            stylized_expected = bridge.result_raw(jobs[1]["id"], "BGRA8")
            (out / "strokes.svg").write_text(text)  # kept with the layers' pixels for a failure's post-mortem
            strokes = svg.read(text)
        finally:
            del os.environ["BRUSHWORK_STATE_DIR"]
        assert [(j["kind"], j["state"]) for j in jobs] == [("paint", "done"), ("stylize", "done"),
                                                            ("paint", "cancelled")]
        assert len(strokes) == OPTIONS["strokes"]
        x, y, w, h = SELECTION
        assert (strokes.width, strokes.height) == (w, h)

        paint = np.frombuffer((out / "paint.bgra").read_bytes(), np.uint8).reshape(H, W, 4)[..., [2, 1, 0, 3]]
        expected = raster.render(strokes)
        np.testing.assert_array_equal(paint[y:y + h, x:x + w, :3], expected)  # exactly the exact renderer
        assert (paint[y:y + h, x:x + w, 3] == 255).all()
        outside = np.ones((H, W), bool)
        outside[y:y + h, x:x + w] = False
        assert (paint[outside][:, 3] == 0).all()  # the layer covers the selection's bounds only

        vector = np.frombuffer((out / "vector.bgra").read_bytes(), np.uint8).reshape(H, W, 4)[..., [2, 1, 0, 3]]
        assert (vector[outside][:, 3] == 0).all()  # placed at the selection and cut at its edges
        assert (vector[y:y + h, x:x + w, 3] == 255).all()  # the SVG's paper is part of the layer
        error = np.abs(vector[y:y + h, x:x + w, :3].astype(int) - expected)
        assert error.mean() < 3, error.mean()  # Krita draws the SVG as cairo draws the strokes (seen: 0.4)

        stylized = np.frombuffer((out / "stylized.bgra").read_bytes(), np.uint8).reshape(H, W, 4)
        np.testing.assert_array_equal(stylized[y:y + h, x:x + w].tobytes(), stylized_expected)
        assert (stylized[outside][:, 3] == 0).all()
    finally:
        if state is not None:
            try:
                os.kill(state["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass

