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
