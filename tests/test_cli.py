import json
import os
import re

import numpy as np
import pytest
from PIL import Image, ImageSequence

from brushwork import __version__
from brushwork.cli import main
from brushwork.errors import BrushworkError
from brushwork.files import load_strokes, save_strokes

from conftest import BUNDLED_PHOTO, random_list, run_cli as run


@pytest.fixture
def painting_svg(tmp_path):
    path = tmp_path / "painting.svg"
    save_strokes(random_list(0, 30, 300, 200), path)
    return path


def test_version(capsys):
    assert run(capsys, "--version") == (0, f"brushwork, version {__version__}\n", "")


def test_render_png_at_width_scale_and_transparent(capsys, painting_svg, tmp_path):
    out = tmp_path / "out.png"
    assert run(capsys, "render", str(painting_svg), "-o", str(out))[0] == 0
    assert Image.open(out).size == (300, 200) and Image.open(out).mode == "RGB"
    assert run(capsys, "render", str(painting_svg), "-o", str(out), "--width", "150")[0] == 0
    assert Image.open(out).size == (150, 100)
    assert run(capsys, "render", str(painting_svg), "-o", str(out), "--scale", "2", "--transparent")[0] == 0
    image = Image.open(out)
    assert image.size == (600, 400) and image.mode == "RGBA"
    assert np.asarray(image)[..., 3].min() < 255


def test_render_converts_between_svg_and_json(capsys, painting_svg, tmp_path):
    as_json = tmp_path / "p.json"
    assert run(capsys, "render", str(painting_svg), "-o", str(as_json))[0] == 0
    assert load_strokes(as_json) == load_strokes(painting_svg)
    back = tmp_path / "p2.svg"
    assert run(capsys, "render", str(as_json), "-o", str(back))[0] == 0
    assert load_strokes(back) == load_strokes(painting_svg)


def test_info(capsys, painting_svg):
    code, out, _ = run(capsys, "info", str(painting_svg))
    assert code == 0 and "300 x 200 px" in out and "strokes    30" in out
    code, out, _ = run(capsys, "info", str(painting_svg), "--json")
    facts = json.loads(out)
    assert facts["width"] == 300 and sum(facts["counts"].values()) == 30


@pytest.mark.slow
def test_demo_paints_the_bundled_photo(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "-o", str(tmp_path / "demo"), "--strokes", "12")
    assert code == 0
    painting = load_strokes(tmp_path / "demo" / "painting.svg")
    assert len(painting) == 12 and (painting.width, painting.height) == (451, 300)
    assert Image.open(tmp_path / "demo" / "painting.png").size == (902, 600)


def test_paint_writes_svg_png_json_and_resumes(capsys, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 60, dtype=np.uint8)[None, :, None], (40, 1, 3))).save(photo)
    out = tmp_path / "painting.svg"
    fast = ["--working-size", "48", "--iterations", "3", "--refine-iterations", "5"]
    code, _, err = run(capsys, "paint", str(photo), "-o", str(out), "--strokes", "6", "--png", "--json",
                       "--png-width", "120", *fast)
    assert code == 0, err
    assert len(load_strokes(out)) == 6 and load_strokes(tmp_path / "painting.json") == load_strokes(out)
    unrefined = tmp_path / "unrefined.svg"
    assert run(capsys, "paint", str(photo), "-o", str(unrefined), "--strokes", "6", *fast[:4],
               "--refine-iterations", "0")[0] == 0
    assert load_strokes(unrefined) != load_strokes(out)
    assert Image.open(tmp_path / "painting.png").size == (120, 80)
    more = tmp_path / "more.svg"
    assert run(capsys, "paint", str(photo), "-o", str(more), "--resume", str(out), "--strokes", "4", *fast)[0] == 0
    assert len(load_strokes(more)) == 10
    assert "unknown brush 'crayon'" in one_line_error(capsys, "paint", str(photo), "--brush", "crayon")
    assert "is the input file" in one_line_error(capsys, "paint", str(photo), "-o", str(out), "--resume", str(out))


def one_line_error(capsys, *args) -> str:
    code, out, err = run(capsys, *args)
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_bad_input_gives_one_clear_line(capsys, tmp_path, painting_svg):
    assert "no such file" in one_line_error(capsys, "render", str(tmp_path / "nope.svg"), "-o", "x.png")
    foreign = tmp_path / "foreign.svg"
    foreign.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="5" height="5"/>')
    assert "not written by brushwork" in one_line_error(capsys, "render", str(foreign), "-o", "x.png")
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "brushwork-strokes",')
    assert "malformed JSON" in one_line_error(capsys, "render", str(broken), "-o", "x.png")
    unwritable = tmp_path / "no-such-dir" / "out.png"
    assert "cannot write" in one_line_error(capsys, "render", str(painting_svg), "-o", str(unwritable))
    assert "unknown output type '.gif'" in one_line_error(capsys, "render", str(painting_svg), "-o", "x.gif")
    assert "not both" in one_line_error(capsys, "render", str(painting_svg), "-o", "x.png",
                                        "--width", "5", "--scale", "2")


