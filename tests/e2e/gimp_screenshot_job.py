"""Batch code run inside GIMP 3's GUI (python-fu-eval) by tests/e2e/test_gimp_screenshot.py; inputs
from $BRUSHWORK_E2E. On the image opened from GIMP's command line it

1. paints non-interactively with the installed plug-in (the whole image: a layer group with the
   painting, and the strokes as paths) and writes painted.json (outcome, layers, paths), then waits
   for the test to write `go` (it takes a screenshot of GIMP's window meanwhile);
2. calls "Paint with strokes…" interactively: the plug-in's dialog opens and this call blocks until
   the dialog is closed (the test kills GIMP once it has its screenshot).
"""

import json
import os
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

conf = json.load(open(os.environ["BRUSHWORK_E2E"]))
out = conf["out"]
pdb = Gimp.get_pdb()


def write(name, doc):
    path = os.path.join(out, name)
    with open(path + ".part", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(path + ".part", path)  # the test never reads half a file


def call(image, run_mode, values):
    if procedure is None:
        return {"status": "missing", "error": "brushwork-paint is not registered"}
    config = procedure.create_config()
    config.set_property("run-mode", run_mode)
    config.set_property("image", image)
    config.set_core_object_array("drawables", image.get_selected_layers())
    for key, value in values.items():
        config.set_property(key, value)
    values = procedure.run(config)
    error = values.index(1) if values.length() > 1 else None
    return {"status": values.index(0).value_nick, "error": str(error) if error else None}


def tree(items):
    return [{"name": item.get_name(), **({"children": tree(item.get_children())} if item.is_group() else {})}
            for item in items]


image = Gimp.get_images()[0]
procedure = pdb.lookup_procedure("brushwork-paint")
result = {"menu": [procedure.get_menu_label(), list(procedure.get_menu_paths())] if procedure else None}
result["paint"] = call(image, Gimp.RunMode.NONINTERACTIVE, conf["paint"])
result["layers"] = tree(image.get_layers())
result["paths"] = [path.get_name() for path in image.get_paths()]
Gimp.displays_flush()
write("painted.json", result)

deadline = time.monotonic() + conf.get("wait", 120)
while not os.path.exists(os.path.join(out, "go")) and time.monotonic() < deadline:
    time.sleep(0.05)
# the dialog: GIMP's own, as Filters ▸ brushwork ▸ Paint with strokes… opens it
write("dialog.json", {"dialog": call(image, Gimp.RunMode.INTERACTIVE, {})})
