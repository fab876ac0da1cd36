"""Stroke-by-stroke animation: the timeline, stroke orders, GIF / WebP / SVG / HTML output, the CLI
and its errors. MP4 and the browser checks are in test_animate_slow.py."""

import io
import json
import re
import xml.etree.ElementTree as ET
from itertools import pairwise

import cairosvg
import numpy as np
import pytest
from PIL import Image, ImageSequence

import brushwork
from brushwork import animation, raster, svg
from brushwork.animation import Timeline, animate, order_strokes
from brushwork.errors import BrushworkError
from brushwork.files import save_strokes
from brushwork.strokes import StrokeList

from conftest import psnr, random_list, run_cli as run


def prefix(painting: StrokeList, count: int) -> StrokeList:
    return painting.with_strokes(painting.strokes[:count])


# --- timeline -----------------------------------------------------------------------------------


@pytest.mark.parametrize("strokes, fps, duration, hold", [
    (60, 10, 3, 0.5), (7, 30, 2, 0), (2000, 30, 10, 1), (1, 24, 1, 0.25), (5, 12.5, 0.16, 0),
])
def test_timeline_goes_from_bare_canvas_to_every_stroke_evenly(strokes, fps, duration, hold):
    tl = Timeline.plan(strokes, fps, duration, hold)
    assert tl.frames == round(duration * fps) and tl.hold_frames == round(hold * fps)
    counts = [tl.count(i) for i in range(tl.frames)]
    assert counts[0] == 0 and counts[tl.paint_frames - 1] == strokes
    assert counts[tl.paint_frames:] == [strokes] * tl.hold_frames
    assert all(a <= b for a, b in pairwise(counts))
    # Evenly: a frame adds the rounded share of strokes per frame, never more than one extra.
    per_frame = strokes / (tl.paint_frames - 1)
    steps = [b - a for a, b in pairwise(counts[:tl.paint_frames])]
    assert max(steps) <= np.ceil(per_frame) and min(steps) >= np.floor(per_frame)
    # first_frame is the inverse the SVG and the player use.
    for k in range(strokes):
        f = tl.first_frame(k)
        assert tl.count(f) > k and (f == 0 or tl.count(f - 1) <= k)
    runs = tl.runs()
    assert sum(length for _, _, length in runs) == tl.frames
    assert [c for c, _, _ in runs] == sorted(set(counts))
    assert all(tl.count(first) == c for c, first, _ in runs)


@pytest.mark.parametrize("fps, duration, hold, message", [
    (30, 0.03, 0, "duration 0.03 s is too short for 30 fps: .* at least 0.0667 s"),
    (30, 1.0, 1.0, "too short for 30 fps with a 1 s hold: .* at least 1.07 s"),
    (0, 1, 0, "fps must be a number in"),
    (500, 1, 0, "fps must be a number in"),
    (30, float("nan"), 0, "duration must be a positive number"),
    (30, 2, -1, "hold must be zero or more"),
])
def test_timeline_refuses_impossible_clips(fps, duration, hold, message):
    with pytest.raises(BrushworkError, match=message):
        Timeline.plan(10, fps, duration, hold)


# --- orders -------------------------------------------------------------------------------------


def test_orders_are_permutations_with_their_promised_shape():
    painting = random_list(5, 120)
    assert order_strokes(painting, "paint") == painting
    for order in animation.ORDERS:
        ordered = order_strokes(painting, order)
        assert sorted(ordered.strokes, key=repr) == sorted(painting.strokes, key=repr), order
        assert (ordered.width, ordered.height, ordered.background) == (
            painting.width, painting.height, painting.background)
    areas = [animation.stroke_area(s) for s in order_strokes(painting, "coarse-to-fine").strokes]
    assert areas == sorted(areas, reverse=True)
    groups = [animation.colour_group(s) for s in order_strokes(painting, "colour").strokes]
    runs = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
    assert len(runs) == len(set(groups)) > 5  # every colour family in one contiguous run
    # Within a family the strokes keep their paint order.
    for family in set(groups):
        members = [s for s in order_strokes(painting, "colour").strokes if animation.colour_group(s) == family]
        positions = [painting.strokes.index(s) for s in members]
        assert positions == sorted(positions)
    with pytest.raises(BrushworkError, match="unknown order 'random'"):
        order_strokes(painting, "random")


