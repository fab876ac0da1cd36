import json

import numpy as np
import pytest
from PIL import Image, ImageSequence

from brushwork import __version__
from brushwork.cli import main
from brushwork.errors import BrushworkError
from brushwork.files import load_strokes, save_strokes

from conftest import random_list


def run(capsys, *args):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


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
