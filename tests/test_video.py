"""Video: clips in and out (imageio-ffmpeg), warm-started painting, stylizing with shared statistics, the
paint and stylize commands on clips. Tiny synthetic clips made here: no download, seconds each."""

import subprocess
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.errors import BrushworkError
from brushwork.files import load_strokes
from brushwork.settings import PaintSettings, StyleOptions
from brushwork.strokes import StrokeList
from brushwork.stylize import stylize
from brushwork.stylize.transforms import FeatureStats
from brushwork.video import (
    ClipStatistics,
    WarmPainter,
    open_clip,
    paint_clip,
    paint_frames,
    read_frames,
    stylize_clip,
    stylize_frames,
    write_video,
)
from brushwork.video.clips import camera_clip
from brushwork.video.painting import camera_shift
from brushwork.video.styling import moving_average

from conftest import BUNDLED_PHOTO, drawn, random_list, run_cli as run

# A tiny painting: a couple of seconds a frame on a busy CPU.
TINY = PaintSettings(strokes=12, working_size=48, iterations=2, refine_iterations=2, frame_steps=2, seed=3,
                     device="cpu")


@pytest.fixture(scope="module")
def photo():
    return np.asarray(Image.open(BUNDLED_PHOTO).convert("RGB"))


@pytest.fixture(scope="module")
def frames(photo):
    return camera_clip(photo, 4, 48, 32, "pan", speed=2)


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def frame_folder(folder, frames):
    folder.mkdir()
    for index, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(folder / f"shot{index}.png")
    return folder


# ------------------------------------------------------------------------------------------ frames in and out

def test_round_trip_through_mp4_keeps_count_size_rate_and_pictures(tmp_path, frames):
    path = tmp_path / "clip.mp4"
    assert write_video(iter(frames), path, 12.5) == len(frames)
    clip = open_clip(path)
    assert (clip.info.frames, clip.info.width, clip.info.height, clip.info.fps, clip.info.has_audio) == \
        (4, 48, 32, 12.5, False)
    back = list(clip.frames())
    assert len(back) == 4 and back[0].shape == (32, 48, 3) and back[0].dtype == np.uint8
    # H.264 at CRF 18 on noisy 48x32 frames: close, not exact; each frame is itself, not its neighbour
    for index, frame in enumerate(back):
        errors = [np.abs(frame.astype(float) - f).mean() for f in frames]
        assert errors[index] < 12 and errors[index] == min(errors)
    assert clip.names == ("frame_000001", "frame_000002", "frame_000003", "frame_000004")
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary file left


def test_sound_track_is_kept(tmp_path, frames):
    source = tmp_path / "sound.mp4"
    subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-f", "lavfi",
                    "-i", "testsrc=size=48x32:rate=8:duration=1", "-shortest", "-c:v", "libx264", "-pix_fmt",
                    "yuv420p", "-c:a", "aac", str(source)], check=True)
    clip = open_clip(source)
    assert clip.info.has_audio and clip.info.frames == 8
    out = tmp_path / "out.mp4"
    write_video(clip.frames(), out, clip.info.fps, audio_from=source)
    assert open_clip(out).info.has_audio
    write_video(clip.frames(), tmp_path / "mute.mp4", clip.info.fps)
    assert not open_clip(tmp_path / "mute.mp4").info.has_audio


def test_folder_of_frames_in_name_order(tmp_path, frames):
    folder = tmp_path / "shots"
    folder.mkdir()
    for index, frame in zip((1, 2, 10, 11), frames, strict=True):  # shot10 after shot2
        Image.fromarray(frame).save(folder / f"shot{index}.png")
    (folder / "notes.txt").write_text("not a frame")
    clip = open_clip(folder, fps=5)
    assert clip.names == ("shot1", "shot2", "shot10", "shot11") and clip.info.fps == 5
    assert all(np.array_equal(a, b) for a, b in zip(clip.frames(), frames, strict=True))


