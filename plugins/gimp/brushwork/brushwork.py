#!/usr/bin/env python3
"""brushwork for GIMP 3: Filters ▸ brushwork ▸ Paint with strokes… / Stylize….

Runs under GIMP's system python3 with GI only; the painting happens in `brushwork serve`, reached
through bridge_client.py (stdlib, copied in by `brushwork plugins install gimp`, which also records
the interpreter that starts the server in install.json). Works interactively (a ProcedureDialog,
which remembers the last values) and from batch mode with the same arguments.

- Input: the visible image (all visible layers merged, as the canvas shows it) inside the selection's
  bounds, or with "active-layer-only" the selected layer alone.
- Output: one layer group per job, named after it, on top of the image (with "active-layer-only": on
  top of that layer's own stack), added as one undo step of the same name.
- Cancel: GIMP's Cancel kills the plug-in outright (SIGKILL, see cancel_guard.py); a small guard
  process beside it cancels the server's job as soon as that happens.
- No engine (no brushwork Python configured, or it is gone, and no server running): the error
  gives the one command that sets it up; interactively in a dialog with a "Copy command" button.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import subprocess
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
from bridge_client import (  # noqa: E402
    Bridge,
    BridgeError,
    Choice,
    EngineOptions,
    JobRunner,
    encode_image,
    engine_env,
    log_file,
)

PAINT = "brushwork-paint"
STYLIZE = "brushwork-stylize"
OPTIONS_SNAPSHOT = os.path.join(HERE, "options.json")  # the engine's options when the plug-in was installed
OPTIONS_TIMEOUT = 15  # seconds `brushwork options` may take before the snapshot is used instead
PAINT_LAYER = "brushwork painting"
STYLIZE_LAYER = "brushwork stylized"
RW = GObject.ParamFlags.READWRITE
MODEL_FILE = "model-file"  # beside the engine's `model` setting: a trained style file of the user's own
NO_MODEL = "none"  # the Model choice that names no trained style
PIXELS = "R'G'B'A u8"  # straight alpha, the layout the server reads and returns as RGBA8


def _choice(choices):
    """A Gimp.Choice from the engine's choices: the dialog shows labels and help."""
    choice = Gimp.Choice.new()
    for i, c in enumerate(choices):
        choice.add(c.name, i, c.label, c.help)
    return choice


def _install_python() -> str | None:
    try:
        with open(os.path.join(HERE, "install.json"), encoding="utf-8") as f:
            return json.load(f).get("python")
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------------ the engine's options
# GIMP asks for the procedures' arguments when it registers them, before any job: the choices,
# defaults, ranges, labels and help come from the engine's options document, asked of a running server,
# else of the engine's Python (`brushwork options --json`, torch-free), else read from the snapshot
# `brushwork plugins install` wrote.

def _server_options():
    try:
        bridge = Bridge(None, start=False)
        return EngineOptions(bridge.options()) if bridge.begin_connect() else None
    except BridgeError:
        return None


def _cli_options(python):
    try:
        out = subprocess.run([python, "-m", "brushwork", "options", "--json"], stdin=subprocess.DEVNULL,
                             capture_output=True, env=engine_env(), timeout=OPTIONS_TIMEOUT)
        return EngineOptions.from_json(out.stdout) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, BridgeError):
        return None


@functools.cache  # one document per run: the arguments and the job read the same
def engine_options():
    """The engine's options document (see above); BridgeError when there is none at all."""
    python = os.environ.get("BRUSHWORK_PYTHON") or _install_python()
    found = _server_options() or (_cli_options(python) if python else None)
    if found is not None:
        return found
    try:
        with open(OPTIONS_SNAPSHOT, "rb") as f:
            return EngineOptions.from_json(f.read())
    except OSError:
        raise BridgeError(f"brushwork's options are unknown: no engine answered and {OPTIONS_SNAPSHOT} is "
                          "missing; run `brushwork plugins install gimp` again") from None


