"""Batch code run inside GIMP 3 (python-fu-eval) by tests/e2e/test_gimp.py; inputs from $BRUSHWORK_E2E,
whose "scenario" says what to do:

- "paint" (default): loads the input image, selects a rectangle, calls the installed plug-in's
  procedures non-interactively (painting once per brush kind), and writes what it finds (layer
  groups, offsets, raw RGBA pixels, and GIMP's own rasterisation of each job's paths as a selection
  mask) for the test; then stylizes with a style image, and with trained styles and none.
- "layers": an image with a hidden layer, a layer group holding an opaque "cover" layer, and the
  input as background: paints the visible image, the background alone and the cover alone
  ("active-layer-only"); then a long job, which the test cancels the way GIMP's Cancel does (it
  kills the plug-in), and right after it a short one.
- "engine": no server and no brushwork Python: the procedures' error messages.
"""

import json
import os
import time

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

conf = json.load(open(os.environ["BRUSHWORK_E2E"]))
out = conf["out"]
result = {"procedures": {}}
pdb = Gimp.get_pdb()
result["menus"] = {}
for name in ("brushwork-paint", "brushwork-stylize"):
    procedure = pdb.lookup_procedure(name)
    result["procedures"][name] = procedure is not None
    if procedure is not None:
        result["menus"][name] = [procedure.get_menu_label(), list(procedure.get_menu_paths())]


def call(name, image, layer, **values):
    procedure = pdb.lookup_procedure(name)
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    for key, value in values.items():
        config.set_property(key, value)
    values = procedure.run(config)
    status = values.index(0)
    error = values.index(1) if values.length() > 1 else None
    return {"status": status.value_nick, "error": str(error) if error else None}


def tree(items):
    """[name, [children]] of every layer, top to bottom, with offsets and sizes."""
    return [{"name": item.get_name(), "offsets": list(item.get_offsets()[1:]),
             "size": [item.get_width(), item.get_height()],
             **({"children": tree(item.get_children())} if item.is_group() else {})} for item in items]


def write_result():
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)


def plain_layer(image, name, rgba, x, y, w, h, visible=True):
    layer = Gimp.Layer.new(image, name, w, h, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    layer.set_offsets(x, y)
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), "R'G'B'A u8", bytes(rgba) * (w * h))
    buffer.flush()
    layer.set_visible(visible)
    return layer


scenario = conf.get("scenario", "paint")
if scenario == "engine":
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(conf["image"]))
    layer = image.get_layers()[0]
    plug_in = os.path.join(os.environ["HOME"], ".config", "GIMP", "3.0", "plug-ins", "brushwork")
    result["engine"] = {}
    for case, python in conf["pythons"].items():  # what install.json names, case by case
        with open(os.path.join(plug_in, "install.json"), "w") as f:
            json.dump({"python": python} if python else {}, f)
        result["engine"][case] = call("brushwork-paint", image, layer, **conf["paint"])
    result["engine_layers"] = len(image.get_layers())
    write_result()
elif scenario == "layers":
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(conf["image"]))
    background = image.get_layers()[0]
    stack = Gimp.GroupLayer.new(image, "stack")
    image.insert_layer(stack, None, 0)
    cover = plain_layer(image, "cover", conf["cover"]["rgba"], *conf["cover"]["rect"])
    image.reorder_item(cover, stack, 0)
    plain_layer(image, "hidden", [0, 255, 0, 255], 0, 0, image.get_width(), image.get_height(), visible=False)
    x, y, w, h = conf["selection"]
    image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    result["layers_jobs"] = {
        "visible": call("brushwork-paint", image, cover, **conf["paint"]),
        "background": call("brushwork-paint", image, background, **conf["paint"], **{"active-layer-only": True}),
        "cover": call("brushwork-paint", image, cover, **conf["paint"], **{"active-layer-only": True}),
    }
    result["tree"] = tree(image.get_layers())
    write_result()  # the test reads this while the long job runs
    result["long"] = call("brushwork-paint", image, cover, **conf["long"])
    result["long"]["returned"] = time.time()
    result["next"] = call("brushwork-paint", image, cover, **conf["paint"])
    # each job's undo step is made inside a temporary procedure named after it: none is left over
    result["temporary"] = [name for name in pdb.query_procedures("brushwork-.*", "", "", "", "", "", "", "")
                           if name not in ("brushwork-paint", "brushwork-stylize")]
    write_result()
