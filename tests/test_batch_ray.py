"""`brushwork batch --executor ray` on a real Ray cluster started here: a head and a worker node, each a
`ray start --block` process of its own (stopped by their process ids afterwards)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from test_batch import FAST, clip_file, photos, picture, run  # noqa: F401 (photos is a fixture)

pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """`ray start --block` stops the Ray processes it started when it gets SIGTERM; they share its
    process group, which is ended too should any linger."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def cluster():
    """HOST:PORT of a two-node Ray cluster on this machine (one CPU each), for this module's tests."""
    import ray

    port = free_port()
    address = f"127.0.0.1:{port}"
    # Ray's sockets live under its temporary folder, whose path must stay short (a Unix socket path).
    temp = tempfile.mkdtemp(prefix="bw-ray-", dir="/tmp")
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    common = ["--num-cpus=1", "--block", "--disable-usage-stats"]
    started = []
    try:
        started.append(subprocess.Popen([RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                                         "--include-dashboard=false", f"--temp-dir={temp}", *common],
                                        env=env, start_new_session=True, stdout=subprocess.DEVNULL))
        ready = False
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not ready:
            assert started[0].poll() is None, "the Ray head stopped"
            time.sleep(2)
            if len(started) == 1:
                try:
                    ray.init(address=address, logging_level="ERROR")
                except (ConnectionError, RuntimeError):
                    continue
                started.append(subprocess.Popen([RAY, "start", f"--address={address}", "--node-ip-address=127.0.0.1",
                                                 *common], env=env, start_new_session=True,
                                                stdout=subprocess.DEVNULL))
            ready = sum(node["Alive"] for node in ray.nodes()) == 2
        ray.shutdown()
        assert ready, "the Ray cluster did not come up with two nodes"
        yield address
    finally:
        ray.shutdown()
        for process in reversed(started):
            _stop(process)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_batch_on_ray_writes_what_a_local_batch_writes(capsys, cluster, photos, tmp_path):  # noqa: F811
    picture(photos / "c.webp", 2)
    local, remote = tmp_path / "local", tmp_path / "ray"
    code, stdout, err = run(capsys, "batch", "paint", photos, "-o", local, "--png", "--json", *FAST)
    assert code == 0 and "3 painted" in stdout, err
    (photos / "broken.jpg").write_bytes(b"not a picture")
    code, stdout, err = run(capsys, "batch", "paint", photos, "-o", remote, "--png", "--json", "--executor", "ray",
                            "--address", cluster, *FAST)
    assert code == 1 and "3 painted, 0 skipped (complete), 1 failed" in stdout, err
    assert "broken.jpg" in err
    for name in ("a.svg", "a.png", "a.json", "b.svg", "c.svg", "c.png"):
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name
    # The records written from the tasks' outputs are the local ones: a local run finds the items complete.
    code, stdout, _ = run(capsys, "batch", "paint", photos, "-o", remote, "--png", "--json", *FAST)
    assert "0 painted, 3 skipped (complete), 1 failed" in stdout


def test_a_gpu_device_needs_a_cluster_with_gpus(capsys, cluster, photos, tmp_path):  # noqa: F811
    code, _, err = run(capsys, "batch", "paint", photos, "-o", tmp_path / "out", "--executor", "ray", "--address",
                       cluster, *FAST[:-1], "cuda")
    assert code == 1 and "--device cuda: the Ray cluster has no GPUs" in err


def test_a_clip_on_ray_is_painted_chunk_by_chunk_as_here(capsys, cluster, tmp_path):
    import numpy as np

    from brushwork.video import read_frames

    clip = clip_file(tmp_path / "clip.mp4", frames=5)
    args = ["batch", "paint", clip, "--chunk-frames", "2", "--frame-steps", "2", *FAST]
    code, stdout, err = run(capsys, *args, "-o", tmp_path / "local")
    assert code == 0 and "1 painted" in stdout, err
    code, stdout, err = run(capsys, *args, "-o", tmp_path / "ray", "--executor", "ray", "--address", cluster)
    assert code == 0 and "1 painted" in stdout, err
    here, there = (list(read_frames(tmp_path / folder / "clip.mp4")) for folder in ("local", "ray"))
    assert len(here) == len(there) == 5
    assert all(np.array_equal(a, b) for a, b in zip(here, there, strict=True))