def argument_name(setting) -> str:
    """A setting's GIMP argument: its name with "-" for "_" (GObject property names)."""
    return setting.name.replace("_", "-")


def _toggle(setting) -> bool:
    """A count the engine picks by itself (no default, 0 allowed: refinement steps) is offered as
    on/off: on lets the engine pick, off sends 0."""
    return setting.type == "int" and setting.default is None and setting.min == 0


def offered(engine, section) -> list:
    """The settings the dialog offers: those the engine marks for the editors' dialogs and takes in a
    job, in its order (a number without a default that is no on/off count is left to the engine)."""
    return [s for s in engine.fields(section) if s.editor and s.server and (
        _toggle(s) or s.type in ("choice", "choices", "bool", "str") or (
            s.type in ("int", "float") and _default(engine, section, s) is not None))]


def _chooser(engine, section, setting):
    """The choice field whose pick gives `setting` its default (the method, for its strength), if any."""
    return engine.find(section, setting.default_by) if setting.default_by else None


def _default(engine, section, setting):
    """The setting's default; one that follows a choice (a method's own strength) takes the default
    choice's."""
    chooser = _chooser(engine, section, setting)
    return engine.default(setting, engine.default(chooser) if chooser is not None else None)


def follow_choices(config, engine, section) -> None:
    """While the dialog is open, picking a method sets the settings that follow it (its own strength),
    as the Krita docker does."""
    for setting in offered(engine, section):
        chooser = _chooser(engine, section, setting)
        if chooser is None:
            continue

        def follow(config, _spec, setting=setting, chooser=chooser):
            value = engine.default(setting, config.get_property(argument_name(chooser)))
            if value is not None:
                config.set_property(argument_name(setting), value)

        config.connect(f"notify::{argument_name(chooser)}", follow)


def _is_model(setting) -> bool:
    """stylize's `model`: the trained style, offered as a choice of the engine's styles and a file."""
    return setting.type == "str" and setting.name == "model"


def _add_model_arguments(procedure, engine, setting) -> None:
    """Model: none or one of the engine's trained styles (its options document lists the shipped and the
    user's), and Model file: any .pt file `brushwork train-style` wrote, which wins when chosen."""
    choices = [Choice(NO_MODEL, "None (use the style image)", "No trained style: the style image is used")]
    choices += [style for style in engine.styles() if style.name != NO_MODEL]
    procedure.add_choice_argument(argument_name(setting), setting.label or setting.name, setting.help,
                                  _choice(choices), NO_MODEL, RW)
    procedure.add_file_argument(MODEL_FILE, "Model file (optional)", "A trained style file (.pt) of your own, from "
                                "brushwork train-style; when chosen it is used instead of Model",
                                Gimp.FileChooserAction.OPEN, True, None, RW)


def trained_style(config) -> str:
    """The trained style the arguments name: Model file when one is chosen, else Model ("": none)."""
    chosen = config.get_property(MODEL_FILE)
    if chosen is not None and chosen.get_path():
        return chosen.get_path()
    name = config.get_property("model")
    return "" if not name or name == NO_MODEL else name


def add_arguments(procedure, engine, section) -> None:
    """An argument for every setting the dialog offers, with the engine's label, help, default and range."""
    for setting in offered(engine, section):
        name, label, help_text = argument_name(setting), setting.label or setting.name, setting.help
        if _is_model(setting):
            _add_model_arguments(procedure, engine, setting)
        elif setting.type in ("choice", "choices"):
            procedure.add_choice_argument(name, label, help_text, _choice(engine.choices(setting)),
                                          engine.default(setting), RW)
        elif _toggle(setting):
            procedure.add_boolean_argument(name, label, f"{help_text} On: as many as the engine picks; off: none.",
                                           True, RW)
        elif setting.type == "int":
            low = int(setting.min) + setting.min_open if setting.min is not None else -2**31 + 1
            high = int(setting.max) - setting.max_open if setting.max is not None else 2**31 - 1
            procedure.add_int_argument(name, label, help_text, low, high, _default(engine, section, setting), RW)
        elif setting.type == "float":
            procedure.add_double_argument(name, label, help_text, -1e9 if setting.min is None else setting.min,
                                          1e9 if setting.max is None else setting.max,
                                          _default(engine, section, setting), RW)
        elif setting.type == "bool":
            procedure.add_boolean_argument(name, label, help_text, bool(setting.default), RW)
        else:
            procedure.add_string_argument(name, label, help_text, setting.default or "", RW)


