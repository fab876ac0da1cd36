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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from brushwork import client
from brushwork.client import Bridge, BridgeError, EngineOptions, JobRunner, encode_image
from brushwork.settings import describe

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
        bridge.stop(wait=10)
        if pid:
            _wait_gone(pid)


def _has_exited(pid: int) -> bool:
    """True once `pid` has exited. Never reaps it: a test that reaped the servers the client started
    would hide a client that takes its own exited (zombie) child for a live server."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # not a child of this process (or reaped already): signal 0 tells
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not _has_exited(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still runs")
        time.sleep(0.05)


# A stand-in for `python -m brushwork serve` (stdlib only, starts in a blink): it answers every GET
# with {"status": "ok", "pid": ...}, and after GET /v1/stop-listening it closes its port but keeps
# running, as a server does while it shuts down or when it is broken.
FAKE_SERVER = """\
import http.server, json, os, pathlib, secrets, sys, threading, time

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok", "pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/v1/stop-listening":
            threading.Thread(target=server.shutdown).start()

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
state = pathlib.Path(os.environ["BRUSHWORK_STATE_DIR"]) / "server.json"
state.parent.mkdir(parents=True, exist_ok=True)
state.write_text(json.dumps({"port": server.server_port, "token": secrets.token_hex(8), "pid": os.getpid()}))
print("brushwork serving on http://127.0.0.1:%d" % server.server_port, flush=True)
server.serve_forever()
server.server_close()
time.sleep(600)
"""


@pytest.fixture
def fake_python(tmp_path) -> Path:
    """An 'interpreter' whose `-m brushwork serve` is FAKE_SERVER."""
    path = tmp_path / "fake-python"
    path.write_text(f"#!{sys.executable}\n{FAKE_SERVER}")
    path.chmod(0o755)
    return path


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
    # the engine's options document, as `brushwork options --json` prints it, with this machine's devices
    options = EngineOptions(second.options())
    assert {k: v for k, v in options.document.items() if k != "available_devices"} == json.loads(
        json.dumps(describe()))
    assert "cpu" in options.available_devices and options.field_for("paint", "devices").name == "device"


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


def _step_until(runner: JobRunner, done: Callable[[JobRunner], bool], timeout: float = 60.0) -> list[str]:
    """Step `runner` as an editor's timer does until `done(runner)`; the messages it showed."""
    messages: list[str] = []
    deadline = time.monotonic() + timeout
    while not done(runner):
        if runner.finished or time.monotonic() > deadline:
            raise AssertionError(f"job {runner.state}: {runner.message}; shown: {messages}")
        runner.step()
        if not messages or messages[-1] != runner.message:
            messages.append(runner.message)
        time.sleep(0.05)
    return messages


@pytest.mark.slow  # starts brushwork serve processes
def test_a_running_job_is_submitted_again_once_when_its_server_dies(dirs, bridges):
    bridge = bridges(sys.executable)
    runner = JobRunner(bridge, "paint", picture(64, 64), LONG)
    _step_until(runner, lambda r: r.state == "submitted" and bridge.status(r.job_id).state == "running")
    first_job, first_pid = runner.job_id, bridge.pid
    os.kill(first_pid, signal.SIGKILL)  # a crash mid-job
    _wait_gone(first_pid)
    shown = _step_until(runner, lambda r: r.state == "submitted" and r.job_id != first_job)
    assert bridge.pid != first_pid and bridge.status(runner.job_id).state in ("queued", "running")
    assert any("restarting" in text for text in shown), shown  # all the user sees of it
    assert runner.error is None and runner.fraction < 0.5
    # a second death of the same job is reported, with where to look
    second_pid = bridge.pid
    os.kill(second_pid, signal.SIGKILL)
    _wait_gone(second_pid)
    _step_until(runner, lambda r: r.finished)
    assert runner.state == "failed" and "died twice" in runner.error and str(client.log_file()) in runner.error


