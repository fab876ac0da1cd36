"""The Krita plug-in's engine set-up (plugins/krita/brushwork_krita/engine.py, standard library only):
what it plans for this machine, how it runs the steps, and the release zip it comes in."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
import zipfile
from pathlib import Path

import pytest

from brushwork.settings import describe

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """engine.py as installed (next to its bridge_client.py copy), imported without the package's
    __init__, which registers with Krita."""
    from brushwork.plugin_install import install

    folder = tmp_path_factory.mktemp("pykrita")
    install("krita", folder)
    package = types.ModuleType("brushwork_krita")
    package.__path__ = [str(folder / "brushwork_krita")]
    sys.modules["brushwork_krita"] = package
    yield importlib.import_module("brushwork_krita.engine")
    for name in [n for n in sys.modules if n == "brushwork_krita" or n.startswith("brushwork_krita.")]:
        del sys.modules[name]


def test_the_plan_picks_the_torch_build_for_the_gpu_and_the_bundled_wheel(engine, tmp_path, monkeypatch):
    monkeypatch.delenv("BRUSHWORK_TORCH", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "platform", "linux")
    cpu = engine.plan(tmp_path, python=sys.executable)
    assert cpu.torch == engine.CPU_TORCH and "CPU" in cpu.torch_build and cpu.brushwork == "brushwork"
    assert cpu.folder == tmp_path / "data" / "brushwork" / "engine"
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "brushwork-0.1.0-py3-none-any.whl").write_bytes(b"")
    gpu = engine.plan(tmp_path, python=sys.executable, gpu="NVIDIA H200")
    assert gpu.torch == ("torch",) and gpu.torch_build == "PyTorch with CUDA for NVIDIA H200"
    assert gpu.brushwork == str(tmp_path / "engine" / "brushwork-0.1.0-py3-none-any.whl")
    labels = [step.label for step in gpu.steps()]
    assert labels[0].startswith("making the environment") and "CUDA" in labels[1] and labels[2] == \
        "installing brushwork"
    assert abs(sum(step.weight for step in gpu.steps()) - 1) < 1e-9
    monkeypatch.setenv("BRUSHWORK_TORCH", "torch==2.13.0 --index-url file:///wheels")
    assert engine.plan(tmp_path, python=sys.executable).torch == ("torch==2.13.0", "--index-url", "file:///wheels")


def test_no_suitable_python_is_a_clear_error(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "find_python", lambda: None)
    with pytest.raises(engine.EngineError, match="no Python 3.11 or newer"):
        engine.plan(tmp_path)
    assert engine.python_version(sys.executable) == sys.version_info[:2]
    assert engine.python_version(str(tmp_path / "missing")) is None


class Plan:
    """A stand-in plan whose steps are small commands."""

    def __init__(self, tmp_path: Path, commands: list[list[str]]) -> None:
        self.engine_python = tmp_path / "python"
        self.commands = commands

    def steps(self):
        return [sys.modules["brushwork_krita.engine"].Step(f"step {i}", tuple(c), 1 / len(self.commands))
                for i, c in enumerate(self.commands)]


def test_setup_runs_the_steps_in_order_and_reports_progress(engine, tmp_path):
    marker = tmp_path / "ran"
    setup = engine.EngineSetup(Plan(tmp_path, [
        [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('1'); print('first')"],
        [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('2'); print('second')"]]))
    setup.start()
    setup.join(60)
    assert (setup.state, setup.fraction) == ("done", 1.0) and marker.read_text() == "12"
    assert "first" in setup.log and "second" in setup.log and "the engine is ready" in setup.message


def test_a_failing_step_stops_the_setup_with_its_last_words(engine, tmp_path):
    marker = tmp_path / "ran"
    setup = engine.EngineSetup(Plan(tmp_path, [
        [sys.executable, "-c", "import sys; print('no matching distribution for torch'); sys.exit(3)"],
        [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]]))
    setup.run()
    assert setup.state == "failed" and not marker.exists()
    assert setup.message == "step 0 failed (exit code 3): no matching distribution for torch"


def test_cancel_stops_a_running_step(engine, tmp_path):
    setup = engine.EngineSetup(Plan(tmp_path, [[sys.executable, "-c", "import time; print('go', flush=True); "
                                                                     "time.sleep(60)"]]))
    setup.start()
    while "go" not in setup.log:
        setup.join(0.05)
    setup.cancel()
    setup.join(10)
    assert setup.state == "cancelled" and setup.finished


def test_check_engine_names_what_is_missing(engine, tmp_path):
    assert engine.check_engine(sys.executable) is None  # this venv has brushwork
    assert engine.check_engine(str(tmp_path / "python")) == f"{tmp_path / 'python'} does not exist"
    bare = tmp_path / "bare-python"  # an interpreter without brushwork
    bare.write_text("#!/bin/sh\necho 'No module named brushwork' >&2\nexit 1\n")
    bare.chmod(0o755)
    problem = engine.check_engine(str(bare))
    assert problem.startswith(f"brushwork is not installed for {bare} (No module named brushwork)"), problem


def test_release_zip_holds_the_plugin_the_client_and_the_wheel(tmp_path):
    spec = importlib.util.spec_from_file_location("build_krita_plugin", ROOT / "scripts/build_krita_plugin.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    wheel = tmp_path / "brushwork-9.9.9-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    target = build.build_zip(wheel, tmp_path / "dist")
    assert target.name == "brushwork-krita-9.9.9.zip"
    names = zipfile.ZipFile(target).namelist()
    assert {"brushwork_krita.desktop", "brushwork_krita/", "brushwork_krita/__init__.py",
            "brushwork_krita/bridge_client.py", "brushwork_krita/engine.py",
            "brushwork_krita/engine/brushwork-9.9.9-py3-none-any.whl"} <= set(names)
    client = (ROOT / "core/brushwork/client.py").read_bytes()
    assert zipfile.ZipFile(target).read("brushwork_krita/bridge_client.py") == client
    # the docker's first start, before the engine has answered, is built from the engine's own document
    assert json.loads(zipfile.ZipFile(target).read("brushwork_krita/options.json")) == json.loads(
        json.dumps(describe()))
    assert not list((tmp_path / "dist").glob(".*partial"))


def test_the_plugins_copy_nothing_the_engine_owns():
    # Brushes, methods and the fields' defaults, labels and help come from the engine's options
    # document: none of them is spelled out in a plug-in file (presets name methods: they are recipes).
    for path in (ROOT / "plugins").rglob("*.py"):
        text = path.read_text()
        for copied in ("watercolor", "markerpen", "Oil brush", "Whitens", "PAINTER_ITERATIONS", "STYLE_SIZE"):
            assert copied not in text, (path, copied)


def test_output_that_is_not_ascii_is_read_whatever_the_locale(engine, tmp_path, monkeypatch):
    # Krita's Python may run with an ASCII locale encoding; pip draws progress bars in UTF-8
    import locale

    monkeypatch.setattr(locale, "getpreferredencoding", lambda do_setlocale=True: "ascii")
    monkeypatch.setattr(locale, "getencoding", lambda: "ascii")
    setup = engine.EngineSetup(Plan(tmp_path, [[sys.executable, "-c",
                                                "import sys; sys.stdout.buffer.write('━━━ 100%\\n'.encode())"]]))
    setup.run()
    assert setup.state == "done" and "━━━ 100%" in setup.log
