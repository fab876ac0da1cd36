"""The Krita docker's real Qt panels (kritarunner, no window) built from the engine's options
document: its lists, labels, ranges and device choice, and how they follow a document with a sixth
brush and a fourth method, or without a brush. The driver is tests/e2e/krita_panels_job.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from brushwork.plugin_install import install
from brushwork.settings import describe

from krita_profile import krita_env, need

HERE = Path(__file__).parent
pytestmark = pytest.mark.slow


def _drifted() -> dict:
    document = describe()
    document["brushes"].append({"name": "charcoal", "label": "Charcoal", "description": "a dry, grainy line"})
    document["methods"].append({"name": "sketchy", "label": "Sketchy", "help": "pencil hatching"})
    return document


def test_the_panels_are_built_from_the_engines_options(tmp_path):
    kritarunner = need("kritarunner")
    env = krita_env(tmp_path, [])
    pykrita = tmp_path / "data" / "krita" / "pykrita"
    install("krita", pykrita)
    without_tape = describe()
    without_tape["brushes"] = [b for b in without_tape["brushes"] if b["name"] != "tape"]
    conf = tmp_path / "conf.json"
    conf.write_text(json.dumps({"pykrita": str(pykrita), "out": str(tmp_path / "result.json"),
                                "documents": {"drifted": _drifted(), "without_tape": without_tape}}))
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(HERE))
    run = subprocess.run(["timeout", "120", kritarunner, "-s", "krita_panels_job", "-f", "main", str(conf)],
                         env=env, capture_output=True, text=True)
    assert (tmp_path / "result.json").exists(), f"kritarunner exited {run.returncode}:\n{run.stderr[-3000:]}"
    result = json.loads((tmp_path / "result.json").read_text())
    assert result.get("ok"), result.get("error")

    document = describe()
    paint = {f["name"]: f for f in document["paint"]["fields"]}
    shown = result["snapshot"]
    assert shown["brushes"] == [[b["name"], b["label"]] for b in document["brushes"]]
    assert shown["methods"] == [[m["name"], m["label"]] for m in document["methods"]]
    assert shown["devices"] == [[d["name"], d["label"]] for d in document["devices"]] and shown["device"] == "auto"
    assert shown["preset"] == "Balanced" and [p for p, _ in shown["presets"]] == ["Draft", "Balanced", "Final",
                                                                                  "Custom"]
    assert shown["labels"]["brushwork_strokes"] == paint["strokes"]["label"]
    assert shown["strokes_range"] == [paint["strokes"]["min"], paint["strokes"]["max"]]
    assert shown["strokes_tip"] == paint["strokes"]["help"] and shown["extras"] == ["opaque"]
    assert shown["params"]["brushes"] == [paint["brushes"]["default"][0]] and shown["params"]["device"] == "auto"

    drifted = result["drifted"]
    assert drifted["brushes"][-1] == ["charcoal", "Charcoal"] and drifted["methods"][-1] == ["sketchy", "Sketchy"]
    assert drifted["params"]["brushes"] == ["charcoal"] and drifted["title"].startswith("brushwork: charcoal, ")
    assert "tape" not in [name for name, _ in result["without_tape"]["brushes"]]
    assert result["without_tape"]["brush"] == paint["brushes"]["default"][0]
    assert result["device"] == {"saved": {"python": "", "device": "cpu"}, "next_start": "cpu"}
