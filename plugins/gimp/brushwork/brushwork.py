#!/usr/bin/env python3
"""brushwork for GIMP 3: Filters ▸ brushwork ▸ Paint with strokes… / Stylize….

Runs under GIMP's system python3 with GI only; the painting happens in `brushwork serve`, reached
through bridge_client.py (stdlib, copied in by `brushwork plugins install gimp`, which also records
the interpreter that starts the server in install.json). Works interactively (a ProcedureDialog,
which remembers the last values) and from batch mode with the same arguments.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, GimpUi, Gio, GLib, GObject  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # bridge_client.py lies next to this file
from bridge_client import Bridge, BridgeError, JobRunner, encode_image  # noqa: E402

PAINT = "brushwork-paint"
STYLIZE = "brushwork-stylize"
BRUSHES = {"oilbrush": "Oil brush", "watercolor": "Watercolour", "markerpen": "Marker pen", "tape": "Tape"}
METHODS = {
    "wct": ("WCT", "Whitening and colouring of deep features at five levels: the closest match of the style's "
                   "textures and colours (a few seconds)"),
    "adain": ("AdaIN", "Matches the mean and spread of deep features: faster and gentler, keeps more of the "
                       "image's structure"),
    "gatys": ("Gatys", "Optimises the picture itself towards the style (Gatys et al.): the finest result, but "
                       "minutes of work"),
}
PAINT_LAYER = "brushwork painting"
STYLIZE_LAYER = "brushwork stylized"
RW = GObject.ParamFlags.READWRITE
PIXELS = "R'G'B'A u8"  # straight alpha, the layout the server reads and returns as RGBA8


def _choice(values):
    """A Gimp.Choice from {nick: label} or {nick: (label, help)}: the dialog shows labels and help."""
    choice = Gimp.Choice.new()
    for i, (nick, text) in enumerate(values.items()):
        label, help_text = text if isinstance(text, tuple) else (text, "")
        choice.add(nick, i, label, help_text)
    return choice


def _install_python() -> str | None:
    try:
        with open(os.path.join(HERE, "install.json"), encoding="utf-8") as f:
            return json.load(f).get("python")
    except (OSError, ValueError):
        return None


def _region(image, drawable):
    """The selection's bounds inside the drawable (drawable coordinates), or the whole drawable."""
    _, ox, oy = drawable.get_offsets()
    width, height = drawable.get_width(), drawable.get_height()
    _, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(image)
    if not non_empty:
        return 0, 0, width, height
    x0, y0 = max(0, x1 - ox), max(0, y1 - oy)
    x1, y1 = min(width, x2 - ox), min(height, y2 - oy)
    if x1 <= x0 or y1 <= y0:
        raise BridgeError("the selection does not overlap the active layer")
    return x0, y0, x1 - x0, y1 - y0


def _read(drawable, x, y, w, h) -> bytes:
    buffer = drawable.get_buffer()
    return bytes(buffer.get(Gegl.Rectangle.new(x, y, w, h), 1.0, PIXELS, Gegl.AbyssPolicy.CLAMP))


def _unique_name(image, name):
    """`name`, or `name (2)`, ... so that every run's group can be told apart."""
    taken = {item.get_name() for item in image.get_layers()}
    n = 2
    unique = name
    while unique in taken:
        unique, n = f"{name} ({n})", n + 1
    return unique


def _add_group(image, drawable, name):
    """A layer group for one job's layers, on top of the worked layer's stack (its group, if it has one),
    so that the newest result is the one seen."""
    group = Gimp.GroupLayer.new(image, _unique_name(image, name))
    image.insert_layer(group, drawable.get_parent(), 0)
    return group


def _add_layer(image, group, drawable, name, pixels, x, y, w, h):
    layer = Gimp.Layer.new(image, name, w, h, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, group, 0)
    _, ox, oy = drawable.get_offsets()
    layer.set_offsets(ox + x, oy + y)
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), PIXELS, pixels)
    buffer.flush()
    layer.update(0, 0, w, h)
    return layer


def _import_paths(image, svg: str) -> int:
    """The strokes as GIMP paths: one closed outline per stroke, already in image coordinates (GIMP's
    path import ignores <use> and its transforms); returns how many were added."""
    handle, path = tempfile.mkstemp(suffix=".svg", prefix="brushwork-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(svg)
        # merge=False: one path per stroke, named after it
        ok, paths = image.import_paths_from_file(Gio.File.new_for_path(path), False, False)
    finally:
        os.unlink(path)
    if not ok:
        raise BridgeError("GIMP could not import the strokes as paths")
    return len(paths)


def _run_job(kind, image, drawable, params, title, import_paths=False):
    x, y, w, h = _region(image, drawable)
    _, ox, oy = drawable.get_offsets()
    picture = encode_image(_read(drawable, x, y, w, h), w, h, "RGBA8")
    runner = JobRunner(Bridge(_install_python()), kind, picture, params, channels="RGBA8",
                       svg_flavour="outlines" if import_paths else None, svg_origin=(ox + x, oy + y))
    Gimp.progress_init("brushwork: " + ("painting" if kind == "paint" else "stylizing"))
    last_text = None
    while not runner.finished:
        runner.step()
        if runner.message != last_text:
            Gimp.progress_set_text(runner.message)
            last_text = runner.message
        Gimp.progress_update(runner.fraction)
        if not runner.finished:
            time.sleep(0.2)
    Gimp.progress_end()
    if runner.state != "done":
        raise BridgeError(runner.error or f"the job was {runner.state}")
    result = runner.result
    if (result.width, result.height) != (w, h):
        raise BridgeError(f"the server returned {result.width}x{result.height} pixels for {w}x{h}")
    image.undo_group_start()  # one undo step for the whole result
    try:
        group = _add_group(image, drawable, title)
        _add_layer(image, group, drawable, PAINT_LAYER if kind == "paint" else STYLIZE_LAYER, result.pixels,
                   x, y, w, h)
        if result.svg is not None:
            _import_paths(image, result.svg)
    finally:
        image.undo_group_end()
    Gimp.displays_flush()


def _dialog(procedure, config, run_mode) -> bool:
    if run_mode != Gimp.RunMode.INTERACTIVE:
        return True
    GimpUi.init("brushwork")
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config)
    dialog.fill(None)
    accepted = dialog.run()
    dialog.destroy()
    return accepted


