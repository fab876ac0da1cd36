"""`brushwork serve`: the local bridge that editor plug-ins talk to.

HTTP+JSON on 127.0.0.1 at a free port; the port, a random token and the pid go to a user-only
state file (see `brushwork.client.state_file`), and a ready line goes to stdout once requests are
answered. Jobs run in a worker process (jobs.py, worker.py); the API is in app.py.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import secrets
import signal
import socket
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from brushwork.errors import BrushworkError

__all__ = ["ServeOptions", "check_state_file", "serve", "write_state", "READY_PREFIX"]

READY_PREFIX = "brushwork serving on "


@dataclass(frozen=True)
class ServeOptions:
    port: int = 0  # 0 = a free port
    idle_timeout: float = 1800.0  # seconds without requests or jobs before exiting; 0 = never
    max_request_mb: float = 256.0
    preview_interval: float = 2.0  # seconds between progress previews of a paint job
    state_file: Path | None = None  # default: brushwork.client.state_file()
    device: str = "auto"  # where jobs that do not ask for a device run (`brushwork serve --device`)


def _check_folder(folder: Path) -> None:
    """Create the state folder user-only, or make sure an existing one is the user's own and that
    nobody else can write in it: whoever can could plant a link there (and make the server write the
    token over another file) or a state file of their own (and receive the user's pictures)."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.stat()
    except OSError as exc:
        raise BrushworkError(f"cannot create the state folder {folder}: {exc.strerror or exc}; "
                             "give --state-file a path in a folder you can write") from None
    if not hasattr(os, "getuid"):  # Windows: the folder is in the user's profile; ACLs, not modes
        return
    if info.st_uid != os.getuid():
        raise BrushworkError(f"the state folder {folder} belongs to another user (uid {info.st_uid}); "
                             "give --state-file (or BRUSHWORK_STATE_DIR) a folder of your own")
    if info.st_mode & 0o022:
        mode = f"mode {stat.S_IMODE(info.st_mode):o}"
        if info.st_mode & stat.S_ISVTX:  # a shared folder such as /tmp: changing its mode is no fix
            raise BrushworkError(f"the state folder {folder} is shared with other users ({mode}); give "
                                 "--state-file (or BRUSHWORK_STATE_DIR) a folder of your own")
        raise BrushworkError(f"the state folder {folder} can be written by others ({mode}); make it yours "
                             f"only (chmod 700 {folder}) or give --state-file (or BRUSHWORK_STATE_DIR) "
                             "another folder")


def _cannot_write(path: Path, exc: OSError) -> BrushworkError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason += f" (its folder {path.parent} cannot be written)"
    return BrushworkError(f"cannot write the state file {path}: {reason}; give --state-file a path in a "
                          "folder you can write")


def _temporary_name(path: Path) -> Path:
    # One name per process: a copy left by a crashed server is replaced by the next with its pid.
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _create_temporary(tmp: Path) -> int:
    """Create `tmp` for writing, new (O_EXCL) and never through a link (O_NOFOLLOW). One left there
    (by a crashed server with this pid, or planted) is unlinked first, which removes a link itself,
    never what it points to."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(3):
        try:
            return os.open(tmp, flags, 0o600)
        except FileExistsError:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    raise FileExistsError(errno.EEXIST, "something keeps creating the temporary file", str(tmp))


def check_state_file(path: Path) -> None:
    """Fail early, with a BrushworkError that says what to do, when the state file cannot be written
    (before a port, a worker and the HTTP server are started for nothing)."""
    _check_folder(path.parent)
    tmp = _temporary_name(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        os.close(_create_temporary(tmp))
        os.unlink(tmp)
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def write_state(path: Path, doc: dict) -> None:
    """Write the state file readable by the user only (it holds the token): created 0600 in a folder
    only the user can write, through a rename so readers never see half a file. A link planted at
    either name is replaced, never followed."""
    _check_folder(path.parent)
    tmp = _temporary_name(path)
    try:
        fd = _create_temporary(tmp)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                if hasattr(os, "fchmod"):
                    os.fchmod(f.fileno(), 0o600)  # exactly 0600, whatever the umask
                json.dump(doc, f)
            os.replace(tmp, path)  # a link at `path` is replaced itself: rename does not follow it
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _remove_state(path: Path) -> None:
    """Remove the state file if it is still ours (a newer server may have replaced it)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise BrushworkError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); "
                             "leave out --port to use a free one") from None
    sock.listen(64)
    return sock


def serve(options: ServeOptions = ServeOptions()) -> None:
    import uvicorn

    from brushwork import client
    from brushwork.server.app import Activity, create_app
    from brushwork.server.jobs import JobManager

    state_path = options.state_file or client.state_file()
    check_state_file(state_path)
    sock = _bind(options.port)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(32)
    activity = Activity()
    manager = JobManager(preview_interval=options.preview_interval, default_device=options.device)
    asgi, _ = create_app(manager, token, int(options.max_request_mb * (1 << 20)), activity)
    config = uvicorn.Config(asgi, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if serving.done():
                await serving
                return
            await asyncio.sleep(0.02)
        # The state file first: a client that sees the ready line can read it at once.
        write_state(state_path, {"port": port, "token": token, "pid": os.getpid()})
        print(f"{READY_PREFIX}http://127.0.0.1:{port}", flush=True)
        print(f"state file {state_path}; jobs run in a worker process", file=sys.stderr, flush=True)
        while not serving.done():
            if options.idle_timeout and not manager.busy and \
                    time.monotonic() - activity.last > options.idle_timeout:
                print(f"brushwork server: idle for {options.idle_timeout:g} s, exiting", file=sys.stderr, flush=True)
                server.should_exit = True
            await asyncio.sleep(min(1.0, options.idle_timeout or 1.0))
        await serving

    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the handler that
    # was there before it. That handler only asks for the shutdown (again), so the re-raised signal
    # does not kill the process before the cleanup below.
    received: list[int] = []

    def stop(signum, _frame) -> None:
        received.append(signum)
        server.should_exit = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    manager.start()
    try:
        asyncio.run(main())
    finally:
        manager.close()
        _remove_state(state_path)
        sock.close()
    if signal.SIGINT in received:
        sys.exit(130)