def test_colour_families():
    make = lambda r, g, b: brushwork.Stroke.make(  # noqa: E731
        "tape", cx=5, cy=5, length=4, width=2, angle=0, r=r, g=g, b=b, opacity=1)
    assert animation.colour_group(make(1, 0, 0)) == 0
    assert animation.colour_group(make(0, 1, 0)) == 4
    assert animation.colour_group(make(0, 0, 1)) == 8
    assert [animation.colour_group(make(v, v, v)) for v in (0.05, 0.5, 1.0)] == [12, 13, 14]


# --- raster frames ------------------------------------------------------------------------------


def test_frames_are_drawn_incrementally_each_stroke_once(monkeypatch):
    painting = random_list(6, 90)
    drawn = []
    original = raster.RasterCanvas.draw
    monkeypatch.setattr(raster.RasterCanvas, "draw", lambda self, s: (drawn.append(s), original(self, s)))
    tl = Timeline.plan(len(painting), 10, 4, 1)
    last = None
    for canvas, _, _ in animation._drawn_runs(painting, tl, (320, 200)):
        last = canvas.to_rgb()
    assert drawn == list(painting.strokes)
    monkeypatch.undo()
    assert np.array_equal(last, raster.render(painting))  # exactly the painting, bit for bit


def decoded(path):
    """(frames as RGB arrays, delays in ms) of a GIF or WebP."""
    with Image.open(path) as image:
        frames = [(np.asarray(f.convert("RGB")), f.info["duration"]) for f in ImageSequence.Iterator(image)]
    return [f for f, _ in frames], [d for _, d in frames]