def test_output_never_overwrites_the_input(capsys, painting_svg):
    before = painting_svg.read_bytes()
    assert "is the input file" in one_line_error(capsys, "render", str(painting_svg), "-o", str(painting_svg))
    assert painting_svg.read_bytes() == before


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(BrushworkError, match="no such file"):
        main(["--debug", "render", str(tmp_path / "nope.svg"), "-o", "x.png"])


@pytest.mark.slow
def test_paint_animate_shortcut_plays_the_new_painting(capsys, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 60, dtype=np.uint8)[None, :, None], (40, 1, 3))).save(photo)
    out, clip = tmp_path / "painting.svg", tmp_path / "painting.gif"
    code, _, err = run(capsys, "paint", str(photo), "-o", str(out), "--strokes", "8", "--working-size", "48",
                       "--iterations", "3", "--animate", str(clip), "--brush", "tape")
    assert code == 0, err
    with Image.open(clip) as gif:
        frames = [np.asarray(frame.convert("RGB"), np.float32) for frame in ImageSequence.Iterator(gif)]
    from brushwork import raster

    final = raster.render(load_strokes(out)).astype(np.float32)
    assert len(frames) > 2 and np.abs(frames[-1] - final).mean() < 4  # ends on the painting (GIF palette)
    assert np.abs(frames[0] - 255).mean() < 1  # starts from the bare white canvas


@pytest.fixture
def no_work(monkeypatch):
    """Painting, stylizing and training fail the test: a refusal must come before any of them."""
    import brushwork.neural.train
    import brushwork.painter
    import brushwork.stylize

    def started(*args, **kwargs):
        pytest.fail("the work started instead of being refused")

    for module, name in ((brushwork.painter, "paint"), (brushwork.stylize, "stylize"),
                         (brushwork.neural.train, "train")):
        monkeypatch.setattr(module, name, started)


def small_photo(path):
    Image.fromarray(np.tile(np.linspace(0, 255, 16, dtype=np.uint8)[None, :, None], (11, 1, 3))).save(path)
    return path


def test_paint_never_overwrites_its_photo_style_or_resume_file(capsys, tmp_path, no_work):
    # the two cases: the preview and the --png output landing on an input
    photo = small_photo(tmp_path / "cat.preview.png")
    style = small_photo(tmp_path / "starry.png")
    painting = tmp_path / "old.json"
    save_strokes(random_list(0, 3, 16, 11), painting)
    before = {p: p.read_bytes() for p in (photo, style, painting)}
    cases = [
        (["paint", str(photo), "-o", str(tmp_path / "cat.svg"), "--preview-every", "1"],
         "--preview-every output .*cat.preview.png is the input file .*cat.preview.png \\(the photo\\)"),
        (["paint", str(photo), "-o", str(tmp_path / "starry.svg"), "--png", "--style", str(style)],
         "--png output .*starry.png is the input file .*starry.png \\(--style\\)"),
        (["paint", str(photo), "-o", str(tmp_path / "old.svg"), "--json", "--resume", str(painting)],
         "--json output .*old.json is the input file .*old.json \\(--resume\\)"),
        (["paint", str(photo), "-o", str(tmp_path / "a.svg"), "--animate", str(tmp_path / "a.svg")],
         "output .*a.svg and --animate .*a.svg are the same file"),
    ]
    for args, message in cases:
        assert re.search(message, one_line_error(capsys, *args)), args
    (tmp_path / "linked.preview.png").symlink_to(photo)  # through a symlink
    assert "is the input file" in one_line_error(capsys, "paint", str(photo), "-o", str(tmp_path / "linked.svg"),
                                                 "--preview-every", "5")
    os.link(style, tmp_path / "hard.png")  # and a hard link
    assert "is the input file" in one_line_error(capsys, "paint", str(photo), "-o", str(tmp_path / "hard.svg"),
                                                 "--png", "--style", str(style))
    assert {p: p.read_bytes() for p in before} == before


def test_paint_refuses_outputs_it_could_not_write_before_painting(capsys, tmp_path, no_work):
    photo = small_photo(tmp_path / "photo.png")
    assert "unknown animation type '.avi'" in one_line_error(
        capsys, "paint", str(photo), "-o", str(tmp_path / "p.svg"), "--animate", str(tmp_path / "p.avi"))
    assert "no folder" in one_line_error(capsys, "paint", str(photo), "-o", str(tmp_path / "nope" / "p.svg"))


