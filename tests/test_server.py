"""The bridge API (brushwork.server.app) through an in-process HTTP client: guards and validation
(fast), then real jobs in the real worker process (slow: torch starts in it): results, previews,
cancel, queueing, crashes and errors."""

from __future__ import annotations

import base64
import io
import json
import struct
import threading
import time
import zlib
from multiprocessing import Pipe
from multiprocessing.connection import wait as wait_for_exit

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from brushwork import raster, settings, svg
from brushwork.server.app import Activity, create_app
from brushwork.server.jobs import JobManager, Limits
from brushwork.server.worker import JobDone, Picture, probe_devices

from conftest import SHARED_WEIGHTS

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# tape: the brush whose renderer is committed with the code; the bridge does not care which brush it is
FAST = {"brush": "tape", "strokes": 12, "working_size": 64, "iterations": 4}
LONG = {"brush": "tape", "strokes": 400, "working_size": 96, "iterations": 400}  # minutes of work


def raw_image(width: int = 40, height: int = 30, seed: int = 0, channels: str = "RGBA8") -> tuple[dict, np.ndarray]:
    rgba = (np.random.default_rng(seed).random((height, width, 4)) * 255).astype(np.uint8)
    rgba[..., 3] = 255
    wire = rgba[..., [2, 1, 0, 3]] if channels == "BGRA8" else rgba
    return ({"encoding": "raw", "channels": channels, "width": width, "height": height,
             "data": base64.b64encode(np.ascontiguousarray(wire).tobytes()).decode()}, rgba)


def png_image(rgb: np.ndarray) -> dict:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return {"encoding": "png", "data": base64.b64encode(buffer.getvalue()).decode()}


@pytest.fixture(scope="module")
def manager():
    with pytest.MonkeyPatch.context() as mp:
        # Stylize jobs find the weights where the weights_dir fixture does: ../shared/weights, else the
        # user's own folder or cache (tests that stylize ask for weights_dir, which downloads them there).
        if SHARED_WEIGHTS.is_dir():
            mp.setenv("BRUSHWORK_WEIGHTS", str(SHARED_WEIGHTS))
        mp.setenv("BRUSHWORK_OFFLINE", "1")
        jobs = JobManager(preview_interval=0.0)
        jobs.start()  # the spawned worker inherits the environment above
        yield jobs
        jobs.close()


@pytest.fixture(scope="module")
def contract():
    """The API with a job queue that is not started: requests are answered, jobs queue but never
    run. Enough for guards and validation, in milliseconds."""
    jobs = JobManager()
    asgi, _ = create_app(jobs, TOKEN, max_bytes=1 << 20)
    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH) as client:
        yield client
    jobs.close()


@pytest.fixture(scope="module")
def api(manager):
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH) as client:
        yield client