# GIF: 256 colours, no dithering; WebP: lossy 4:2:0 at quality 90. Both measure 31-33 dB against
# raster on these saturated random strokes, while the neighbouring frame's strokes (1-4 strokes
# apart) score lower, which the test also checks, so the threshold cannot pass a wrong frame.
CODEC_PSNR = {".gif": 29.0, ".webp": 29.0}


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
@pytest.mark.parametrize("fps, duration, hold", [(10, 3, 0.5), (30, 2, 0)])
def test_gif_and_webp_frames_sizes_and_delays(tmp_path, suffix, fps, duration, hold):
    painting = random_list(7, 80)
    out = tmp_path / f"clip{suffix}"
    clip = animate(painting, out, fps=fps, duration=duration, hold=hold)
    tl = Timeline.plan(len(painting), fps, duration, hold)
    frames, delays = decoded(out)
    runs = tl.runs()
    assert clip.frames == len(frames) == len(runs)
    assert all(f.shape == (200, 320, 3) for f in frames)
    assert sum(delays) == pytest.approx(duration * 1000, abs=1)
    # Each delay is the run's length in frames, rounded to the format's tick (10 ms for GIF).
    tick = 10 if suffix == ".gif" else 1
    for delay, (_, _, length) in zip(delays, runs, strict=True):
        assert abs(delay - length * 1000 / fps) < tick and delay % tick == 0
    with Image.open(out) as image:
        assert image.info.get("loop") == 0  # loops forever
    for i in (1, len(runs) // 2, len(runs) - 1):
        want = raster.render(prefix(painting, runs[i][0]))
        score = psnr(frames[i], want)
        assert score >= CODEC_PSNR[suffix], (i, score)
        if i < len(runs) - 1:
            assert score > psnr(frames[i], raster.render(prefix(painting, runs[i + 1][0])))
        assert score > psnr(frames[i], raster.render(prefix(painting, runs[i - 1][0])))


def test_width_scales_frames_and_transparent_canvas_plays_over_white(tmp_path):
    painting = random_list(8, 30, background=None)
    clip = animate(painting, tmp_path / "small.gif", width=160, duration=1, fps=10, hold=0)
    frames, _ = decoded(tmp_path / "small.gif")
    assert (clip.width, clip.height) == (160, 100) and frames[0].shape == (100, 160, 3)
    assert (frames[0] == 255).all()
    white = StrokeList(painting.width, painting.height, painting.strokes, (1.0, 1.0, 1.0))
    assert psnr(frames[-1], raster.render(white, width=160)) >= 29


def test_reordered_clip_ends_on_the_reordered_painting(tmp_path):
    painting = random_list(9, 60)
    animate(painting, tmp_path / "c.webp", fps=10, duration=2, hold=0.5, order="coarse-to-fine")
    frames, _ = decoded(tmp_path / "c.webp")
    reordered = raster.render(order_strokes(painting, "coarse-to-fine"))
    assert psnr(frames[-1], reordered) >= 29
    assert psnr(frames[-1], reordered) > psnr(frames[-1], raster.render(painting))


def test_gif_refuses_more_than_50_fps_and_huge_clips(tmp_path, monkeypatch):
    with pytest.raises(BrushworkError, match="GIF plays at most 50 fps"):
        animate(random_list(0, 5), tmp_path / "x.gif", fps=60)
    monkeypatch.setattr(animation, "MAX_FRAME_BYTES", 1_000_000)
    with pytest.raises(BrushworkError, match="WebP holds every frame in memory: 270 frames at 320x200"):
        animate(random_list(0, 300), tmp_path / "x.webp")
    assert not list(tmp_path.iterdir())


# --- SVG and HTML -------------------------------------------------------------------------------

SVG_NS = "{http://www.w3.org/2000/svg}"


def test_animated_svg_times_each_stroke_and_reads_back(tmp_path):
    painting = random_list(10, 50)
    out = tmp_path / "clip.svg"
    clip = animate(painting, out, fps=20, duration=3, hold=0.5, width=640)
    tl = Timeline.plan(50, 20, 3, 0.5)
    assert clip.frames == tl.frames == 60
    root = ET.parse(out).getroot()
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("640", "400", "0 0 320 200")
    elements = [e for e in root.iter() if e.get("data-brush")]
    assert len(elements) == 50
    for k, element in enumerate(elements):
        (timing,) = element.findall(f"{SVG_NS}animate")
        assert timing.attrib == {
            "attributeName": "visibility", "values": "hidden;visible", "calcMode": "discrete",
            "dur": "3s", "repeatCount": "indefinite", "keyTimes": timing.get("keyTimes"),
        }
        start, appears = map(float, timing.get("keyTimes").split(";"))
        assert start == 0 and appears * tl.frames == pytest.approx(tl.first_frame(k), abs=1e-4)
    assert svg.read(out.read_text()) == painting  # still a brushwork stroke SVG
    # Viewers without SMIL show the finished painting.
    still = np.asarray(Image.open(io.BytesIO(cairosvg.svg2png(url=str(out)))).convert("RGB"))
    assert psnr(still, raster.render(painting, width=640)) >= 35


def test_html_player_is_self_contained(tmp_path):
    painting = random_list(11, 40)
    out = tmp_path / "my <painting>.html"
    clip = animate(painting, out, fps=25, duration=4, hold=1, width=480)
    page = out.read_text()
    assert clip.frames == 100
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)  # nothing fetched from elsewhere
    assert "<title>my &lt;painting&gt; · brushwork</title>" in page
    config = json.loads(re.search(r'id="bw-config">(.*?)</script>', page, re.S).group(1))
    assert config == {"strokes": 40, "fps": 25.0, "paintFrames": 75, "holdFrames": 25,
                      "width": 480, "height": 300, "name": "my <painting>"}
    inline = re.search(r"<svg.*</svg>", page, re.S).group(0)
    assert svg.read(inline) == painting
    for control in ("bw-play", "bw-scrub", "bw-speed", "bw-counter", "bw-loop",
                    "bw-download-svg", "bw-download-png"):
        assert f'id="{control}"' in page


