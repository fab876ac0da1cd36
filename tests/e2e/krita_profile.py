"""A throwaway Krita profile for the end-to-end tests: the environment that starts the real Krita
under Xvfb with its own HOME/XDG folders and plug-ins pre-enabled in kritarc."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is required: run `bash scripts/setup.sh test` (as root) to install the editors")
    return path


def krita_env(root: Path, plugins: list[str]) -> dict[str, str]:
    """Environment for a Krita whose profile lives in `root` with these pykrita plug-ins enabled (their
    files go to root/data/krita/pykrita). brushwork's own variables are dropped: the test sets them."""
    data, config = root / "data", root / "config"
    (data / "krita" / "pykrita").mkdir(parents=True, exist_ok=True)
    config.mkdir(exist_ok=True)
    (root / "home").mkdir(exist_ok=True)
    (config / "kritarc").write_text("[python]\n" + "".join(f"enable_{name}=true\n" for name in plugins))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BRUSHWORK_", "XDG_", "PYTHON")) and k != "VIRTUAL_ENV"}
    # Krita's embedded Python finds its prefix through PATH: an activated virtual environment
    # would hide the system's PyQt5 from it (seen: "No module named 'PyQt5'").
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep) if not d.startswith(venv))
    env.update(HOME=str(root / "home"), XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(config),
               XDG_CACHE_HOME=str(root / "cache"), QT_QPA_PLATFORM="xcb")
    return env


def add_plugin(root: Path, folder: Path) -> None:
    """Copy a pykrita plug-in (`folder` holds <name>.desktop and the <name>/ package) into the profile."""
    pykrita = root / "data" / "krita" / "pykrita"
    for item in folder.iterdir():
        if item.is_dir():
            shutil.copytree(item, pykrita / item.name)
        else:
            shutil.copy(item, pykrita)


class HungServer:
    """A stand-in brushwork server that hangs mid-job: it answers the health check and the job's
    submission, then holds every later request (status, cancel, ...) open without ever answering.
    It names itself in a state file as a real server does (pid: this test process, which is alive),
    so a bridge adopts it. Once that state file no longer names it (a dying server removes its own),
    or on `release()`, it stops listening and closes what it holds: the clients see it gone."""

    JOB = {"id": "hung-job", "kind": "paint", "state": "queued", "fraction": 0.0, "message": "queued",
           "error": None, "position": 1, "preview": 0, "width": 0, "height": 0}

    def __init__(self, state_dir: Path) -> None:
        self.state_file = state_dir / "server.json"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[str] = []  # "METHOD /path", in arrival order
        self.held: list = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({"port": self.port, "token": "hung", "pid": os.getpid()}))
        self.state_file.chmod(0o600)
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _accept(self) -> None:
        while not self.released.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        try:
            reader = conn.makefile("rb")
            request = reader.readline().decode("latin-1").split()
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            reader.read(length)
            reader.close()
        except OSError:
            conn.close()
            return
        method, path = (request + ["", ""])[:2]
        with self._lock:
            self.requests.append(f"{method} {path}")
        if path == "/v1/health" or (method == "POST" and path == "/v1/jobs"):
            body = json.dumps({"ok": True} if path == "/v1/health" else self.JOB).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            conn.close()
            return
        with self._lock:
            if self.released.is_set():
                conn.close()
            else:
                self.held.append(conn)  # never answered

    def _watch(self) -> None:
        while not self.released.wait(0.1):
            try:
                named = json.loads(self.state_file.read_text()).get("port") == self.port
            except (OSError, ValueError):
                named = False
            if not named:
                self.release()

    def release(self) -> None:
        with self._lock:
            if self.released.is_set():
                return
            self.released.set()
            try:
                if json.loads(self.state_file.read_text()).get("port") == self.port:
                    self.state_file.unlink()
            except (OSError, ValueError):
                pass
            self.listener.close()
            for conn in self.held:
                try:
                    conn.shutdown(socket.SHUT_RDWR)  # at once, whatever else holds the socket
                except OSError:
                    pass
                conn.close()
