"""The Python API of batches and clips (`brushwork.batch(...)`, `brushwork.video(...)`): progress,
cancel from the callback, finished items kept; and the bridge's batch job through the HTTP API."""

import numpy as np
import pytest
from PIL import Image

import brushwork
from brushwork.batch import BatchCancelled
from brushwork.batch.manifest import record_path
from brushwork.errors import BrushworkError
from brushwork.files import load_strokes
from brushwork.settings import PaintSettings, StyleOptions
from brushwork.video import ClipCancelled, open_clip, write_video

from test_batch import picture

# A tiny painting: about a second an item on a busy CPU.
TINY = PaintSettings(strokes=4, working_size=32, iterations=2, refine_iterations=2, brushes=("tape",), seed=1,
                     device="cpu")


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        picture(folder / name, i, size=(40, 30))
    return folder


def test_batch_is_callable_and_reports_increasing_progress(photos, tmp_path):
    heard = []
    summary = brushwork.batch("paint", [photos], tmp_path / "out", TINY, png=True,
                              progress=lambda fraction, message: heard.append((fraction, message)))
    assert summary.count("done") == 3 and not summary.failed
    assert [fraction for fraction, _ in heard] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert [message for _, message in heard] == ["a: done", "b: done", "c: done"]
    for name in "abc":
        assert len(load_strokes(tmp_path / "out" / f"{name}.svg")) == TINY.strokes
        assert (tmp_path / "out" / f"{name}.png").is_file()
    again = brushwork.batch("paint", [photos], tmp_path / "out", TINY, png=True)
    assert again.count("skipped") == 3  # complete from the first run


def test_an_exception_in_the_callback_cancels_between_items_and_keeps_the_finished_ones(photos, tmp_path):
    out = tmp_path / "out"

    def stop_after_first(fraction, message):
        raise RuntimeError("enough")

    with pytest.raises(BatchCancelled, match="cancelled after 1 items") as stopped:
        brushwork.batch("paint", [photos], out, TINY, progress=stop_after_first)
    assert isinstance(stopped.value.__cause__, RuntimeError)
    assert [(o.name, o.status) for o in stopped.value.summary.outcomes] == [("a", "done")]
    assert record_path(out, "a").is_file() and len(load_strokes(out / "a.svg")) == TINY.strokes
    assert not (out / "b.svg").exists() and not (out / "c.svg").exists()
    # returning False cancels too (here after the skipped item); the rerun skips it and paints the rest
    with pytest.raises(BatchCancelled) as stopped:
        brushwork.batch("paint", [photos], out, TINY, progress=lambda fraction, message: False)
    assert [(o.name, o.status) for o in stopped.value.summary.outcomes] == [("a", "skipped")]
    summary = brushwork.batch("paint", [photos], out, TINY)
    assert [(o.name, o.status) for o in summary.outcomes] == [("a", "skipped"), ("b", "done"), ("c", "done")]


def test_batch_refuses_bad_arguments_before_any_work(photos, tmp_path):
    with pytest.raises(BrushworkError, match="kind 'draw'"):
        brushwork.batch("draw", [photos], tmp_path / "out")
    with pytest.raises(BrushworkError, match="takes PaintSettings"):
        brushwork.batch("paint", [photos], tmp_path / "out", brushwork.batch.StyleTask(photos, (), photos).options)
    assert not (tmp_path / "out").exists()


def clip_frames():
    rng = np.random.default_rng(0)
    still = (rng.random((32, 48, 3)) * 255).astype(np.uint8)
    return [np.roll(still, 2 * i, axis=1) for i in range(3)]


def test_video_is_callable_with_progress_and_cancel(tmp_path):
    source = tmp_path / "clip.mp4"
    write_video(clip_frames(), source, 10)
    heard = []
    settings = PaintSettings(strokes=6, working_size=32, iterations=2, refine_iterations=2, frame_steps=2,
                             brushes=("tape",), device="cpu")
    result = brushwork.video("paint", source, tmp_path / "painted.mp4", settings,
                             progress=lambda fraction, message: heard.append((fraction, message)))
    assert result.frames == 3 and open_clip(tmp_path / "painted.mp4").info.frames == 3
    assert heard == [(pytest.approx(1 / 3), "frame 1 of 3"), (pytest.approx(2 / 3), "frame 2 of 3"),
                     (1.0, "frame 3 of 3")]

    def stop(fraction, message):
        if fraction > 0.5:
            raise RuntimeError("enough")

    folder = tmp_path / "frames"
    with pytest.raises(ClipCancelled, match="stopped after 2 frames") as stopped:
        brushwork.video("paint", source, folder, settings, progress=stop)
    assert isinstance(stopped.value.__cause__, RuntimeError)
    assert sorted(p.name for p in folder.iterdir()) == ["frame_000001.svg", "frame_000002.svg"]  # done: kept
    with pytest.raises(ClipCancelled):
        brushwork.video("paint", source, tmp_path / "none.mp4", settings, progress=lambda f, m: False)
    assert not (tmp_path / "none.mp4").exists()  # a video is written whole or not at all


# ------------------------------------------------------------------------------------------ the bridge's batch job

TOKEN = "test-token"
QUICK = {"brush": "tape", "strokes": 4, "working_size": 32, "iterations": 2, "refine_iterations": 2, "device": "cpu"}


def bridge(manager):
    from fastapi.testclient import TestClient

    from brushwork.server.app import create_app

    asgi, _ = create_app(manager, TOKEN)
    return TestClient(asgi, base_url="http://127.0.0.1:8123", headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture(scope="module")
def contract():
    """The API over a queue that never runs: requests are answered and jobs queue, in milliseconds."""
    from brushwork.server.jobs import JobManager

    jobs = JobManager(devices=lambda: ["cpu"])
    with bridge(jobs) as client:
        yield client
    jobs.close()


def batch_job(photos, output_dir, **fields):
    return {"kind": "batch", "task": "paint", "inputs": [str(photos)], "output_dir": str(output_dir),
            "params": QUICK, **fields}


def test_bridge_batch_refuses_bad_paths_naming_them(contract, photos, tmp_path):
    def refused(**fields):
        response = contract.post("/v1/jobs", json={**batch_job(photos, tmp_path / "out"), **fields})
        assert response.status_code == 422, response.text
        return response.json()["detail"]

    assert refused(inputs=["photos"]) == ("inputs[0] photos: give an absolute path (the server does not run in your "
                                          "folder)")
    assert refused(inputs=[str(photos), str(tmp_path / "gone.jpg")]) == (f"inputs[1] {tmp_path / 'gone.jpg'}: no such "
                                                                          "file or folder")
    assert refused(output_dir=str(photos)) == (f"output_dir {photos} is inputs[0]; choose another folder (outputs "
                                               "never go over inputs)")
    assert refused(output_dir=str(photos / "a.png")).startswith(f"output_dir {photos / 'a.png'}: is a file")
    assert refused(task="stylize", params={}) == (
        "styles: a stylize batch needs at least one style picture, or a trained style in params.model")
    assert refused(styles=[str(tmp_path / "nope.jpg")]) == f"styles[0] {tmp_path / 'nope.jpg'}: no such file"
    assert refused(params={**QUICK, "strokes": 0}).startswith("params.strokes:")
    queued = contract.post("/v1/jobs", json=batch_job(photos, tmp_path / "out", outputs=["png"]))
    assert queued.status_code == 202 and queued.json()["kind"] == "batch" and queued.json()["items"] == []
    contract.post(f"/v1/jobs/{queued.json()['id']}/cancel")


def wait(client, job_id, until, timeout=120.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/v1/jobs/{job_id}").json()
        if until(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id}: {status}")


@pytest.mark.slow  # the worker process imports torch
def test_bridge_batch_job_runs_reports_and_cancels(photos, tmp_path):
    from brushwork.server.jobs import JobManager

    manager = JobManager(devices=lambda: ["cpu"])
    manager.start()
    try:
        with bridge(manager) as client:
            out = tmp_path / "out"
            job = client.post("/v1/jobs", json=batch_job(photos, out, outputs=["png"])).json()
            done = wait(client, job["id"], lambda s: s["state"] in ("done", "failed", "cancelled"))
            assert done["state"] == "done", done
            assert done["fraction"] == 1.0 and done["message"].startswith("3 painted, 0 skipped (complete), 0 failed")
            assert [(i["name"], i["status"]) for i in done["items"]] == [("a", "done"), ("b", "done"), ("c", "done")]
            assert all(len(load_strokes(out / f"{name}.svg")) == 4 and (out / f"{name}.png").is_file()
                       for name in "abc")
            assert client.get(f"/v1/jobs/{job['id']}/result.png").status_code == 404  # the outputs are files

            # cancel after the first item: the items finished are kept complete, and a rerun skips them
            for index in range(3, 8):
                picture(photos / f"d{index}.png", index)
            slow = {**QUICK, "strokes": 30, "iterations": 40}
            job = client.post("/v1/jobs", json=batch_job(photos, tmp_path / "again", params=slow)).json()
            running = wait(client, job["id"], lambda s: len(s["items"]) >= 1)
            cancelled = client.post(f"/v1/jobs/{job['id']}/cancel").json()
            assert cancelled["state"] == "cancelled" and 1 <= len(cancelled["items"]) < 8
            kept = [item["name"] for item in cancelled["items"]]
            assert running["items"][0]["name"] == kept[0] == "a"
            rerun = client.post("/v1/jobs", json=batch_job(photos, tmp_path / "again", params=slow)).json()
            rerun = wait(client, rerun["id"], lambda s: len(s["items"]) >= len(kept)
                         or s["state"] in ("done", "failed", "cancelled"))
            assert [i["status"] for i in rerun["items"][:len(kept)]] == ["skipped"] * len(kept)
            client.post(f"/v1/jobs/{rerun['id']}/cancel")
    finally:
        manager.close()


def test_batch_and_video_stylize_with_the_style_pictures(photos, tmp_path, style_image, weights_dir, models,
                                                         monkeypatch):
    monkeypatch.setenv("BRUSHWORK_WEIGHTS", str(weights_dir))
    options = StyleOptions(method="wct", levels=(2,), style_size=64, device="cpu")
    style = style_image("wave.jpg")
    summary = brushwork.batch("stylize", [photos / "a.png", photos / "b.png"], tmp_path / "styled", options,
                              styles=[style], image_format="jpg")
    assert summary.count("done") == 2 and Image.open(tmp_path / "styled" / "b.jpg").size == (40, 30)
    source = tmp_path / "clip.mp4"
    write_video(clip_frames()[:2], source, 10)
    heard = []
    result = brushwork.video("stylize", source, tmp_path / "styled_frames", options, styles=[style], models=models,
                             progress=lambda fraction, message: heard.append(fraction))
    assert result.frames == 2 and heard == [0.5, 1.0]
    assert sorted(p.name for p in (tmp_path / "styled_frames").iterdir()) == ["frame_000001.png", "frame_000002.png"]
    with pytest.raises(BrushworkError, match="takes StyleOptions"):
        brushwork.video("stylize", source, tmp_path / "x.mp4", TINY, styles=[style])
