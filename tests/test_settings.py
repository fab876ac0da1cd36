"""Settings owned once: the CLI's options, the server's request schema and the options document are
derived from the fields of PaintSettings and StyleOptions, and agree with them."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import click
import pytest

from brushwork import settings
from brushwork.cli import cli, settings_options
from brushwork.errors import BrushworkError
from brushwork.server.app import PaintParams, StylizeParams, params_model
from brushwork.settings import PaintSettings, StyleOptions, setting, specs, validate_settings
from brushwork.strokes import BRUSHES

KINDS = [("paint", PaintSettings, PaintParams), ("stylize", StyleOptions, StylizeParams)]


def cli_params(command: str) -> dict[str, click.Option]:
    return {p.name: p for p in cli.commands[command].params if isinstance(p, click.Option)}


def cli_default(option: click.Option):
    """The value the command receives when the option is left out (after its type's conversion)."""
    with click.Context(cli.commands["paint"]) as ctx:
        return option.type_cast_value(ctx, option.get_default(ctx)) if option.default is not None else None


@pytest.mark.parametrize("command, cls, model", KINDS)
def test_cli_server_and_library_defaults_agree(command, cls, model):
    options, schema = cli_params(command), model.model_fields
    offered = {"cli": set(), "server": set()}
    for f, spec in specs(cls):
        library = f.default
        if "cli" in spec.layers:
            offered["cli"].add(f.name)
            assert cli_default(options[f.name]) == library, f.name
        if "server" in spec.layers:
            offered["server"].add(f.name)
            default = schema[f.name].default
            assert (tuple(default) if isinstance(default, list) else default) == library, f.name
        if spec.layers:  # a field left out of a job takes the library's default, here the schema's too
            assert f.name in {field["name"] for field in settings.describe()[command]["fields"]}
    assert offered["cli"] <= set(options)
    assert offered["server"] == set(schema) - {"style"}  # the schema offers nothing the settings do not own
    # the library-only fields (tuning) stay out of the CLI and the schema
    internal = {f.name for f, spec in specs(cls) if not spec.layers}
    assert not internal & (set(options) | set(schema))


def test_the_server_default_strokes_are_the_librarys():
    # the example: the server said 500 where the painter says 1,000
    assert PaintParams.model_validate({}).strokes == PaintSettings().strokes == 1000
    assert cli_params("paint")["strokes"].default == 1000


@pytest.mark.parametrize("cls", [PaintSettings, StyleOptions])
def test_every_field_has_a_label_and_help(cls):
    for f, spec in specs(cls):
        assert spec.label and spec.label[0].isupper(), f.name
        assert len(spec.help) > 10 and spec.help.endswith((".", ")")), f.name


def _schema_bounds(model, name: str) -> dict:
    prop = model.model_json_schema()["properties"][name]
    for option in [prop, *prop.get("anyOf", [])]:
        for one in [option, *(option.get("anyOf", [])), option.get("items", {})]:
            found = {k: one[k] for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") if k in one}
            if found:
                return found
    return {}


@pytest.mark.parametrize("command, cls, model", KINDS)
def test_ranges_agree_between_validation_schema_and_describe(command, cls, model):
    described = {field["name"]: field for field in settings.describe()[command]["fields"]}
    checked = 0
    for f, spec in specs(cls):
        if spec.type not in ("int", "float") or spec.many or spec.min is None and spec.max is None:
            continue  # (style_weights, a list, is checked against the number of styles: test_stylize)
        if spec.layers:
            field = described[f.name]
            assert (field["min"], field["max"], field["min_open"], field["max_open"]) == \
                   (spec.min, spec.max, spec.min_open, spec.max_open)
        if "server" in spec.layers:
            bounds = _schema_bounds(model, f.name)
            if spec.min is not None:
                assert bounds["exclusiveMinimum" if spec.min_open else "minimum"] == spec.min, f.name
            if spec.max is not None:
                assert bounds["exclusiveMaximum" if spec.max_open else "maximum"] == spec.max, f.name
        # the library refuses just past each bound and takes the bound itself when it is closed
        whole = spec.type == "int"
        for bound, outside, is_open in ((spec.min, -1, spec.min_open), (spec.max, +1, spec.max_open)):
            if bound is None:
                continue
            step = 1 if whole else 1e-3 * max(1.0, abs(bound))
            bad = (int(bound) if whole else bound) + outside * step
            inside_value = int(bound) if whole else bound
            if is_open:
                bad, inside_value = inside_value, inside_value - outside * step
            _refused(cls, f.name, bad, spec.option(f.name))
            _accepted(cls, f.name, inside_value)
            checked += 1
    assert checked >= 6


def _with(cls, name, value):
    values = {name: value}
    if cls is PaintSettings and name == "min_size":
        values["max_size"] = None
    return dataclasses.replace(cls(), **values)


def _validate(options) -> None:
    if isinstance(options, PaintSettings):
        validate_settings(options)
    else:
        options.validate(1)


def _refused(cls, name, value, option):
    with pytest.raises(BrushworkError, match=f"^{re.escape(option)} {re.escape(str(value))}: expected"):
        _validate(_with(cls, name, value))


def _accepted(cls, name, value):
    _validate(_with(cls, name, value))


def test_unknown_method_and_device_are_errors_naming_the_parameter():
    with pytest.raises(BrushworkError, match="--method 'cnn': expected one of adain, wct, gatys"):
        StyleOptions(method="cnn").validate(1)
    for options in (StyleOptions(device="gpu"), PaintSettings(device="tpu")):
        with pytest.raises(BrushworkError, match="--device '(gpu|tpu)': expected one of auto, cpu, cuda"):
            _validate(options)
    with pytest.raises(BrushworkError, match="unknown brush 'crayon'"):
        validate_settings(PaintSettings(brushes=("crayon",)))
    for model, params in ((PaintParams, {"device": "gpu"}), (StylizeParams, {"method": "cnn"})):
        from pydantic import ValidationError

        with pytest.raises(ValidationError, match="device|method"):
            model.model_validate({"style": {"encoding": "png", "data": ""}, **params} if model is StylizeParams
                                 else params)


def test_each_method_has_its_own_default_strength():
    assert StyleOptions(method="wct").validate(1).alpha == 0.6  # Li et al.'s multi-level blend
    assert {StyleOptions(method=m).validate(1).alpha for m in ("adain", "gatys", "microast")} == {1.0}
    assert StyleOptions(method="wct", alpha=1.0).validate(1).alpha == 1.0  # the user's own wins
    document = settings.describe()
    assert {m["name"]: m["alpha"] for m in document["methods"]}["wct"] == 0.6
    alpha = next(f for f in document["stylize"]["fields"] if f["name"] == "alpha")
    assert alpha["default"] is None and alpha["default_by"] == "methods"
    with pytest.raises(BrushworkError, match="--alpha 1.5: expected"):
        StyleOptions(method="wct", alpha=1.5).validate(1)


def test_cli_refuses_an_unknown_method_in_one_line(capsys, tmp_path):
    from brushwork.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["stylize", str(tmp_path / "a.png"), "--style", str(tmp_path / "b.png"), "--method", "cnn",
              "-o", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert exit.value.code == 1
    assert err == "error: --method 'cnn': expected one of adain, wct, gatys, microast, trained\n"


def test_describe_is_json_and_torch_free():
    code = ("import json, sys; from brushwork import settings; doc = settings.describe(); json.dumps(doc); "
            "assert 'torch' not in sys.modules, 'torch was imported'; print(json.dumps(doc))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    doc = json.loads(done.stdout)
    assert doc == json.loads(json.dumps(settings.describe()))
    assert [b["name"] for b in doc["brushes"]] == list(BRUSHES)
    assert all(b["label"] and b["description"] for b in doc["brushes"])
    assert [m["name"] for m in doc["methods"]] == list(settings.METHODS)
    assert [d["name"] for d in doc["devices"]] == ["auto", "cpu", "cuda", "mps"]
    assert "available_devices" not in doc  # the server's answer adds it
    paint = {f["name"]: f for f in doc["paint"]["fields"]}
    assert paint["strokes"] | {"help": ""} == {
        "name": "strokes", "type": "int", "default": 1000, "min": 1, "max": 200000, "min_open": False,
        "max_open": False, "choices": None, "many": False, "max_items": None, "label": "Strokes", "help": "",
        "editor": True, "server": True, "option": "--strokes", "default_by": None}
    assert paint["brushes"]["type"] == "choices" and paint["brushes"]["choices"] == "brushes"
    assert paint["brushes"]["default"] == ["oilbrush"] and paint["brushes"]["option"] == "--brush"
    editor = {f["name"] for f in doc["paint"]["fields"] if f["editor"]}
    assert {"strokes", "brushes", "seed", "working_size", "refine_iterations", "opaque", "device"} <= editor
    stylize = {f["name"] for f in doc["stylize"]["fields"] if f["editor"]}
    assert {"method", "alpha", "preserve_color", "style_size", "steps", "device"} <= stylize
    assert all(f["server"] for f in doc["paint"]["fields"] + doc["stylize"]["fields"] if f["editor"])


def test_brushwork_options_json_prints_the_document(capsys):
    from brushwork.cli import main

    main(["options", "--json"])
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(settings.describe()))
    main(["options"])
    text = capsys.readouterr().out
    assert "--working-size" in text and "--device" in text and "methods: adain, wct, gatys" in text


def test_a_new_setting_appears_in_the_cli_and_the_schema():
    @dataclasses.dataclass(frozen=True)
    class MoreSettings(PaintSettings):
        wobble: float = setting(0.25, "Wobble", "How much the strokes wobble.", "float", min=0, max=1, editor=True)

    seen = {}

    @click.command()
    @settings_options(MoreSettings)
    def command(settings):
        seen.update(settings)

    command.main(["--wobble", "0.5", "--strokes", "7"], standalone_mode=False)
    assert seen["wobble"] == 0.5 and seen["strokes"] == 7 and seen["brushes"] == ("oilbrush",)
    model = params_model("MoreParams", MoreSettings, "more")
    assert model.model_validate({}).wobble == 0.25
    assert model.model_json_schema()["properties"]["wobble"]["maximum"] == 1
    with pytest.raises(BrushworkError, match=r"--wobble 2: expected a number in \[0, 1\]"):
        validate_settings(MoreSettings(wobble=2))


def test_brush_is_taken_by_its_old_name_and_as_one_kind():
    assert PaintParams.model_validate({"brush": "tape"}).brushes == ["tape"]
    assert PaintParams.model_validate({"brushes": ["tape", "oilbrush"]}).brushes == ["tape", "oilbrush"]
