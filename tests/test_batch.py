import json
import os

import numpy as np
import pytest
from PIL import Image

from brushwork import weights
from brushwork.batch import PaintTask, paint_items, pictures, threads_per_worker
from brushwork.batch.manifest import FOLDER
from brushwork.errors import BrushworkError
from brushwork.files import load_strokes

from conftest import run_cli as run

# A tiny painting: seconds, not minutes.
FAST = ["--strokes", "4", "--working-size", "32", "--iterations", "2", "--refine-iterations", "2", "--brush", "tape",
        "--device", "cpu"]



def picture(path, seed, size=(60, 40)):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, size[0])[None, :, None] * rng.random(3)
    Image.fromarray(np.broadcast_to(base, (size[1], size[0], 3)).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(("a.png", "b.jpg")):
        picture(folder / name, i)
    (folder / "notes.txt").write_text("not a picture")  # a folder contributes its pictures only
    return folder


def test_inputs_from_files_folders_and_globs(photos, tmp_path):
    picture(photos / "c.webp", 2)
    names = [p.name for p in pictures([photos])]
    assert names == ["a.png", "b.jpg", "c.webp"]
    assert [p.name for p in pictures([str(photos / "*.png"), photos / "b.jpg", photos])] == names  # each once
    assert [p.name for p in pictures([str(tmp_path / "**" / "c.*")])] == ["c.webp"]
    with pytest.raises(BrushworkError, match="no such file or folder"):
        pictures([tmp_path / "missing.jpg"])
    with pytest.raises(BrushworkError, match="no files match"):
        pictures([str(tmp_path / "*.tiff")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BrushworkError, match="no pictures in this folder"):
        pictures([tmp_path / "empty"])


def test_outputs_are_named_after_the_inputs(photos, tmp_path):
    picture(photos / "c.webp", 2)
    template = PaintTask(photos, photos, png=True, json=True)
    items = paint_items(pictures([photos]), tmp_path / "out", template, "svg")
    assert [[p.name for p in item.task.outputs()] for item in items][0] == [
        "a.svg", "a.png", "a.json", "a.animated.svg"]
    assert [item.name for item in items] == ["a", "b", "c"]
    assert items[1].record == tmp_path / "out" / FOLDER / "b.json"
    items = paint_items(pictures([photos]), tmp_path / "out", PaintTask(photos, photos), "mp4")
    assert [p.name for p in items[2].task.outputs()] == ["c.svg", "c.mp4"]


def test_two_inputs_with_one_name_are_refused(photos, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    picture(other / "a.jpg", 9)
    with pytest.raises(BrushworkError, match=r"a\.png and .*other/a\.jpg would both be written as"):
        paint_items(pictures([photos, other]), tmp_path / "out", PaintTask(photos, photos))


def test_an_output_never_lands_on_an_input(capsys, photos):
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    # Stylizing a folder into itself would replace a.png by its stylized self.
    code, _, err = run(capsys, "batch", "stylize", photos, "--style", photos / "b.jpg", "-o", photos)
    assert code == 1 and "is the input file" in err and "a.png" in err
    # Painting a.png into its own folder writes a.svg beside it; with --png, a.png would replace it.
    code, _, err = run(capsys, "batch", "paint", photos / "a.png", "--png", "-o", photos, *FAST)
    assert code == 1 and "is the input file" in err
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before


def test_paint_batch_skips_complete_items_and_force_redoes_them(capsys, photos, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "batch", "paint", photos, "-o", out, "--png", "--json", *FAST)
    assert code == 0, err
    assert "2 painted, 0 skipped (complete), 0 failed" in stdout
    for name in "ab":
        strokes = load_strokes(out / f"{name}.svg")
        assert len(strokes) == 4 and load_strokes(out / f"{name}.json") == strokes
        assert Image.open(out / f"{name}.png").size == (strokes.width, strokes.height)
    painted = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    code, stdout, _ = run(capsys, "batch", "paint", photos, "-o", out, "--png", "--json", *FAST)
    assert code == 0 and "0 painted, 2 skipped (complete)" in stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == painted  # nothing rewritten

    # Incomplete: an output changed, or gone, or the record gone (stopped before it was written).
    (out / "a.png").write_bytes(b"truncated")
    (out / "b.json").unlink()
    code, stdout, _ = run(capsys, "batch", "paint", photos, "-o", out, "--png", "--json", *FAST)
    assert code == 0 and "2 painted, 0 skipped" in stdout
    assert Image.open(out / "a.png").size == (strokes.width, strokes.height) and (out / "b.json").exists()
    (out / FOLDER / "a.json").unlink()
    code, stdout, _ = run(capsys, "batch", "paint", photos, "-o", out, "--png", "--json", *FAST)
    assert code == 0 and "1 painted, 1 skipped" in stdout
    code, stdout, _ = run(capsys, "batch", "paint", photos / "a.png", "-o", out, "--png", "--json", *FAST,
                          "--seed", "1")
    assert "1 painted, 0 skipped" in stdout
    code, stdout, _ = run(capsys, "batch", "paint", photos / "b.jpg", "-o", out, "--png", "--json", *FAST, "--force")
    assert "1 painted, 0 skipped" in stdout
    record = json.loads((out / FOLDER / "b.json").read_text())
    assert set(record["outputs"]) == {"b.svg", "b.png", "b.json"} and record["settings"]["settings"]["strokes"] == 4


def test_a_failed_item_is_reported_and_the_rest_go_on(capsys, photos, tmp_path):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "batch", "paint", photos, "-o", out, *FAST)
    assert code == 1
    assert "2 painted, 0 skipped (complete), 1 failed" in stdout
    assert f"failed: {photos / 'broken.jpg'}: " in err and err.count("failed: ") == 1  # named once, at the end
    assert sorted(p.name for p in out.glob("*.svg")) == ["a.svg", "b.svg"]
    assert not (out / FOLDER / "broken.json").exists()
    code, stdout, _ = run(capsys, "batch", "paint", photos, "-o", out, *FAST)  # only the broken one again
    assert code == 1 and "0 painted, 2 skipped (complete), 1 failed" in stdout


def test_bad_settings_fail_before_any_work(capsys, photos, tmp_path):
    code, _, err = run(capsys, "batch", "paint", photos, "-o", tmp_path / "out", "--strokes", "0")
    assert code == 1 and "--strokes 0" in err and not (tmp_path / "out").exists()
    code, _, err = run(capsys, "batch", "paint", photos, "-o", tmp_path / "out", "--jobs", "2", "--address", "h:1")
    assert code == 1 and "--address" in err
    code, _, err = run(capsys, "batch", "paint", photos, "-o", tmp_path / "out", "--animate", "avi", *FAST)
    assert code == 1 and "unknown animation type '.avi'" in err


def test_threads_per_worker_share_the_cores():
    assert [threads_per_worker(jobs, cores=8) for jobs in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert threads_per_worker(1) >= 1


def test_two_workers_paint_what_one_paints(capsys, photos, tmp_path):
    code, stdout, err = run(capsys, "batch", "paint", photos, "-o", tmp_path / "one", *FAST)
    assert code == 0, err
    code, stdout, err = run(capsys, "batch", "paint", photos, "-o", tmp_path / "two", "--jobs", "2", *FAST)
    assert code == 0 and "2 painted" in stdout, err
    for name in "ab":
        assert (tmp_path / "two" / f"{name}.svg").read_bytes() == (tmp_path / "one" / f"{name}.svg").read_bytes()


def test_stylize_batch(capsys, monkeypatch, photos, tmp_path, weights_dir, style_image):
    monkeypatch.setenv(weights.ENV_DIR, str(weights_dir))
    style = tmp_path / "style.png"
    Image.open(style_image("starry_night.jpg")).convert("RGB").resize((64, 48)).save(style)
    out = tmp_path / "out"
    args = ["batch", "stylize", photos, "--style", style, "--method", "adain", "-o", out, "--format", "jpg"]
    code, stdout, err = run(capsys, *args)
    assert code == 0 and "2 stylized, 0 skipped (complete), 0 failed" in stdout, err
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["a.jpg", "b.jpg"]
    assert Image.open(out / "b.jpg").size == (60, 40)
    assert "0 stylized, 2 skipped" in run(capsys, *args)[1]
    assert "2 stylized, 0 skipped" in run(capsys, *args, "--alpha", "0.5")[1]  # other settings: done again


def test_single_commands_still_write_what_they_did(capsys, photos, tmp_path):
    out = tmp_path / "single.svg"
    code, stdout, err = run(capsys, "paint", photos / "a.png", "-o", out, "--json", *FAST)
    assert code == 0 and stdout.startswith(f"wrote {out}, {out.with_suffix('.json')} (4 strokes"), err
    batch = tmp_path / "batch"
    assert run(capsys, "batch", "paint", photos / "a.png", "-o", batch, *FAST)[0] == 0
    assert (batch / "a.svg").read_bytes() == out.read_bytes()  # the same work, the same strokes
    assert not [p for p in os.listdir(batch) if p.endswith(".tmp")]


def test_ray_executor_without_ray_says_how_to_get_it(capsys, monkeypatch, photos, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    code, _, err = run(capsys, "batch", "paint", photos, "-o", tmp_path / "out", "--executor", "ray", *FAST)
    assert code == 1 and "pip install 'brushwork[ray]'" in err


def clip_file(path, frames=4):
    from brushwork.video import write_video
    from brushwork.video.clips import camera_clip

    photo = np.asarray(Image.open(picture(path.with_suffix(".png"), 5, (96, 64))))
    path.with_suffix(".png").unlink()
    write_video(iter(camera_clip(photo, frames, 48, 32, "pan", speed=2)), path, 12.0)
    return path


def test_a_video_is_painted_into_a_video_in_chunks(capsys, photos, tmp_path):
    from brushwork.batch.chunks import chunks
    from brushwork.video import open_clip

    assert [(start, len(part)) for start, part in chunks(iter(range(5)), 2)] == [(0, 2), (2, 2), (4, 1)]
    clip = clip_file(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    args = ["batch", "paint", clip, photos / "a.png", "-o", out, "--chunk-frames", "2", "--frame-steps", "2", *FAST]
    code, stdout, err = run(capsys, *args)
    assert code == 0 and "2 painted, 0 skipped" in stdout, err
    painted = open_clip(out / "clip.mp4")
    assert (painted.info.frames, painted.info.width, painted.info.height) == (4, 48, 32)
    assert (out / "a.svg").exists()
    assert "0 painted, 2 skipped" in run(capsys, *args)[1]
    code, _, err = run(capsys, "batch", "paint", clip, "-o", out, "--png", *FAST)
    assert code == 1 and "a video is painted into" in err and "--png" in err
