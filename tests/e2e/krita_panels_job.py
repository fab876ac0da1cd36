"""Run by kritarunner (tests/e2e/test_krita_panels.py): the installed plug-in's real Qt panels and
engine box, built from the options documents the test gives, and what they show and send.

    kritarunner -s krita_panels_job -f main <conf.json>

conf: {"pykrita": folder with brushwork_krita, "documents": {name: options document}, "out": result file}.
kritarunner exits 0 whatever happens, so every outcome, failures included, goes to the result file."""

import importlib
import json
import sys
import traceback
import types
from pathlib import Path


def _items(box):
    return [[box.itemData(i), box.itemText(i)] for i in range(box.count())]


def main(args):
    conf = json.loads(Path(args[0]).read_text())
    result = {}
    try:
        package = types.ModuleType("brushwork_krita")  # its __init__ registers with a running Krita
        package.__path__ = [str(Path(conf["pykrita"]) / "brushwork_krita")]
        sys.modules["brushwork_krita"] = package
        ui = importlib.import_module("brushwork_krita.ui")
        model = importlib.import_module("brushwork_krita.model")
        settings = ui._settings()
        engine = model.engine_options(settings, Path(package.__path__[0]))  # a fresh profile: the snapshot
        paint = ui.PaintPanel(model.defaults(model.PaintOptions, engine), engine)
        stylize = ui.StylizePanel(model.defaults(model.StylizeOptions, engine), engine)
        box = ui.EngineBox(settings, engine, lambda options: None)
        result["snapshot"] = {
            "brushes": _items(paint.brush), "methods": _items(stylize.method), "devices": _items(box.devices),
            "device": box.device(), "presets": _items(paint.preset), "preset": paint.preset.currentData(),
            "labels": {w.objectName(): label.text() for w, label in paint.labels.items()},
            "strokes_range": [paint.strokes.minimum(), paint.strokes.maximum()],
            "strokes_tip": paint.strokes.toolTip(), "extras": list(paint.extras.widgets),
            "params": paint.options().params(engine, box.device())}
        # a later engine: a sixth brush and a fourth method appear, the values stay
        drifted = ui.EngineOptions(conf["documents"]["drifted"])
        paint.use_engine(drifted)
        stylize.use_engine(drifted)
        paint.brush.setCurrentIndex(paint.brush.findData("charcoal"))
        result["drifted"] = {"brushes": _items(paint.brush), "methods": _items(stylize.method),
                             "params": paint.options().params(drifted, box.device()),
                             "title": model.job_title("paint", paint.options(), drifted)}
        # an engine without tape: a panel on tape falls back to the engine's default brush
        paint.brush.setCurrentIndex(paint.brush.findData("tape"))
        without = ui.EngineOptions(conf["documents"]["without_tape"])
        paint.use_engine(without)
        result["without_tape"] = {"brushes": _items(paint.brush), "brush": paint.brush.currentData()}
        # the device: chosen, remembered in Krita's settings, shown again by the next docker
        box.devices.setCurrentIndex(box.devices.findData("cpu"))
        again = ui.EngineBox(settings, engine, lambda options: None)
        result["device"] = {"saved": json.loads(settings._read("brushwork", "EngineSettings", "{}")),
                            "next_start": again.device()}
        result["ok"] = True
    except Exception:
        result["error"] = traceback.format_exc()
    Path(conf["out"]).write_text(json.dumps(result, indent=1))
