"""`brushwork plugins install|uninstall`, and the Krita plug-in's logic against a stand-in `krita`
module (the real editors run in tests/e2e)."""

from __future__ import annotations

import ast
import importlib
import json
import os
import stat
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from brushwork import client, raster, svg
from brushwork.cli import cli
from brushwork.plugin_install import default_dest, install, uninstall

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

    def __init__(self, name: str, kind: str) -> None:
        self._name, self.kind = name, kind
        self.pixels: tuple | None = None
        self.svg: str | None = None
        self.children: list[Node] = []

    def name(self):
        return self._name

    def setPixelData(self, data, x, y, w, h):  # noqa: N802 (Krita's names)
        self.pixels = (bytes(data), x, y, w, h)

    def addShapesFromSvg(self, text):  # noqa: N802
        self.svg = text

    def setColorSpace(self, model, depth, profile):  # noqa: N802
        self.color_space = (model, depth, profile)

    def addChildNode(self, node, above):  # noqa: N802
        # Krita: placed right above `above`, or on top of the stack when it is None
        self.children.insert(self.children.index(above) + 1 if above is not None else len(self.children), node)


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
        self.refreshed = 0
        self.clones: list[Document] = []
        self.profile, self.closed = "", False

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

    def clone(self):
        copy = Document(self.bgra[..., [2, 1, 0, 3]], self._selection, self.model, self.depth)
        self.clones.append(copy)
        return copy

    def setColorSpace(self, model, depth, profile):  # noqa: N802
        self.model, self.depth, self.profile = model, depth, profile

    def waitForDone(self):  # noqa: N802
        pass

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


