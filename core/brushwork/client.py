"""The bridge client: what the editor plug-ins use to reach `brushwork serve`.

Standard library only, Python >= 3.10: Krita's and GIMP's own Pythons cannot import torch or numpy,
so `brushwork plugins install` copies this one file next to each plug-in. It

- finds a running server from its state file (`{port, token, pid}`, user-only), or starts one with
  the configured interpreter (PYTHONPATH removed: editors set their own, which breaks the venv);
- restarts a server that died (crashed, or exited when idle), once per call, and says so when that
  is not enough; a server it started itself is its child, so it reaps it (an exited child that is
  not reaped still answers signal 0 and would look alive for ever);
- turns every failure into a `BridgeError` whose message tells the user what to do, naming the
  server log;
- reads the engine's options document (`Bridge.options()`, GET /v1/options; the same JSON as
  `brushwork options --json`) into `EngineOptions`, from which the plug-ins build their choice lists,
  defaults, ranges, labels and help, so that nothing the engine owns is copied into them;
- runs a job as a small state machine (`JobRunner.step()`), so an editor can drive it from a UI
  timer without ever blocking, or from a plain loop in batch mode; a job whose server dies is sent
  again, once, to a new one.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Bridge",
    "BridgeError",
    "Choice",
    "EngineOptions",
    "JobRunner",
    "JobStatus",
    "Setting",
    "ServerGone",
    "encode_image",
    "encode_png",
    "engine_env",
    "log_file",
    "state_dir",
    "state_file",
]

API = "/v1"
STATE_NAME = "server.json"
LOG_NAME = "server.log"
# Seconds a server may take to come up (imports, binding) before the client gives up.
START_TIMEOUT = 60.0
# A server started for an editor exits on its own after this long without requests or jobs.
DEFAULT_IDLE_TIMEOUT = 1800
# Seconds a server that refuses connections but still runs gets to finish exiting (it stops listening
# a few seconds before its process ends, e.g. after its idle time) before it counts as broken.
EXIT_GRACE = 10.0
FINAL_STATES = ("done", "failed", "cancelled")


class BridgeError(Exception):
    """A failure talking to the brushwork server; the message alone tells the user what to do."""


class ServerGone(BridgeError):
    """The server stopped (it crashed, or exited after its idle time) during a call made with
    `restart=False`; the bridge is disconnected, and `poll_connect()` starts or finds another."""


# ------------------------------------------------------------------------------------------ paths

def _user_dir(xdg_var: str, fallback: str) -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "brushwork"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "brushwork"
    return Path(os.environ.get(xdg_var) or Path.home() / fallback) / "brushwork"


def state_dir() -> Path:
    """Where the server's state file lives: $BRUSHWORK_STATE_DIR, else the user's runtime directory
    (cleared at logout, like the server), else the user's config directory."""
    if os.environ.get("BRUSHWORK_STATE_DIR"):
        return Path(os.environ["BRUSHWORK_STATE_DIR"])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "brushwork"
    return _user_dir("XDG_CONFIG_HOME", ".config")


def state_file() -> Path:
    return state_dir() / STATE_NAME


