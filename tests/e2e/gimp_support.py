"""What the GIMP end-to-end tests share: the GIMP 3 root, a brushwork server on the host for the
plug-in inside it to reach (chroot shares the host's network), and waiting on a condition."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

GIMP_ROOT = Path(os.environ.get("BRUSHWORK_GIMP_ROOT", "/var/lib/brushwork/gimp-root"))
T = TypeVar("T")


def gimp_root(program: str) -> Path:
    """The Debian 13 root that holds GIMP 3 (`program`: gimp-console-3.0 or gimp-3.0), or a one-line
    failure saying how to install it."""
    if not (GIMP_ROOT / "usr" / "bin" / program).exists():
        pytest.fail(f"GIMP 3 is not installed in {GIMP_ROOT}: run `bash scripts/setup.sh test` as root "
                    "(it calls scripts/install_editors.sh)")
    if os.geteuid() != 0:
        pytest.fail("the GIMP end-to-end tests need root (chroot)")
    return GIMP_ROOT


def serve(folder: Path, weights_dir: Path) -> Iterator[Path]:
    """`brushwork serve` on the host with its own state folder (yielded) under `folder`, stopped after."""
    env = {**os.environ, "BRUSHWORK_STATE_DIR": str(folder / "state"), "BRUSHWORK_LOG_DIR": str(folder / "log"),
           "BRUSHWORK_WEIGHTS": str(weights_dir), "BRUSHWORK_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--idle-timeout", "600"],
                               stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None and process.stdout.readline().startswith("brushwork serving on ")
    try:
        yield folder / "state"
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """The first truthy value of `condition()`, polled every `interval` s; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
