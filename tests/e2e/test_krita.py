"""End to end in the real Krita under Xvfb: the installed plug-in's "Paint with strokes…" (with every
brush kind) and "Stylize…" actions through their dialogs (with remembered values), the bridge client
starting the real server, each job's named layer group with its paint and vector layers (Krita's own
rendering of the vector layer compared with the exact renderer), progress with previews, a
responsive UI thread, and Cancel in the progress dialog. Krita comes from scripts/install_editors.sh (the README
test command runs it); the driver plug-in is tests/e2e/krita_driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork import client, raster, svg
from brushwork.plugin_install import install
from conftest import psnr
from krita_profile import add_plugin, krita_env, need

HERE = Path(__file__).parent
W, H = 64, 48
SELECTION = (8, 6, 40, 32)  # x, y, w, h
OPTIONS = {"brush": "tape", "strokes": 16, "seed": 2, "working_size": 64, "iterations": 6,
           "vector_layer": True}
PAINTS = [{**OPTIONS, "brush": brush} for brush in ("oilbrush", "watercolor", "markerpen", "tape")]  # default first
TITLES = {"oilbrush": "oil brush", "watercolor": "watercolour", "markerpen": "marker pen", "tape": "tape"}
LONG = {**OPTIONS, "strokes": 100, "working_size": 64, "iterations": 3000}  # minutes of work, to be cancelled

pytestmark = pytest.mark.slow


@pytest.fixture
def profile(tmp_path, weights_dir):
    """A fresh Krita profile with the brushwork plug-in installed and enabled (plus the test driver)."""
    env = krita_env(tmp_path, ["brushwork_krita", "brushwork_e2e"])
    install("krita", tmp_path / "data" / "krita" / "pykrita")
    add_plugin(tmp_path, HERE / "krita_driver")
    env.update(BRUSHWORK_STATE_DIR=str(tmp_path / "state"), BRUSHWORK_LOG_DIR=str(tmp_path / "log"),
               BRUSHWORK_WEIGHTS=str(weights_dir), BRUSHWORK_OFFLINE="1")
    return tmp_path, env


def _server(state_dir: Path) -> dict | None:
    try:
        return json.loads((state_dir / "server.json").read_text())
    except OSError:
        return None


def test_paint_stylize_and_cancel_in_krita(profile, style_image):
    xvfb_run, krita = need("xvfb-run"), need("krita")
    tmp, env = profile
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:, : W // 2] = (220, 40, 30, 255)  # red left, blue right: the selection covers both
    rgba[:, W // 2:] = (30, 60, 210, 255)
    Image.fromarray(rgba).save(tmp / "input.png")
    out = tmp / "out"
    out.mkdir()
    style = style_image("composition_vii.jpg")  # any format Qt reads; sent as PNG
    stylize = {"style": str(style), "method": "adain", "alpha": 0.8, "preserve_color": False}
    job = {"image": str(tmp / "input.png"), "out": str(out), "selection": SELECTION, "paints": PAINTS,
           "stylize": stylize, "stylize_title": "brushwork: AdaIN style", "cancel": LONG, "deep": {**OPTIONS, "vector_layer": False},
           "timeout": 400}
    (tmp / "job.json").write_text(json.dumps(job))
    env["BRUSHWORK_E2E"] = str(tmp / "job.json")

    start = time.monotonic()
    run = subprocess.run(["timeout", "480", xvfb_run, "-a", "-s", "-screen 0 1280x1024x24", krita, "--nosplash"],
                         env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    state = _server(tmp / "state")
    try:
        result_file = out / "result.json"
        assert result_file.exists(), f"Krita exited {run.returncode} without a result:\n{run.stderr[-3000:]}"
        result = json.loads(result_file.read_text())
        assert result.get("ok"), result
        seconds = result["seconds"]
        print(f"krita e2e: {elapsed:.1f} s in all; jobs: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))

        # the dialogs showed the remembered values, and the jobs ran with them
        *paint_dialogs, style_dialog, cancel_dialog, _ = result["dialogs"]  # the last: the 16-bit document
        assert [(d["brush"], d["strokes"]) for d in paint_dialogs] == [(p["brush"], p["strokes"]) for p in PAINTS]
        assert style_dialog["style"] == str(style) and style_dialog["method"] == "adain"
        assert cancel_dialog["strokes"] == LONG["strokes"]
        # one named group per job, the painting under its strokes
        titles = [f"brushwork: {TITLES[p['brush']]}, {p['strokes']} strokes" for p in PAINTS]
        assert result["groups"] == {**{t: [["brushwork painting", "paintlayer"], ["brushwork strokes", "vectorlayer"]]
                                        for t in titles},
                                    "brushwork: AdaIN style": [["brushwork stylized", "paintlayer"]]}
        layers = {name: layer["type"] for name, layer in result["layers"].items() if layer["type"] != "selectionmask"}
        assert layers == {"Background": "paintlayer", **{t: "grouplayer" for t in titles},
                          "brushwork: AdaIN style": "grouplayer"}
        # progress reached the dialog, with previews, and Krita's UI thread never stalled
        assert any(0 < value < 1000 for value in result["progress"]), result["progress"]
        assert result["previews"] > 0
        assert result["paint_stall"] < 2.0, result["events"]
        # Cancel closed the progress dialog, added nothing, and stopped the job on the server
        assert result["cancel"] == {"dialog_open": False, "layers_added": 0}

        # the plug-in started the server with the recorded interpreter; its jobs made these layers
        assert state is not None, "no server state file"
        bridge = client.Bridge(None, start=False)
        os.environ["BRUSHWORK_STATE_DIR"] = str(tmp / "state")
        try:
            bridge.connect()
            jobs = bridge.request("GET", "/jobs")
            texts = [bridge.result_svg(job["id"]) for job in jobs[:len(PAINTS)]]
            stylized_expected = bridge.result_raw(jobs[len(PAINTS)]["id"], "BGRA8")
            deep_text = bridge.result_svg(jobs[-1]["id"])
        finally:
            del os.environ["BRUSHWORK_STATE_DIR"]
        assert [(j["kind"], j["state"]) for j in jobs] == [("paint", "done")] * len(PAINTS) + [
            ("stylize", "done"), ("paint", "cancelled"), ("paint", "done")]
        x, y, w, h = SELECTION
        outside = np.ones((H, W), bool)
        outside[y:y + h, x:x + w] = False
        scores = {}
        for options, text in zip(PAINTS, texts):
            brush = options["brush"]
            (out / f"{brush}.svg").write_text(text)  # kept with the layers' pixels for a failure's post-mortem
            strokes = svg.read(text)
            assert len(strokes) == OPTIONS["strokes"] and {s.kind for s in strokes.strokes} == {brush}
            assert (strokes.width, strokes.height) == (w, h)
            paint = np.frombuffer((out / f"{brush}.paintlayer.bgra").read_bytes(), np.uint8).reshape(H, W, 4)
            paint = paint[..., [2, 1, 0, 3]]
            expected = raster.render(strokes)
            np.testing.assert_array_equal(paint[y:y + h, x:x + w, :3], expected)  # exactly the exact renderer
            assert (paint[y:y + h, x:x + w, 3] == 255).all()
            assert (paint[outside][:, 3] == 0).all()  # the layer covers the selection's bounds only

            # Krita's own rendering of the vector layer looks like the painting, for every brush kind
            vector = np.frombuffer((out / f"{brush}.vectorlayer.bgra").read_bytes(), np.uint8).reshape(H, W, 4)
            vector = vector[..., [2, 1, 0, 3]]
            assert (vector[outside][:, 3] == 0).all(), brush  # placed at the selection and cut at its edges
            assert (vector[y:y + h, x:x + w, 3] == 255).all(), brush  # the SVG's paper is part of the layer
            scores[brush] = psnr(vector[y:y + h, x:x + w, :3], expected)
        print("krita vector layers against the exact renderer: " + ", ".join(f"{k} {v:.1f} dB" for k, v in scores.items()))
        assert all(score >= 25 for score in scores.values()), scores

        # a 16-bit document: read through a converted copy, painted into an 8-bit layer, left 16-bit
        assert result["deep"] == {"document": ["RGBA", "U16"], "layer": ["RGBA", "U8"]}
        deep = np.frombuffer((out / "deep.bgra").read_bytes(), np.uint8).reshape(H, W, 4)[..., [2, 1, 0, 3]]
        np.testing.assert_array_equal(deep[y:y + h, x:x + w, :3], raster.render(svg.read(deep_text)))

        stylized = np.frombuffer((out / "stylized.bgra").read_bytes(), np.uint8).reshape(H, W, 4)
        np.testing.assert_array_equal(stylized[y:y + h, x:x + w].tobytes(), stylized_expected)
        assert (stylized[outside][:, 3] == 0).all()
    finally:
        if state is not None:
            try:
                os.kill(state["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass

