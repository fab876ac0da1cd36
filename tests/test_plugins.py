"""`brushwork plugins install|uninstall`, and the Krita plug-in's logic against a stand-in `krita`
module (the real editors run in tests/e2e)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import json
import os
import stat
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from brushwork import client, raster, svg
from brushwork.cli import cli
from brushwork.plugin_install import default_dest, install, uninstall
from brushwork.settings import PaintSettings, StyleOptions, describe
from brushwork.strokes import BRUSHES

CORE = Path(client.__file__).parent


# ------------------------------------------------------------------------------------------ install

def test_install_krita_copies_plugin_and_client_and_records_the_interpreter(tmp_path):
    lines = install("krita", tmp_path)
    package = tmp_path / "brushwork_krita"
    desktop = (tmp_path / "brushwork_krita.desktop").read_text()
    assert "X-KDE-Library=brushwork_krita" in desktop and "ServiceTypes=Krita/PythonPlugin" in desktop
    assert {"__init__.py", "ui.py", "jobs.py", "document.py", "model.py", "bridge_client.py", "install.json"} <= {
        p.name for p in package.iterdir()}
    assert (package / "bridge_client.py").read_text() == (CORE / "client.py").read_text()
    assert json.loads((package / "install.json").read_text())["python"] == sys.executable
    assert any(str(tmp_path) in line for line in lines) and any(sys.executable in line for line in lines)
    assert any("Python Plugin Manager" in line for line in lines)
    assert any(str(client.log_file()) in line for line in lines)


def test_install_gimp_makes_the_script_executable_in_a_folder_of_its_name(tmp_path):
    install("gimp", tmp_path)
    script = tmp_path / "brushwork" / "brushwork.py"
    assert script.stat().st_mode & stat.S_IXUSR
    assert script.read_text().startswith("#!/usr/bin/env python3")
    assert (tmp_path / "brushwork" / "bridge_client.py").exists()
    # GIMP runs it under the system python3 (3.10+ on supported systems)
    ast.parse(script.read_text(), feature_version=(3, 10))


def test_reinstall_replaces_old_files_and_uninstall_removes_only_the_plugin(tmp_path):
    install("krita", tmp_path)
    stale = tmp_path / "brushwork_krita" / "old_module.py"
    stale.write_text("")
    other = tmp_path / "someone_else.desktop"
    other.write_text("")
    install("krita", tmp_path)
    assert not stale.exists()
    assert uninstall("krita", tmp_path) == [f"removed {tmp_path / 'brushwork_krita.desktop'}",
                                            f"removed {tmp_path / 'brushwork_krita'}"]
    assert other.exists() and not (tmp_path / "brushwork_krita").exists()
    assert "nothing to do" in uninstall("krita", tmp_path)[0]


def test_cli_plugins_install_and_uninstall(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["plugins", "install", "gimp", "--dest", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"copied the GIMP plug-in to {tmp_path / 'brushwork'}" in result.output
    result = runner.invoke(cli, ["plugins", "uninstall", "gimp", "--dest", str(tmp_path)])
    assert result.exit_code == 0 and f"removed {tmp_path / 'brushwork'}" in result.output
    assert runner.invoke(cli, ["plugins", "install", "photoshop"]).exit_code == 2


def test_default_destinations_follow_xdg(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert default_dest("krita") == tmp_path / "data" / "krita" / "pykrita"
    assert default_dest("gimp") == tmp_path / "config" / "GIMP" / "3.0" / "plug-ins"


def test_plugins_import_no_torch_or_numpy():
    plugins = Path(__file__).resolve().parents[1] / "plugins"
    for path in plugins.rglob("*.py"):
        tree = ast.parse(path.read_text(), feature_version=(3, 10))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in ("torch", "numpy", "brushwork", "PIL"), (path, name)


# ------------------------------------------------------------------------------------------ Krita stand-in

class Node:
    """A layer; `children` lists a group's layers bottom to top, as Krita stacks them."""

    _ids = iter(range(1, 1 << 30))

    def __init__(self, name: str, kind: str, uid: int | None = None) -> None:
        self._name, self.kind = name, kind
        self.uid = uid if uid is not None else next(Node._ids)
        self.pixels: tuple | None = None
        self.pixel_writes = 0
        self.svg: str | None = None
        self.children: list[Node] = []
        self.parent: Node | None = None
        self.projection: np.ndarray | None = None  # BGRA, the document's size (layers the test fills)
        self.converting = False

    def name(self):
        return self._name

    def setName(self, name):  # noqa: N802 (Krita's names)
        self._name = name

    def parentNode(self):  # noqa: N802
        return self.parent

    def uniqueId(self):  # noqa: N802
        return self.uid

    def childNodes(self):  # noqa: N802
        return list(self.children)

    def setPixelData(self, data, x, y, w, h):  # noqa: N802
        self.pixel_writes += 1
        # Krita 5.1: a colour-space conversion still running replaces pixels written meanwhile
        self.pixels = None if self.converting else (bytes(data), x, y, w, h)

    def projectionPixelData(self, x, y, w, h):  # noqa: N802
        assert self.projection is not None, "the test gave this layer no pixels"
        return self.projection[y:y + h, x:x + w].tobytes()

    def addShapesFromSvg(self, text):  # noqa: N802
        self.svg = text

    def setColorSpace(self, model, depth, profile):  # noqa: N802
        self.color_space = (model, depth, profile)
        self.converting = True  # until the document's waitForDone

    def tree(self) -> list[Node]:
        return [self] + [node for child in self.children for node in child.tree()]

    def addChildNode(self, node, above):  # noqa: N802
        # Krita: placed right above `above`, or on top of the stack when it is None
        self.children.insert(self.children.index(above) + 1 if above is not None else len(self.children), node)
        node.parent = self

    def remove(self):
        if self.parent is None:  # Krita: not (yet) in the layer stack
            return False
        self.parent.children.remove(self)
        self.parent = None
        return True

    def copy(self) -> Node:
        node = Node(self._name, self.kind, self.uid)
        node.projection = self.projection
        for child in self.children:
            node.addChildNode(child.copy(), None)
        return node


class Selection:
    def __init__(self, x, y, w, h) -> None:
        self._bounds = (x, y, w, h)

    def x(self):
        return self._bounds[0]

    def y(self):
        return self._bounds[1]

    def width(self):
        return self._bounds[2]

    def height(self):
        return self._bounds[3]


class Document:
    """An RGBA/U8 Krita document: pixelData hands out B,G,R,A bytes."""

    def __init__(self, rgba: np.ndarray, selection=None, model="RGBA", depth="U8") -> None:
        self.bgra = np.ascontiguousarray(rgba[..., [2, 1, 0, 3]])
        self._selection, self.model, self.depth = selection, model, depth
        self.root = Node("root", "grouplayer")
        self.active: Node | None = None
        self.refreshed = 0
        self.clones: list[Document] = []
        self.profile, self.closed = "", False
        self.during_refresh = None

    def width(self):
        return self.bgra.shape[1]

    def height(self):
        return self.bgra.shape[0]

    def colorModel(self):  # noqa: N802
        return self.model

    def colorDepth(self):  # noqa: N802
        return self.depth

    def selection(self):
        return self._selection

    def pixelData(self, x, y, w, h):  # noqa: N802
        assert (self.model, self.depth) == ("RGBA", "U8"), "Krita hands out other layouts for other formats"
        return self.bgra[y:y + h, x:x + w].tobytes()

    def activeNode(self):  # noqa: N802
        return self.active

    def clone(self):
        # like Krita's: the same layers (ids and order), no active layer
        copy = Document(self.bgra[..., [2, 1, 0, 3]], self._selection, self.model, self.depth)
        copy.root = self.root.copy()
        self.clones.append(copy)
        return copy

    def setColorSpace(self, model, depth, profile):  # noqa: N802
        self.model, self.depth, self.profile = model, depth, profile

    def waitForDone(self):  # noqa: N802
        for node in self.root.tree():
            node.converting = False

    def close(self):
        self.closed = True

    def createNode(self, name, kind):  # noqa: N802
        return Node(name, kind)

    def createVectorLayer(self, name):  # noqa: N802
        return Node(name, "vectorlayer")

    def createGroupLayer(self, name):  # noqa: N802
        return Node(name, "grouplayer")

    def topLevelNodes(self):  # noqa: N802
        return list(self.root.children)

    def rootNode(self):  # noqa: N802
        return self.root

    def refreshProjection(self):  # noqa: N802
        self.refreshed += 1
        if self.during_refresh is not None:  # Krita runs the event loop inside some calls: timers, clicks
            hook, self.during_refresh = self.during_refresh, None
            hook()