def test_other_commands_check_outputs_against_inputs(capsys, tmp_path, painting_svg, no_work):
    photo, style, weights = (small_photo(tmp_path / name) for name in ("photo.png", "style.png", "vgg.png"))
    assert re.search(r"output .*vgg.png is the input file .*vgg.png \(--vgg\)", one_line_error(
        capsys, "stylize", str(photo), "--style", str(style), "--vgg", str(weights), "-o", str(weights)))
    (tmp_path / "style-link.png").symlink_to(style)
    assert "(--style)" in one_line_error(capsys, "stylize", str(photo), "--style", str(style),
                                         "-o", str(tmp_path / "style-link.png"))
    (tmp_path / "painting-link.png").symlink_to(painting_svg)
    assert "is the input file" in one_line_error(capsys, "render", str(painting_svg),
                                                 "-o", str(tmp_path / "painting-link.png"))
    out = tmp_path / "renderer"
    assert re.search(r"--checkpoint .*renderer.pt and --output .*renderer.pt are the same file", one_line_error(
        capsys, "train-renderer", "--kind", "tape", "--checkpoint", str(out / "renderer.pt"), "--output", str(out)))
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "painting.png").symlink_to(BUNDLED_PHOTO)
    assert "(the bundled photo)" in one_line_error(capsys, "demo", "-o", str(demo))


def test_paint_decodes_a_huge_photo_at_the_working_size_and_refuses_bombs(capsys, tmp_path, monkeypatch):
    import brushwork.painter

    from test_images import bomb_png

    seen = {}

    def fake_paint(picture, *, resume, **settings):
        seen.update(shape=picture.shape, canvas=(resume.width, resume.height), strokes=len(resume))
        return resume

    monkeypatch.setattr(brushwork.painter, "paint", fake_paint)
    big = bomb_png(tmp_path / "big.png", 8192, 4096)
    code, _, err = run(capsys, "paint", str(big), "-o", str(tmp_path / "big.svg"), "--working-size", "64")
    assert code == 0, err
    assert seen == {"shape": (32, 64, 3), "canvas": (8192, 4096), "strokes": 0}
    assert load_strokes(tmp_path / "big.svg").width == 8192
    bomb = bomb_png(tmp_path / "bomb.png", 30_000, 30_000, pixels=False)
    assert one_line_error(capsys, "paint", str(bomb), "-o", str(tmp_path / "b.svg")) == (
        f"error: {bomb}: 30000x30000 pixels is larger than brushwork reads (at most 16384 px on either side)\n")
    assert "larger than brushwork reads" in one_line_error(capsys, "stylize", str(bomb), "--style", str(big),
                                                           "-o", str(tmp_path / "s.png"))
    assert f"{bomb}: 30000x30000 pixels is larger" in one_line_error(
        capsys, "stylize", str(big), "--style", str(big), "--mask", str(bomb), "-o", str(tmp_path / "s.png"))


def test_stylize_decodes_content_at_size_and_styles_at_style_size(capsys, tmp_path, monkeypatch):
    import brushwork.stylize

    seen = {}

    def fake_stylize(content, styles, options, **kwargs):
        seen.update(content=content.shape, styles=[s.shape for s in styles])
        return content

    monkeypatch.setattr(brushwork.stylize, "stylize", fake_stylize)
    monkeypatch.setattr(brushwork.stylize, "CD16xModels", lambda: None)
    photo, style = tmp_path / "photo.png", tmp_path / "style.jpg"
    Image.new("RGB", (1200, 800), "red").save(photo)
    Image.new("RGB", (2000, 1000), "blue").save(style)
    code, out, err = run(capsys, "stylize", str(photo), "--style", str(style), "--size", "600",
                         "--style-size", "256", "-o", str(tmp_path / "out.png"))
    assert code == 0, err
    assert seen == {"content": (400, 600, 3), "styles": [(128, 256, 3)]}
    assert "600x400" in out


def test_resuming_a_transparent_painting_keeps_it_transparent(capsys, tmp_path):
    photo = small_photo(tmp_path / "photo.png")  # 16 x 11
    old = tmp_path / "old.svg"
    save_strokes(random_list(2, 3, 32, 22, background=None), old)
    out = tmp_path / "more.svg"
    code, _, err = run(capsys, "paint", str(photo), "-o", str(out), "--resume", str(old), "--strokes", "2",
                       "--working-size", "16", "--iterations", "2", "--refine-iterations", "0", "--png")
    assert code == 0, err
    more = load_strokes(out)
    assert more.background is None and len(more) == 5 and more.strokes[:3] == load_strokes(old).strokes
    assert Image.open(tmp_path / "more.png").mode == "RGBA"


