"""Training styles (`brushwork train-style`) and using them (`brushwork styles`, `stylize --model`): the
loss falls, a run resumes exactly, the style file round-trips, and bad inputs are named."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from brushwork.cli import cli
from brushwork.errors import BrushworkError
from brushwork.images import resize_tensor
from brushwork.settings import StyleOptions
from brushwork.style_files import find_style
from brushwork.stylize import stylize, trained
from brushwork.stylize.collection import Generator
from brushwork.stylize.johnson import JohnsonNet
from brushwork.stylize.train_style import (
    CollectionConfig,
    JohnsonConfig,
    _styled_targets,
    export,
    johnson_losses,
    train_collection,
    train_johnson,
)
from brushwork.stylize.training import load_pool, random_crops

from conftest import write_colour_field


@pytest.fixture
def folders(tmp_path):
    for i in range(3):
        write_colour_field(tmp_path / "content" / f"photo{i}.png", i, (72, 88), (5, 7))
    for i in range(2):
        write_colour_field(tmp_path / "paintings" / f"painting{i}.png", 10 + i, (72, 88), (5, 7))
    return tmp_path / "content", tmp_path / "paintings"


# The last conv at the full rate: a 4-channel network has a quarter of the default's inputs to it, and a few
# steps must show a change.
TINY = JohnsonConfig(steps=4, batch=2, size=32, style_size=64, lr=1e-3, width=4, blocks=1, sample_every=3,
                     output_lr_scale=1.0)


@pytest.fixture(autouse=True)
def user_styles(tmp_path, monkeypatch):
    monkeypatch.setenv(trained.STYLES_ENV, str(tmp_path / "user-styles"))
    return tmp_path / "user-styles"


@pytest.mark.slow  # 16 steps: 20-40 s on 2 shared cores
def test_johnson_training_lowers_the_loss(models, folders, tmp_path) -> None:
    content, paintings = folders
    style = paintings / "painting0.png"
    net, state, names = train_johnson(replace(TINY, steps=16), style, [content], tmp_path / "a.ckpt", models=models,
                                      device="cpu", samples=tmp_path / "samples", log=lambda line: None)
    assert names == ["photo0.png", "photo1.png", "photo2.png"] and state.step == 16
    assert sorted(p.name for p in (tmp_path / "samples").iterdir())[:2] == ["step-000003.png", "step-000006.png"]
    first, last = state.history[0], state.history[-1]
    assert last["total"] < 0.7 * first["total"], state.history
    # the same crops (drawn as in training) score better with the trained network than with its start
    loss_net = models.loss_network("cpu")
    photos = random_crops(load_pool(sorted(content.iterdir()), 32), 8, 32, torch.Generator().manual_seed(5))
    style_t = load_pool([style], 32)[0][None]
    targets = _styled_targets(loss_net, resize_tensor(style_t, 52, 64))  # as trained: style_size 64
    torch.manual_seed(0)
    with torch.no_grad():
        start = johnson_losses(loss_net, JohnsonNet(net.shape)(photos), photos, targets, TINY.style_weight, 0)[0]
        after = johnson_losses(loss_net, net(photos), photos, targets, TINY.style_weight, 0)[0]
    assert after < start, (after, start)



def test_johnson_training_resumes_exactly(models, folders, tmp_path) -> None:
    content, paintings = folders
    style = paintings / "painting0.png"
    # stopped after every step (max_seconds=0) and resumed: the same weights as one uninterrupted run
    whole, _, _ = train_johnson(TINY, style, [content], tmp_path / "b.ckpt", models=models, device="cpu",
                                log=lambda line: None)
    lines: list[str] = []
    for _ in range(TINY.steps):
        resumed, state, _ = train_johnson(TINY, style, [content], tmp_path / "c.ckpt", models=models, device="cpu",
                                          max_seconds=0, log=lines.append)
    assert state.step == TINY.steps and lines[-1].endswith(f"at step {TINY.steps - 1}")
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(BrushworkError, match="c.ckpt was made by another run"):
        train_johnson(replace(TINY, lr=0.5), style, [content], tmp_path / "c.ckpt", models=models, device="cpu")


def test_style_file_round_trip_listing_and_stylize(models, folders, tmp_path, user_styles) -> None:
    content, paintings = folders
    net, state, names = train_johnson(replace(TINY, steps=2), paintings / "painting0.png", [content],
                                      tmp_path / "a.ckpt", models=models, device="cpu", log=lambda line: None)
    output = user_styles / "ochre.pt"
    user_styles.mkdir()
    export("johnson", net, replace(TINY, steps=2), state, ["painting0.png"], names, output, "brushwork train-style x")
    card = json.loads(output.with_suffix(".json").read_text())
    assert card["kind"] == "johnson" and card["steps_done"] == 2 and card["command"] == "brushwork train-style x"
    assert "painting0.png" in output.with_suffix(".md").read_text()
    loaded = trained.build(output, torch.device("cpu"))
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a.cpu(), b)
    # listed by name from the user folder; found by name and by path
    result = CliRunner().invoke(cli, ["styles", "--json"])
    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in json.loads(result.output)["styles"]}
    assert listed["ochre"]["kind"] == "johnson" and listed["ochre"]["card"] == str(output.with_suffix(".md"))
    assert find_style("ochre") == output and find_style(str(output)) == output
    photo = np.asarray(Image.open(content / "photo1.png"))
    by_name = stylize(photo, [], StyleOptions(model="ochre", tile=64), models=models)
    assert by_name.shape == photo.shape
    with torch.no_grad():
        expected = loaded.tiled(torch.tensor(photo).permute(2, 0, 1)[None].float() / 255, 4096).clamp(0, 1)
    assert np.abs(by_name.astype(int) - (expected[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(int)).max() <= 1
    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["stylize", str(content / "photo2.png"), "--model", str(output), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (88, 72)


def test_collection_training_runs_and_exports(folders, tmp_path) -> None:
    content, paintings = folders
    config = CollectionConfig(steps=3, batch=2, tile=16, width=4, blocks=1, sample_every=2)
    g, state, source, names = train_collection(config, [paintings], [content], tmp_path / "g.ckpt", device="cpu",
                                               samples=tmp_path / "samples", log=lambda line: None)
    assert state.step == 3 and source == ["painting0.png", "painting1.png"] and len(names) == 3
    assert set(state.history[-1]) >= {"d", "g", "keep"}
    export("collection", g, config, state, source, names, tmp_path / "c.pt", "brushwork train-style --collection x")
    built = trained.build(tmp_path / "c.pt", torch.device("cpu"))
    assert isinstance(built, Generator) and built.shape.tile == 16
    out = stylize(np.asarray(Image.open(content / "photo0.png")), [], StyleOptions(model=str(tmp_path / "c.pt")))
    assert out.shape == (72, 88, 3)


def test_bad_inputs_are_named(models, folders, tmp_path) -> None:
    content, paintings = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BrushworkError, match=f"--content: no images .* in {empty}"):
        train_johnson(TINY, paintings / "painting0.png", [empty], tmp_path / "x.ckpt", models=models, device="cpu")
    broken = tmp_path / "broken" / "broken.jpg"
    broken.parent.mkdir()
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(BrushworkError, match=str(broken)):
        train_johnson(TINY, paintings / "painting0.png", [broken.parent], tmp_path / "x.ckpt", models=models,
                      device="cpu")
    with pytest.raises(BrushworkError, match="a collection needs at least 2"):
        train_collection(CollectionConfig(tile=16), [paintings / "painting0.png"], [content], tmp_path / "y.ckpt",
                         device="cpu")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00" * 100)
    with pytest.raises(BrushworkError, match=f"--model {corrupt}: not a brushwork style file"):
        trained.build(corrupt, torch.device("cpu"))
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(BrushworkError, match="not a brushwork style file"):
        trained.read(tmp_path / "other.pt")
    with pytest.raises(BrushworkError, match="'nosuch': no such style"):
        find_style("nosuch")
    with pytest.raises(BrushworkError, match="--method trained needs --model"):
        StyleOptions(method="trained").validate(1)


def test_cli_errors(folders, tmp_path) -> None:
    content, paintings = folders

    class Runner(CliRunner):  # what a user sees: the message of the BrushworkError the command raised
        def invoke(self, *args, **kwargs):  # type: ignore[override]
            result = super().invoke(*args, **kwargs)
            result.output_bytes += str(result.exception).encode()
            return result

    runner = Runner()
    result = runner.invoke(cli, ["train-style", "--content", str(content), "-o", str(tmp_path / "a.pt")])
    assert result.exit_code != 0 and "give one STYLE image, or --collection" in result.output
    result = runner.invoke(cli, ["train-style", str(paintings / "painting0.png"), "--content", str(content),
                                 "-o", str(tmp_path / "a.pth")])
    assert result.exit_code != 0 and "expected a .pt file" in result.output
    result = runner.invoke(cli, ["train-style", "--collection", str(paintings), "--style-weight", "3",
                                 "--content", str(content), "-o", str(tmp_path / "a.pt")])
    assert result.exit_code != 0 and "--style-weight applies to Johnson" in result.output
    result = runner.invoke(cli, ["stylize", str(content / "photo0.png"), "--model", str(tmp_path / "none.pt"),
                                 "-o", str(tmp_path / "o.png")])
    assert result.exit_code != 0 and f"--model {tmp_path / 'none.pt'}: no such file" in result.output


def test_shipped_styles_are_listed_and_load(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(trained.STYLES_ENV, str(tmp_path / "none"))
    shipped = {entry.name: entry for entry in trained.available() if entry.shipped}
    assert {"starry_night": "johnson", "wave": "johnson", "six_paintings": "collection"}.items() <= \
        {name: entry.kind for name, entry in shipped.items()}.items()
    for entry in shipped.values():
        assert entry.card is not None and entry.card.is_file()
        assert isinstance(trained.build(entry.path, torch.device("cpu")), JohnsonNet | Generator)