def test_player_name_cannot_close_its_script():
    name = "a</script><script>alert(1)</script>"
    page = animation.player_html(random_list(0, 5), Timeline.plan(5, 10, 1), (320, 200), name)
    assert page.count("</script>") == 2  # the config's and the player's; the name's is escaped
    config = json.loads(re.search(r'id="bw-config">(.*?)</script>', page, re.S).group(1))
    assert config["name"] == name


# --- API and CLI --------------------------------------------------------------------------------


def test_top_level_api_takes_a_stroke_list_or_a_file(tmp_path):
    painting = random_list(12, 20)
    source = tmp_path / "p.json"
    save_strokes(painting, source)
    clip = brushwork.animate(source, tmp_path / "p.svg", duration=1)
    assert clip.strokes == 20 and svg.read((tmp_path / "p.svg").read_text()) == painting
    with pytest.raises(BrushworkError, match="is the input file"):
        brushwork.animate(tmp_path / "p.svg", tmp_path / "p.svg")


@pytest.fixture
def painting_svg(tmp_path):
    path = tmp_path / "painting.svg"
    save_strokes(random_list(13, 40), path)
    return path


def test_cli_animate(capsys, painting_svg, tmp_path):
    out = tmp_path / "out.gif"
    code, stdout, err = run(capsys, "animate", str(painting_svg), "-o", str(out), "--fps", "10",
                            "--duration", "2", "--hold", "0.5", "--width", "160", "--order", "colour")
    assert (code, err) == (0, "")
    assert stdout == f"wrote {out} (GIF, 160x100, 40 strokes, 15 frames, 2.00 s)\n"
    assert Image.open(out).size == (160, 100)


@pytest.mark.parametrize("args, message", [
    (["-o", "{tmp}/x.avi"], r"x.avi: unknown animation type '.avi'; expected .gif, .webp, .mp4, .svg, .html"),
    (["-o", "{tmp}/x"], r"unknown animation type '\(none\)'"),
    (["-o", "{tmp}/x.gif", "--duration", "0.01"], r"duration 0.01 s is too short for 30 fps: .* 0.0667 s"),
    (["-o", "{tmp}/x.gif", "--duration", "2", "--hold", "2"], "too short for 30 fps with a 2 s hold"),
    (["-o", "{tmp}/x.mp4", "--width", "161"], "MP4 frames need an even width .*; use width 160 or 162"),
    (["-o", "{tmp}/missing/x.gif"], "cannot write .*x.gif: no folder"),
    (["-o", "{tmp}/painting.svg"], "is the input file"),
])
def test_cli_errors_are_one_clear_line(capsys, painting_svg, tmp_path, args, message):
    before = painting_svg.read_bytes()
    code, stdout, err = run(capsys, "animate", str(painting_svg),
                            *[a.format(tmp=tmp_path) for a in args])
    assert code == 1 and stdout == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert painting_svg.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["painting.svg"]


def test_cli_refuses_foreign_svgs_and_empty_paintings(capsys, tmp_path):
    foreign = tmp_path / "drawing.svg"
    foreign.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect/></svg>')
    code, _, err = run(capsys, "animate", str(foreign), "-o", str(tmp_path / "x.gif"))
    assert code == 1 and "drawing.svg: this SVG was not written by brushwork" in err
    empty = tmp_path / "empty.json"
    save_strokes(StrokeList(50, 40), empty)
    code, _, err = run(capsys, "animate", str(empty), "-o", str(tmp_path / "x.gif"))
    assert code == 1 and err == f"error: {empty}: the painting has no strokes to animate\n"
    with pytest.raises(BrushworkError, match="^the painting has no strokes to animate$"):
        animate(StrokeList(50, 40), tmp_path / "x.webp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drawing.svg", "empty.json"]


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".svg", ".html"])
def test_a_failed_write_leaves_the_old_file_alone(tmp_path, monkeypatch, suffix):
    out = tmp_path / f"clip{suffix}"
    out.write_bytes(b"previous")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(raster.RasterCanvas, "to_rgb", broken)
    monkeypatch.setattr(svg, "to_text", broken)
    monkeypatch.setattr(animation, "_sized_drawing", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        animate(random_list(0, 10), out, duration=1)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
