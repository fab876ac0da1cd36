"""`brushwork serve`: the local bridge that editor plug-ins talk to.

HTTP+JSON on 127.0.0.1 at a free port; the port, a random token and the pid go to a user-only
state file (see `brushwork.client.state_file`), and a ready line goes to stdout once requests are
answered. Jobs run in a worker process (jobs.py, worker.py); the API is in app.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from brushwork.errors import BrushworkError

__all__ = ["ServeOptions", "serve", "write_state", "READY_PREFIX"]

READY_PREFIX = "brushwork serving on "


@dataclass(frozen=True)
class ServeOptions:
    port: int = 0  # 0 = a free port
    idle_timeout: float = 1800.0  # seconds without requests or jobs before exiting; 0 = never
    max_request_mb: float = 256.0
    preview_interval: float = 2.0  # seconds between progress previews of a paint job
    state_file: Path | None = None  # default: brushwork.client.state_file()


def write_state(path: Path, doc: dict) -> None:
    """Write the state file readable by the user only (it holds the token): created 0600 in a 0700
    folder, through a rename so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    os.chmod(tmp, 0o600)  # also when a stale tmp file existed with other bits
    os.replace(tmp, path)


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
    sock = _bind(options.port)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(32)
    activity = Activity()
    manager = JobManager(preview_interval=options.preview_interval)
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