def job_params(config, engine, section) -> dict:
    """The job's parameters from the procedure's arguments, named as the engine names its settings."""
    params = {}
    for setting in offered(engine, section):
        if _is_model(setting):
            params[setting.name] = trained_style(config)
            continue
        value = config.get_property(argument_name(setting))
        if not _toggle(setting):
            params[setting.name] = engine.value(setting, value)
        elif not value:
            params[setting.name] = 0
    return params


def choice_label(engine, section, choices, value) -> str:
    setting = engine.find(section, choices)
    choice = engine.choice(setting, value) if setting is not None else None
    return choice.label if choice is not None else str(value)


# ------------------------------------------------------------------------------------------ the engine

SETUP = "bash scripts/setup.sh && .venv/bin/brushwork plugins install gimp"  # README: Krita and GIMP


class EngineMissing(BridgeError):
    """brushwork itself (the Python that runs `brushwork serve`) is not there; `command` sets it up."""

    def __init__(self, reason: str, command: str, where: str) -> None:
        self.reason, self.command, self.where = reason, command, where
        super().__init__(f"{reason}. Run this once{where}, then run the filter again: {command}")


def _setup_command(python: str | None) -> tuple[str, str]:
    """The one command that sets up brushwork and this plug-in, and where to run it: in the clone
    that install.json's Python belonged to (<clone>/.venv/bin/python) while that clone is there,
    else in the user's brushwork folder."""
    if python:
        venv = os.path.dirname(os.path.dirname(python))
        clone = os.path.dirname(venv)
        if os.path.basename(venv) == ".venv" and os.path.isfile(os.path.join(clone, "scripts", "setup.sh")):
            return f"cd {shlex.quote(clone)} && {SETUP}", " in a terminal"
    return SETUP, " in a terminal, in your brushwork folder (a clone of its repository)"


def _imports_brushwork(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", "import importlib.util, sys; "
                               "sys.exit(importlib.util.find_spec('brushwork') is None)"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=engine_env(), timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return True  # slow, not missing: starting the server will tell
    except OSError:
        return False


def _engine_problem() -> EngineMissing | None:
    """None when brushwork can run: a server already runs (whoever started it), or the configured
    Python ($BRUSHWORK_PYTHON, else install.json's) exists and imports brushwork."""
    try:
        if Bridge(None, start=False).begin_connect():
            return None
    except BridgeError:
        pass
    python = os.environ.get("BRUSHWORK_PYTHON") or _install_python()
    if not python:
        reason = "brushwork's engine was not found: no brushwork Python is configured for this plug-in"
    elif not os.path.exists(python):
        reason = f"brushwork's engine was not found: its Python {python} does not exist any more"
    elif not _imports_brushwork(python):
        reason = f"brushwork's engine was not found: {python} cannot import brushwork"
    else:
        return None
    return EngineMissing(reason, *_setup_command(python))


def _engine_dialog(problem: EngineMissing) -> None:
    """The problem and its command, with a button that copies the command (GTK clipboard)."""
    gi.require_version("Gtk", "3.0")
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk, Gtk

    GimpUi.init("brushwork")
    copy_response = 1
    dialog = Gtk.MessageDialog(message_type=Gtk.MessageType.ERROR, buttons=Gtk.ButtonsType.NONE,
                               text="brushwork's engine was not found")
    dialog.set_title("brushwork")
    detail = problem.reason.split(": ", 1)[-1]
    dialog.format_secondary_text(f"{detail[:1].upper()}{detail[1:]}.\n\nRun this command once{problem.where}, "
                                 "then run the filter again:")
    entry = Gtk.Entry(text=problem.command, editable=False)
    entry.set_width_chars(min(max(len(problem.command), 40), 90))
    dialog.get_message_area().pack_start(entry, False, False, 0)
    copy = dialog.add_button("_Copy command", copy_response)
    dialog.add_button("_Close", Gtk.ResponseType.CLOSE)
    dialog.set_default_response(copy_response)
    GimpUi.window_set_transient(dialog)
    dialog.show_all()
    clipboard = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD)
    while dialog.run() == copy_response:
        clipboard.set_text(problem.command, -1)
        clipboard.store()  # a clipboard manager keeps it after the plug-in exits
        copy.set_label("Copied: paste it in a terminal")
        entry.select_region(0, -1)
    dialog.destroy()