def wait(api, job_id: str, until=("done", "failed", "cancelled"), timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in until:
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {status['state']} after {timeout} s")


def png_header_only(width: int, height: int) -> dict:
    """A PNG of a few dozen bytes that declares width x height (its pixel data is cut short): what a
    bomb looks like before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return {"encoding": "png", "data": base64.b64encode(data).decode()}


class EchoWorker:
    """Stands in for the worker process: a thread that answers every job at once with a result of
    `result_size` bytes. The queue's bookkeeping (results kept, dropped, forgotten) in milliseconds."""

    def __init__(self, result_size: int = 1000) -> None:
        self.result_size = result_size
        self.process = self.conn = None

    def ensure(self) -> None:
        if self.conn is None:
            self.conn, child = Pipe()
            threading.Thread(target=self._serve, args=(child,), daemon=True).start()

    def _serve(self, child) -> None:
        while True:
            try:
                job = child.recv()
            except (EOFError, OSError):
                return
            child.send(JobDone(job.id, b"P" * self.result_size, "<svg/>" if job.kind == "paint" else None,
                        job.image.width, job.image.height))

    def terminate_now(self) -> None:
        pass

    def kill(self) -> int:
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        return 0


class Clock:
    """A clock the test moves by hand: jobs age without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def echo_api(limits: Limits | None = None, clock: Clock | None = None, result_size: int = 1000):
    manager = JobManager(limits=limits or Limits(), clock=clock or Clock(), worker=EchoWorker(result_size))
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
    return manager, TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH)


def drained(manager: JobManager, timeout: float = 30.0) -> None:
    """Wait until the echo worker has answered every queued job (no timing asserted)."""
    deadline = time.monotonic() + timeout
    while manager.busy:
        assert time.monotonic() < deadline, "the echo worker did not drain the queue"
        time.sleep(0.005)


def submit(api, kind="paint", image=None, **params) -> dict:
    response = api.post("/v1/jobs", json={"kind": kind, "image": image or raw_image()[0], "params": params})
    assert response.status_code == 202, response.text
    return response.json()


# ------------------------------------------------------------------------------------------ guards

def test_missing_or_wrong_token_is_refused(contract):
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
        response = contract.get("/v1/health", headers=headers)
        assert response.status_code == 401
        assert "token" in response.json()["detail"]
    assert contract.get("/v1/health").json()["status"] == "ok"


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example:8123", "192.168.1.5:8123", "0.0.0.0"])
def test_non_loopback_host_is_refused(contract, host):
    response = contract.get("/v1/health", headers={"Host": host})
    assert response.status_code == 403
    assert "Host" in response.json()["detail"]


@pytest.mark.parametrize("host", ["127.0.0.1:8123", "localhost:8123", "[::1]:8123", "LOCALHOST"])
def test_loopback_hosts_are_accepted(contract, host):
    assert contract.get("/v1/health", headers={"Host": host}).status_code == 200


def test_openapi_schema_needs_the_token(contract):
    assert contract.get("/openapi.json", headers={"Authorization": ""}).status_code == 401
    schema = contract.get("/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{job_id}/cancel", "/v1/jobs/{job_id}/result.png"} <= set(schema["paths"])


def test_oversized_upload_is_refused(contract):
    big = {"kind": "paint", "image": {"encoding": "png", "data": "A" * (2 << 20)}}
    response = contract.post("/v1/jobs", json=big)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_oversized_upload_without_content_length_is_refused(contract):
    def chunks():  # a streamed body: no Content-Length, counted as it arrives
        for _ in range(40):
            yield b"x" * 65536

    response = contract.post("/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


# ------------------------------------------------------------------------------------------ validation

@pytest.mark.parametrize("params, words", [
    ({"strokes": 0}, "strokes"),
    ({"brush": "crayon"}, "brush"),
    ({"brush": []}, "brush"),
    ({"working_size": 4}, "working_size"),
    ({"bogus": 1}, "bogus"),
    ({"min_size": 30, "max_size": 10}, "min_size"),
])
def test_bad_paint_parameters_get_422_with_a_message(contract, params, words):
    response = contract.post("/v1/jobs", json={"kind": "paint", "image": raw_image()[0], "params": params})
    assert response.status_code == 422
    assert words in response.text


def test_bad_images_get_422_with_a_message(contract):
    image, _ = raw_image()
    cases = [
        ({**image, "width": 41}, "needs"),
        ({**image, "data": "not base64!"}, "base64"),
        ({"encoding": "raw", "data": image["data"]}, "width and height"),
        ({"encoding": "png", "data": base64.b64encode(b"GIF89a....").decode()}, "PNG"),
    ]
    for bad, words in cases:
        response = contract.post("/v1/jobs", json={"kind": "paint", "image": bad})
        assert response.status_code == 422, bad
        assert words in response.json()["detail"]
    response = contract.post("/v1/jobs", json={"kind": "stylize", "image": image, "params": {"method": "wct"}})
    assert response.status_code == 422 and "style" in response.text
    response = contract.post("/v1/jobs", json={"kind": "sculpt", "image": image})
    assert response.status_code == 422


def test_unknown_job_is_404(contract):
    for path in ("", "/cancel", "/preview", "/result.png", "/result.svg", "/result.raw"):
        method = contract.post if path == "/cancel" else contract.get
        response = method(f"/v1/jobs/0123abc{path}")
        assert response.status_code == 404, path
        assert "no job" in response.json()["detail"]


class Tripwire(bytes):
    """Pixel bytes that fail the test if anything reprs or compares them (a 12 MP picture's repr
    was 138 MB of text, built on every status call)."""

    def __repr__(self) -> str:
        raise AssertionError("a job's pixels were repr'd")

    def __eq__(self, other) -> bool:
        raise AssertionError("a job's pixels were compared")

    __hash__ = bytes.__hash__


def test_status_list_and_cancel_never_repr_or_compare_pixels():
    manager = JobManager()  # not started: the jobs stay where they are put
    pictures = [Picture(64, 64, Tripwire(bytes(64 * 64 * 4))) for _ in range(3)]
    first, second, third = (manager.submit("paint", {}, picture, None) for picture in pictures)
    assert "Tripwire" not in repr(first) and len(repr(first)) < 500
    with manager.lock:
        manager.queue.remove(first)
        manager.running = first  # as the runner thread leaves it
    manager.cancel(second)
    assert [manager.position(job) for job in (first, second, third)] == [0, 0, 1]
    assert [position for _, position in manager.listing()] == [0, 0, 1]
    manager.cancel(third)
    manager.close()


def test_cancelled_jobs_free_their_pictures_at_once():
    # They used to keep them until 8 newer jobs had finished.
    manager = JobManager()
    job = manager.submit("paint", {}, Picture(40, 30, bytes(40 * 30 * 4)), None)
    assert job.input_bytes == 40 * 30 * 4
    manager.cancel(job)
    assert job.spec is None and job.input_bytes == 0
    manager.close()


def test_finished_jobs_free_their_pictures_and_results_outlive_many_newer_jobs():
    # The old queue forgot every finished job but the latest 8: after 50 quick jobs, 42 results
    # answered 404 before anyone fetched them.
    clock = Clock()
    manager, api = echo_api(Limits(max_queued=50), clock)
    manager.start()
    with api:
        ids = [submit(api, **FAST)["id"] for _ in range(30)]
        drained(manager)
        assert all(manager.get(i).spec is None for i in ids)  # pictures freed as the worker took them
        assert [api.get(f"/v1/jobs/{i}/result.png").status_code for i in ids] == [200] * 30
        assert len(api.get("/v1/jobs").json()) == 30
        clock.now += Limits().keep_seconds + 1  # an hour later, fetched or not, they are forgotten
        response = api.get(f"/v1/jobs/{ids[0]}")
        assert response.status_code == 404 and "kept for 60 minutes" in response.json()["detail"]
        assert api.get("/v1/jobs").json() == []
    manager.close()


def test_result_memory_is_bounded_and_fetched_results_go_first():
    manager, api = echo_api(Limits(result_bytes=3500), result_size=1000)  # room for three results
    manager.start()
    with api:
        old, fetched, new = (submit(api, **FAST)["id"] for _ in range(3))
        drained(manager)
        assert api.get(f"/v1/jobs/{fetched}/result.svg").status_code == 200
        latest = submit(api, **FAST)["id"]
        drained(manager)
        # the fetched result went first, though it was not the oldest
        assert [api.get(f"/v1/jobs/{i}/result.png").status_code for i in (old, new, latest)] == [200] * 3
        gone = api.get(f"/v1/jobs/{fetched}/result.png")
        assert gone.status_code == 410 and "run the job again" in gone.json()["detail"]
        assert api.get(f"/v1/jobs/{fetched}").json()["state"] == "done"  # the job itself is still known
        submit(api, **FAST)
        drained(manager)  # all fetched now: the oldest goes
        assert api.get(f"/v1/jobs/{old}/result.png").status_code == 410
    manager.close()


def test_a_full_queue_answers_429_with_what_to_do():
    manager = JobManager(limits=Limits(max_queued=3))
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH) as api:
        ids = [submit(api, **FAST)["id"] for _ in range(3)]
        response = api.post("/v1/jobs", json={"kind": "paint", "image": raw_image()[0], "params": FAST})
        assert response.status_code == 429 and response.headers["Retry-After"].isdigit()
        assert "queue is full (3 jobs waiting" in response.json()["detail"]
        assert "cancel one" in response.json()["detail"]
        api.post(f"/v1/jobs/{ids[0]}/cancel")
        submit(api, **FAST)
    manager.close()


def test_the_pictures_of_waiting_jobs_have_a_total_budget():
    picture = 40 * 30 * 4
    manager = JobManager(limits=Limits(queued_bytes=int(2.5 * picture)))
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH) as api:
        submit(api, **FAST)
        submit(api, **FAST)
        response = api.post("/v1/jobs", json={"kind": "paint", "image": raw_image()[0], "params": FAST})
        assert response.status_code == 429
        assert "MB of pictures" in response.json()["detail"] and "cancel one" in response.json()["detail"]
    manager.close()


def test_a_tiny_png_declaring_a_huge_picture_gets_413_before_decoding(contract):
    # 9,000 x 9,000 in 100 bytes (the old server decoded it: 320 MB per queued job); 10,000 x 10,000
    # tripped Pillow's own bomb check first, with a misleading 422.
    for width, height in ((9000, 9000), (10000, 10000), (16384, 16384)):
        response = contract.post("/v1/jobs", json={"kind": "paint", "image": png_header_only(width, height)})
        assert response.status_code == 413, (width, response.text)
        detail = response.json()["detail"]
        assert f"{width}x{height}" in detail and "per-job budget" in detail and "smaller region" in detail
    response = contract.post("/v1/jobs", json={"kind": "paint", "image": png_header_only(20000, 10)})
    assert response.status_code == 413 and "16384 px per side" in response.json()["detail"]


def test_the_servers_size_limit_applies_not_pillows(contract, monkeypatch):
    # Pillow's bomb check reads its own process-wide limit; the server's limits decide instead.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    image = png_image((np.random.default_rng(0).random((30, 40, 3)) * 255).astype(np.uint8))
    response = contract.post("/v1/jobs", json={"kind": "paint", "image": image})
    assert response.status_code == 202, response.text
    contract.post(f"/v1/jobs/{response.json()['id']}/cancel")


def test_the_per_job_memory_budget_depends_on_the_method():
    limits = Limits(job_bytes=1 << 20)  # 1 MB: a 100 x 100 paint fits (40 bytes a pixel), a gatys does not
    manager = JobManager(limits=limits)
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
    image, _ = raw_image(100, 100)
    style = png_image(np.full((16, 16, 3), 128, np.uint8))
    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH) as api:
        submit(api, image=image, **FAST)
        submit(api, "stylize", image=image, style=style, method="adain")
        response = api.post("/v1/jobs", json={"kind": "stylize", "image": image,
                                              "params": {"style": style, "method": "gatys"}})
        assert response.status_code == 413
        assert "gatys" in response.json()["detail"] and "select a smaller region" in response.json()["detail"]
        # declared sizes are checked before the pixels: a raw upload declaring too much needs no data
        huge = {"encoding": "raw", "width": 9000, "height": 9000, "data": "AAAA"}
        assert api.post("/v1/jobs", json={"kind": "paint", "image": huge}).status_code == 413
    manager.close()


def test_refused_requests_do_not_keep_the_server_alive():
    activity = Activity()
    manager = JobManager()
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20, activity=activity)
    with TestClient(asgi, base_url="http://127.0.0.1:8123") as api:
        activity.last = 0.0
        assert api.get("/v1/health", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert api.get("/v1/health", headers={**AUTH, "Host": "evil.example"}).status_code == 403
        assert activity.last == 0.0
        assert api.get("/v1/health", headers=AUTH).status_code == 200
        assert activity.last > 0.0
    manager.close()


def test_a_body_that_is_not_json_gets_400(contract):
    response = contract.post("/v1/jobs", content=b'{"kind": "paint", "image": ',
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_nan_sizes_are_named_as_such(contract):
    body = json.dumps({"kind": "paint", "image": raw_image()[0], "params": {"min_size": float("nan")}})
    response = contract.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "params.min_size" in detail and "finite" in detail and "0 < min_size <= 100000" in detail


# ------------------------------------------------------------------------------------------ settings and devices

def queued_params(manager: JobManager, job_id: str) -> dict:
    return manager.get(job_id).spec.params


def test_options_are_the_settings_document_with_this_machines_devices():
    manager = JobManager(devices=lambda: ["cuda:0", "cuda:1", "cpu"])
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
    with TestClient(asgi, base_url="http://127.0.0.1:8123") as client:
        assert client.get("/v1/options").status_code == 401  # token-protected like the rest
        answer = client.get("/v1/options", headers=AUTH).json()
    # the document's own names are in the list (cuda), and the machine's GPUs one by one
    assert answer == {**json.loads(json.dumps(settings.describe())),
                      "available_devices": ["cuda", "cuda:0", "cuda:1", "cpu"]}
    manager.close()


def test_the_device_probe_asks_a_python_with_torch():
    devices = probe_devices()
    assert devices[-1] == "cpu" and all(d == "mps" or d.startswith("cuda:") for d in devices[:-1])


def test_fields_left_out_take_the_library_defaults_and_the_servers_device():
    manager = JobManager(default_device="cpu", devices=lambda: ["cpu"])
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH) as client:
        job = client.post("/v1/jobs", json={"kind": "paint", "image": raw_image()[0]}).json()
        # only what was asked travels; the worker's PaintSettings() fills in the rest (its 1,000 strokes)
        assert queued_params(manager, job["id"]) == {"device": "cpu"}
        job = client.post("/v1/jobs", json={"kind": "paint", "image": raw_image()[0],
                                            "params": {"brush": "tape", "strokes": 5, "device": "auto"}}).json()
        assert queued_params(manager, job["id"]) == {"brushes": ["tape"], "strokes": 5, "device": "auto"}
        job = client.post("/v1/jobs", json={"kind": "paint", "image": raw_image()[0],
                                            "params": {"brushes": ["tape", "oilbrush"]}}).json()
        assert queued_params(manager, job["id"])["brushes"] == ["tape", "oilbrush"]
    manager.close()


@pytest.mark.parametrize("device, status, words", [
    ("cuda", 422, "params.device cuda: this server has no such device (it has: cpu)"),
    ("cuda:1", 422, "params.device cuda:1: this server has no such device"),
    ("mps", 422, "params.device mps: this server has no such device"),
    ("gpu", 422, "params.device: Value error, --device 'gpu': expected one of auto, cpu, cuda"),
    ("cpu", 202, None),
    ("auto", 202, None),
])
def test_a_device_this_server_lacks_is_a_422_naming_it(device, status, words):
    manager = JobManager(devices=lambda: ["cpu"])
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH) as client:
        for kind, extra in (("paint", {}), ("stylize", {"style": raw_image()[0]})):
            response = client.post("/v1/jobs", json={"kind": kind, "image": raw_image()[0],
                                                     "params": {"device": device, **extra}})
            assert response.status_code == status, response.text
            if words:
                assert words in response.json()["detail"]
    manager.close()


def test_a_gpu_machine_takes_cuda_by_name_and_by_index():
    manager = JobManager(devices=lambda: ["cuda:0", "cpu"])
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 20)
    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers=AUTH) as client:
        codes = {device: client.post("/v1/jobs", json={"kind": "paint", "image": raw_image()[0],
                                                       "params": {"device": device}}).status_code
                 for device in ("cuda", "cuda:0", "cuda:1", "mps", "cpu")}
    assert codes == {"cuda": 202, "cuda:0": 202, "cuda:1": 422, "mps": 422, "cpu": 202}
    manager.close()


def test_an_unknown_method_is_a_422_not_a_fallback(contract):
    response = contract.post("/v1/jobs", json={"kind": "stylize", "image": raw_image()[0],
                                               "params": {"style": raw_image()[0], "method": "cnn"}})
    assert response.status_code == 422 and "params.method" in response.json()["detail"]


# ------------------------------------------------------------------------------------------ jobs

@pytest.mark.slow
def test_paint_job_result_png_svg_raw_and_previews(api):
    image, rgba = raw_image(48, 32, channels="BGRA8")
    job = submit(api, image=image, seed=3, **FAST)
    assert job["state"] in ("queued", "running") and job["kind"] == "paint"
    early = api.get(f"/v1/jobs/{job['id']}/result.png")
    status = wait(api, job["id"])
    assert status["state"] == "done", status
    if early.status_code != 200:  # asked before the (fast) job was done
        assert early.status_code == 409
    assert (status["width"], status["height"], status["fraction"]) == (48, 32, 1.0)
    assert status["preview"] >= 1  # preview_interval 0: one per optimisation step
    preview = Image.open(io.BytesIO(api.get(f"/v1/jobs/{job['id']}/preview").content))
    assert preview.format == "PNG" and max(preview.size) <= 256

    png = api.get(f"/v1/jobs/{job['id']}/result.png")
    assert png.headers["content-type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGB"))
    text = api.get(f"/v1/jobs/{job['id']}/result.svg")
    assert text.headers["content-type"].startswith("image/svg+xml")
    strokes = svg.read(text.text)
    assert (strokes.width, strokes.height, len(strokes)) == (48, 32, 12)
    # the PNG is the SVG drawn by the exact renderer
    np.testing.assert_array_equal(pixels, raster.render(strokes))

    rgba_out = np.frombuffer(api.get(f"/v1/jobs/{job['id']}/result.raw").content, np.uint8).reshape(32, 48, 4)
    bgra_out = np.frombuffer(api.get(f"/v1/jobs/{job['id']}/result.raw?channels=BGRA8").content,
                             np.uint8).reshape(32, 48, 4)
    np.testing.assert_array_equal(rgba_out[..., :3], pixels)
    np.testing.assert_array_equal(bgra_out, rgba_out[..., [2, 1, 0, 3]])
    # the painting resembles its target, so the BGRA upload was read the right way round
    assert np.abs(pixels.astype(float).mean((0, 1)) - rgba[..., :3].mean((0, 1))).max() < 40


@pytest.mark.slow
def test_png_upload_with_transparency_paints_over_white(api):
    rgba = np.zeros((24, 24, 4), np.uint8)  # fully transparent: the painter sees white paper
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    image = {"encoding": "png", "data": base64.b64encode(buffer.getvalue()).decode()}
    status = wait(api, submit(api, image=image, **FAST)["id"])
    assert status["state"] == "done"
    pixels = np.asarray(Image.open(io.BytesIO(api.get(f"/v1/jobs/{status['id']}/result.png").content)))
    assert pixels.mean() > 200


@pytest.mark.slow
def test_cancel_stops_a_running_job_within_a_second_and_the_next_job_runs(api, manager):
    job = submit(api, image=raw_image(96, 96)[0], **LONG)
    wait(api, job["id"], until=("running",))
    while api.get(f"/v1/jobs/{job['id']}").json()["fraction"] == 0:  # optimising, not loading
        time.sleep(0.05)
    worker = manager.worker.process
    start = time.monotonic()
    response = api.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    # Wait on the process's sentinel, not join(): the manager's thread reaps the process at the same
    # time, and two threads calling waitpid race (the loser reads "still alive").
    assert wait_for_exit([worker.sentinel], 1.0) and time.monotonic() - start < 1.0
    assert api.get(f"/v1/jobs/{job['id']}/result.png").status_code == 409
    assert wait(api, submit(api, **FAST)["id"])["state"] == "done"  # a fresh worker took over


@pytest.mark.slow
def test_jobs_queue_in_order_and_a_queued_job_can_be_removed(api):
    long = submit(api, image=raw_image(96, 96)[0], **LONG)
    second = submit(api, **FAST)
    third = submit(api, **FAST)
    assert api.get(f"/v1/jobs/{second['id']}").json()["position"] == 1
    assert api.get(f"/v1/jobs/{third['id']}").json()["position"] == 2
    removed = api.post(f"/v1/jobs/{second['id']}/cancel").json()
    assert removed["state"] == "cancelled" and removed["position"] == 0
    assert api.get(f"/v1/jobs/{third['id']}").json()["position"] == 1
    assert api.get(f"/v1/jobs/{long['id']}").json()["state"] in ("queued", "running")
    api.post(f"/v1/jobs/{long['id']}/cancel")
    assert wait(api, third["id"])["state"] == "done"
    assert api.get(f"/v1/jobs/{second['id']}").json()["state"] == "cancelled"
    listed = {j["id"]: j["state"] for j in api.get("/v1/jobs").json()}
    assert listed[second["id"]] == "cancelled" and listed[third["id"]] == "done"
    # cancelling a finished job changes nothing
    assert api.post(f"/v1/jobs/{third['id']}/cancel").json()["state"] == "done"


@pytest.mark.slow
def test_a_crashing_worker_fails_its_job_with_a_message(api, manager):
    job = submit(api, image=raw_image(96, 96)[0], **LONG)
    wait(api, job["id"], until=("running",))
    time.sleep(0.3)
    manager.worker.process.kill()  # as if the job ran out of memory
    status = wait(api, job["id"])
    assert status["state"] == "failed"
    assert "worker process died" in status["error"] and "log" in status["error"]
    assert "is failed" in api.get(f"/v1/jobs/{job['id']}/result.png").json()["detail"]
    assert wait(api, submit(api, **FAST)["id"])["state"] == "done"


@pytest.mark.slow
def test_stylize_job_keeps_size_and_alpha(weights_dir, api, style_image):
    content = (np.random.default_rng(1).random((40, 56, 4)) * 255).astype(np.uint8)
    content[:, :8, 3] = 0  # a transparent strip stays transparent
    content[:, 8:, 3] = 255
    image = {"encoding": "raw", "channels": "RGBA8", "width": 56, "height": 40,
             "data": base64.b64encode(content.tobytes()).decode()}
    style = png_image(np.asarray(Image.open(style_image("composition_vii.jpg")).convert("RGB").resize((64, 64))))
    job = submit(api, "stylize", image=image, style=style, method="adain", alpha=0.8)
    status = wait(api, job["id"])
    assert status["state"] == "done", status
    out = np.asarray(Image.open(io.BytesIO(api.get(f"/v1/jobs/{job['id']}/result.png").content)))
    assert out.shape == (40, 56, 4)
    np.testing.assert_array_equal(out[..., 3], content[..., 3])
    assert api.get(f"/v1/jobs/{job['id']}/result.svg").status_code == 404


@pytest.mark.slow
def test_stylize_reports_progress_and_cancels_within_a_second(weights_dir, api, manager):
    image, _ = raw_image(64, 48)
    style = png_image((np.random.default_rng(2).random((64, 64, 3)) * 255).astype(np.uint8))
    job = submit(api, "stylize", image=image, style=style, method="gatys", steps=5000)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = api.get(f"/v1/jobs/{job['id']}").json()
        if status["message"].startswith("stylizing: gatys") and status["fraction"] > 0:
            break
        time.sleep(0.05)
    assert 0 < status["fraction"] < 1 and "step" in status["message"], status
    worker = manager.worker.process
    start = time.monotonic()
    assert api.post(f"/v1/jobs/{job['id']}/cancel").json()["state"] == "cancelled"
    # Wait on the process's sentinel, not join(): the manager's thread reaps the process at the same
    # time, and two threads calling waitpid race (the loser reads "still alive").
    assert wait_for_exit([worker.sentinel], 1.0) and time.monotonic() - start < 1.0


@pytest.mark.slow
def test_a_failing_job_reports_its_error_text(api, manager, monkeypatch, tmp_path):
    # A fresh worker that cannot find the style models (and may not download them).
    monkeypatch.setenv("BRUSHWORK_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with manager.lock:  # the manager's thread touches the worker only under this lock
        manager.worker.kill()
        manager.worker.ensure()
    image, _ = raw_image(32, 32)
    style = png_image(np.full((32, 32, 3), 128, np.uint8))
    status = wait(api, submit(api, "stylize", image=image, style=style, method="adain")["id"])
    monkeypatch.undo()
    with manager.lock:
        manager.worker.kill()  # the next job gets a worker with the real weights again
    assert status["state"] == "failed"
    assert "cd16x" in status["error"] and "internal error" not in status["error"]


# ------------------------------------------------------------------------------------------ trained styles

def test_a_trained_style_needs_no_style_picture(contract):
    image, _ = raw_image()
    queued = contract.post("/v1/jobs", json={"kind": "stylize", "image": image, "params": {"model": "starry_night"}})
    assert queued.status_code == 202, queued.text
    assert contract.post(f"/v1/jobs/{queued.json()['id']}/cancel").json()["state"] == "cancelled"
    # a paint job takes one too (painted stylize-first), with no style picture
    queued = contract.post("/v1/jobs", json={"kind": "paint", "image": image, "params": {"model": "starry_night"}})
    assert queued.status_code == 202, queued.text
    contract.post(f"/v1/jobs/{queued.json()['id']}/cancel")
    unknown = contract.post("/v1/jobs", json={"kind": "paint", "image": image, "params": {"model": "nosuch"}})
    assert unknown.status_code == 422  # refused before it queues, with the styles there are
    assert unknown.json()["detail"].startswith("params.model: --model 'nosuch': no such style; expected a .pt file "
                                               "or one of") and "starry_night" in unknown.json()["detail"]
    for params in ({"method": "trained"}, {"model": " "}, {}):  # an editor's empty Model field names none
        response = contract.post("/v1/jobs", json={"kind": "stylize", "image": image, "params": params})
        assert response.status_code == 422, params
        assert response.json()["detail"].startswith("params.style: a stylize job needs a style picture, or a "
                                                    "trained style in params.model")


def test_a_trained_style_is_budgeted_as_the_trained_method():
    from brushwork.server.jobs import WORKER_BYTES_PER_PIXEL, job_memory, job_method

    assert job_method("stylize", {"method": "microast", "model": "starry_night"}) == "trained"
    assert job_method("stylize", {"method": "microast", "model": ""}) == "microast"
    assert job_method("paint", {"model": "starry_night"}) == "paint"
    assert job_memory("stylize", {"method": "gatys", "model": "x.pt"}, 100) == 100 * WORKER_BYTES_PER_PIXEL["trained"]
    # a painting with a trained style stylizes the whole picture first
    assert job_memory("paint", {"model": "x.pt"}, 100) == 100 * WORKER_BYTES_PER_PIXEL["trained"]
    assert job_memory("paint", {"model": ""}, 100) == 100 * WORKER_BYTES_PER_PIXEL["paint"]


def test_a_stylize_batch_takes_a_trained_style_instead_of_style_pictures(contract, tmp_path):
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(tmp_path / "a.png")
    job = {"kind": "batch", "task": "stylize", "inputs": [str(tmp_path / "a.png")], "output_dir": str(tmp_path / "out")}
    queued = contract.post("/v1/jobs", json={**job, "params": {"model": "starry_night"}})
    assert queued.status_code == 202, queued.text
    contract.post(f"/v1/jobs/{queued.json()['id']}/cancel")
    refused = contract.post("/v1/jobs", json={**job, "params": {"model": ""}})
    assert refused.status_code == 422 and refused.json()["detail"].startswith("styles: a stylize batch needs")
    unknown = contract.post("/v1/jobs", json={**job, "params": {"model": "nosuch"}})
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith("params.model: --model 'nosuch'")


@pytest.mark.slow
def test_stylize_job_with_a_trained_style_file_and_no_style_picture(api, tmp_path):
    content = (np.random.default_rng(3).random((24, 40, 4)) * 255).astype(np.uint8)
    content[:, :4, 3] = 0
    content[:, 4:, 3] = 255
    image = {"encoding": "raw", "channels": "RGBA8", "width": 40, "height": 24,
             "data": base64.b64encode(content.tobytes()).decode()}
    from test_trained_api import tiny_style  # imports torch: only for this test

    model = tiny_style(tmp_path / "tiny.pt")
    status = wait(api, submit(api, "stylize", image=image, model=model, alpha=0.5)["id"])
    assert status["state"] == "done", status
    out = np.asarray(Image.open(io.BytesIO(api.get(f"/v1/jobs/{status['id']}/result.png").content)))
    assert out.shape == (24, 40, 4)
    np.testing.assert_array_equal(out[..., 3], content[..., 3])
    # a file the machine does not have is refused before the job queues
    gone = {"model": str(tmp_path / "gone.pt")}
    refused = api.post("/v1/jobs", json={"kind": "stylize", "image": image, "params": gone})
    assert refused.status_code == 422 and "gone.pt: no such file" in refused.json()["detail"]
