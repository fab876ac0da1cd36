"""The server's state file ({port, token, pid}): written user-only, never through a planted symlink,
never into a folder that others can write, and a clear one-line error when it cannot be written."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from brushwork.errors import BrushworkError
from brushwork.server import write_state

DOC = {"port": 1234, "token": "secret-token", "pid": 42}


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def victim(tmp_path) -> Path:
    """Another file of the user's, which a planted link points at."""
    path = tmp_path / "precious.txt"
    path.write_text("keep me")
    path.chmod(0o644)
    return path


def _untouched(victim: Path) -> None:
    assert victim.read_text() == "keep me" and stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_writes_the_state_file_user_only(tmp_path):
    path = tmp_path / "new" / "state" / "server.json"
    write_state(path, DOC)
    assert json.loads(path.read_text()) == DOC
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert os.listdir(path.parent) == ["server.json"]  # no temporary copy left behind
    write_state(path, {**DOC, "port": 99})  # a second server replaces it
    assert json.loads(path.read_text())["port"] == 99


def test_a_symlink_planted_at_the_temporary_name_is_not_followed(folder, victim):
    planted = folder / f".server.json.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    write_state(folder / "server.json", DOC)
    _untouched(victim)
    state = folder / "server.json"
    assert not state.is_symlink() and json.loads(state.read_text()) == DOC
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert os.listdir(folder) == ["server.json"]  # the planted link was removed, not followed


def test_a_symlink_planted_at_the_state_file_is_replaced_not_followed(folder, victim):
    state = folder / "server.json"
    state.symlink_to(victim)
    write_state(state, DOC)
    _untouched(victim)
    assert not state.is_symlink() and json.loads(state.read_text()) == DOC


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="owners and modes are POSIX")
@pytest.mark.parametrize("mode, advice", [(0o777, "chmod 700"), (0o730, "chmod 700"), (0o702, "chmod 700"),
                                          (0o1777, "shared with other users")])  # 1777: as /tmp
def test_a_state_folder_others_can_write_is_refused(folder, victim, mode, advice):
    (folder / "server.json").symlink_to(victim)  # what anyone could have put there
    folder.chmod(mode)
    with pytest.raises(BrushworkError) as caught:
        write_state(folder / "server.json", DOC)
    text = str(caught.value)
    assert str(folder) in text and advice in text and "--state-file" in text and "\n" not in text
    assert os.listdir(folder) == ["server.json"]
    _untouched(victim)


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="owners and modes are POSIX")
def test_a_state_folder_of_another_user_is_refused(folder, monkeypatch):
    owner = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)  # the folder now belongs to someone else
    with pytest.raises(BrushworkError) as caught:
        write_state(folder / "server.json", DOC)
    assert str(folder) in str(caught.value) and "another user" in str(caught.value)
    assert os.listdir(folder) == []


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """Nobody can create files in `folder`: mode 0500, or for root (whom modes do not stop) the
    immutable attribute."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root, and this file system cannot make a folder immutable")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_a_read_only_state_folder_gives_a_clear_error(folder):
    with _read_only(folder), pytest.raises(BrushworkError) as caught:
        write_state(folder / "server.json", DOC)
    text = str(caught.value)
    assert text.startswith(f"cannot write the state file {folder / 'server.json'}: ") and "\n" not in text
    assert "--state-file" in text


def test_serve_with_a_read_only_state_file_says_so_in_one_line(folder):
    state = folder / "server.json"
    state.write_text("{}")
    state.chmod(0o400)
    with _read_only(folder):
        run = subprocess.run([sys.executable, "-m", "brushwork", "serve", "--state-file", str(state)],
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith(f"error: cannot write the state file {state}: "), run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr and "--state-file" in run.stderr
    assert run.stdout == ""  # it never said it was serving


def test_serve_refuses_a_state_folder_others_can_write(folder):
    folder.chmod(0o777)
    run = subprocess.run([sys.executable, "-m", "brushwork", "serve", "--state-file", str(folder / "s.json")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith(f"error: the state folder {folder} ") and run.stderr.count("\n") == 1, run.stderr
