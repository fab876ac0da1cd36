import json
import os

import pytest

from brushwork.errors import BrushworkError, StrokeFileError
from brushwork.files import (
    atomic_write,
    from_json,
    load_strokes,
    refuse_overwriting_inputs,
    save_strokes,
    to_json,
)

from conftest import random_list


@pytest.mark.parametrize("suffix", [".svg", ".json"])
def test_stroke_files_round_trip_through_disk(tmp_path, suffix):
    painting = random_list(2, 30, 150, 90, background=None)
    path = tmp_path / f"painting{suffix}"
    save_strokes(painting, path)
    assert load_strokes(path) == painting
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left


def test_json_schema_is_versioned_and_readable():
    doc = json.loads(to_json(random_list(0, 2)))
    assert doc["format"] == "brushwork-strokes" and doc["version"] == 1
    assert set(doc["strokes"][0]) == {"kind", "params"}
    assert isinstance(doc["strokes"][0]["params"], dict)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "malformed JSON"),
        ('{"format": "other"}', "not a brushwork stroke list"),
        ('{"format": "brushwork-strokes", "version": 7}', "version 7 is not supported"),
        ('{"format": "brushwork-strokes", "version": 1, "width": 5, "height": 5}', 'missing "strokes"'),
        ('{"format": "brushwork-strokes", "version": 1, "width": 5, "height": 5, '
         '"strokes": [{"kind": "crayon", "params": {}}]}', "stroke 0: unknown brush kind 'crayon'"),
        ('{"format": "brushwork-strokes", "version": 1, "width": 5, "height": 5, '
         '"strokes": [{"kind": "tape", "params": {"cx": 1}}]}', "stroke 0: tape stroke: missing fields"),
    ],
)
def test_bad_json_is_explained(text, message):
    with pytest.raises(StrokeFileError, match=message):
        from_json(text)


def test_errors_name_the_file(tmp_path):
    with pytest.raises(BrushworkError, match=f"{tmp_path / 'missing.svg'}: no such file"):
        load_strokes(tmp_path / "missing.svg")
    bad = tmp_path / "bad.json"
    bad.write_text("[")
    with pytest.raises(StrokeFileError, match=f"{bad}: malformed JSON"):
        load_strokes(bad)
    with pytest.raises(BrushworkError, match="unknown stroke file type '.txt'"):
        load_strokes(tmp_path / "a.txt")


def test_failed_write_keeps_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "out.svg"
    target.write_text("precious")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(BrushworkError, match="cannot write .*No space left on device"):
        atomic_write(target, b"new")
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.svg"]


def test_outputs_never_replace_inputs(tmp_path):
    source = tmp_path / "a.svg"
    source.write_text("x")
    os.link(source, tmp_path / "hardlink.svg")
    for output in (source, tmp_path / "sub" / ".." / "a.svg", tmp_path / "hardlink.svg"):
        with pytest.raises(BrushworkError, match="is the input file"):
            refuse_overwriting_inputs(output, source)
    refuse_overwriting_inputs(tmp_path / "b.svg", source)


HEADER = '{"format": "brushwork-strokes", "version": 1, "width": 100, "height": 60, '
TAPE = {"cx": 50, "cy": 40, "length": 30, "width": 10, "angle": 0.5, "r": 0.1, "g": 0.2, "b": 0.3, "opacity": 0.9}


def tape_json(**changes) -> str:
    return HEADER + '"strokes": [' + json.dumps({"kind": "tape", "params": {**TAPE, **changes}}) + "]}"