@pytest.fixture
def sigterm_guard():
    """A SIGTERM that reaches this handler, not brushwork's, fails the test instead of killing pytest."""
    import signal

    class Unhandled(Exception):
        pass

    def unhandled(signum, frame):
        raise Unhandled("SIGTERM was not handled by brushwork")

    previous = signal.signal(signal.SIGTERM, unhandled)
    yield unhandled
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_during_paint_keeps_the_strokes_like_ctrl_c(capsys, tmp_path, monkeypatch, sigterm_guard):
    import signal

    import brushwork.batch.tasks

    photo = tmp_path / "photo.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 60, dtype=np.uint8)[None, :, None], (40, 1, 3))).save(photo)
    original = brushwork.batch.tasks.save_png

    def preview_then_terminated(pixels, path, **options):
        original(pixels, path, **options)
        if path.name.endswith(".preview.png"):
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill` or a service manager would

    monkeypatch.setattr(brushwork.batch.tasks, "save_png", preview_then_terminated)
    out = tmp_path / "painting.svg"
    code, _, err = run(capsys, "paint", str(photo), "-o", str(out), "--strokes", "6", "--working-size", "48",
                       "--iterations", "3", "--preview-every", "2", "--json")
    assert code == 143, err
    assert re.search(r"terminated: kept the \d+ strokes painted so far in .*painting.svg", err)
    assert load_strokes(out) == load_strokes(tmp_path / "painting.json")
    assert signal.getsignal(signal.SIGTERM) is sigterm_guard  # put back when the command ends


def test_sigterm_outside_paint_exits_143(capsys, painting_svg, tmp_path, monkeypatch, sigterm_guard):
    import signal

    from brushwork import raster

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(raster, "render", terminated)
    code, _, err = run(capsys, "render", str(painting_svg), "-o", str(tmp_path / "out.png"))
    assert (code, err.strip().splitlines()[-1]) == (143, "terminated")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.slow
def test_sigterm_during_mp4_removes_the_temporary_folder(tmp_path, painting_svg):
    import signal
    import subprocess
    import sys
    import time

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    clip = tmp_path / "clip.mp4"
    # an hour at 120 fps: still encoding when the signal comes
    process = subprocess.Popen([sys.executable, "-m", "brushwork", "animate", str(painting_svg), "-o", str(clip),
                                "--fps", "120", "--duration", "3600", "--width", "64"],
                               env={**os.environ, "TMPDIR": str(scratch)}, stderr=subprocess.PIPE, text=True)
    try:
        while not any(scratch.glob("brushwork-mp4-*")):
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 143, err
    assert list(scratch.iterdir()) == [] and not clip.exists()
    assert err.strip().splitlines()[-1] == "terminated"


def test_a_bad_renderer_checkpoint_is_one_line_naming_it(capsys, tmp_path):
    import torch

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint\n" * 10)
    pickled = tmp_path / "pickled.pt"  # a pickle naming a function: torch refuses it with weights_only
    pickled.write_bytes(b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94.")
    other = tmp_path / "other.pt"
    torch.save({"something": "else"}, other)
    folder = tmp_path / "folder.pt"
    folder.mkdir()
    for checkpoint in (garbage, pickled, other, folder):
        err = one_line_error(capsys, "train-renderer", "--kind", "tape", "--steps", "1",
                             "--checkpoint", str(checkpoint))
        assert err.startswith(f"error: --checkpoint {checkpoint}: not a renderer checkpoint brushwork can resume"), err
        assert "weights_only" not in err


@pytest.mark.parametrize("command", [["paint", "photo.png"], ["train-renderer", "--kind", "tape"], ["serve"],
                                     ["stylize", "photo.png", "--style", "s.png", "-o", "o.png"]])
def test_every_computing_command_takes_device_and_refuses_an_unknown_one(capsys, tmp_path, monkeypatch, command):
    from brushwork.cli import cli

    option = next(p for p in cli.commands[command[0]].params if p.name == "device")
    assert option.default == "auto" and "auto|cpu|cuda|mps" in option.metavar
    monkeypatch.chdir(tmp_path)  # nothing is written: the device is checked first
    assert one_line_error(capsys, *command, "--device", "gpu") == \
        "error: --device 'gpu': expected one of auto, cpu, cuda, cuda:N (a GPU index) or mps\n"
    assert list(tmp_path.iterdir()) == []


def test_paint_settings_are_checked_before_anything_is_read(capsys, tmp_path):
    missing = str(tmp_path / "nope.png")
    assert "--strokes 0: expected a whole number in [1, 200000]" in one_line_error(capsys, "paint", missing,
                                                                                   "--strokes", "0")
    assert "min-size 9.0 is larger than max-size 3.0" in one_line_error(capsys, "paint", missing, "--min-size", "9",
                                                                         "--max-size", "3")