# ------------------------------------------------------------------------------------------ cancelling

class _CancelGuard:
    """cancel_guard.py beside this process: it cancels the server's job if this process dies first
    (GIMP's Cancel kills plug-ins with SIGKILL, so nothing in here could). Best effort: without it
    the job still runs, it just is not cancelled with the plug-in."""

    def __init__(self) -> None:
        self._pipe = None
        self._sent = None
        read, write = os.pipe()  # not inheritable: only the guard gets the read end, as its stdin
        try:
            log = log_file()
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "ab") as err:
                subprocess.Popen([sys.executable, os.path.join(HERE, "cancel_guard.py")], stdin=read,
                                 stdout=subprocess.DEVNULL, stderr=err, close_fds=True,
                                 start_new_session=(os.name == "posix"))  # out of reach of a group kill
        except OSError:
            os.close(write)
            return
        finally:
            os.close(read)
        self._pipe = os.fdopen(write, "w", encoding="utf-8", buffering=1)

    def _send(self, line: str) -> None:
        if self._pipe is None:
            return
        try:
            self._pipe.write(line + "\n")
        except OSError:  # the guard has gone
            self._pipe = None

    def follow(self, runner: JobRunner) -> None:
        """Tell the guard the job's id (again whenever it was submitted anew to another server)."""
        bridge = runner.bridge
        current = (runner.job_id, bridge.port, bridge.token)
        if runner.job_id is not None and bridge.port is not None and current != self._sent:
            self._sent = current
            self._send(json.dumps({"job": runner.job_id, "port": bridge.port, "token": bridge.token}))

    def release(self) -> None:
        """The job is over (or cancelled by this process): the guard exits without doing anything."""
        self._send("done")
        if self._pipe is not None:
            try:
                self._pipe.close()
            except OSError:
                pass
            self._pipe = None


# ------------------------------------------------------------------------------------------ pixels

def _bounds(image):
    """The selection's bounds (image coordinates), or None when nothing is selected."""
    _, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(image)
    return (x1, y1, x2, y2) if non_empty else None


def _read(drawable, x, y, w, h, abyss=Gegl.AbyssPolicy.CLAMP) -> bytes:
    buffer = drawable.get_buffer()
    return bytes(buffer.get(Gegl.Rectangle.new(x, y, w, h), 1.0, PIXELS, abyss))


def _layer_source(image, drawable):
    """The selection's bounds inside the layer (or the whole layer): (x, y, w, h) in image coordinates
    and the layer's own pixels there."""
    _, ox, oy = drawable.get_offsets()
    width, height = drawable.get_width(), drawable.get_height()
    bounds = _bounds(image)
    x0, y0, x1, y1 = (0, 0, width, height) if bounds is None else (
        max(0, bounds[0] - ox), max(0, bounds[1] - oy), min(width, bounds[2] - ox), min(height, bounds[3] - oy))
    if x1 <= x0 or y1 <= y0:
        raise BridgeError("the selection does not overlap the active layer")
    w, h = x1 - x0, y1 - y0
    return (ox + x0, oy + y0, w, h), _read(drawable, x0, y0, w, h)