def test_bad_inputs_name_the_file(tmp_path, frames):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(BrushworkError, match="fake.mp4"):
        open_clip(fake)
    with pytest.raises(BrushworkError, match="missing.mp4: no such file"):
        list(read_frames(tmp_path / "missing.mp4"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BrushworkError, match="empty: no frames"):
        open_clip(empty)
    mixed = frame_folder(tmp_path / "mixed", frames[:2])
    Image.fromarray(frames[0][:16]).save(mixed / "shot3.png")
    with pytest.raises(BrushworkError, match="shot3.png: 48x16"):
        list(open_clip(mixed).frames())
    with pytest.raises(BrushworkError, match="unknown video type"):
        write_video(frames, tmp_path / "out.gif", 10)


# ------------------------------------------------------------------------------------------ warm-started painting

def test_camera_shift_finds_a_pan_and_no_shift_on_a_still_camera(photo):
    picture = photo.astype(np.float32) / 255
    before, after = picture[40:200, 40:280], picture[43:203, 35:275]  # the view moved left 5 and down 3
    dx, dy = camera_shift(before, after)
    assert dx == pytest.approx(5, abs=0.1) and dy == pytest.approx(-3, abs=0.1)
    assert camera_shift(before, before) == (0.0, 0.0)


def test_warm_start_keeps_the_strokes_and_follows_the_camera(photo):
    still = camera_clip(photo, 1, 48, 32, "still", noise=0)[0].astype(np.float32) / 255
    previous = random_list(1, 12, 48, 32, background=(1.0, 1.0, 1.0))
    painter = WarmPainter(replace(TINY, reseed=0.0, colour_refit=False))
    painter.last = still
    moved = np.roll(still, 3, axis=1)  # the picture 3 px to the right
    adapted, report = painter.adapt(previous, moved)
    assert report.reseeded == 0 and report.shift[0] == pytest.approx(3, abs=0.3)
    assert [s.kind for s in adapted.strokes] == [s.kind for s in previous.strokes]
    for old, new in zip(previous.strokes, adapted.strokes, strict=True):
        x_old = np.array([v for f, v in zip(old.brush.fields, old.params, strict=True) if f.role == "x"])
        x_new = np.array([v for f, v in zip(new.brush.fields, new.params, strict=True) if f.role == "x"])
        assert np.abs(x_new - x_old - 3).max() < 1.5  # carried by the shift, then moved a little


def test_reseeding_restarts_the_strokes_where_the_picture_changed(photo):
    frame = camera_clip(photo, 1, 48, 32, "still", noise=0)[0].astype(np.float32) / 255
    previous = paint_array_tiny(frame)
    changed = frame.copy()
    changed[:16, :16] = (0.1, 0.1, 0.4)  # a dark blue patch: the strokes there fit no longer
    painter = WarmPainter(replace(TINY, reseed=0.5))
    painter.last = frame  # the frame before, which `previous` paints
    adapted, report = painter.adapt(previous, changed)
    assert not report.repainted and 0 < report.reseeded <= 6 and len(adapted) == len(previous) == TINY.strokes
    error_before = np.abs(drawn(previous.strokes, 48, 32) - changed).mean()
    assert np.abs(drawn(adapted.strokes, 48, 32) - changed).mean() < error_before


def test_a_cut_is_painted_in_full(photo):
    frame = camera_clip(photo, 1, 48, 32, "still", noise=0)[0].astype(np.float32) / 255
    previous = paint_array_tiny(frame)
    other = np.where(frame[::-1] > 0.5, 0.0, 1.0).astype(np.float32)  # another shot: upside down, in negative
    painter = WarmPainter(TINY)
    painter.last = frame
    adapted, report = painter.adapt(previous, other)
    assert report.repainted and adapted == paint_array_tiny(other)
    painter.last = frame
    _, report = painter.adapt(previous, np.roll(frame, 2, axis=1))  # a pan is no cut
    assert not report.repainted


def paint_array_tiny(frame: np.ndarray) -> StrokeList:
    from brushwork.painter.optimise import paint_array

    return paint_array(frame, TINY)


def test_paint_frames_seeds_each_frame_with_the_previous_strokes(frames, monkeypatch):
    seen = []
    adapt = WarmPainter.adapt

    def spy(self, previous, target, seed=0):
        seen.append(previous)
        return adapt(self, previous, target, seed)

    monkeypatch.setattr(WarmPainter, "adapt", spy)
    paintings = list(paint_frames(frames[:3], TINY))
    assert len(paintings) == 3 and all(len(p) == TINY.strokes and (p.width, p.height) == (48, 32) for p in paintings)
    assert seen == paintings[:2]  # frame 2 starts from frame 1's strokes, frame 3 from frame 2's
    scratch = list(paint_frames(frames[:2], TINY, warm=False))
    assert len(seen) == 2 and scratch[0] == paintings[0]  # from scratch: the same first frame, no warm start


# ------------------------------------------------------------------------------------------ stylizing

def test_moving_average_blends_means_and_covariances():
    a, b = torch.randn(1, 6, 8, 8), torch.randn(1, 6, 5, 5) * 2 + 1
    sa, sb = FeatureStats.of(a), FeatureStats.of(b)
    mixed = moving_average(sa, sb, 0.75)
    assert torch.allclose(mixed.mean, 0.75 * sa.mean + 0.25 * sb.mean)
    assert torch.allclose(mixed.cov, 0.75 * sa.cov + 0.25 * sb.cov)
    same = moving_average(sa, sa, 0.3)
    assert torch.allclose(same.mean, sa.mean) and torch.allclose(same.cov, sa.cov)


def test_clip_statistics_read_styles_once_and_smooth_the_content(frames, starry, models, monkeypatch):
    options = StyleOptions(method="wct", levels=(2,), device="cpu", frame_smoothing=0.0)
    calls = []
    original = FeatureStats.of

    def counting(feat, mask=None):
        calls.append(feat.shape)
        return original(feat, mask)

    monkeypatch.setattr(FeatureStats, "of", staticmethod(counting))
    unsmoothed = list(stylize_frames(frames, [starry], options, models=models))
    assert len(calls) == 1 + len(frames)  # the style once, the content every frame
    monkeypatch.undo()
    # smoothing 0: exactly the single-picture stylize, frame by frame
    for frame, result in zip(frames, unsmoothed, strict=True):
        assert np.array_equal(result, stylize(frame, [starry], options, models=models))
    smoothed = list(stylize_frames(frames, [starry], replace(options, frame_smoothing=0.8), models=models))
    assert np.array_equal(smoothed[0], unsmoothed[0]) and not np.array_equal(smoothed[2], unsmoothed[2])


def test_smoothing_calms_the_background_when_an_object_enters(photo, starry, models):
    clip = camera_clip(photo, 5, 64, 48, "enter", speed=12, noise=0)
    background = np.ones((48, 64), bool)
    background[8:40] = False  # rows away from the object's band (16..32) and its reach

    def pumping(smoothing: float) -> float:
        out = [f.astype(float) for f in stylize_frames(clip, [starry], StyleOptions(
            method="wct", levels=(2,), device="cpu", frame_smoothing=smoothing), models=models)]
        return float(np.mean([np.abs(b - a)[background].mean() for a, b in zip(out, out[1:], strict=False)]))

    assert pumping(0.8) < 0.8 * pumping(0.0)


def test_microast_smooths_its_adain_statistics_too(frames, starry, models):
    options = StyleOptions(method="microast", device="cpu", frame_smoothing=0.0)
    unsmoothed = list(stylize_frames(frames[:3], [starry], options, models=models))
    assert np.array_equal(unsmoothed[2], stylize(frames[2], [starry], options, models=models))
    smoothed = list(stylize_frames(frames[:3], [starry], replace(options, frame_smoothing=0.8), models=models))
    assert np.array_equal(smoothed[0], unsmoothed[0]) and not np.array_equal(smoothed[2], unsmoothed[2])


def test_clip_statistics_default_is_each_image_its_own():
    stats = ClipStatistics(0.5)
    first = FeatureStats.of(torch.randn(1, 4, 3, 3))
    assert stats.content(3, first) is first  # the first frame is its own


# ------------------------------------------------------------------------------------------ files and commands

def test_folder_in_svg_and_png_frames_out(tmp_path, frames):
    source = frame_folder(tmp_path / "shots", frames[:2])
    out = tmp_path / "painted"
    result = paint_clip(source, out, TINY, extras=[".png"])
    assert result.frames == 2
    assert sorted(p.name for p in out.iterdir()) == ["shot1.png", "shot1.svg", "shot2.png", "shot2.svg"]
    painting = load_strokes(out / "shot2.svg")
    assert len(painting) == TINY.strokes and (painting.width, painting.height) == (48, 32)
    assert Image.open(out / "shot1.png").size == (48, 32)


def test_paint_command_video_to_video(tmp_path, frames, capsys):
    source = tmp_path / "clip.mp4"
    write_video(frames[:2], source, 10)
    out = tmp_path / "painted.mp4"
    code, stdout, stderr = run(capsys, "paint", str(source), "-o", str(out), "--strokes", "12", "--working-size",
                               "48", "--iterations", "2", "--refine-iterations", "2", "--frame-steps", "2",
                               "--device", "cpu")
    assert code == 0, stderr
    assert "wrote" in stdout and "2 frames at 10 fps" in stdout
    info = open_clip(out).info
    assert (info.frames, info.width, info.height, info.fps) == (2, 48, 32, 10)


def test_stylize_command_on_a_folder_writes_png_frames(tmp_path, frames, style_image, weights_dir, monkeypatch,
                                                       capsys):
    monkeypatch.setenv("BRUSHWORK_WEIGHTS", str(weights_dir))
    source = frame_folder(tmp_path / "shots", frames[:2])
    out = tmp_path / "styled"
    code, stdout, stderr = run(capsys, "stylize", str(source), "--style", str(style_image("wave.jpg")), "-o",
                               str(out), "--method", "wct", "--levels", "2", "--style-size", "64", "--device", "cpu")
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["shot1.png", "shot2.png"]


def test_never_overwrites_an_input(tmp_path, frames, starry, models):
    source = frame_folder(tmp_path / "shots", frames[:2])
    before = {p.name: p.read_bytes() for p in source.iterdir()}
    with pytest.raises(BrushworkError, match="is the input file"):
        stylize_clip(source, source, [starry], StyleOptions(method="wct", levels=(2,), device="cpu"), models=models)
    video = tmp_path / "clip.mp4"
    write_video(frames[:2], video, 10)
    with pytest.raises(BrushworkError, match="is the input file"):
        paint_clip(video, video, TINY)
    assert {p.name: p.read_bytes() for p in source.iterdir()} == before


def test_a_trained_style_is_refused_for_a_clip_with_what_to_do_instead(tmp_path, frames):
    # `batch paint` and the Python API reach paint_clip without the CLI's own check.
    video = tmp_path / "clip.mp4"
    write_video(frames[:2], video, 10)
    with pytest.raises(BrushworkError, match=r"without --model starry_night; stylize it with the model first"):
        paint_clip(video, tmp_path / "out.mp4", replace(TINY, model="starry_night"))
    assert not (tmp_path / "out.mp4").exists()


def test_single_picture_options_are_refused_for_a_clip(tmp_path, frames, capsys):
    video = tmp_path / "clip.mp4"
    write_video(frames[:2], video, 10)
    code, _, stderr = run(capsys, "paint", str(video), "-o", str(tmp_path / "o.mp4"), "--animate",
                          str(tmp_path / "a.gif"))
    assert code == 1 and "--animate apply to a single picture" in stderr
    code, _, stderr = run(capsys, "paint", str(video), "-o", str(tmp_path / "o.mp4"), "--png")
    assert code == 1 and "give a folder" in stderr
    code, _, stderr = run(capsys, "paint", str(video), "-o", str(tmp_path / "o.gif"))
    assert code == 1 and "o.gif: expected a video file (.mp4, .mov, .mkv, .m4v) or a folder" in stderr
    assert not (tmp_path / "o.gif").exists()
