"""The stdlib bridge client against real `brushwork serve` processes (slow: they start servers, whose
worker starts torch): finding, starting and restarting the server, actionable errors, and jobs
driven through JobRunner."""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from brushwork import client
from brushwork.client import Bridge, BridgeError, JobRunner, encode_image

CORE = Path(client.__file__).parent
FAST = {"brush": "tape", "strokes": 10, "working_size": 64, "iterations": 3}  # tape: renderer committed with the code
LONG = {"brush": "tape", "strokes": 300, "working_size": 64, "iterations": 3000}  # minutes of work


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("BRUSHWORK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BRUSHWORK_LOG_DIR", str(tmp_path / "log"))
    return tmp_path


@pytest.fixture
def bridges():
    """Bridges made by a test; their servers are stopped afterwards."""
    made: list[Bridge] = []

    def make(*args, **kwargs) -> Bridge:
        made.append(Bridge(*args, **kwargs))
        return made[-1]

    yield make
    for bridge in made:
        pid = bridge.pid
        bridge.stop()
        if pid:
            _wait_gone(pid)


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            finished, _ = os.waitpid(pid, os.WNOHANG)  # reap our own children
            if finished == pid:
                return
        except (ProcessLookupError, ChildProcessError):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs")


def picture(width: int = 32, height: int = 24) -> dict:
    rgba = (np.random.default_rng(0).random((height, width, 4)) * 255).astype(np.uint8)
    rgba[..., 3] = 255
    return encode_image(rgba.tobytes(), width, height)


@pytest.mark.slow  # starts brushwork serve processes
def test_starts_a_server_and_a_second_bridge_finds_it(dirs, bridges, monkeypatch):
    # Editors set PYTHONPATH for their own Python; the server must start without it.
    shadow = dirs / "editor-python" / "brushwork"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('editor packages leaked into the server')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    first = bridges(sys.executable)
    first.connect()
    assert first.connected and first.pid != os.getpid()
    state = client.state_file()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.parent.stat().st_mode) == 0o700
    doc = json.loads(state.read_text())
    assert doc == {"port": first.port, "token": first.token, "pid": first.pid}
    assert "brushwork serving on http://127.0.0.1:" in client.log_file().read_text()
    second = bridges(None, start=False)  # no interpreter: it can only use a running server
    second.connect()
    assert (second.pid, second.port) == (first.pid, first.port)
    assert second.request("GET", "/health")["pid"] == first.pid


@pytest.mark.slow  # starts brushwork serve processes
def test_runs_a_paint_job_and_reports_progress(dirs, bridges):
    # a server started by hand, with a preview after every step
    server = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--preview-interval", "0"],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().startswith("brushwork serving on ")
    bridge = bridges(None, start=False)
    seen = []
    runner = JobRunner(bridge, "paint", picture(), FAST, channels="BGRA8")
    runner.wait(0.05, lambda r: seen.append((r.state, r.fraction)))
    assert runner.state == "done", runner.error
    assert runner.result.width == 32 and len(runner.result.pixels) == 32 * 24 * 4
    assert runner.result.svg.startswith("<?xml") and "</svg>" in runner.result.svg
    assert seen[0][0] in ("connecting", "submitted") and seen[-1] == ("done", 1.0)
    assert runner.preview_png.startswith(b"\x89PNG")
    assert bridge.pid == server.pid
    bridge.stop()
    assert server.wait(timeout=30) == 0


@pytest.mark.slow  # starts brushwork serve processes
def test_restarts_a_dead_server_then_gives_an_actionable_error(dirs, bridges, tmp_path):
    bridge = bridges(sys.executable)
    bridge.connect()
    for ending in (signal.SIGKILL, signal.SIGTERM):  # a crash, then an orderly exit (as after the idle time)
        before = bridge.pid
        os.kill(before, ending)
        _wait_gone(before)
        assert bridge.request("GET", "/health")["status"] == "ok"  # restarted behind the call
        assert bridge.pid != before
    # the next server cannot start: the call fails with what to do and where to look
    os.kill(bridge.pid, signal.SIGKILL)
    _wait_gone(bridge.pid)
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ImportError: no module named fastapi' >&2\nexit 1\n")
    broken.chmod(0o755)
    bridge.python = str(broken)
    with pytest.raises(BridgeError) as caught:
        bridge.request("GET", "/health")
    assert str(client.log_file()) in str(caught.value) and "no module named fastapi" in str(caught.value)
    assert "exit code 1" in str(caught.value)


@pytest.mark.slow  # starts brushwork serve processes
def test_a_job_is_submitted_again_when_its_server_dies(dirs, bridges):
    bridge = bridges(sys.executable)
    runner = JobRunner(bridge, "paint", picture(64, 64), LONG)
    while runner.state != "submitted":
        runner.step()
        time.sleep(0.05)
    first_job, first_pid = runner.job_id, bridge.pid
    os.kill(first_pid, signal.SIGKILL)
    _wait_gone(first_pid)
    runner.step()  # the status call restarts the server; the job goes to the new one
    assert runner.state == "submitted" and runner.job_id != first_job and bridge.pid != first_pid
    runner.cancel()
    assert runner.state == "cancelled"
    assert bridge.status(runner.job_id).state == "cancelled"