def _visible_source(image):
    """The selection's bounds (or the whole image) and the visible image there: every visible layer
    merged as the canvas shows it, read from a merged duplicate that is deleted again."""
    width, height = image.get_width(), image.get_height()
    bounds = _bounds(image) or (0, 0, width, height)
    x0, y0, x1, y1 = max(0, bounds[0]), max(0, bounds[1]), min(width, bounds[2]), min(height, bounds[3])
    if x1 <= x0 or y1 <= y0:
        raise BridgeError("the selection lies outside the image")
    w, h = x1 - x0, y1 - y0
    copy = image.duplicate()
    try:
        try:
            merged = copy.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        except GLib.Error:
            merged = None
        if merged is None:
            raise BridgeError("no layer is visible: show one, or choose 'Active layer only'")
        _, mx, my = merged.get_offsets()
        # outside a merged layer smaller than the image there is nothing: transparent
        pixels = _read(merged, x0 - mx, y0 - my, w, h, Gegl.AbyssPolicy.NONE)
    finally:
        copy.delete()
    return (x0, y0, w, h), pixels


# ------------------------------------------------------------------------------------------ results

def _unique_name(image, name):
    """`name`, or `name (2)`, ... so that every run's group can be told apart."""
    taken = {item.get_name() for item in image.get_layers()}
    n = 2
    unique = name
    while unique in taken:
        unique, n = f"{name} ({n})", n + 1
    return unique


def _add_group(image, parent, name):
    """A layer group for one job's layers, on top of `parent`'s stack (None: of the image), so that
    the newest result is the one seen."""
    group = Gimp.GroupLayer.new(image, _unique_name(image, name))
    image.insert_layer(group, parent, 0)
    return group


def _new_layer(image, name, pixels, x, y, w, h):
    """A layer of the image holding `pixels` at (x, y), not inserted yet (filling it is no undo step)."""
    layer = Gimp.Layer.new(image, name, w, h, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    layer.set_offsets(x, y)
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), PIXELS, pixels)
    buffer.flush()
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


def _quiet_undo_names() -> bool:
    """Whether a named undo step (see `_undo_step`) stays out of the user's way. While it is being
    made, GIMP 3.0 logs a warning at every menu update ("Unable to set sensitivity of action which
    doesn't exist": the temporary procedure has a label but no menu action). GIMP prints those on its
    terminal unless Preferences > Debugging asks to debug warnings (debug-policy "warning", the
    default of development builds): then each would open GIMP's debug dialog."""
    try:
        policy = Gimp.gimprc_query("debug-policy")
    except GLib.Error:
        return False
    return policy in ("critical", "fatal", "never")


def _undo_step(procedure, image, title, work) -> None:
    """`work()` as one undo step, named `title` where GIMP allows it quietly.

    undo_group_start() takes no name: GIMP names a plug-in's undo group after the menu label of the
    procedure that runs when the group starts (app/plug-in/gimpplugin.c, gimp_plug_in_get_undo_desc),
    so it would read "Paint with strokes". Started inside a temporary procedure labelled `title`, which
    this plug-in calls through the PDB, the step reads `title` (seen in GIMP 3.0.4's Edit menu: "Undo
    brushwork: oil brush, 500 strokes"). Where that would be noisy (`_quiet_undo_names`) or fails,
    the work still happens once, in a group under the procedure's own label."""
    done, failure = [], []

    def run(temporary, config, data):
        image.undo_group_start()
        try:
            done.append(True)
            work()
        except Exception as exc:  # raised again below, outside GIMP's call
            failure.append(exc)
        finally:
            image.undo_group_end()
        return temporary.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())

    if _quiet_undo_names():
        plug_in = procedure.get_plug_in()
        name = f"brushwork-undo-step-{os.getpid()}"
        temporary = None
        try:
            temporary = Gimp.Procedure.new(plug_in, name, Gimp.PDBProcType.TEMPORARY, run, None)
            temporary.set_menu_label(title)
            temporary.set_documentation(title, "", name)
            plug_in.add_temp_procedure(temporary)
            registered = Gimp.get_pdb().lookup_procedure(name)
            if registered is not None:
                registered.run(registered.create_config())
        except GLib.Error:
            pass
        finally:
            if temporary is not None and plug_in.get_temp_procedure(name) is not None:
                plug_in.remove_temp_procedure(name)
    if not done:
        run(procedure, None, None)
    if failure:
        raise failure[0]