@pytest.fixture
def krita_plugin(tmp_path, monkeypatch):
    """The installed Krita plug-in's modules, importable without Krita: its package is made by hand
    (its __init__ registers with Krita) and PyQt5.QtCore is a stand-in with QByteArray."""
    install("krita", tmp_path / "pykrita")
    qtcore = types.ModuleType("PyQt5.QtCore")
    qtcore.QByteArray = bytes
    pyqt = types.ModuleType("PyQt5")
    pyqt.QtCore = qtcore
    package = types.ModuleType("brushwork_krita")
    package.__path__ = [str(tmp_path / "pykrita" / "brushwork_krita")]
    for name, module in (("PyQt5", pyqt), ("PyQt5.QtCore", qtcore), ("brushwork_krita", package)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("BRUSHWORK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BRUSHWORK_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.delenv("BRUSHWORK_PYTHON", raising=False)
    modules = types.SimpleNamespace(**{name: importlib.import_module(f"brushwork_krita.{name}")
                                       for name in ("model", "document", "jobs")})
    yield modules
    bridge = modules.jobs._bridge
    if bridge is not None:
        bridge.stop()
    for name in [n for n in sys.modules if n.startswith("brushwork_krita.")]:
        del sys.modules[name]  # each test imports its own installed copy


def test_settings_remember_the_last_values(krita_plugin):
    model = krita_plugin.model
    store: dict = {}
    settings = model.Settings(lambda g, k, d: store.get((g, k), d), lambda g, k, v: store.__setitem__((g, k), v))
    assert settings.load(model.PaintOptions) == model.PaintOptions()
    settings.save(model.PaintOptions(brush="markerpen", strokes=42, seed=9, working_size=256, iterations=7,
                                     vector_layer=False, refine=False))
    assert settings.load(model.PaintOptions) == model.PaintOptions("markerpen", 42, 9, 256, 7, False, False)
    assert model.PaintOptions(iterations=7).params()["iterations"] == 7
    assert model.PaintOptions(refine=False).params()["refine_iterations"] == 0  # a draft: no refinement
    defaults = model.PaintOptions().params()
    assert "iterations" not in defaults and "refine_iterations" not in defaults  # the painter decides
    store[("brushwork", "StylizeOptions")] = json.dumps({"alpha": "strong", "method": "adain"})
    loaded = settings.load(model.StylizeOptions)
    assert loaded.alpha == 1.0 and loaded.method == "adain"  # a bad stored value falls back to the default
    store[("brushwork", "PaintOptions")] = "{not json"
    assert settings.load(model.PaintOptions) == model.PaintOptions()


def test_work_region_and_format_checks(krita_plugin, tmp_path):
    model = krita_plugin.model
    assert model.work_region(100, 80, None) == model.Region(0, 0, 100, 80)
    assert model.work_region(100, 80, model.Region(90, -5, 30, 20)) == model.Region(90, 0, 10, 15)
    assert model.work_region(100, 80, model.Region(200, 0, 5, 5)) == model.Region(0, 0, 100, 80)
    for color_model, depth in (("RGBA", "U8"), ("RGBA", "U16"), ("CMYKA", "U16"), ("GRAYA", "F32")):
        assert model.unsupported_format(color_model, depth) is None  # Krita converts these on a copy
    assert "cannot read ALPHA/U8 images" in model.unsupported_format("ALPHA", "U8")
    assert model.unsupported_krita("5.1.5") is None and model.unsupported_krita("5.3.0-prealpha") is None
    assert model.unsupported_krita("4.4.8") == "brushwork needs Krita 5.0 or newer; this is Krita 4.4.8"
    assert model.StylizeOptions().check() == "choose a style image"
    assert "does not exist" in model.StylizeOptions(style=str(tmp_path / "x.png")).check()


def test_16_bit_and_cmyk_documents_are_read_through_a_converted_copy(krita_plugin):
    jobs, document = krita_plugin.jobs, krita_plugin.document
    rgba = np.full((8, 10, 4), 200, np.uint8)
    doc = Document(rgba, model="CMYKA", depth="U16")
    job = jobs.start_paint(doc, krita_plugin.model.PaintOptions())
    copy, = doc.clones
    assert (copy.model, copy.depth, copy.profile) == document.EXCHANGE and copy.closed  # converted, then closed
    assert (doc.model, doc.depth) == ("CMYKA", "U16")  # the document itself is untouched
    image = job.runner.image
    assert image["channels"] == "BGRA8" and (image["width"], image["height"]) == (10, 8)
    # the result layer has the exchange colour space of its own, so its 8-bit pixels mean what they say
    layer = document.add_paint_layer(doc, doc.root, "x", bytes(10 * 8 * 4), job.region)
    assert layer.color_space == document.EXCHANGE
    assert document.check_document(None) == "open an image first"


@pytest.mark.slow  # a real server and job
def test_paint_job_on_a_selection_adds_paint_and_vector_layers(krita_plugin):
    model, jobs = krita_plugin.model, krita_plugin.jobs
    rgba = np.zeros((40, 64, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:, :32, 0] = 230  # red left half, blue right half
    rgba[:, 32:, 2] = 230
    doc = Document(rgba, selection=Selection(4, 6, 24, 20))  # inside the red half
    job = jobs.start_paint(doc, model.PaintOptions(brush="tape", strokes=12, working_size=64, iterations=4))
    assert job.region == model.Region(4, 6, 24, 20)
    job.runner.start(0.05)  # as in Krita: the runner's thread works, the caller only looks
    deadline = time.monotonic() + 120
    while not job.runner.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.runner.state == "done", job.runner.error
    group, paint_layer, vector_layer = job.apply()
    # one named group per job, painting below its strokes; a second run's group gets its own name
    assert [n.name() for n in doc.root.children] == ["brushwork: tape, 12 strokes"]
    assert group.kind == "grouplayer" and group.children == [paint_layer, vector_layer]
    assert [n.name() for n in group.children] == [model.PAINT_LAYER, model.VECTOR_LAYER]
    assert doc.refreshed == 1
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


def test_job_titles_name_the_brush_or_method_and_are_made_unique(krita_plugin):
    model = krita_plugin.model
    assert model.job_title("paint", model.PaintOptions(brush="oilbrush", strokes=1000)) == \
        "brushwork: oil brush, 1,000 strokes"
    assert model.job_title("stylize", model.StylizeOptions(method="adain")) == "brushwork: AdaIN style"
    assert model.unique_name("a", ["b"]) == "a"
    assert model.unique_name("a", ["a", "a (2)"]) == "a (3)"


@pytest.mark.slow  # a real server and job
def test_the_plugin_starts_the_server_with_the_recorded_interpreter(krita_plugin):
    bridge = krita_plugin.jobs.bridge()
    assert bridge.python == sys.executable and bridge is krita_plugin.jobs.bridge()
    bridge.connect()
    assert json.loads(client.state_file().read_text())["pid"] == bridge.pid != os.getpid()