else:
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(conf["image"]))
    layer = image.get_layers()[0]
    x, y, w, h = conf["selection"]
    image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)

    result["paints"] = {}
    for options in conf["paints"]:
        before = {path.get_id() for path in image.get_paths()}
        outcome = call("brushwork-paint", image, layer, **options)
        new = [path for path in image.get_paths() if path.get_id() not in before]
        outcome["paths"] = len(new)
        if new:  # the paths as GIMP fills them: their union as a selection, read back as 8-bit coverage
            Gimp.context_set_antialias(True)
            for i, path in enumerate(new):
                image.select_item(Gimp.ChannelOps.REPLACE if i == 0 else Gimp.ChannelOps.ADD, path)
            mask = image.get_selection().get_buffer().get(
                Gegl.Rectangle.new(0, 0, image.get_width(), image.get_height()), 1.0, "Y u8", Gegl.AbyssPolicy.CLAMP)
            with open(os.path.join(out, f"{options['brushes']}.paths.y8"), "wb") as f:
                f.write(bytes(mask))
            image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)  # the next job works on the same region
        result["paints"][options["brushes"]] = outcome
    style = Gio.File.new_for_path(conf["style"])
    result["stylize"] = call("brushwork-stylize", image, layer, style=style, **conf["stylize"])
    # trained styles, with no style image: one of the engine's by name (Model), a .pt file (Model file)
    result["trained"] = []
    for options in conf.get("trained", []):
        values = dict(options)
        if "model-file" in values:
            values["model-file"] = Gio.File.new_for_path(values["model-file"])
        result["trained"].append(call("brushwork-stylize", image, layer, style=None, **values))

    # a call that cannot run comes back as an error with a message for the caller, and adds nothing
    layers_before = len(image.get_layers())
    result["no_style"] = call("brushwork-stylize", image, layer, style=None, **conf["stylize"])
    result["no_style"]["layers_added"] = len(image.get_layers()) - layers_before

    # a 16-bit image works too: GEGL converts to and from the 8-bit pixels the server exchanges
    deep = image.duplicate()
    deep.convert_precision(Gimp.Precision.U16_NON_LINEAR)
    deep_layers = len(deep.get_layers())
    result["deep"] = call("brushwork-paint", deep, deep.get_layers()[-1],
                          **dict(conf["paints"][0], **{"import-paths": False}))
    result["deep"]["layers_added"] = len(deep.get_layers()) - deep_layers
    deep.delete()

    result["layers"] = []

    def save_layer(item, group):
        _, ox, oy = item.get_offsets()
        lw, lh = item.get_width(), item.get_height()
        file = f"layer{len(result['layers'])}.rgba"
        data = item.get_buffer().get(Gegl.Rectangle.new(0, 0, lw, lh), 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.CLAMP)
        with open(os.path.join(out, file), "wb") as f:
            f.write(bytes(data))
        result["layers"].append({"name": item.get_name(), "group": group, "offsets": [ox, oy], "size": [lw, lh],
                                 "file": file})

    for item in image.get_layers():  # top to bottom; a job's layers are in its group
        if item.is_group():
            for child in item.get_children():
                save_layer(child, item.get_name())
        else:
            save_layer(item, None)
    paths = image.get_paths()
    result["paths"] = len(paths)
    result["path_strokes"] = sum(len(p.get_strokes()) for p in paths)
    write_result()