# ------------------------------------------------------------------------------------------ jobs

def _run_job(procedure, kind, image, drawables, config, params, title, import_paths=False):
    Gimp.progress_init("brushwork: " + ("painting" if kind == "paint" else "stylizing"))
    if config.get_property("active-layer-only"):
        if len(drawables) != 1:
            raise BridgeError("select exactly one layer for 'Active layer only'")
        (x, y, w, h), pixels = _layer_source(image, drawables[0])
        parent = drawables[0].get_parent()
    else:
        (x, y, w, h), pixels = _visible_source(image)
        parent = None
    picture = encode_image(pixels, w, h, "RGBA8")
    del pixels
    runner = JobRunner(Bridge(_install_python()), kind, picture, params, channels="RGBA8",
                       svg_flavour="outlines" if import_paths else None, svg_origin=(x, y))
    guard = _CancelGuard()
    last_text = None
    try:
        while not runner.finished:
            runner.step()
            guard.follow(runner)
            if runner.message != last_text:
                Gimp.progress_set_text(runner.message)
                last_text = runner.message
            Gimp.progress_update(runner.fraction)
            if not runner.finished:
                time.sleep(0.2)
    finally:
        if not runner.finished:  # an error in here: the server's job stops with it
            runner.cancel()
        guard.release()
    Gimp.progress_end()
    if runner.state != "done":
        raise BridgeError(runner.error or f"the job was {runner.state}")
    result = runner.result
    if (result.width, result.height) != (w, h):
        raise BridgeError(f"the server returned {result.width}x{result.height} pixels for {w}x{h}")

    layer = _new_layer(image, PAINT_LAYER if kind == "paint" else STYLIZE_LAYER, result.pixels, x, y, w, h)
    inserted = []

    def add():  # as little as possible inside the undo step: the layer is filled already
        group = _add_group(image, parent, title)
        image.insert_layer(layer, group, 0)
        inserted.append(layer)
        if result.svg is not None:
            _import_paths(image, result.svg)

    try:
        _undo_step(procedure, image, title, add)
    finally:
        if not inserted:
            layer.delete()  # never part of the image
    Gimp.displays_flush()


def _dialog(procedure, config, run_mode) -> bool:
    if run_mode != Gimp.RunMode.INTERACTIVE:
        return True
    GimpUi.init("brushwork")
    follow_choices(config, engine_options(), "stylize" if procedure.get_name() == STYLIZE else "paint")
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config)
    dialog.fill(None)
    accepted = dialog.run()
    dialog.destroy()
    return accepted


def _fail(procedure, message):
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(f"brushwork: {message}"))


def _procedure(job):
    """A procedure's run function: the engine check, the dialog (interactive only), then
    `job(procedure, image, drawables, config)`; a BridgeError becomes the procedure's error message.
    Any precision works: GEGL converts to and from the 8-bit pixels the server exchanges."""

    def run(procedure, run_mode, image, drawables, config, data):
        problem = _engine_problem()
        if problem is not None:
            if run_mode == Gimp.RunMode.INTERACTIVE:
                _engine_dialog(problem)  # says it all: no second error box from GIMP
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
            return _fail(procedure, str(problem))
        if not _dialog(procedure, config, run_mode):
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        try:
            job(procedure, image, drawables, config)
        except BridgeError as exc:
            Gimp.progress_end()
            return _fail(procedure, str(exc))
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())

    return run