@pytest.mark.slow  # starts brushwork serve processes
def test_cancel_during_the_upload_leaves_nothing_running(dirs, bridges):
    bridge = bridges(sys.executable)
    bridge.connect()
    runner = JobRunner(bridge, "paint", picture(1024, 1024), LONG)
    runner.start(0.05)
    deadline = time.monotonic() + 30
    while runner.message != "sending the image" and time.monotonic() < deadline:
        time.sleep(0.001)
    runner.cancel()  # from another thread than the one uploading, as Krita's Cancel button does
    runner.join(30)
    assert runner.state == "cancelled" and runner.message == "cancelled"
    jobs = bridge.request("GET", "/jobs")
    assert len(jobs) == 1 and jobs[0]["state"] == "cancelled"


@pytest.mark.slow  # starts brushwork serve processes
def test_idle_server_exits_and_removes_its_state_file(dirs):
    state = dirs / "state" / "server.json"
    process = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--idle-timeout", "1.5"],
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("brushwork serving on http://127.0.0.1:")
    assert json.loads(state.read_text())["port"] == int(line.rsplit(":", 1)[1])
    assert process.wait(timeout=20) == 0
    assert not state.exists()


@pytest.mark.slow  # starts brushwork serve processes
def test_sigterm_stops_the_server_cleanly(dirs):
    state = dirs / "state" / "server.json"
    for signum, code in ((signal.SIGTERM, 0), (signal.SIGINT, 130)):
        process = subprocess.Popen([sys.executable, "-m", "brushwork", "serve"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        assert process.stdout.readline().startswith("brushwork serving on ")
        process.send_signal(signum)
        assert process.wait(timeout=20) == code
        assert not state.exists()
        assert "Traceback" not in process.stderr.read()


def test_serve_on_a_taken_port_says_so(dirs):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "brushwork", "serve", "--port", str(port)],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr and "leave out --port" in run.stderr


@pytest.mark.slow  # starts brushwork serve processes
def test_actionable_errors(dirs, bridges, tmp_path, monkeypatch):
    monkeypatch.delenv("BRUSHWORK_PYTHON", raising=False)
    with pytest.raises(BridgeError, match="plugins install"):
        bridges(None).connect()
    with pytest.raises(BridgeError, match="does not exist any more"):
        bridges(str(tmp_path / "gone" / "python")).connect()
    with pytest.raises(BridgeError, match="not running.*brushwork serve"):
        bridges(sys.executable, start=False).connect()
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'No module named brushwork' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(BridgeError) as caught:
        bridges(str(broken)).connect()
    text = str(caught.value)
    assert "exit code 3" in text and str(client.log_file()) in text and "No module named brushwork" in text
    # a bad job parameter comes back as the server's message
    bridge = bridges(sys.executable)
    with pytest.raises(BridgeError, match="strokes"):
        bridge.submit("paint", picture(), {"strokes": 0})
    with pytest.raises(BridgeError, match="needs"):
        encode_image(b"1234", 2, 2)


def test_environment_variable_overrides_the_recorded_interpreter(dirs, monkeypatch):
    monkeypatch.setenv("BRUSHWORK_PYTHON", sys.executable)
    assert Bridge("/somewhere/else/python").python == sys.executable


def test_client_is_stdlib_only_and_python_3_10_syntax():
    source = (CORE / "client.py").read_text()
    tree = ast.parse(source, feature_version=(3, 10))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


@pytest.mark.slow  # starts brushwork serve processes
def test_client_works_without_site_packages(dirs, bridges):
    """As in an editor: no torch, no numpy, not even site-packages; only the copied file."""
    bridge = bridges(sys.executable)
    bridge.connect()
    script = (f"import sys; sys.path.insert(0, {str(CORE)!r}); import client; "
              "b = client.Bridge(None, start=False); b.connect(); print(b.request('GET', '/health')['pid']); "
              "assert 'numpy' not in sys.modules and 'torch' not in sys.modules")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": "/nonexistent"})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == bridge.pid


def test_translate_svg():
    text = '<?xml version="1.0"?>\n<svg width="4" height="4" viewBox="0 0 4 4"><rect/></svg>'
    assert client.translate_svg(text, 0, 0) == text
    moved = client.translate_svg(text, 10, 20)
    assert '<g transform="translate(10 20)"><rect/></g></svg>' in moved
    clipped = client.translate_svg(text, 0, 0, clip=(3, 2))
    assert ('<g transform="translate(0 0)"><clipPath id="brushwork-region"><rect x="0" y="0" width="3" height="2"/>'
            '</clipPath><g clip-path="url(#brushwork-region)"><rect/></g></g></svg>') in clipped
    with pytest.raises(BridgeError):
        client.translate_svg("<html/>", 1, 1)
