"""End to end in the real Krita under Xvfb, through the installed plug-in's docker (its widgets, as a
user would): the menu actions showing it, presets and estimates, Paint with every brush kind (queued
together) and Stylize, the bridge client starting the real server, each job's named layer group with
its paint and vector layers (Krita's own rendering of the vector layer compared with the exact
renderer), the live preview layer, the history's "Apply again", "Active layer only", Cancel from the
queue (on a real job, and on a server that hangs mid-job), and Krita's UI thread never stalling more
than 0.1 s meanwhile. Krita comes from scripts/install_editors.sh (the README test command runs it);
the driver plug-in is tests/e2e/krita_driver."""

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
from brushwork.settings import PaintSettings, StyleOptions, describe

from conftest import psnr
from krita_profile import HungServer, add_plugin, krita_env, need

HERE = Path(__file__).parent
W, H = 64, 48
SELECTION = (8, 6, 40, 32)  # x, y, w, h
OPTIONS = {"brush": "tape", "strokes": 16, "seed": 2, "working_size": 64, "iterations": 6,
           "vector_layer": True, "refine": True}
PAINTS = [{**OPTIONS, "brush": brush} for brush in ("oilbrush", "watercolor", "markerpen", "tape")]  # default first
TITLES = {"oilbrush": "oil brush", "watercolor": "watercolour", "markerpen": "marker pen", "tape": "tape"}
LONG = {**OPTIONS, "strokes": 100, "working_size": 64, "iterations": 3000}  # minutes of work, to be cancelled
APPLY_STALL = 0.5  # s: the longest stall while results are put into the document (Krita's own work)
MAX_STALL = 0.1  # seconds: the longest the UI thread may be kept from its event loop (issue #13)

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
    deep = {**OPTIONS, "vector_layer": False}
    job = {"image": str(tmp / "input.png"), "out": str(out), "selection": SELECTION, "paints": PAINTS,
           "stylize": stylize, "stylize_title": "brushwork: AdaIN style", "trained": "starry_night",
           "trained_title": "brushwork: starry_night style", "cancel": LONG, "deep": deep,
           "hung": OPTIONS, "hung_watch_ms": 2000, "state_file": str(tmp / "state" / "server.json"),
           "settle_ms": 1000, "timeout": int(os.environ.get("BRUSHWORK_E2E_TIMEOUT", "400"))}
    (tmp / "job.json").write_text(json.dumps(job))
    env["BRUSHWORK_E2E"] = str(tmp / "job.json")
    hung = HungServer(tmp / "state")  # the server the bridge finds first: it hangs once it has a job

    start = time.monotonic()
    try:
        run = subprocess.run(["timeout", "480", xvfb_run, "-a", "-s", "-screen 0 1280x1024x24", krita, "--nosplash"],
                             env=env, capture_output=True, text=True)
    finally:
        hung.release()
    elapsed = time.monotonic() - start
    state = _server(tmp / "state")
    try:
        result_file = out / "result.json"
        assert result_file.exists(), f"Krita exited {run.returncode} without a result:\n{run.stderr[-3000:]}"
        result = json.loads(result_file.read_text())
        assert result.get("ok"), (result.get("error"), result["events"][-8:])
        stalls = result["stalls"]
        print(f"krita e2e: {elapsed:.1f} s in all; longest UI-thread stalls: "
              + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in stalls.items())
              + "; after a preview layer came or went: "
              + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result["layer_stalls"].items())
              + "; longest button press: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result["clicks"].items())
              + "; longest queue tick: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result["ticks"].items()))

        # the menu actions carry brushwork's name and show the docker on their panel
        actions = result["actions"]
        assert actions["brushwork_paint"] == {"text": "brushwork: Paint with strokes…", "docker_visible": True,
                                              "docker_title": "brushwork", "tab": 0}
        assert actions["brushwork_stylize"]["text"] == "brushwork: Stylize…"
        assert actions["brushwork_stylize"]["tab"] == 1 and actions["brushwork_stylize"]["docker_visible"]
        # a fresh profile: the Balanced preset, a rough estimate saying so, steps as a number, methods explained
        fresh = result["fresh"]
        assert fresh["paint_preset"] == "Balanced" and "rough guess" in fresh["paint_estimate"]
        steps = PaintSettings().iterations  # the engine's default, from its options document
        assert fresh["iterations"] == steps and fresh["iterations_text"] == str(steps)
        # the lists, labels, the default method and its strength come from the engine's options document
        document = describe()
        default = next(m for m in document["methods"] if m["name"] == StyleOptions().method)
        assert fresh["method_help"] == f"{default['label']}: {default['help']}" and fresh["alpha"] == default["alpha"]
        assert fresh["brushes"] == [[b["name"], b["label"]] for b in document["brushes"]]
        assert fresh["methods"] == [[m["name"], m["label"]] for m in document["methods"]]
        assert fresh["devices"] == [[d["name"], d["label"]] for d in document["devices"]] and fresh["device"] == "auto"
        assert fresh["opaque"] == "Opaque strokes"  # an editor setting the panel has no widget of its own for
        assert result["saved_engine"]["device"] == "cpu"  # the device chosen is remembered
        draft = result["draft"]
        assert draft["brushwork_strokes"] == 100 and draft["brushwork_refine"] is False
        assert draft["brushwork_paint_estimate"] != fresh["paint_estimate"]
        assert result["saved_paint"]["strokes"] == OPTIONS["strokes"]  # the panel's values are remembered

        # a server that hangs mid-job: Cancel took the job off the queue at once, added nothing, and
        # the UI thread kept beating meanwhile
        assert result["hung"] == {"queue_after_click": [], "message": "brushwork: tape, 16 strokes: cancelled",
                                  "layers_added": []}
        assert result["clicks"]["brushwork_cancel"] <= MAX_STALL, result["clicks"]
        assert any(r.startswith("POST /v1/jobs/hung-job/cancel") for r in hung.requests), hung.requests
        # Krita's UI thread never waited on the server, in any phase
        krita_own = {phase: stalls.pop(phase) for phase in ("krita_starting", "krita_idle")}  # no job: for comparison
        assert set(stalls) == {"hung_job", "hung_cancel", "paint", "stylize", "trained", "long_job", "long_cancel",
                               "deep"}
        # While jobs run and while Cancel reaches a hung server, only brushwork's own work is on the UI
        # thread: held to MAX_STALL. The phases where results land also hold Krita's own work on the
        # document (adding layers, drawing the vector shapes), which Krita does on its UI thread; they
        # are held to APPLY_STALL (seen: 45-85 ms on a quiet machine, 199 ms on a loaded one).
        waiting = ("hung_job", "hung_cancel", "long_job", "long_cancel")
        # A beat right after a preview layer came or went is Krita drawing it: held to APPLY_STALL too;
        # the queue's own tick that asked for it still to MAX_STALL.
        assert max(stalls[phase] for phase in waiting) <= MAX_STALL, (stalls, krita_own, result["events"])
        assert max(result["ticks"].get(phase, 0.0) for phase in waiting) <= MAX_STALL, result["ticks"]
        layers = result["layer_stalls"]
        assert max([*stalls.values(), *layers.values()]) <= APPLY_STALL, (stalls, layers, krita_own, result["events"])

        # the four paint jobs were queued together; a live preview covered the whole selection
        assert len(result["queued"]) == len(PAINTS)
        x, y, w, h = SELECTION
        assert result["previews"] and all(bounds == [x, y, w, h] for bounds in result["previews"]), result["previews"]
        after = result["after_paints"]
        assert not after["preview_left"] and after["history"] == len(PAINTS)
        assert "measured on this machine" in after["paint_estimate"]  # the jobs timed this machine
        assert result["stylize_panel"]["brushwork_method"] == "adain"
        adain = next(m for m in describe()["methods"] if m["name"] == "adain")
        assert result["stylize_panel"]["brushwork_method_help"] == f"AdaIN: {adain['help']}"

        # one named group per job, the painting under its strokes
        titles = [f"brushwork: {TITLES[p['brush']]}, {p['strokes']} strokes" for p in PAINTS]
        deep_title, active_title = titles[-1] + " (2)", titles[-1] + " (3)"
        stylized_titles = ["brushwork: AdaIN style", "brushwork: AdaIN style (2)", "brushwork: starry_night style"]
        assert result["groups"] == {**{t: [["brushwork painting", "paintlayer"], ["brushwork strokes", "vectorlayer"]]
                                        for t in titles},
                                    **{t: [["brushwork stylized", "paintlayer"]] for t in stylized_titles},
                                    deep_title: [["brushwork painting", "paintlayer"]],
                                    active_title: [["brushwork painting", "paintlayer"]]}
        layers = {name: layer["type"] for name, layer in result["layers"].items() if layer["type"] != "selectionmask"}
        assert layers == {"Background": "paintlayer", "green": "paintlayer",
                          **{t: "grouplayer" for t in [*titles, *stylized_titles, deep_title, active_title]}}
        # Cancel of a running job: its preview went at once, nothing was added
        assert result["cancel"] == {"preview_after_click": False, "queue_after_click": [], "layers_added": []}

        # the plug-in started the server with the recorded interpreter; its jobs made these layers
        assert state is not None, "no server state file"
        assert state["port"] != hung.port
        bridge = client.Bridge(None, start=False)
        os.environ["BRUSHWORK_STATE_DIR"] = str(tmp / "state")
        try:
            bridge.connect()
            jobs = bridge.request("GET", "/jobs")
            texts = [bridge.result_svg(job["id"]) for job in jobs[:len(PAINTS)]]
            stylized_expected = bridge.result_raw(jobs[len(PAINTS)]["id"], "BGRA8")
            trained_expected = bridge.result_raw(jobs[len(PAINTS) + 1]["id"], "BGRA8")
            deep_text = bridge.result_svg(jobs[-2]["id"])
            active_text = bridge.result_svg(jobs[-1]["id"])
        finally:
            del os.environ["BRUSHWORK_STATE_DIR"]
        assert [(j["kind"], j["state"]) for j in jobs] == [("paint", "done")] * len(PAINTS) + [
            ("stylize", "done"), ("stylize", "done"), ("paint", "cancelled"), ("paint", "done"), ("paint", "done")]
        outside = np.ones((H, W), bool)
        outside[y:y + h, x:x + w] = False
        scores = {}
        # the four were sent at once, from a thread each: the server may have taken them in any order
        by_brush = {}
        for text in texts:
            strokes = svg.read(text)
            kinds = {s.kind for s in strokes.strokes}
            assert len(kinds) == 1 and len(strokes) == OPTIONS["strokes"], (kinds, len(strokes))
            by_brush[kinds.pop()] = text, strokes
        assert set(by_brush) == {p["brush"] for p in PAINTS}
        for options in PAINTS:
            brush = options["brush"]
            text, strokes = by_brush[brush]
            (out / f"{brush}.svg").write_text(text)  # kept with the layers' pixels for a failure's post-mortem
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
        print("krita vector layers against the exact renderer: "
              + ", ".join(f"{k} {v:.1f} dB" for k, v in scores.items()))
        assert all(score >= 25 for score in scores.values()), scores

        # a 16-bit document: read through a converted copy, painted into an 8-bit layer, left 16-bit
        assert result["deep"] == {"document": ["RGBA", "U16"], "layer": ["RGBA", "U8"]}
        deep = np.frombuffer((out / "deep.bgra").read_bytes(), np.uint8).reshape(H, W, 4)[..., [2, 1, 0, 3]]
        np.testing.assert_array_equal(deep[y:y + h, x:x + w, :3], raster.render(svg.read(deep_text)))
        # "Active layer only": the hidden green layer was painted, not the red and blue image
        active = np.frombuffer((out / "active.bgra").read_bytes(), np.uint8).reshape(H, W, 4)[..., [2, 1, 0, 3]]
        np.testing.assert_array_equal(active[y:y + h, x:x + w, :3], raster.render(svg.read(active_text)))
        r, g, b = (active[y:y + h, x:x + w, c].astype(float).mean() for c in range(3))
        assert g > r + 60 and g > b + 60, (r, g, b)
        r, g, b = (deep[y:y + h, x:x + w, c].astype(float).mean() for c in range(3))
        assert g < max(r, b), (r, g, b)  # the merged image has no green

        stylized = np.frombuffer((out / "stylized.bgra").read_bytes(), np.uint8).reshape(H, W, 4)
        np.testing.assert_array_equal(stylized[y:y + h, x:x + w].tobytes(), stylized_expected)
        assert (stylized[outside][:, 3] == 0).all()
        # the history's "Apply again" put the very same pixels in a group of their own
        assert (out / "reapplied.bgra").read_bytes() == (out / "stylized.bgra").read_bytes()
        # a trained style from the Model picker (the engine's styles), with no style image
        assert "starry_night" in result["trained_styles"]
        trained = np.frombuffer((out / "trained.bgra").read_bytes(), np.uint8).reshape(H, W, 4)
        np.testing.assert_array_equal(trained[y:y + h, x:x + w].tobytes(), trained_expected)
        assert trained_expected != stylized_expected and (trained[outside][:, 3] == 0).all()
    finally:
        if state is not None:
            try:
                os.kill(state["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