def log_file() -> Path:
    """The server log: $BRUSHWORK_LOG_DIR/server.log, else in the user's cache directory. Never inside
    a plug-in folder, which editors replace on update."""
    base = Path(os.environ["BRUSHWORK_LOG_DIR"]) if os.environ.get("BRUSHWORK_LOG_DIR") else \
        _user_dir("XDG_CACHE_HOME", ".cache")
    return base / LOG_NAME


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` runs. A child of this process that has exited but is not reaped yet (a
    zombie) counts as gone: signal 0 still reaches it."""
    if pid <= 0 or _exited_child(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except OSError:
        return False
    return True


def _exited_child(pid: int) -> bool:
    """True when `pid` is a child of this process that has exited and waits to be reaped. It only
    looks (WNOWAIT): the Popen that owns the child must still get its exit code."""
    waitid = getattr(os, "waitid", None)  # Linux and the BSDs; not macOS or Windows
    if waitid is None:
        return False
    try:
        return waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except OSError:  # ChildProcessError: not our child
        return False


def engine_env() -> dict[str, str]:
    """The environment for running brushwork's own Python from inside an editor: editors put their
    Python packages on PYTHONPATH/PYTHONHOME, which brushwork's environment must not see."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())


# ------------------------------------------------------------------------------------------ images

def encode_image(data: bytes, width: int, height: int, channels: str = "RGBA8") -> dict[str, Any]:
    """A raw 8-bit, 4-channel, straight-alpha picture (row-major, as editors hand them out) in the
    server's wire form. `channels` is "RGBA8" (GIMP) or "BGRA8" (Krita)."""
    if channels not in ("RGBA8", "BGRA8"):
        raise BridgeError(f"unsupported pixel layout {channels!r}; expected RGBA8 or BGRA8")
    if len(data) != width * height * 4:
        raise BridgeError(f"the picture has {len(data)} bytes, but {width}x{height} {channels} needs "
                          f"{width * height * 4}")
    return {"encoding": "raw", "channels": channels, "width": width, "height": height,
            "data": base64.b64encode(data).decode("ascii")}


def encode_png(data: bytes) -> dict[str, Any]:
    return {"encoding": "png", "data": base64.b64encode(data).decode("ascii")}


# ------------------------------------------------------------------------------------------ bridge

@dataclass
class JobStatus:
    id: str
    kind: str
    state: str  # queued | running | done | failed | cancelled
    fraction: float = 0.0
    message: str = ""
    error: str | None = None
    position: int = 0  # place in the queue (0 = running or finished)
    preview: int = 0  # serial number of the latest preview; 0 = none yet
    width: int = 0
    height: int = 0

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> JobStatus:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in doc.items() if k in names})

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


class Bridge:
    """A connection to the brushwork server, started on demand.

    `python` is the interpreter with brushwork installed ($BRUSHWORK_PYTHON wins over it). With
    `start=False` the bridge only uses a server that is already running (e.g. one started by hand).
    An editor keeps one bridge for its session and may run jobs from several threads: the connection
    changes under a lock, so a server that died is replaced once, not once per thread.
    """

    def __init__(self, python: str | None = None, *, start: bool = True, timeout: float = 30.0,
                 idle_timeout: int = DEFAULT_IDLE_TIMEOUT, start_timeout: float = START_TIMEOUT) -> None:
        self.python = os.environ.get("BRUSHWORK_PYTHON") or python
        self.allow_start = start
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.token: str | None = None
        self.pid: int | None = None
        self.generation = 0  # bumped whenever a (new) server is connected; jobs of older ones are gone
        self._process: subprocess.Popen | None = None  # the last server this bridge started: its child
        self._starting_since: float | None = None  # set while that server is starting
        self._lock = threading.RLock()

    # -- finding and starting --------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return log_file()

    def _read_state(self) -> dict[str, Any] | None:
        try:
            with open(state_file(), "rb") as f:
                info = os.fstat(f.fileno())
                doc = json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError):
            return None
        # A state file someone else wrote (or could have) would send our pictures to their server.
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
            return None
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k), t) for k, t in
                                                (("port", int), ("token", str), ("pid", int))):
            return None
        return doc

    def _started(self, pid: int | None) -> bool:
        """Whether server `pid` is the child this bridge started."""
        return pid is not None and self._process is not None and self._process.pid == pid

    def _alive(self, pid: int) -> bool:
        """Whether server `pid` runs. The one this bridge started is reaped here once it has exited:
        until then it is a zombie, which signal 0 still reaches."""
        if self._started(pid):
            assert self._process is not None
            return self._process.poll() is None
        return _pid_alive(pid)

    def _adopt(self, doc: dict[str, Any]) -> bool:
        """Use the server the state file names if it answers; True when it does."""
        if not self._alive(doc["pid"]):
            return False
        self.port, self.token, self.pid = doc["port"], doc["token"], doc["pid"]
        try:
            self._call("GET", "/health", timeout=5.0)
        except (OSError, http.client.HTTPException, BridgeError):
            self.port = self.token = self.pid = None
            return False
        self.generation += 1
        return True

    @property
    def connected(self) -> bool:
        return self.port is not None

    def begin_connect(self) -> bool:
        """Connect to a running server, or start one without waiting for it. True when connected;
        otherwise call `poll_connect()` until it is (a UI can keep painting meanwhile)."""
        with self._lock:
            if self.connected:
                return True
            if self._starting_since is not None and self._process is not None:  # one is on its way already
                return self.poll_connect()
            doc = self._read_state()
            if doc is not None and self._adopt(doc):
                return True
            if not self.allow_start:
                raise BridgeError(f"the brushwork server is not running (no live server in {state_file()}); "
                                  "start it with `brushwork serve`")
            self._spawn()
            return False

    def poll_connect(self) -> bool:
        """One non-blocking check on a server being started: True once it answers."""
        with self._lock:
            if self.connected:
                return True
            if self._starting_since is None or self._process is None:
                return self.begin_connect()
            code = self._process.poll()
            doc = self._read_state()
            # ours, or one another editor started at the same moment (the last one to start names itself)
            if doc is not None and self._adopt(doc):
                self._starting_since = None
                return True
            if code is not None:
                self._starting_since = None
                tail = _log_tail(self.log_path)
                raise BridgeError(f"the brushwork server stopped while starting (exit code {code}); see "
                                  f"{self.log_path}" + (f": {tail}" if tail else ""))
            if time.monotonic() - self._starting_since > self.start_timeout:
                self._starting_since = None
                self._process.kill()
                self._process.wait()
                raise BridgeError(f"the brushwork server did not start within {self.start_timeout:.0f} s; "
                                  f"see {self.log_path}")
            return False

    def connect(self) -> None:
        """Blocking `begin_connect` + `poll_connect` (batch mode, scripts)."""
        while not self.poll_connect():
            time.sleep(0.1)

    def _spawn(self) -> None:
        python = self.python
        if not python:
            raise BridgeError("brushwork's Python is not configured: run `brushwork plugins install krita` "
                              "(or gimp) from the environment where brushwork is installed, or set "
                              "BRUSHWORK_PYTHON")
        if not Path(python).exists():
            raise BridgeError(f"brushwork's Python {python} does not exist any more: run `brushwork plugins "
                              "install ...` again from the environment where brushwork is installed")
        log = self.log_path
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            handle = open(log, "ab")
        except OSError as exc:
            raise BridgeError(f"cannot write the server log {log}: {exc.strerror or exc}") from None
        env = engine_env()
        command = [python, "-m", "brushwork", "serve", "--idle-timeout", str(self.idle_timeout)]
        try:
            with handle:
                handle.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(command)}\n".encode())
                handle.flush()
                # The previous child, if any, is reaped by subprocess once its Popen is dropped.
                self._process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, env=env,
                    # its own session: closing the editor or Ctrl-C in a terminal does not kill jobs mid-write
                    start_new_session=(os.name == "posix"), close_fds=True)
        except OSError as exc:
            raise BridgeError(f"cannot start the brushwork server with {python}: {exc.strerror or exc}") from None
        self._starting_since = time.monotonic()

    def _gone(self, pid: int | None) -> bool:
        """Whether server `pid`, which refused a connection, has gone or is going: it exited, or it
        no longer names itself in the state file (it removes that on its way out). A server stops
        listening a little before it exits, so it gets EXIT_GRACE seconds to do one or the other."""
        if pid is None:  # another thread found it gone and disconnected
            return True
        deadline = time.monotonic() + EXIT_GRACE
        while self._alive(pid):
            doc = self._read_state()
            if doc is None or doc["pid"] != pid:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _stop_own(self) -> None:
        """Stop the server this bridge started (it runs but refuses connections): SIGTERM, then kill."""
        assert self._process is not None
        self._process.terminate()
        try:
            self._process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _replace(self, generation: int, exc: Exception, restart: bool) -> None:
        """A call to the server of `generation` found nobody listening: make sure it has gone, then
        connect to another (with `restart`) or raise ServerGone. A server that still runs and refuses
        is stopped if this bridge started it; one started elsewhere is not ours to kill: BridgeError."""
        with self._lock:
            if self.generation != generation and self.connected:
                return  # another thread has replaced it already
            port, pid = self.port, self.pid
            if not self._gone(pid):
                if not self._started(pid):
                    raise BridgeError(f"the brushwork server on port {port} does not answer ({exc}); "
                                      f"see {self.log_path}")
                self._stop_own()
            self.port = self.token = self.pid = None
            if not self.allow_start:
                raise BridgeError("the brushwork server has stopped; start it again with `brushwork serve`")
            if not restart:
                raise ServerGone("the brushwork server stopped")
            self.connect()

    def stop(self, wait: float = 0.0) -> None:
        """Ask the connected server (or the one this bridge is starting) to exit: SIGTERM, after which
        it finishes writing and cleans up. With `wait`, block up to that many seconds until it has."""
        with self._lock:
            pid = self.pid
            if pid is None and self._starting_since is not None and self._process is not None:
                pid = self._process.pid
            self.port = self.token = self.pid = None
            self._starting_since = None
            if pid is None or not self._alive(pid):
                return
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + wait
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    # -- HTTP ------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict | None = None, *, timeout: float | None = None,
              raw: bool = False) -> Any:
        port, token = self.port, self.token  # once: another thread may disconnect meanwhile
        if port is None or token is None:
            raise ConnectionRefusedError("not connected")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout or self.timeout)
        headers = {"Authorization": f"Bearer {token}", "Host": f"127.0.0.1:{port}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, API + path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.status >= 400:
            raise BridgeError(_error_text(response.status, data))
        if raw:
            return data
        return json.loads(data) if data else None

    def request(self, method: str, path: str, body: dict | None = None, *, raw: bool = False,
                restart: bool = True) -> Any:
        """One API call. Connects first (starting the server if none runs). If the server turns out
        to have gone, another is started and the call repeated, once; a second failure is reported.
        With `restart=False` a gone server raises ServerGone instead, at once (for JobRunner, which
        shows that, restarts without blocking and submits its job again)."""
        self.connect()
        generation = self.generation
        try:
            try:
                return self._call(method, path, body, raw=raw)
            except _GONE as exc:
                self._replace(generation, exc, restart)
            try:
                return self._call(method, path, body, raw=raw)
            except _GONE:
                tail = _log_tail(self.log_path)
                raise BridgeError(f"the brushwork server died again right after a restart; see {self.log_path}"
                                  + (f": {tail}" if tail else "")) from None
        except TimeoutError:
            raise BridgeError(f"the brushwork server did not answer within {self.timeout:.0f} s; "
                              f"see {self.log_path}") from None

    # -- jobs ------------------------------------------------------------------------------------
    # `restart=False`: see `request`.

    def options(self, *, restart: bool = True) -> dict[str, Any]:
        """The engine's options document (see `EngineOptions`), with the devices this machine has."""
        return self.request("GET", "/options", restart=restart)

    def submit(self, kind: str, image: dict[str, Any], params: dict[str, Any]) -> JobStatus:
        return JobStatus.from_json(self.request("POST", "/jobs", {"kind": kind, "image": image, "params": params}))

    def status(self, job_id: str, *, restart: bool = True) -> JobStatus:
        return JobStatus.from_json(self.request("GET", f"/jobs/{job_id}", restart=restart))

    def cancel(self, job_id: str) -> JobStatus:
        return JobStatus.from_json(self.request("POST", f"/jobs/{job_id}/cancel"))

    def preview(self, job_id: str, *, restart: bool = True) -> bytes:
        return self.request("GET", f"/jobs/{job_id}/preview", raw=True, restart=restart)

    def result_png(self, job_id: str) -> bytes:
        return self.request("GET", f"/jobs/{job_id}/result.png", raw=True)

    def result_raw(self, job_id: str, channels: str = "RGBA8", *, restart: bool = True) -> bytes:
        """The result as raw straight-alpha pixels (editors' own layout; no PNG decoder needed)."""
        return self.request("GET", f"/jobs/{job_id}/result.raw?channels={channels}", raw=True, restart=restart)

    def result_svg(self, job_id: str, flavour: str = "strokes", origin: tuple[int, int] = (0, 0), *,
                   restart: bool = True) -> str:
        """A paint job's strokes as SVG: "strokes" (the stroke file), or for editors "flat" (plain
        shapes for a vector layer) or "outlines" (one path per stroke), placed with the picture's
        top-left corner at `origin` in the editor's image."""
        query = "" if flavour == "strokes" else f"?flavour={flavour}&x={origin[0]}&y={origin[1]}"
        return self.request("GET", f"/jobs/{job_id}/result.svg{query}", raw=True, restart=restart).decode("utf-8")


# ------------------------------------------------------------------------------------------ options

@dataclass(frozen=True)
class Choice:
    """One value of a choice list: what is sent, what the user reads, what it does."""

    name: str
    label: str
    help: str = ""
    # the choice's own defaults for settings that follow it (a method's strength), as (setting, value) pairs
    defaults: tuple[tuple[str, Any], ...] = ()

    def default(self, name: str) -> Any:
        return dict(self.defaults).get(name)


@dataclass(frozen=True)
class Setting:
    """One field of a paint or stylize job, as the engine describes it."""

    name: str  # the job parameter's name
    type: str  # int | float | bool | str | choice | choices (a list of values from the choices)
    default: Any = None  # None: the engine decides
    min: float | None = None
    max: float | None = None
    min_open: bool = False  # the value must be > min, not >= min
    max_open: bool = False
    choices: str | list | None = None  # a list's name in the document ("brushes", ...), or the values
    label: str = ""
    help: str = ""
    editor: bool = False  # offered in the editors' dialogs
    server: bool = True  # a job parameter the server takes
    default_by: str | None = None  # the list ("methods") whose chosen entry gives the default (see `default`)

    def allows(self, value: Any) -> bool:
        """Whether a number lies within the field's range."""
        low = self.min is None or (value > self.min if self.min_open else value >= self.min)
        return low and (self.max is None or (value < self.max if self.max_open else value <= self.max))


LISTS = ("brushes", "methods", "devices")  # the document's choice lists


def _choice_defaults(record: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A choice record's own values for settings (numbers, words, switches), e.g. a method's alpha."""
    return tuple((k, v) for k, v in record.items() if k not in ("name", "label", "help", "description")
                 and isinstance(v, (int, float, str, bool)))


class EngineOptions:
    """The engine's options document: its choice lists ("brushes", "methods", "devices": names,
    labels, help, in the engine's order), the paint and stylize fields (`Setting`), and, when a
    server answered, the devices its machine has. A malformed document raises BridgeError."""

    def __init__(self, document: dict[str, Any]) -> None:
        try:
            self.document = document
            self.version = str(document.get("version", ""))
            self.lists = {name: [Choice(str(c["name"]), str(c.get("label") or c["name"]),
                                        str(c.get("help") or c.get("description") or ""), _choice_defaults(c))
                                 for c in document.get(name, [])] for name in LISTS}
            self.sections = {section: [Setting(**{k: v for k, v in f.items() if k in Setting.__dataclass_fields__})
                                       for f in document[section]["fields"]] for section in ("paint", "stylize")}
            available = document.get("available_devices")
            self.available_devices = tuple(available) if isinstance(available, list) else None
        except (KeyError, TypeError, AttributeError) as exc:
            raise BridgeError(f"the engine's options document is malformed ({type(exc).__name__}: {exc}); "
                              "update brushwork and the plug-in together") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> EngineOptions:
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise BridgeError(f"the engine's options are not JSON ({exc})") from None
        if not isinstance(document, dict):
            raise BridgeError("the engine's options document is not a JSON object")
        return cls(document)

    def fields(self, section: str) -> list[Setting]:
        return list(self.sections[section])

    def styles(self) -> list[Choice]:
        """The trained styles the engine knows (the user's and the shipped ones, which stylize's `model`
        takes by name), each with its kind and file as help; none from an engine that lists none."""
        found = self.document.get("styles")
        return [Choice(str(s["name"]), str(s["name"]), f"{s.get('kind') or 'trained'} style: {s.get('path')}")
                for s in (found if isinstance(found, list) else []) if isinstance(s, dict) and s.get("name")]

    def field(self, section: str, name: str) -> Setting | None:
        """The field `name` if the engine has it (and takes it in a job)."""
        return next((f for f in self.sections[section] if f.name == name and f.server), None)

    def find(self, section: str, choices: str) -> Setting | None:
        """The field whose values come from the list `choices` (e.g. paint's brushes field), if any."""
        return next((f for f in self.sections[section] if f.choices == choices), None)

    def field_for(self, section: str, choices: str) -> Setting:
        """`find`, for a field a job cannot do without."""
        found = self.find(section, choices)
        if found is None:
            raise BridgeError(f"the engine's {section} options have no field choosing from {choices!r}; "
                              "update brushwork and the plug-in together")
        return found

    def choices(self, setting: Setting) -> list[Choice]:
        """The values a choice field offers, in the engine's order; devices a server said its machine
        lacks say so in their labels."""
        if isinstance(setting.choices, list):
            return [Choice(str(value), str(value)) for value in setting.choices]
        found = self.lists.get(setting.choices or "", [])
        if setting.choices == "devices" and self.available_devices is not None:
            found = [c if c.name == "auto" or c.name in self.available_devices else
                     Choice(c.name, f"{c.label} (not on this machine)", c.help) for c in found]
        return list(found)

    def choice(self, setting: Setting, name: Any) -> Choice | None:
        return next((c for c in self.choices(setting) if c.name == str(name)), None)

    def default(self, setting: Setting, chosen: str | None = None) -> Any:
        """The field's default; for a choice, the name of one of its values (the first of a list of
        several; the engine's first value when its default is none of them). A field whose default
        follows a choice (`default_by`, e.g. a method's own strength) takes the default of `chosen`, the
        entry picked in that list."""
        value = setting.default
        if setting.default_by and chosen is not None:
            entry = next((c for c in self.lists.get(setting.default_by, []) if c.name == chosen), None)
            if entry is not None and entry.default(setting.name) is not None:
                return entry.default(setting.name)
        if setting.type == "choices":
            value = value[0] if isinstance(value, list) and value else None
        if setting.type in ("choice", "choices"):
            names = [c.name for c in self.choices(setting)]
            return str(value) if str(value) in names else (names[0] if names else None)
        return value

    def value(self, setting: Setting, value: Any) -> Any:
        """A value as the job parameter wants it: a choice's own value for its name (choices given as
        numbers are named by their text), in a list for a field of type "choices"."""
        if isinstance(setting.choices, list):
            value = next((v for v in setting.choices if str(v) == str(value)), value)
        return [value] if setting.type == "choices" and not isinstance(value, list) else value


# What a call to a server that has exited looks like.
_GONE = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)


def _error_text(status: int, data: bytes) -> str:
    try:
        detail = json.loads(data).get("detail")
    except (ValueError, AttributeError):
        detail = data.decode("utf-8", errors="replace").strip()[:300]
    if isinstance(detail, list):  # request validation: [{"loc": [...], "msg": ...}, ...]
        detail = "; ".join(f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
                           for d in detail if isinstance(d, dict))
    if status == 401:
        return "the brushwork server refused the token; restart the server (it writes a new one)"
    return f"brushwork server: {detail or f'HTTP {status}'}"


# ------------------------------------------------------------------------------------------ jobs

@dataclass
class JobResult:
    pixels: bytes  # raw, straight alpha, in the runner's `channels` layout
    svg: str | None
    width: int
    height: int


@dataclass
class JobRunner:
    """One job from submission to result.

    Two ways to drive it: `step()` calls that each make at most a few requests (batch mode: a loop
    with a sleep, see `wait`), or `start()`, which runs that loop in a background thread so that an
    editor's UI thread never waits on the network, not even for a large upload; the UI then reads
    `state`, `fraction`, `message` and `preview_png` from a timer. `cancel()` may be called at any
    time from any thread. If the server dies mid-job (a crash, or another caller of the bridge found
    it gone), the job goes back to "connecting" with a message that says so, a new server is started
    without blocking the step, and the job is submitted to it again, once; it starts over there.
    """

    bridge: Bridge
    kind: str
    image: dict[str, Any]
    params: dict[str, Any]
    channels: str = "RGBA8"  # pixel layout of the result: RGBA8 (GIMP) or BGRA8 (Krita)
    svg_flavour: str | None = "strokes"  # which SVG of a paint job to fetch (see Bridge.result_svg); None: none
    svg_origin: tuple[int, int] = (0, 0)  # where the picture's top-left corner lies in the editor's image
    state: str = "connecting"  # connecting | submitted | done | failed | cancelled
    fraction: float = 0.0
    message: str = "starting the brushwork server"
    error: str | None = None
    result: JobResult | None = None
    job_id: str | None = None
    preview_png: bytes | None = field(default=None, repr=False)  # the latest preview
    _generation: int = 0
    _preview_seen: int = 0
    _resubmitted: bool = False
    _cancel_requested: bool = False
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def cancel(self) -> None:
        """Stop the job: locally at once, and on the server (a submission still on its way is
        cancelled as soon as it has an id, by the thread that submitted it)."""
        if self.finished:
            return
        self._cancel_requested = True
        self.state, self.message = "cancelled", "cancelled"
        self._cancel_on_server()

    def _cancel_on_server(self) -> None:
        if self.job_id is not None:
            try:
                self.bridge.cancel(self.job_id)
            except BridgeError:
                pass  # the server is gone; nothing runs any more

    def step(self) -> None:
        try:
            self._step()
        except BridgeError as exc:
            if not self._cancel_requested:
                self.state, self.error, self.message = "failed", str(exc), str(exc)

    def _step(self) -> None:
        if self.finished:
            return
        if self.state == "connecting":
            if not self.bridge.poll_connect():
                return
            self._submit()
            return
        # The server that has our job was replaced (by a call of another job on the same bridge).
        if self.bridge.generation != self._generation:
            self._lost()
            return
        try:
            self._follow()
        except ServerGone:
            self._lost()

    def _follow(self) -> None:
        """One poll of a submitted job: progress, preview, and the result once it is done. A server
        that has gone raises ServerGone (restart=False: the caller shows that and restarts it)."""
        status = self._poll()
        if status is None or self._cancel_requested:
            return
        self.fraction, self.message = status.fraction, status.message or status.state
        if status.state == "queued":
            self.message = f"waiting for {status.position} job(s) before this one"
        if status.preview > self._preview_seen:
            self._preview_seen = status.preview
            self.preview_png = self.bridge.preview(status.id, restart=False)
        if status.state == "failed":
            self.state, self.error = "failed", status.error or "the job failed"
            self.message = self.error
        elif status.state == "cancelled":
            self.state, self.message = "cancelled", "cancelled"
        elif status.state == "done":
            self.message = "receiving the result"
            pixels = self.bridge.result_raw(status.id, self.channels, restart=False)
            svg = self.bridge.result_svg(status.id, self.svg_flavour, self.svg_origin, restart=False) \
                if self.kind == "paint" and self.svg_flavour else None
            if not self._cancel_requested:
                self.result = JobResult(pixels, svg, status.width, status.height)
                self.state, self.fraction, self.message = "done", 1.0, "done"

    def _submit(self) -> None:
        self.message = "sending the image"
        status = self.bridge.submit(self.kind, self.image, self.params)
        self.job_id, self._generation = status.id, self.bridge.generation
        if self._cancel_requested:  # cancelled while the upload was on its way
            self._cancel_on_server()
            return
        self.state, self.message = "submitted", "queued"

    def _poll(self) -> JobStatus | None:
        assert self.job_id is not None
        try:
            status = self.bridge.status(self.job_id, restart=False)
        except ServerGone:
            raise
        except BridgeError:
            if self.bridge.generation != self._generation:  # another caller replaced the server meanwhile
                self._lost()
                return None
            raise
        return status

    def _lost(self) -> None:
        """The server that had our job has gone: connect to a new one (without blocking) and submit
        the job again, once. It starts over, so its progress and preview serials do too."""
        if self._resubmitted:
            raise BridgeError(f"the brushwork server died twice during this job; see {self.bridge.log_path}")
        if self._cancel_requested:
            return
        self._resubmitted = True
        self.job_id, self._preview_seen, self.fraction = None, 0, 0.0
        self.state, self.message = "connecting", "the brushwork server stopped; restarting it"

    def wait(self, interval: float = 0.2, progress: Callable[[JobRunner], None] | None = None) -> None:
        """Blocking: step until finished (batch mode)."""
        while not self.finished:
            self.step()
            if progress is not None:
                progress(self)
            if not self.finished:
                time.sleep(interval)

    def start(self, interval: float = 0.1) -> None:
        """Run the job in a background thread; poll `finished` (and the rest) from the UI."""
        self._thread = threading.Thread(target=self.wait, args=(interval,), name="brushwork-job", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background thread of `start()` to end."""
        if self._thread is not None:
            self._thread.join(timeout)