@pytest.mark.parametrize(
    "text, message",
    [
        (tape_json(cx="50"), r"stroke 0: tape stroke: field 'cx' = '50' is not a number"),
        (tape_json(opacity=True), r"stroke 0: tape stroke: field 'opacity' = True is not a number"),
        (tape_json(cx=None), r"stroke 0: tape stroke: field 'cx' = None is not a number"),
        (tape_json(cx=[1]), r"stroke 0: tape stroke: field 'cx' = \[1\] is not a number"),
        (tape_json().replace("50", "1" + "0" * 400), r"stroke 0: tape stroke: field 'cx' = 1000.* is not a number"),
        (tape_json().replace("50", "1" + "0" * 5000), r"malformed JSON"),  # past Python's int digit limit
        (HEADER + '"background": "abc", "strokes": []}', r"background must be an RGB triple"),
        (HEADER + '"background": 5, "strokes": []}', r"background must be an RGB triple"),
        (HEADER + '"background": [1, "1", 1], "strokes": []}', r"background g = '1' is not a number"),
        (HEADER + '"strokes": [{"kind": ["tape"], "params": {}}]}', r"stroke 0: unknown brush kind \['tape'\]"),
        (HEADER + '"strokes": {}}', r'"strokes" must be a list'),
        ('{"format": "brushwork-strokes", "version": true, "width": 5, "height": 5, "strokes": []}',
         r"stroke JSON version True is not supported"),
        ("[" * 100_000 + "]" * 100_000, r"malformed JSON \(nested too deeply\)"),
        ('{"format": "brushwork-strokes", "version": 1, "width": "100", "height": 60, "strokes": []}',
         r"canvas width must be an integer"),
    ],
    ids=["text-number", "bool", "null", "list", "huge-int", "too-many-digits", "background-text",
         "background-number", "background-channel", "unhashable-kind", "strokes-object", "version-bool",
         "deep-nesting", "width-text"],
)
def test_json_with_wrong_types_is_explained_with_the_file_name(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(BrushworkError, match=f"^{path}: {message}"):
        load_strokes(path)


def test_stroke_files_over_the_stroke_limit_are_refused_before_building_strokes(tmp_path, monkeypatch):
    import brushwork.files as files_module
    import brushwork.strokes as strokes_module
    from brushwork.strokes import Stroke

    monkeypatch.setattr(strokes_module, "MAX_STROKES", 5)
    built = []
    monkeypatch.setattr(Stroke, "__post_init__", lambda self, original=Stroke.__post_init__: (
        built.append(1), original(self))[1])
    for suffix in (".svg", ".json"):
        six = tmp_path / f"six{suffix}"
        save_strokes(random_list(0, 5, 100, 60), tmp_path / f"five{suffix}")
        assert len(load_strokes(tmp_path / f"five{suffix}")) == 5
        text = (tmp_path / f"five{suffix}").read_text()
        if suffix == ".svg":  # one more stroke element: a copy of the last
            last = text[text.rindex("<", 0, text.rindex("</svg>")):text.rindex("</svg>")]
            six.write_text(text.replace("</svg>", last + "</svg>"))
        else:
            doc = json.loads(text)
            doc["strokes"].append(doc["strokes"][-1])
            six.write_text(json.dumps(doc))
        built.clear()
        with pytest.raises(BrushworkError, match=f"^{six}: more than 5 strokes; a painting holds at most 5$"):
            load_strokes(six)
        assert len(built) <= 5, suffix  # refused while parsing, not after building all six
    assert files_module.load_strokes is load_strokes


def test_same_file_sees_through_spellings_symlinks_and_hard_links(tmp_path):
    from brushwork.files import same_file

    photo = tmp_path / "photo.png"
    photo.write_bytes(b"x")
    (tmp_path / "link.png").symlink_to(photo)
    os.link(photo, tmp_path / "hard.png")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dirlink").symlink_to(tmp_path)
    for other in (photo, tmp_path / "dir" / ".." / "photo.png", tmp_path / "link.png", tmp_path / "hard.png",
                  tmp_path / "dirlink" / "photo.png", os.path.relpath(photo)):
        assert same_file(other, photo) and same_file(photo, other), other
    (tmp_path / "dangling.png").symlink_to(tmp_path / "future.png")  # outputs need not exist yet
    assert same_file(tmp_path / "dangling.png", tmp_path / "dirlink" / "future.png")
    assert not same_file(tmp_path / "other.png", photo)
    assert not same_file(tmp_path / "other.png", tmp_path / "another.png")


def test_outputs_are_checked_against_every_input_and_each_other(tmp_path):
    from brushwork.files import refuse_collisions

    photo, style = tmp_path / "photo.png", tmp_path / "starry.png"
    photo.write_bytes(b"p")
    style.write_bytes(b"s")
    inputs = [("the photo", photo), ("--style", style)]
    with pytest.raises(BrushworkError, match=r"^--png output .*starry\.png is the input file .*starry\.png "
                                             r"\(--style\); choose another output path$"):
        refuse_collisions([("output", tmp_path / "starry.svg"), ("--png output", tmp_path / "starry.png")], inputs)
    with pytest.raises(BrushworkError, match=r"^output .*a\.svg and --animate .*a\.svg are the same file; "):
        refuse_collisions([("output", tmp_path / "a.svg"), ("--animate", tmp_path / "x" / ".." / "a.svg")],
                          inputs)
    refuse_collisions([("output", tmp_path / "a.svg"), ("--png output", tmp_path / "a.png")], inputs)
    with pytest.raises(BrushworkError, match=r"^output .*a\.svg is the input file .*a\.svg; choose"):
        refuse_overwriting_inputs(tmp_path / "a.svg", tmp_path / "a.svg")