def paint_job(procedure, image, drawables, config):
    engine = engine_options()
    params = job_params(config, engine, "paint")
    brush = config.get_property(argument_name(engine.field_for("paint", "brushes")))
    title = f"brushwork: {choice_label(engine, 'paint', 'brushes', brush).lower()}, {params['strokes']:,} strokes"
    style = config.get_property("style")
    if style is not None and style.get_path() is not None:  # optional: the painting takes on its style
        params["style"] = _style_picture(style)
    _run_job(procedure, "paint", image, drawables, config, params, title,
             import_paths=config.get_property("import-paths"))


def _style_picture(style):
    """The style image as raw RGBA pixels, read by GIMP's own loaders: any format GIMP opens."""
    if style is None or style.get_path() is None:
        raise BridgeError("choose a style image, or a trained style (Model)")
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


def stylize_job(procedure, image, drawables, config):
    engine = engine_options()
    params = job_params(config, engine, "stylize")
    method = config.get_property(argument_name(engine.field_for("stylize", "methods")))
    model = params.get("model")
    if not model:  # a trained style needs no style image
        params["style"] = _style_picture(config.get_property("style"))
    name = os.path.splitext(os.path.basename(model))[0] if model else choice_label(engine, "stylize", "methods",
                                                                                  method)
    _run_job(procedure, "stylize", image, drawables, config, params, f"brushwork: {name} style")


class Brushwork(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PAINT, STYLIZE]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        try:
            engine = engine_options()
        except BridgeError:  # registered without the engine's arguments: running it says what is wrong
            engine = EngineOptions({"paint": {"fields": []}, "stylize": {"fields": []}})
        if name == PAINT:
            procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, _procedure(paint_job), None)
            procedure.set_menu_label("Paint with strokes…")
            procedure.set_documentation("Paint the image with vector brush strokes",
                                        "Paints the visible image (or the active layer) inside the selection: a "
                                        "new layer group with the painting, and the strokes as paths.", name)
            procedure.add_file_argument("style", "Style image (optional)", "A picture whose style the painting "
                                        "takes on, as the style mode says; none: a plain painting",
                                        Gimp.FileChooserAction.OPEN, True, None, RW)
            add_arguments(procedure, engine, "paint")
            procedure.add_boolean_argument("import-paths", "Import strokes as paths",
                                           "Also add every stroke's outline as a path", True, RW)
        else:
            procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, _procedure(stylize_job), None)
            procedure.set_menu_label("Stylize…")
            methods = engine.find("stylize", "methods")
            names = ", ".join(c.label for c in engine.choices(methods)) if methods is not None else ""
            procedure.set_documentation("Restyle the image after a style image or a trained style",
                                        "Restyles the visible image (or the active layer) inside the selection: "
                                        f"a new layer group in the style of a style image ({names}), or of a "
                                        "trained style (Model, Model file) with no style image.", name)
            procedure.add_file_argument("style", "Style image", "Any image GIMP opens (none needed with a trained "
                                        "style: Model)", Gimp.FileChooserAction.OPEN, True, None, RW)
            add_arguments(procedure, engine, "stylize")
        procedure.add_boolean_argument("active-layer-only", "Active layer only",
                                       "Read only the selected layer instead of the visible image (all visible "
                                       "layers merged, as the canvas shows them)", False, RW)
        procedure.set_image_types("RGB*")
        # the visible image needs no layer selected; "Active layer only" checks for exactly one itself
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE |
                                       Gimp.ProcedureSensitivityMask.DRAWABLES |
                                       Gimp.ProcedureSensitivityMask.NO_DRAWABLES)
        procedure.add_menu_path("<Image>/Filters/brushwork")
        procedure.set_attribution("brushwork", "brushwork", "2026")
        return procedure


Gimp.main(Brushwork.__gtype__, sys.argv)