@pytest.mark.slow  # starts brushwork serve processes
def test_a_job_cancelled_after_a_restart_is_cancelled_on_the_new_server(dirs, bridges):
    bridge = bridges(sys.executable)
    runner = JobRunner(bridge, "paint", picture(64, 64), LONG)
    _step_until(runner, lambda r: r.state == "submitted")
    first_job, first_pid = runner.job_id, bridge.pid
    os.kill(first_pid, signal.SIGKILL)
    _wait_gone(first_pid)
    _step_until(runner, lambda r: r.state == "submitted" and r.job_id != first_job)
    runner.cancel()
    assert runner.state == "cancelled"
    assert bridge.status(runner.job_id).state == "cancelled"


@pytest.mark.slow  # starts brushwork serve processes
def test_a_server_that_exited_when_idle_is_started_again(dirs, bridges):
    """One bridge per editor session: its server, the editor's child, exits after its idle time, and
    the next job must start another (it did not: the unreaped child looked alive)."""
    bridge = bridges(sys.executable, idle_timeout=3)
    first = bridge.request("GET", "/health")["pid"]
    _wait_gone(first)  # exited on its own; nobody reaped it
    assert bridge.request("GET", "/health")["pid"] not in (first, None)
    assert bridge.pid != first


def test_a_child_that_has_exited_is_not_alive():
    child = subprocess.Popen(["sh", "-c", "exit 3"])
    _wait_gone(child.pid)  # a zombie now: signal 0 still reaches it
    assert not client._pid_alive(child.pid)
    assert child.wait(timeout=10) == 3  # looking did not take the exit code from the Popen that owns it


def test_a_server_we_started_that_stops_listening_is_replaced(dirs, bridges, fake_python, monkeypatch):
    monkeypatch.setattr(client, "EXIT_GRACE", 0.5)
    bridge = bridges(str(fake_python))
    first = bridge.request("GET", "/health")["pid"]
    bridge.request("GET", "/stop-listening")  # still runs, refuses connections
    assert bridge.request("GET", "/health")["pid"] != first  # ours: stopped and replaced
    _wait_gone(first, timeout=10)


def test_a_server_we_did_not_start_is_not_stopped(dirs, bridges, fake_python, monkeypatch):
    monkeypatch.setattr(client, "EXIT_GRACE", 0.5)
    other = subprocess.Popen([str(fake_python)], stdout=subprocess.PIPE, text=True)  # e.g. by hand
    try:
        assert other.stdout.readline().startswith("brushwork serving on ")
        bridge = bridges(str(fake_python))  # could start servers, but finds this one
        assert bridge.request("GET", "/health")["pid"] == other.pid
        bridge.request("GET", "/stop-listening")
        with pytest.raises(BridgeError, match=f"does not answer.*{client.log_file()}"):
            bridge.request("GET", "/health")
        assert other.poll() is None and bridge._process is None  # not stopped, none started
    finally:
        other.kill()
        other.wait()


def test_a_state_file_others_could_write_is_ignored(dirs, fake_python):
    other = subprocess.Popen([str(fake_python)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().startswith("brushwork serving on ")
        state = client.state_file()
        state.chmod(0o600)
        assert Bridge(None, start=False).request("GET", "/health")["pid"] == other.pid
        state.chmod(0o620)  # someone else may have written it: its port could be their server
        with pytest.raises(BridgeError, match="not running"):
            Bridge(None, start=False).connect()
    finally:
        other.kill()
        other.wait()


def test_a_hung_server_is_reported_not_killed(dirs, bridges, fake_python):
    bridge = bridges(str(fake_python), timeout=1)
    pid = bridge.request("GET", "/health")["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(BridgeError, match=f"did not answer within 1 s.*{client.log_file()}"):
            bridge.request("GET", "/health")
        assert not _has_exited(pid)
    finally:
        os.kill(pid, signal.SIGCONT)


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


def test_engine_options_list_the_engines_trained_styles():
    styles = EngineOptions(describe()).styles()  # the shipped ones at least, as stylize's `model` names them
    assert {"starry_night"} <= {style.name for style in styles}
    assert all(style.help.endswith(".pt") and " style: " in style.help for style in styles)
    document = {**describe(), "styles": [{"name": "mine", "kind": None, "path": "/u/mine.pt"}, {"kind": "johnson"},
                                         "junk"]}
    assert [(s.name, s.help) for s in EngineOptions(document).styles()] == [("mine", "trained style: /u/mine.pt")]
    older = {key: value for key, value in describe().items() if key != "styles"}  # an engine before #18
    assert EngineOptions(older).styles() == []