class Krita:
    """The stand-in `krita.Krita.instance()`: the open documents (each shown in a view), the active one."""

    app: Krita | None = None

    def __init__(self) -> None:
        self.shown: list[Document] = []
        self.active: Document | None = None

    @classmethod
    def instance(cls):
        return cls.app

    def activeDocument(self):  # noqa: N802
        return self.active

    def windows(self):
        views = [types.SimpleNamespace(document=lambda doc=doc: doc) for doc in self.shown]
        return [types.SimpleNamespace(views=lambda: views)]

    def version(self):
        return "5.1.5"

    def show(self, doc: Document) -> Document:
        self.shown.append(doc)
        self.active = doc
        return doc


@pytest.fixture
def krita_plugin(tmp_path, monkeypatch):
    """The installed Krita plug-in's modules, importable without Krita: its package is made by hand
    (its __init__ registers with Krita), PyQt5.QtCore is a stand-in with QByteArray and `krita` one
    with Krita.instance() (`.app` in the namespace returned)."""
    install("krita", tmp_path / "pykrita")
    qtcore = types.ModuleType("PyQt5.QtCore")
    qtcore.QByteArray = bytes
    pyqt = types.ModuleType("PyQt5")
    pyqt.QtCore = qtcore
    krita = types.ModuleType("krita")
    krita.Krita = Krita
    Krita.app = Krita()
    package = types.ModuleType("brushwork_krita")
    package.__path__ = [str(tmp_path / "pykrita" / "brushwork_krita")]
    for name, module in (("PyQt5", pyqt), ("PyQt5.QtCore", qtcore), ("krita", krita), ("brushwork_krita", package)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("BRUSHWORK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BRUSHWORK_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.delenv("BRUSHWORK_PYTHON", raising=False)
    modules = types.SimpleNamespace(**{name: importlib.import_module(f"brushwork_krita.{name}")
                                       for name in ("model", "document", "jobs", "bridge_client", "engine")},
                                    app=Krita.app)
    modules.options = modules.bridge_client.EngineOptions(describe())  # the engine's, as a server sends them
    yield modules
    bridge = modules.jobs._bridge
    if bridge is not None:
        bridge.stop()
    Krita.app = None
    for name in [n for n in sys.modules if n.startswith("brushwork_krita.")]:
        del sys.modules[name]  # each test imports its own installed copy


def _memory_settings(model, store: dict | None = None):
    store = {} if store is None else store
    return model.Settings(lambda g, k, d: store.get((g, k), d), lambda g, k, v: store.__setitem__((g, k), v)), store


def test_settings_remember_the_last_values(krita_plugin):
    model, engine = krita_plugin.model, krita_plugin.options
    settings, store = _memory_settings(model)
    fresh = model.defaults(model.PaintOptions, engine)
    assert settings.load(model.PaintOptions, fresh) == fresh
    settings.save(model.PaintOptions(brush="markerpen", strokes=42, seed=9, working_size=256, iterations=7,
                                     vector_layer=False, refine=False, active_layer=True))
    assert settings.load(model.PaintOptions, fresh) == model.PaintOptions("markerpen", 42, 9, 256, 7, False, False,
                                                                          True)
    assert dataclasses.replace(fresh, iterations=7).params(engine)["iterations"] == 7
    assert dataclasses.replace(fresh, refine=False).params(engine)["refine_iterations"] == 0  # a draft: no refinement
    # the panel shows the painter's real default, no 'auto'; a stored 0 still means the engine's
    assert fresh.params(engine)["iterations"] == PaintSettings().iterations
    assert "iterations" not in dataclasses.replace(fresh, iterations=0).params(engine)
    assert "refine_iterations" not in fresh.params(engine)  # the painter decides how long to refine
    store[("brushwork", "StylizeOptions")] = json.dumps({"alpha": "strong", "method": "adain"})
    fresh_stylize = model.defaults(model.StylizeOptions, engine)
    loaded = settings.load(model.StylizeOptions, fresh_stylize)
    assert loaded.alpha == fresh_stylize.alpha and loaded.method == "adain"  # a bad stored value: the fresh one
    store[("brushwork", "PaintOptions")] = "{not json"
    assert settings.load(model.PaintOptions, fresh) == fresh
    store[("brushwork", "PaintOptions")] = "[1, 2]"
    assert settings.load(model.PaintOptions, fresh) == fresh
    params = model.StylizeOptions(method="gatys", steps=30, style_size=256).params(engine)
    assert (params["method"], params["steps"], params["style_size"]) == ("gatys", 30, 256)
    assert "style" not in params  # added in the job's thread (reading the image takes a while)


def test_presets_set_their_values_and_are_recognised(krita_plugin):
    model, engine = krita_plugin.model, krita_plugin.options
    paint, stylize = model.defaults(model.PaintOptions, engine), model.defaults(model.StylizeOptions, engine)
    assert model.preset_of(paint, engine) == "Balanced"  # a fresh panel
    assert model.preset_of(stylize, engine) == "Balanced"
    draft = model.apply_preset(dataclasses.replace(paint, brush="tape", seed=5), "Draft", engine)
    assert (draft.brush, draft.seed, draft.refine) == ("tape", 5, False)  # the preset's values only
    assert draft.strokes < paint.strokes and draft.working_size < 512
    final = model.apply_preset(draft, "Final", engine)
    assert final.refine and final.strokes >= 1000 and model.preset_of(final, engine) == "Final"
    assert final.iterations == PaintSettings().iterations  # the engine's default, not a copy of it
    assert model.preset_of(dataclasses.replace(paint, strokes=123), engine) == model.CUSTOM
    assert model.apply_preset(dataclasses.replace(stylize, style="s.png"), "Draft", engine).method == "adain"
    final_style = model.apply_preset(stylize, "Final", engine)
    assert (final_style.method, final_style.steps, final_style.style_size) == (
        "gatys", StyleOptions().steps, StyleOptions().style_size)


def test_the_strength_follows_the_method(krita_plugin):
    """Each method has its own default strength (WCT 0.6, the others 1): a fresh panel, a preset and a
    method picked in the panel take the chosen method's."""
    model, engine = krita_plugin.model, krita_plugin.options
    fresh = model.defaults(model.StylizeOptions, engine)
    assert (fresh.method, fresh.alpha) == ("microast", 1.0)
    wct = model.follow_choices(dataclasses.replace(fresh, method="wct"), engine)
    assert wct.alpha == 0.6
    assert model.apply_preset(wct, "Draft", engine).alpha == 1.0  # AdaIN
    assert model.apply_preset(wct, "Balanced", engine).alpha == 1.0  # the engine's default method
    picked = model.follow_choices(dataclasses.replace(fresh, method="microast", alpha=0.3), engine)
    assert picked.alpha == 1.0
    alpha = engine.field("stylize", "alpha")
    assert alpha.default is None and alpha.default_by == "methods"
    assert engine.default(alpha, "wct") == 0.6 and engine.default(alpha, "gatys") == 1.0
    assert engine.default(alpha, "sketchy") is None  # a method the document lacks: the engine decides


def test_gimp_strength_follows_the_picked_method(gimp_plugin, monkeypatch):
    _, stylize = _register(gimp_plugin, describe(), monkeypatch)
    engine = gimp_plugin.EngineOptions(describe())

    class Notifying(Config):
        def __init__(self, values) -> None:
            super().__init__(values)
            self.handlers = []

        def connect(self, signal, handler):
            self.handlers.append((signal, handler))

        def set_property(self, name, value):
            self.values[name] = value
            for signal, handler in self.handlers:
                if signal == f"notify::{name}":
                    handler(self, None)

    config = Notifying({name: arg[-1] for name, arg in stylize.arguments.items()})
    gimp_plugin.follow_choices(config, engine, "stylize")
    assert config.values["alpha"] == 1.0  # the default method's (MicroAST)
    config.set_property("method", "wct")
    assert config.values["alpha"] == 0.6
    config.set_property("method", "adain")
    assert config.values["alpha"] == 1.0


def test_the_estimate_counts_the_refinement_steps_the_engine_takes(krita_plugin):
    from brushwork.painter.refine import default_iterations  # the plug-in cannot import the engine: a copy,
    # for the rough model's brush

    for strokes in (1, 10, 100, 300, 1000, 2000, 5000, 20000):
        assert krita_plugin.model.refine_steps(strokes) == default_iterations(strokes, ["oilbrush"]), strokes


def test_estimates_come_from_this_machines_jobs(krita_plugin):
    model = krita_plugin.model
    timings = model.Timings()
    fresh = model.defaults(model.PaintOptions, krita_plugin.options)
    draft = model.apply_preset(fresh, "Draft", krita_plugin.options)
    final = model.apply_preset(fresh, "Final", krita_plugin.options)
    rough = model.estimate_paint(draft, timings)
    assert not rough.measured and rough.seconds > 0
    assert "rough guess" in model.estimate_text(rough)
    assert model.estimate_paint(final, timings).seconds > 5 * rough.seconds  # more, larger, refined strokes
    # a job with the same settings: this machine's speed against the rough model, times the model's figure
    timings.add_paint(draft, 30.0)
    assert model.estimate_paint(draft, timings) == model.Estimate(pytest.approx(30.0), True)
    more = dataclasses.replace(draft, strokes=300)
    assert model.estimate_paint(more, timings).seconds == pytest.approx(
        30.0 * model.estimate_paint(more, model.Timings()).seconds / rough.seconds)
    assert 30 < model.estimate_paint(more, timings).seconds < 90  # more strokes, the same start
    assert "measured on this machine" in model.estimate_text(model.estimate_paint(draft, timings))
    # other settings: scaled by the work per stroke (this machine turned out faster than the rough figure)
    scaled = model.estimate_paint(final, timings)
    assert scaled.measured and scaled.seconds == pytest.approx(
        model.estimate_paint(final, model.Timings()).seconds * 30.0 / rough.seconds)
    timings.add_paint(draft, 50.0)
    timings.add_paint(draft, 40.0)
    assert model.estimate_paint(draft, timings).seconds == pytest.approx(40.0)  # the median of the recent jobs
    for _ in range(model.KEEP_SAMPLES):
        timings.add_paint(final, 600.0)
    assert len(timings.paint) == model.KEEP_SAMPLES and model.estimate_paint(draft, timings).seconds != 40.0
    timings.paint.append(["junk", None])  # a hand-edited setting is skipped
    assert model.estimate_paint(final, timings) == model.Estimate(pytest.approx(600.0), True)
    # stylize: seconds per megapixel of the method, or of the others scaled by the methods' speeds
    empty = model.Timings()
    assert not model.estimate_stylize("wct", 1.0, empty).measured
    assert model.estimate_stylize("gatys", 1.0, empty).seconds > model.estimate_stylize("adain", 1.0, empty).seconds
    timings.add_stylize("adain", 0.5, model.STYLIZE_START + 1.0)
    adain = model.estimate_stylize("adain", 2.0, timings)
    assert adain.measured and adain.seconds == pytest.approx(model.STYLIZE_START + 4.0)
    wct = model.estimate_stylize("wct", 2.0, timings)
    assert wct.measured and wct.seconds > adain.seconds
    # the timings live in Krita's settings with the rest
    settings, _ = _memory_settings(model)
    settings.save(timings)
    assert settings.load(model.Timings) == timings
    assert model.format_duration(4) == "about 4 s" and model.format_duration(42) == "about 40 s"
    assert model.format_duration(95) == "about 100 s" and model.format_duration(600) == "about 10 min"
    assert model.format_duration(4300) == "about 1 h 12 min"


def test_history_keeps_the_newest_results_within_limits(krita_plugin):
    model = krita_plugin.model
    history = model.History(limit=3, max_bytes=250)
    region = model.Region(0, 0, 5, 5)
    for n in range(4):
        history.add(model.HistoryEntry(f"job {n}", "paint", region, bytes(100), None, 1.0))
    assert [e.title for e in history.entries] == ["job 3", "job 2"]  # 3 would be 300 bytes
    history.add(model.HistoryEntry("huge", "paint", region, bytes(1000)))
    assert [e.title for e in history.entries] == ["huge"]  # the newest always stays
    assert "5×5 at 0,0" in history.entries[0].label()


def test_work_region_and_format_checks(krita_plugin, tmp_path):
    model = krita_plugin.model
    assert model.work_region(100, 80, None) == model.Region(0, 0, 100, 80)
    assert model.work_region(100, 80, model.Region(90, -5, 30, 20)) == model.Region(90, 0, 10, 15)
    assert model.work_region(100, 80, model.Region(200, 0, 5, 5)) == model.Region(0, 0, 100, 80)
    assert model.fits(model.Region(90, 0, 10, 15), 100, 80) and not model.fits(model.Region(91, 0, 10, 15), 100, 80)
    for color_model, depth in (("RGBA", "U8"), ("RGBA", "U16"), ("CMYKA", "U16"), ("GRAYA", "F32")):
        assert model.unsupported_format(color_model, depth) is None  # Krita converts these on a copy
    assert "cannot read ALPHA/U8 images" in model.unsupported_format("ALPHA", "U8")
    assert model.unsupported_krita("5.1.5") is None and model.unsupported_krita("5.3.0-prealpha") is None
    assert model.unsupported_krita("4.4.8") == "brushwork needs Krita 5.0 or newer; this is Krita 4.4.8"
    assert model.StylizeOptions().check() == "choose a style image, or a trained style (Model)"
    assert "does not exist" in model.StylizeOptions(style=str(tmp_path / "x.png")).check()


def _encoded(job, jobs) -> dict:
    """What the job's thread sends (it encodes the picture off the UI thread)."""
    return jobs.encode_image(job.pixels, job.region.width, job.region.height, "BGRA8")


def test_16_bit_and_cmyk_documents_are_read_through_a_converted_copy(krita_plugin):
    jobs, document = krita_plugin.jobs, krita_plugin.document
    rgba = np.full((8, 10, 4), 200, np.uint8)
    doc = Document(rgba, model="CMYKA", depth="U16")
    model, engine = krita_plugin.model, krita_plugin.options
    job = jobs.start_paint(doc, model.defaults(model.PaintOptions, engine), engine)
    copy, = doc.clones
    assert (copy.model, copy.depth, copy.profile) == document.EXCHANGE and copy.closed  # converted, then closed
    assert (doc.model, doc.depth) == ("CMYKA", "U16")  # the document itself is untouched
    image = _encoded(job, jobs)
    assert image["channels"] == "BGRA8" and (image["width"], image["height"]) == (10, 8)
    # the result layer has the exchange colour space of its own, so its 8-bit pixels mean what they say
    layer = document.add_paint_layer(doc, doc.root, "x", bytes(10 * 8 * 4), job.region)
    assert layer.color_space == document.EXCHANGE and layer.pixels is not None  # written once converted
    assert document.check_document(None) == "open an image first"


def test_active_layer_only_reads_that_layers_pixels(krita_plugin):
    model, jobs = krita_plugin.model, krita_plugin.jobs
    rgba = np.full((8, 10, 4), 200, np.uint8)
    doc = Document(rgba, selection=Selection(2, 1, 4, 3))
    group = doc.createGroupLayer("g")
    doc.root.addChildNode(doc.createNode("Background", "paintlayer"), None)
    doc.root.addChildNode(group, None)
    layer = doc.createNode("green", "paintlayer")
    group.addChildNode(layer, None)
    layer.projection = np.zeros((8, 10, 4), np.uint8)
    layer.projection[..., 1] = 255  # B,G,R,A: green
    doc.active = layer
    engine = krita_plugin.options
    merged = jobs.start_paint(doc, model.defaults(model.PaintOptions, engine), engine)
    assert merged.pixels == doc.bgra[1:4, 2:6].tobytes()  # the whole visible image by default
    job = jobs.start_paint(doc, model.PaintOptions(brush="tape", active_layer=True), engine)
    assert job.pixels == layer.projection[1:4, 2:6].tobytes()
    # 16-bit: the same layer (found by its id in the clone Krita converts) is read
    doc.model, doc.depth = "RGBA", "U16"
    job = jobs.start_stylize(doc, model.StylizeOptions(method="wct", active_layer=True), lambda path: b"png", engine)
    assert job.pixels == layer.projection[1:4, 2:6].tobytes() and doc.clones[-1].closed
    doc.active = None
    with pytest.raises(krita_plugin.bridge_client.BridgeError, match="no active layer"):
        jobs.start_paint(doc, model.PaintOptions(brush="tape", active_layer=True), engine)


class FakeRunner:
    """A JobRunner whose server is the test: it sets state, progress, previews and the result."""

    def __init__(self, kind="paint", result=None) -> None:
        self.kind, self.state, self.message, self.fraction = kind, "connecting", "starting", 0.0
        self.preview_png: bytes | None = None
        self.result, self.error, self.image = result, None, None
        self.cancel_threads: list[threading.Thread] = []
        self.release = threading.Event()  # cancel() blocks until then, like a call to a hung server

    @property
    def finished(self):
        return self.state in ("done", "failed", "cancelled")

    def wait(self, interval):
        pass

    def cancel(self):
        self.cancel_threads.append(threading.current_thread())
        self.release.wait(30)
        self.state = "cancelled"


def _queue_with_job(krita_plugin, kind="paint", vector=True, options=None):
    model, jobs = krita_plugin.model, krita_plugin.jobs
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 3] = 255
    doc = krita_plugin.app.show(Document(rgba, selection=Selection(4, 2, 8, 6)))
    settings, store = _memory_settings(model)
    decoded = []

    def decode(png, w, h):  # like ui.decode_preview: the PNG scaled to the region, BGRA
        decoded.append((png, w, h, threading.current_thread()))
        return bytes([png[0]]) * (w * h * 4)

    clock = [100.0]
    queue = jobs.JobQueue(settings, decode, clock=lambda: clock[0])
    region = model.Region(4, 2, 8, 6)
    options = options or (model.defaults(model.PaintOptions, krita_plugin.options) if kind == "paint" else
                          model.StylizeOptions(method="adain"))
    runner = FakeRunner(kind)
    job = jobs.DocumentJob(doc, region, runner, "brushwork: test", options, bytes(8 * 6 * 4), vector)
    queue.add(job)
    return queue, job, runner, doc, decoded, clock, store


def _tick_until(queue, condition):
    for _ in range(500):
        outcomes = queue.tick()
        if condition(outcomes):
            return outcomes
        time.sleep(0.01)
    raise AssertionError("never happened")


def test_queue_shows_a_live_preview_then_puts_the_result_in_place(krita_plugin):
    model, jobs = krita_plugin.model, krita_plugin.jobs
    queue, job, runner, doc, decoded, clock, store = _queue_with_job(krita_plugin)
    assert queue.tick() == [] and job.phase == "starting" and "starting" in job.row()
    runner.state, runner.message = "submitted", "waiting for 1 job(s) before this one"
    queue.tick()
    assert job.phase == "waiting" and job.running_since is None
    runner.message, runner.fraction = "painting level 1/4", 0.25
    clock[0] = 110.0
    queue.tick()
    assert job.phase == "running" and job.running_since == 110.0 and "25 %" in job.row()
    # a preview: decoded off the UI thread, shown full size at the region on a layer above everything,
    # in a group named like the result's
    runner.preview_png = b"\x07first"
    _tick_until(queue, lambda _: job.preview_node is not None)
    png, w, h, thread = decoded[0]
    assert (png, w, h) == (b"\x07first", 8, 6) and thread is not threading.main_thread()
    preview, group = job.preview_node, job.preview_group
    assert doc.root.children == [group] and group.children == [preview]
    assert group.name() == "brushwork: test (in progress)"
    assert preview.name() == model.PREVIEW_LAYER and preview.pixels == (bytes([7]) * (8 * 6 * 4), 4, 2, 8, 6)
    runner.preview_png = b"\x09second"  # the next one updates the same layer
    _tick_until(queue, lambda _: preview.pixels[0][0] == 9)
    assert doc.root.children == [group] and group.children == [preview] and preview.pixel_writes == 2
    # done: the preview becomes the painting (undo never brings a stale preview back), the strokes go
    # above it; the time (from when the job ran) is remembered
    pixels = bytes(range(256)) * 3
    runner.result = krita_plugin.bridge_client.JobResult(pixels[:8 * 6 * 4], "<svg/>", 8, 6)
    runner.state = "done"
    clock[0] = 140.0
    outcome, = queue.tick()
    assert outcome.state == "done" and outcome.message == "brushwork: test: done in 30 s"
    assert outcome.nodes[:2] == [group, preview] and preview.name() == model.PAINT_LAYER
    assert group.name() == "brushwork: test"
    group, painting, vector = outcome.nodes
    assert doc.root.children == [group] and group.children == [painting, vector]
    assert painting.pixels == (pixels[:8 * 6 * 4], 4, 2, 8, 6) and vector.svg == "<svg/>"
    timed = [[300, 384, PaintSettings().iterations, True, 30.0]]  # the engine's steps per level
    assert queue.jobs == [] and queue.timings().paint == timed
    assert json.loads(store[("brushwork", "Timings")])["paint"] == timed
    # the history keeps it, to be applied again: here, to another image large enough
    entry, = queue.history.entries
    assert entry.title == "brushwork: test" and entry.seconds == 30.0
    other = krita_plugin.app.show(Document(np.zeros((10, 12, 4), np.uint8)))
    group2, painting2, _ = queue.reapply(entry, other)
    assert group2.name() == "brushwork: test" and painting2.pixels == painting.pixels
    assert queue.reapply(entry, doc)[0].name() == "brushwork: test (2)"
    with pytest.raises(krita_plugin.bridge_client.BridgeError, match="this image is only 6x4"):
        queue.reapply(entry, Document(np.zeros((4, 6, 4), np.uint8)))
    assert not jobs.JobQueue(_memory_settings(model)[0], lambda *a: None).history.entries  # one per docker


def test_cancel_returns_at_once_and_the_server_is_told_in_another_thread(krita_plugin):
    queue, job, runner, doc, decoded, clock, store = _queue_with_job(krita_plugin)
    runner.state, runner.message = "submitted", "painting"
    runner.preview_png = b"\x05"
    _tick_until(queue, lambda _: job.preview_node is not None)
    outcome = queue.cancel(job)  # runner.cancel() blocks (a hung server) until released below
    assert outcome.state == "cancelled" and job.phase == "cancelled"
    assert queue.jobs == [] and doc.root.children == []  # gone from the queue, preview removed, nothing added
    for _ in range(500):
        if runner.cancel_threads:
            break
        time.sleep(0.01)
    assert runner.cancel_threads and runner.cancel_threads[0] is not threading.main_thread()
    runner.release.set()
    assert queue.tick() == [] and queue.history.entries == [] and queue.timings().paint == []
    queue.cancel(job)  # twice: nothing more
    assert len(runner.cancel_threads) == 1


def test_cancel_or_the_timer_inside_a_krita_call_leave_nothing_behind(krita_plugin):
    """Krita runs the event loop inside some of its calls (seen: adding the preview layer), so Cancel
    can be pressed, and the timer fire again, while the queue is in the middle of a tick."""
    queue, job, runner, doc, decoded, clock, store = _queue_with_job(krita_plugin)
    runner.state, runner.message, runner.preview_png = "submitted", "painting", b"\x05"
    inner = []
    doc.during_refresh = lambda: (inner.append(queue.tick()), queue.cancel(job))
    _tick_until(queue, lambda _: inner)
    assert inner == [[]]  # the timer's tick inside the tick did nothing
    assert queue.jobs == [] and doc.root.children == []  # the layer being added when Cancel came went too
    # a job that ends while a Krita call inside the tick runs the timer again is finished once
    queue, job, runner, doc, *_ = _queue_with_job(krita_plugin)
    runner.result = krita_plugin.bridge_client.JobResult(bytes(8 * 6 * 4), None, 8, 6)
    runner.state = "done"
    doc.during_refresh = lambda: inner.append(queue.tick())
    assert [o.state for o in queue.tick()] == ["done"] and len(doc.root.children) == 1
    runner.release.set()


def test_a_preview_layer_krita_has_not_taken_in_yet_is_removed_later(krita_plugin):
    queue, job, runner, doc, decoded, clock, store = _queue_with_job(krita_plugin)
    runner.state, runner.message, runner.preview_png = "submitted", "painting", b"\x05"
    _tick_until(queue, lambda _: job.preview_node is not None)
    group = job.preview_group
    doc.root.children.remove(group)  # as if Krita were still adding it
    group.parent = None
    queue.cancel(job)
    assert queue.tick() == []
    doc.root.addChildNode(group, None)  # Krita has now
    queue.tick()
    assert doc.root.children == []
    runner.release.set()


def test_a_preview_the_user_deleted_gives_way_to_a_new_group(krita_plugin):
    model = krita_plugin.model
    queue, job, runner, doc, decoded, clock, store = _queue_with_job(krita_plugin, vector=False)
    runner.state, runner.message, runner.preview_png = "submitted", "painting", b"\x05"
    _tick_until(queue, lambda _: job.preview_node is not None)
    old_group = job.preview_group
    job.preview_node.remove()  # the user deleted the preview layer, its group stays
    runner.result = krita_plugin.bridge_client.JobResult(bytes(8 * 6 * 4), None, 8, 6)
    runner.state = "done"
    outcome, = queue.tick()
    group, painting = outcome.nodes
    assert group is not old_group and doc.root.children == [group] and painting.name() == model.PAINT_LAYER
    assert group.name() == "brushwork: test"  # not "(2)": the old group went first


def test_failed_jobs_and_closed_images(krita_plugin):
    queue, job, runner, doc, decoded, clock, store = _queue_with_job(krita_plugin)
    runner.state, runner.message, runner.preview_png = "submitted", "painting", b"\x01"
    _tick_until(queue, lambda _: job.preview_node is not None)
    runner.state, runner.error = "failed", "brushwork server: out of memory"
    outcome, = queue.tick()
    assert (outcome.state, outcome.message) == ("failed", "brushwork: test: brushwork server: out of memory")
    assert doc.root.children == [] and queue.history.entries == []
    # the image was closed while the job ran: the result waits in the history
    queue, job, runner, doc, *_ = _queue_with_job(krita_plugin, kind="stylize", vector=False)
    krita_plugin.app.shown.remove(doc)
    runner.result = krita_plugin.bridge_client.JobResult(bytes(8 * 6 * 4), None, 8, 6)
    runner.state = "done"
    outcome, = queue.tick()
    assert outcome.state == "done" and "apply it from the history" in outcome.message
    assert doc.root.children == [] and queue.history.entries[0].kind == "stylize"
    assert queue.timings().stylize[0][0] == "adain"
    # a result of the wrong size is refused
    queue, job, runner, doc, *_ = _queue_with_job(krita_plugin)
    runner.result = krita_plugin.bridge_client.JobResult(bytes(4), None, 1, 1)
    runner.state = "done"
    outcome, = queue.tick()
    assert outcome.state == "failed" and "1x1 pixels for a 8x6 region" in outcome.message


def test_cancel_with_a_hung_server_never_calls_the_network_from_the_ui_thread(krita_plugin, tmp_path):
    """A real JobRunner and bridge against a server that takes the job and then never answers."""
    sys.path.insert(0, str(Path(__file__).parent / "e2e"))
    try:
        from krita_profile import HungServer
    finally:
        sys.path.pop(0)
    model, jobs, bc = krita_plugin.model, krita_plugin.jobs, krita_plugin.bridge_client
    server = HungServer(tmp_path / "state")
    callers: list[threading.Thread] = []
    real_call = bc.Bridge._call

    def call(self, *args, **kwargs):
        callers.append(threading.current_thread())
        return real_call(self, *args, **kwargs)

    bc.Bridge._call = call
    try:
        rgba = np.zeros((6, 8, 4), np.uint8)
        doc = krita_plugin.app.show(Document(rgba))
        queue = jobs.JobQueue(_memory_settings(model)[0], lambda *a: None)
        job = jobs.start_paint(doc, model.defaults(model.PaintOptions, krita_plugin.options), krita_plugin.options)
        job.runner.bridge = bc.Bridge(None, start=False)  # never starts a real server in this test
        queue.add(job)
        _tick_until(queue, lambda _: any(r.startswith("GET /v1/jobs/") for r in server.requests))
        assert job.phase == "waiting"  # submitted; its status request hangs
        queue.cancel(job)
        assert queue.jobs == [] and job.phase == "cancelled"
        for _ in range(500):
            if "POST /v1/jobs/hung-job/cancel" in server.requests:
                break
            time.sleep(0.01)
        assert "POST /v1/jobs/hung-job/cancel" in server.requests  # the server was told (and hangs on it)
        assert queue.tick() == []
        assert callers and threading.main_thread() not in callers
    finally:
        bc.Bridge._call = real_call
        server.release()


@pytest.mark.slow  # a real server and job
def test_paint_job_on_a_selection_adds_paint_and_vector_layers(krita_plugin):
    model, jobs = krita_plugin.model, krita_plugin.jobs
    rgba = np.zeros((40, 64, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:, :32, 0] = 230  # red left half, blue right half
    rgba[:, 32:, 2] = 230
    doc = krita_plugin.app.show(Document(rgba, selection=Selection(4, 6, 24, 20)))  # inside the red half
    queue = jobs.JobQueue(_memory_settings(model)[0], lambda png, w, h: bytes(w * h * 4))
    job = jobs.start_paint(doc, model.PaintOptions(brush="tape", strokes=12, working_size=64, iterations=4),
                           krita_plugin.options)
    assert job.region == model.Region(4, 6, 24, 20)
    queue.add(job)  # as in Krita: the job's thread works, the UI timer only looks
    phases = set()
    deadline = time.monotonic() + 120
    outcomes = []
    while not outcomes and time.monotonic() < deadline:
        outcomes = queue.tick()
        phases.add(job.phase)
        time.sleep(0.05)
    assert job.runner.state == "done", job.runner.error
    assert "running" in phases and job.running_since is not None  # what the estimates are measured from
    outcome, = outcomes
    group, paint_layer, vector_layer = outcome.nodes
    # one named group per job, painting below its strokes; a second run's group gets its own name
    assert [n.name() for n in doc.root.children] == ["brushwork: tape, 12 strokes"]
    assert group.kind == "grouplayer" and group.children == [paint_layer, vector_layer]
    assert [n.name() for n in group.children] == [model.PAINT_LAYER, model.VECTOR_LAYER]
    data, x, y, w, h = paint_layer.pixels
    assert (x, y, w, h) == (4, 6, 24, 20)
    bgra = np.frombuffer(data, np.uint8).reshape(20, 24, 4)
    strokes = svg.read(job.runner.bridge.result_svg(job.runner.job_id))
    assert (strokes.width, strokes.height) == (24, 20)
    np.testing.assert_array_equal(bgra[..., [2, 1, 0]], raster.render(strokes))  # B,G,R,A the right way round
    red, blue = bgra[..., 2].mean(), bgra[..., 0].mean()
    assert red > blue + 60  # the painting is of the red region the selection covers
    assert vector_layer.kind == "vectorlayer"
    # plain shapes already at the selection's place (Krita mangles <use>, masks and wrappers)
    assert vector_layer.svg == svg.write_flat(strokes, (4, 6))
    job.apply()
    assert [n.name() for n in doc.root.children] == ["brushwork: tape, 12 strokes", "brushwork: tape, 12 strokes (2)"]
    assert len(queue.timings().paint) == 1


def test_krita_stylizes_with_a_trained_style_and_no_style_image(krita_plugin, tmp_path):
    """A trained style (the engine's `model` setting, the panel's Model) needs no style image: the
    panel's check passes without one, the job sends none, and its group is named after the style."""
    model, jobs, engine = krita_plugin.model, krita_plugin.jobs, krita_plugin.options
    assert engine.field("stylize", "model") in model.extra_settings(engine, "stylize")  # the panel's Model picker
    named = model.StylizeOptions(method="microast", extra={"model": "starry_night"})
    assert named.check() is None  # a name: the engine looks it up
    assert named.params(engine)["model"] == "starry_night"
    assert model.job_title("stylize", named, engine) == "brushwork: starry_night style"
    mine = tmp_path / "mine.pt"
    chosen = model.StylizeOptions(method="microast", style=str(tmp_path / "gone.png"), extra={"model": str(mine)})
    assert chosen.check() == f"the trained style {mine} does not exist"  # a file picked with Browse…
    mine.write_bytes(b"weights")
    assert chosen.check() is None  # the style image is not needed, so not checked
    assert model.job_title("stylize", chosen, engine) == "brushwork: mine style"
    assert model.StylizeOptions(extra={"model": "  "}).check() == "choose a style image, or a trained style (Model)"
    doc = krita_plugin.app.show(Document(np.full((6, 8, 4), 200, np.uint8)))
    loaded = []
    job = jobs.start_stylize(doc, chosen, loaded.append, engine)
    assert job.style_loader is None and job.runner.params["model"] == str(mine)
    with_image = jobs.start_stylize(doc, model.StylizeOptions(method="wct", style="s.png"), loaded.append, engine)
    assert with_image.style_loader is not None  # without a trained style the style image is sent


def test_job_titles_name_the_brush_or_method_and_are_made_unique(krita_plugin):
    model = krita_plugin.model
    engine = krita_plugin.options
    assert model.job_title("paint", model.PaintOptions(brush="oilbrush", strokes=1000), engine) == \
        "brushwork: oil brush, 1,000 strokes"
    assert model.job_title("stylize", model.StylizeOptions(method="adain"), engine) == "brushwork: AdaIN style"
    assert model.unique_name("a", ["b"]) == "a"
    assert model.unique_name("a", ["a", "a (2)"]) == "a (3)"


def test_the_docker_and_menu_actions_are_declared(krita_plugin):
    """ui.py needs the real PyQt5 and Krita (the e2e test drives it); here: what it registers, read
    from its source."""
    package = Path(krita_plugin.model.__file__).parent
    init = (package / "__init__.py").read_text()
    assert "addDockWidgetFactory" in init and "DockWidgetFactoryBase.DockRight" in init
    ui = (package / "ui.py").read_text()
    assert '"brushwork: Paint with strokes…"' in ui and '"brushwork: Stylize…"' in ui
    assert "QMessageBox" not in ui and "exec_" not in ui  # no modal dialogs


@pytest.mark.slow  # a real server and job
def test_the_plugin_starts_the_server_with_the_recorded_interpreter(krita_plugin):
    bridge = krita_plugin.jobs.bridge()
    assert bridge.python == sys.executable and bridge is krita_plugin.jobs.bridge()
    bridge.connect()
    assert json.loads(client.state_file().read_text())["pid"] == bridge.pid != os.getpid()


# ------------------------------------------------------------------------------------------ the engine's options

def _drifted(document: dict, add: bool = True, drop: str | None = None) -> dict:
    """The engine's options document as a later (or older) engine might send it: with a sixth brush
    and a fourth method, or without a brush."""
    document = json.loads(json.dumps(document))
    if add:
        document["brushes"].append({"name": "charcoal", "label": "Charcoal", "description": "a dry, grainy line"})
        document["methods"].append({"name": "sketchy", "label": "Sketchy", "help": "pencil hatching"})
    if drop:
        document["brushes"] = [b for b in document["brushes"] if b["name"] != drop]
    return document


def test_the_installed_snapshot_is_the_engines_options_document(tmp_path):
    for editor, folder in (("krita", "brushwork_krita"), ("gimp", "brushwork")):
        install(editor, tmp_path / editor)
        snapshot = json.loads((tmp_path / editor / folder / "options.json").read_text())
        assert snapshot == json.loads(json.dumps(describe()))


def test_krita_offers_what_the_engine_document_offers(krita_plugin):
    model, bc = krita_plugin.model, krita_plugin.bridge_client
    engine = bc.EngineOptions(_drifted(describe()))
    brushes = engine.field_for("paint", "brushes")
    assert [c.name for c in engine.choices(brushes)] == [*BRUSHES, "charcoal"]  # the docker's Brush list
    methods = engine.field_for("stylize", "methods")
    assert [c.label for c in engine.choices(methods)][-1] == "Sketchy"
    options = dataclasses.replace(model.defaults(model.PaintOptions, engine), brush="charcoal")
    assert model.fit(options, engine) == options  # a brush the engine offers is kept
    assert options.params(engine)["brushes"] == ["charcoal"]
    assert model.job_title("paint", options, engine) == f"brushwork: charcoal, {options.strokes:,} strokes"
    stylize = model.StylizeOptions(method="sketchy")
    assert model.fit(stylize, engine).method == "sketchy" and stylize.params(engine)["method"] == "sketchy"
    # an engine without the tape brush: not offered, and a remembered tape falls back to the default
    engine = bc.EngineOptions(_drifted(describe(), add=False, drop="tape"))
    assert "tape" not in [c.name for c in engine.choices(engine.field_for("paint", "brushes"))]
    settings, store = _memory_settings(model)
    settings.save(model.PaintOptions(brush="tape", strokes=42, seed=1, working_size=256, iterations=7))
    loaded = model.fit(settings.load(model.PaintOptions, model.defaults(model.PaintOptions, engine)), engine)
    assert loaded.brush == PaintSettings().brushes[0] and loaded.strokes == 42
    # numbers outside the engine's range fall back to its default too
    assert model.fit(dataclasses.replace(loaded, working_size=8), engine).working_size == PaintSettings().working_size


def test_krita_offers_the_engines_other_editor_settings(krita_plugin):
    model, bc = krita_plugin.model, krita_plugin.bridge_client
    engine = krita_plugin.options
    assert [s.name for s in model.extra_settings(engine, "paint")] == ["opaque"]  # no widget of its own
    assert [s.name for s in model.extra_settings(engine, "stylize")] == ["model"]  # the trained-style picker
    # a setting a later engine adds for the editors shows up with its label, and is sent under its name
    document = describe()
    document["paint"]["fields"].append({"name": "grain", "type": "float", "default": 0.5, "min": 0, "max": 1,
                                        "choices": None, "label": "Grain", "help": "paper grain", "editor": True})
    engine = bc.EngineOptions(document)
    assert [(s.name, s.label) for s in model.extra_settings(engine, "paint")] == [("opaque", "Opaque strokes"),
                                                                                ("grain", "Grain")]
    options = dataclasses.replace(model.defaults(model.PaintOptions, engine), extra={"opaque": True, "grain": 0.25})
    params = options.params(engine)
    assert (params["opaque"], params["grain"]) == (True, 0.25)
    # values the engine does not take, or settings it no longer has, are dropped (the widgets show its default)
    assert model.fit(dataclasses.replace(options, extra={"grain": 7.0, "gone": 1}), engine).extra == {}
    settings, _ = _memory_settings(model)
    settings.save(options)
    loaded = settings.load(model.PaintOptions, model.defaults(model.PaintOptions, engine))
    assert loaded.extra == {"opaque": True, "grain": 0.25}


def test_krita_presets_are_checked_against_the_engine(krita_plugin):
    model, bc = krita_plugin.model, krita_plugin.bridge_client
    document = describe()
    document["methods"] = [m for m in document["methods"] if m["name"] != "gatys"]
    engine = bc.EngineOptions(document)
    assert list(model.presets(model.StylizeOptions(), engine)) == ["Draft", "Balanced"]  # Final needs gatys
    for field_ in document["paint"]["fields"]:
        if field_["name"] == "working_size":
            field_["max"] = 300  # an engine that paints at most 300 px: Final (512 px) is left out
    assert list(model.presets(model.PaintOptions(), bc.EngineOptions(document))) == ["Draft"]


def test_krita_job_params_use_the_documents_field_names(krita_plugin):
    model, bc = krita_plugin.model, krita_plugin.bridge_client
    document = describe()
    fields_ = document["paint"]["fields"]
    for field_ in fields_:
        if field_["name"] == "brushes":  # an engine that takes one brush, under another name
            field_.update(name="brush", type="choice", default="oilbrush")
    document["paint"]["fields"] = [f for f in fields_ if f["name"] != "iterations"]
    engine = bc.EngineOptions(document)
    params = model.PaintOptions(brush="tape", strokes=5, seed=2, working_size=64, iterations=9,
                                refine=False).params(engine, "cpu")
    assert params == {"brush": "tape", "strokes": 5, "seed": 2, "working_size": 64, "refine_iterations": 0,
                      "device": "cpu"}
    real = krita_plugin.options
    server_fields = {f.name for f in real.fields("paint") if f.server}
    assert set(model.defaults(model.PaintOptions, real).params(real, "cuda")) <= server_fields
    server_fields = {f.name for f in real.fields("stylize") if f.server}
    assert set(model.defaults(model.StylizeOptions, real).params(real, "cpu")) <= server_fields


def test_krita_device_choice_round_trip(krita_plugin):
    model, bc = krita_plugin.model, krita_plugin.bridge_client
    settings, store = _memory_settings(model)
    assert settings.load(model.EngineSettings) == model.EngineSettings("", "")  # "": the engine's default device
    settings.save(model.EngineSettings("/usr/bin/python3", "cpu"))
    assert settings.load(model.EngineSettings) == model.EngineSettings("/usr/bin/python3", "cpu")
    engine = krita_plugin.options
    setting = model.device_setting(engine)
    assert [c.name for c in engine.choices(setting)] == ["auto", "cpu", "cuda", "mps"]
    assert engine.default(setting) == "auto"
    assert model.defaults(model.PaintOptions, engine).params(engine, "cpu")["device"] == "cpu"
    assert model.StylizeOptions(method="wct").params(engine, "cuda")["device"] == "cuda"
    assert "device" not in model.defaults(model.PaintOptions, engine).params(engine)  # none chosen: the engine's
    # a server says what its machine has: the others are marked
    served = bc.EngineOptions({**describe(), "available_devices": ["cpu"]})
    labels = {c.name: c.label for c in served.choices(model.device_setting(served))}
    assert labels["cuda"].endswith("(not on this machine)") and not labels["cpu"].endswith(")")
    assert not labels["auto"].endswith("(not on this machine)")


def test_krita_remembers_the_engines_document_and_starts_from_the_snapshot(krita_plugin, tmp_path):
    model, bc = krita_plugin.model, krita_plugin.bridge_client
    folder = Path(model.__file__).parent
    settings, store = _memory_settings(model)
    first = model.engine_options(settings, folder)  # the first start: the snapshot the installer wrote
    assert first is not None and first.document == json.loads(json.dumps(describe()))
    later = bc.EngineOptions(_drifted(describe()))
    settings.save_engine_options(later)  # what the engine sent, for the next start
    assert model.engine_options(settings, folder).document == later.document
    assert model.engine_options(_memory_settings(model)[0], tmp_path) is None  # nothing at all
    store[("brushwork", model.ENGINE_OPTIONS)] = "{broken"
    assert model.engine_options(settings, folder).document == first.document


def test_the_bridge_serves_the_options_document(krita_plugin, monkeypatch):
    bc = krita_plugin.bridge_client
    bridge = bc.Bridge(None, start=False)
    calls = []
    monkeypatch.setattr(bridge, "request", lambda method, path, **k: calls.append((method, path, k)) or describe())
    assert bridge.options() == describe() and calls == [("GET", "/options", {"restart": True})]
    # choices given as numbers are offered by their text and sent as the numbers
    levels = bc.Setting("levels", "choices", [4], choices=[1, 2, 3, 4, 5])
    engine = bc.EngineOptions(describe())
    assert [c.name for c in engine.choices(levels)] == ["1", "2", "3", "4", "5"] and engine.default(levels) == "4"
    assert engine.value(levels, "3") == [3] and engine.choice(levels, 5).label == "5"
    with pytest.raises(bc.BridgeError, match="malformed"):
        bc.EngineOptions({"paint": {}})
    with pytest.raises(bc.BridgeError, match="not JSON"):
        bc.EngineOptions.from_json("<html>")


def test_krita_reads_the_options_of_an_engine_python(krita_plugin, tmp_path):
    engine = krita_plugin.engine
    options = engine.read_options(sys.executable)
    assert options is not None and options.document == json.loads(json.dumps(describe()))
    assert engine.read_options(str(tmp_path / "missing-python")) is None


# ------------------------------------------------------------------------------------------ GIMP stand-in

class Procedure:
    """A stand-in Gimp.ImageProcedure: records the arguments it is given."""

    def __init__(self, name) -> None:
        self.name, self.arguments = name, {}

    def _add(kind):  # noqa: N805
        def add(self, name, label, help_text, *rest):
            self.arguments[name] = (kind, label, help_text, *rest[:-1])
        return add

    add_choice_argument = _add("choice")
    add_int_argument = _add("int")
    add_double_argument = _add("double")
    add_boolean_argument = _add("boolean")
    add_string_argument = _add("string")
    add_file_argument = _add("file")

    def __getattr__(self, name):  # menus, documentation, sensitivity: not what these tests look at
        return lambda *args: None


class GimpChoice:
    def __init__(self) -> None:
        self.items = []

    def add(self, nick, i, label, help_text):
        self.items.append((nick, label, help_text))


class Config:
    def __init__(self, values) -> None:
        self.values = values

    def get_property(self, name):
        return self.values[name]


@pytest.fixture
def gimp_plugin(tmp_path, monkeypatch):
    """The installed GIMP plug-in's module, imported with a stand-in `gi` (GIMP's own modules)."""
    install("gimp", tmp_path)
    gimp = types.SimpleNamespace(
        Choice=types.SimpleNamespace(new=GimpChoice), PlugIn=type("PlugIn", (), {"__gtype__": None}),
        main=lambda *a: None,
        ImageProcedure=types.SimpleNamespace(new=lambda plugin, name, *a: Procedure(name)),
        PDBProcType=types.SimpleNamespace(PLUGIN=0), FileChooserAction=types.SimpleNamespace(OPEN=0),
        ProcedureSensitivityMask=types.SimpleNamespace(DRAWABLE=1, DRAWABLES=2, NO_DRAWABLES=4))
    repository = types.ModuleType("gi.repository")
    gegl = types.SimpleNamespace(AbyssPolicy=types.SimpleNamespace(CLAMP=0, NONE=1))
    for name, module in (("Gimp", gimp), ("GimpUi", None), ("Gegl", gegl), ("Gio", None), ("GLib", None),
                         ("GObject", types.SimpleNamespace(ParamFlags=types.SimpleNamespace(READWRITE=3)))):
        setattr(repository, name, module or types.SimpleNamespace())
    gi = types.ModuleType("gi")
    gi.require_version = lambda *a: None
    gi.repository = repository
    for name, module in (("gi", gi), ("gi.repository", repository)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("BRUSHWORK_STATE_DIR", str(tmp_path / "state"))  # no server runs there
    monkeypatch.delenv("BRUSHWORK_PYTHON", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "brushwork"))
    spec = importlib.util.spec_from_file_location("brushwork_gimp", tmp_path / "brushwork" / "brushwork.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bridge_client", None)


def _register(gimp_plugin, document, monkeypatch):
    monkeypatch.setattr(gimp_plugin, "engine_options", lambda: gimp_plugin.EngineOptions(document))
    plugin = gimp_plugin.Brushwork()
    return plugin.do_create_procedure(gimp_plugin.PAINT), plugin.do_create_procedure(gimp_plugin.STYLIZE)


def test_gimp_registers_the_engines_choices_defaults_and_ranges(gimp_plugin, monkeypatch):
    paint, stylize = _register(gimp_plugin, _drifted(describe()), monkeypatch)
    kind, label, _, choice, default = paint.arguments["brushes"]
    assert kind == "choice" and default == "oilbrush"
    assert [nick for nick, *_ in choice.items] == [*BRUSHES, "charcoal"]
    assert ("charcoal", "Charcoal", "a dry, grainy line") in choice.items
    assert [nick for nick, *_ in stylize.arguments["method"][3].items][-1] == "sketchy"
    strokes = paint.arguments["strokes"]
    assert strokes[3:] == (1, PaintSettings.__dataclass_fields__["strokes"].metadata["brushwork"].max,
                           PaintSettings().strokes)
    assert paint.arguments["working-size"][3:] == (16, 4096, PaintSettings().working_size)
    assert paint.arguments["refine-iterations"][0] == "boolean"  # on: the engine picks the steps; off: none
    assert paint.arguments["opaque"][0] == "boolean"  # every setting the engine marks for the editors
    device = paint.arguments["device"]
    assert [nick for nick, *_ in device[3].items] == ["auto", "cpu", "cuda", "mps"] and device[4] == "auto"
    # the strength follows the method: the default method's own (MicroAST 1.0)
    assert stylize.arguments["device"][4] == "auto" and stylize.arguments["alpha"][3:] == (0, 1, 1.0)
    assert {"import-paths", "active-layer-only"} <= set(paint.arguments)  # the plug-in's own
    assert "style" in stylize.arguments and "levels" not in stylize.arguments  # not an editor setting
    paint, _ = _register(gimp_plugin, _drifted(describe(), add=False, drop="tape"), monkeypatch)
    assert "tape" not in [nick for nick, *_ in paint.arguments["brushes"][3].items]
    # a setting a later engine adds for the editors is offered; one its server does not take is not
    document = describe()
    document["paint"]["fields"] += [
        {"name": "grain", "type": "float", "default": 0.5, "min": 0, "max": 1, "label": "Grain", "help": "paper",
         "editor": True, "server": True},
        {"name": "cli_only", "type": "bool", "default": False, "label": "CLI", "help": "", "editor": True,
         "server": False}]
    paint, _ = _register(gimp_plugin, document, monkeypatch)
    assert paint.arguments["grain"] == ("double", "Grain", "paper", 0, 1, 0.5) and "cli-only" not in paint.arguments


def test_gimp_job_params_use_the_documents_field_names(gimp_plugin, monkeypatch):
    engine = gimp_plugin.EngineOptions(describe())
    paint, stylize = _register(gimp_plugin, describe(), monkeypatch)
    values = {"brushes": "tape", "strokes": 14, "seed": 1, "working-size": 64, "iterations": 5,
              "refine-iterations": False, "opaque": False, "device": "cpu", "style-mode": "texture",
              "style-weight": 2.0, "preserve-color": True}
    assert set(values) == {name for name in paint.arguments
                           if name not in ("import-paths", "active-layer-only", "style")}
    params = gimp_plugin.job_params(Config(values), engine, "paint")
    assert params == {"brushes": ["tape"], "strokes": 14, "seed": 1, "working_size": 64, "iterations": 5,
                      "refine_iterations": 0, "opaque": False, "device": "cpu", "style_mode": "texture",
                      "style_weight": 2.0, "preserve_color": True}
    assert "refine_iterations" not in gimp_plugin.job_params(Config({**values, "refine-iterations": True}),
                                                               engine, "paint")  # the engine decides
    values = {"method": "adain", "model": "none", "model-file": None, "alpha": 0.5, "preserve-color": True,
              "style-size": 256, "steps": 10, "device": "auto"}
    assert set(values) == {name for name in stylize.arguments if name not in ("active-layer-only", "style")}
    assert gimp_plugin.job_params(Config(values), engine, "stylize") == {
        "method": "adain", "model": "", "alpha": 0.5, "preserve_color": True, "style_size": 256, "steps": 10,
        "device": "auto"}  # an empty model: none (the engine's StyleOptions.validate)
    assert gimp_plugin.choice_label(engine, "paint", "brushes", "markerpen") == "Marker pen"


class GFile:
    """A stand-in Gio.File: what a file argument holds."""

    def __init__(self, path) -> None:
        self.path = path

    def get_path(self):
        return self.path


def test_gimp_offers_the_engines_trained_styles_and_a_model_file(gimp_plugin, monkeypatch, tmp_path):
    document = describe()
    document["styles"] = [{"name": "starry_night", "kind": "johnson", "path": "/s/starry_night.pt", "shipped": True},
                          {"name": "mine", "kind": "collection", "path": "/u/mine.pt", "shipped": False}]
    _, stylize = _register(gimp_plugin, document, monkeypatch)
    kind, label, _, choice, default = stylize.arguments["model"]
    assert kind == "choice" and label == "Model" and default == "none"
    assert choice.items[1:] == [("starry_night", "starry_night", "johnson style: /s/starry_night.pt"),
                                ("mine", "mine", "collection style: /u/mine.pt")]
    assert stylize.arguments["model-file"][0] == "file"  # a .pt of the user's own
    engine = gimp_plugin.EngineOptions(document)
    values = {name: arg[-1] for name, arg in stylize.arguments.items()}
    assert gimp_plugin.job_params(Config(values), engine, "stylize")["model"] == ""  # none: the style image
    values["model"] = "starry_night"
    assert gimp_plugin.job_params(Config(values), engine, "stylize")["model"] == "starry_night"
    values["model-file"] = GFile(str(tmp_path / "own.pt"))  # a file chosen wins over the list
    assert gimp_plugin.job_params(Config(values), engine, "stylize")["model"] == str(tmp_path / "own.pt")
    # an engine that lists no styles (or the registration fallback): Model offers none only
    _, stylize = _register(gimp_plugin, describe() | {"styles": []}, monkeypatch)
    assert [nick for nick, *_ in stylize.arguments["model"][3].items] == ["none"]


def test_gimp_stylizes_with_a_trained_style_and_no_style_image(gimp_plugin, monkeypatch, tmp_path):
    _, stylize = _register(gimp_plugin, describe(), monkeypatch)
    values = {name: arg[-1] for name, arg in stylize.arguments.items()}
    values.update({"model": "starry_night", "style": None})
    ran = []
    monkeypatch.setattr(gimp_plugin, "_run_job", lambda procedure, kind, image, drawables, config, params, title:
                        ran.append((kind, params, title)))
    gimp_plugin.stylize_job(None, None, [], Config(values))
    (kind, params, title), = ran
    assert kind == "stylize" and params["model"] == "starry_night" and "style" not in params
    assert title == "brushwork: starry_night style"
    values.update({"model": "none", "model-file": GFile(str(tmp_path / "mine.pt"))})
    gimp_plugin.stylize_job(None, None, [], Config(values))
    assert ran[-1][1]["model"] == str(tmp_path / "mine.pt") and ran[-1][2] == "brushwork: mine style"
    values.update({"model-file": None})
    with pytest.raises(gimp_plugin.BridgeError, match="choose a style image, or a trained style"):
        gimp_plugin.stylize_job(None, None, [], Config(values))


def test_gimp_asks_the_engine_python_then_falls_back_to_the_snapshot(gimp_plugin, monkeypatch, tmp_path):
    monkeypatch.setenv("BRUSHWORK_PYTHON", sys.executable)
    gimp_plugin.engine_options.cache_clear()
    assert gimp_plugin.engine_options().document == json.loads(json.dumps(describe()))
    monkeypatch.setenv("BRUSHWORK_PYTHON", str(tmp_path / "gone" / "python"))
    gimp_plugin.engine_options.cache_clear()
    snapshot = json.loads(Path(gimp_plugin.OPTIONS_SNAPSHOT).read_text())
    assert gimp_plugin.engine_options().document == snapshot
    Path(gimp_plugin.OPTIONS_SNAPSHOT).unlink()
    gimp_plugin.engine_options.cache_clear()
    with pytest.raises(gimp_plugin.BridgeError, match="plugins install gimp"):
        gimp_plugin.engine_options()
    paint = gimp_plugin.Brushwork().do_create_procedure(gimp_plugin.PAINT)  # still registered: running it explains
    assert set(paint.arguments) == {"style", "import-paths", "active-layer-only"}
