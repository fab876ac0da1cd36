"""Training the AdaIN decoder (`brushwork train-decoder`): the loss falls, a run resumes exactly, the
exported file loads as the level-4 decoder, and bad inputs are named."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner

from brushwork import weights
from brushwork.cli import cli
from brushwork.errors import BrushworkError
from brushwork.stylize.models import (
    ADAIN_DECODER_FILE,
    CD16X,
    Net,
    _param_keys,
    cd16x_decoder_ops,
    check_keys,
    read_state_dict,
)
from brushwork.stylize.train_decoder import Data, DecoderConfig, batch_adain, export, train, validation_losses

from conftest import write_colour_field


@pytest.fixture
def folders(tmp_path):
    for i in range(3):
        write_colour_field(tmp_path / "content" / f"photo{i}.png", i, (80, 96), (6, 8))
    for i, name in enumerate(("ochre", "blue", "held")):
        write_colour_field(tmp_path / "styles" / f"{name}.png", 10 + i, (80, 96), (6, 8))
    return tmp_path / "content", tmp_path / "styles"


TINY = DecoderConfig(steps=12, batch=2, size=64, lr=2e-5, eval_every=4)


def test_adain_target_has_the_style_statistics() -> None:
    content, style = torch.rand(2, 5, 7, 9) * 3, torch.rand(2, 5, 6, 4) + 2
    target = batch_adain(content, style)
    assert torch.allclose(target.mean((2, 3)), style.mean((2, 3)), atol=1e-5)
    assert torch.allclose(target.std((2, 3), unbiased=False), style.std((2, 3), unbiased=False), atol=1e-3)


def test_training_lowers_the_loss_and_resumes_exactly(models, folders, tmp_path) -> None:
    data = Data.load([folders[0]], [folders[1]], ["held"], TINY.size)
    assert data.style_names == ["blue", "ochre"] and data.held_out_names == ["held"]
    torch.manual_seed(0)
    content = torch.stack([image[:, :64, :64] for image in data.content])
    styles = [image[:, :64, :64] for image in data.styles]
    before = validation_losses(models.encoder(4), models.decoder(4), content, styles, TINY.style_weight)

    decoder, state = train(TINY, data, tmp_path / "run.pt", models=models, device="cpu", log=lambda _: None)
    after = validation_losses(models.encoder(4), decoder, content, styles, TINY.style_weight)
    assert state.step == TINY.steps and [h["step"] for h in state.history] == [4, 8, 12]
    assert after.total < 0.9 * before.total

    # Stopped after 6 steps and resumed: the same weights as the uninterrupted run.
    half = tmp_path / "half.pt"
    train(replace(TINY), data, half, models=models, device="cpu", max_seconds=0, log=lambda _: None)
    resumed, resumed_state = train(TINY, data, half, models=models, device="cpu", log=lambda _: None)
    assert resumed_state.step == TINY.steps
    for a, b in zip(decoder.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)

    # The exported file is a cd16x level-4 decoder: strict keys, and it decodes as the trained network.
    output = tmp_path / "decoder.pth"
    export(decoder, TINY, state, data, output, "brushwork train-decoder ...")
    saved = read_state_dict(output)
    check_keys(output, saved, _param_keys(cd16x_decoder_ops(4)), CD16X.ignored, "decoder")
    loaded = Net(cd16x_decoder_ops(4), saved)
    features = torch.rand(1, 128, 8, 8)
    assert torch.allclose(loaded(features), decoder(features), atol=1e-6)
    card = output.with_suffix(".md").read_text()
    assert "held" in card and "brushwork train-decoder" in card


def test_the_shipped_decoder_is_used_by_adain(models) -> None:
    from importlib import resources

    path = resources.files("brushwork") / ADAIN_DECODER_FILE
    assert path.is_file(), "the AdaIN decoder ships as package data"
    assert models.adain_decoder(4) is not models.decoder(4)
    assert models.adain_decoder(3) is models.decoder(3)  # other levels decode with the reconstruction decoders


def test_bad_inputs_name_the_path(folders, tmp_path, weights_dir, monkeypatch) -> None:
    monkeypatch.setenv(weights.ENV_DIR, str(weights_dir))
    with pytest.raises(BrushworkError, match="--content .*nowhere: no such file or folder"):
        Data.load([tmp_path / "nowhere"], [folders[1]], [], 64)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BrushworkError, match="--styles: no images"):
        Data.load([folders[0]], [tmp_path / "empty"], [], 64)
    with pytest.raises(BrushworkError, match="--hold-out starry: not among"):
        Data.load([folders[0]], [folders[1]], ["starry"], 64)
    (folders[0] / "broken.png").write_bytes(b"not an image")
    with pytest.raises(BrushworkError, match="broken.png"):
        Data.load([folders[0]], [folders[1]], [], 64)
    result = CliRunner().invoke(cli, ["train-decoder", "--content", str(folders[0]), "--styles", str(folders[1]),
                                      "-o", str(tmp_path / "decoder.pt")])
    assert "expected a .pth file" in str(result.exception)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"garbage")
    (folders[0] / "broken.png").unlink()
    result = CliRunner().invoke(cli, ["train-decoder", "--content", str(folders[0]), "--styles", str(folders[1]),
                                      "--checkpoint", str(corrupt), "--device", "cpu", "-o", str(tmp_path / "d.pth")])
    assert f"--checkpoint {corrupt}: not a decoder checkpoint" in str(result.exception)