def _fail(procedure, message):
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(f"brushwork: {message}"))


def _checked(drawables):
    # Any precision works: GEGL converts to and from the 8-bit pixels the server exchanges.
    if len(drawables) != 1:
        return "select exactly one layer"
    return None


def _procedure(job):
    """A procedure's run function: checks, the dialog (interactive only), then `job(image, drawable,
    config)`; a BridgeError becomes the procedure's error message."""

    def run(procedure, run_mode, image, drawables, config, data):
        problem = _checked(drawables)
        if problem:
            return _fail(procedure, problem)
        if not _dialog(procedure, config, run_mode):
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        try:
            job(image, drawables[0], config)
        except BridgeError as exc:
            return _fail(procedure, str(exc))
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())

    return run


def paint_job(image, drawable, config):
    params = {"brush": config.get_property("brush"), "strokes": config.get_property("strokes"),
              "seed": config.get_property("seed"), "working_size": config.get_property("working-size")}
    if config.get_property("iterations") > 0:  # 0: the painter's default
        params["iterations"] = config.get_property("iterations")
    if not config.get_property("refine"):
        params["refine_iterations"] = 0
    title = f"brushwork: {BRUSHES[params['brush']].lower()}, {params['strokes']:,} strokes"
    _run_job("paint", image, drawable, params, title, import_paths=config.get_property("import-paths"))


def _style_picture(style):
    """The style image as raw RGBA pixels, read by GIMP's own loaders: any format GIMP opens."""
    if style is None or style.get_path() is None:
        raise BridgeError("choose a style image")
    try:
        loaded = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, style)
    except GLib.Error as exc:
        raise BridgeError(f"GIMP cannot open the style image {style.get_path()}: {exc.message}") from None
    if loaded is None:
        raise BridgeError(f"GIMP cannot open the style image {style.get_path()}")
    try:
        if loaded.get_base_type() != Gimp.ImageBaseType.RGB:
            loaded.convert_rgb()  # grey and indexed style images
        layer = loaded.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        width, height = layer.get_width(), layer.get_height()
        return encode_image(_read(layer, 0, 0, width, height), width, height, "RGBA8")
    finally:
        loaded.delete()


def stylize_job(image, drawable, config):
    method = config.get_property("method")
    params = {"method": method, "alpha": config.get_property("alpha"),
              "preserve_color": config.get_property("preserve-color"),
              "style": _style_picture(config.get_property("style"))}
    _run_job("stylize", image, drawable, params, f"brushwork: {METHODS[method][0]} style")


class Brushwork(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PAINT, STYLIZE]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        if name == PAINT:
            procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, _procedure(paint_job), None)
            procedure.set_menu_label("Paint with strokes…")
            procedure.set_documentation("Paint the layer with vector brush strokes",
                                        "A new layer with the painting, and the strokes as paths.", name)
            procedure.add_choice_argument("brush", "Brush", "Brush kind", _choice(BRUSHES), "oilbrush", RW)
            procedure.add_int_argument("strokes", "Strokes", "Number of strokes", 1, 20000, 500, RW)
            procedure.add_int_argument("seed", "Seed", "Same seed, same painting", 0, 2**31 - 1, 0, RW)
            procedure.add_int_argument("working-size", "Working size", "Long side the painter works at (px)",
                                       64, 4096, 512, RW)
            procedure.add_int_argument("iterations", "Steps per level",
                                       "Optimisation steps per level, fewer is faster (0: the painter chooses)",
                                       0, 10000, 0, RW)
            procedure.add_boolean_argument("refine", "Refine at the end",
                                           "Refine all strokes together at the end: closer to the image, slower",
                                           True, RW)
            procedure.add_boolean_argument("import-paths", "Import strokes as paths",
                                           "Also add every stroke's outline as a path", True, RW)
        else:
            procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, _procedure(stylize_job), None)
            procedure.set_menu_label("Stylize…")
            procedure.set_documentation("Restyle the layer after a style image",
                                        "A new layer in the style of a style image (WCT, AdaIN or Gatys).",
                                        name)
            procedure.add_file_argument("style", "Style image", "Any image GIMP opens", Gimp.FileChooserAction.OPEN,
                                        True, None, RW)
            procedure.add_choice_argument("method", "Method", "Style transfer method", _choice(METHODS), "wct", RW)
            procedure.add_double_argument("alpha", "Strength", "Style strength, 0..1", 0.0, 1.0, 1.0, RW)
            procedure.add_boolean_argument("preserve-color", "Keep colours", "Keep the layer's colours", False, RW)
        procedure.set_image_types("RGB*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.add_menu_path("<Image>/Filters/brushwork")
        procedure.set_attribution("brushwork", "brushwork", "2026")
        return procedure


Gimp.main(Brushwork.__gtype__, sys.argv)
