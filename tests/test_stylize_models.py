"""Encoder/decoder file layouts: the default cd16x files, and user-supplied original AdaIN / torchvision
VGG-19 files (tested with randomly initialised modules built like the originals)."""

import pytest
import torch
from torch import nn

from brushwork.stylize.models import CD16xModels, VGGModels, read_state_dict
from brushwork.weights import WeightsError

from conftest import content_photo


def adain_vgg() -> nn.Sequential:
    """naoto0804/pytorch-AdaIN net.vgg: 1x1 conv, then reflection-padded 3x3 convs, ceil-mode pools."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    cin = 3
    for block, (width, count) in enumerate(((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))):
        if block:
            layers.append(nn.MaxPool2d(2, 2, 0, ceil_mode=True))
        for _ in range(count):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, width, 3), nn.ReLU()]
            cin = width
    return nn.Sequential(*layers)


def adain_decoder() -> nn.Sequential:
    """naoto0804/pytorch-AdaIN net.decoder: relu4_1 (512 channels) → RGB."""
    layers: list[nn.Module] = []
    for cin, cout, up in ((512, 256, True), (256, 256, False), (256, 256, False), (256, 256, False),
                          (256, 128, True), (128, 128, False), (128, 64, True), (64, 64, False), (64, 3, False)):
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
        if cout != 3:
            layers.append(nn.ReLU())
        if up:
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
    return nn.Sequential(*layers)


def torchvision_features() -> nn.Sequential:
    """torchvision.models.vgg19().features (configuration "E")."""
    layers: list[nn.Module] = []
    cin = 3
    for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"):
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, item, 3, padding=1), nn.ReLU(inplace=True)]
            cin = item
    return nn.Sequential(*layers)


@pytest.fixture(scope="module")
def adain_files(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("adain")
    vgg, decoder = adain_vgg().eval(), adain_decoder().eval()
    torch.save(vgg.state_dict(), folder / "vgg_normalised.pth")
    torch.save(decoder.state_dict(), folder / "decoder.pth")
    return vgg, decoder, folder / "vgg_normalised.pth", folder / "decoder.pth"


def test_original_adain_vgg_and_decoder_files(adain_files):
    vgg, decoder, vgg_path, decoder_path = adain_files
    models = VGGModels(vgg_path, decoder_path)
    assert models.name == "vgg_normalised" and models.levels() == (4,)
    x = torch.rand(1, 3, 48, 40)
    with torch.no_grad():
        relu4_1 = vgg[:31](x)
        torch.testing.assert_close(models.encoder(4)(x), relu4_1)
        torch.testing.assert_close(models.decoder(4)(relu4_1), decoder(relu4_1))
        taps = models.loss_network()(x, ("1", "3", "5"))
        torch.testing.assert_close(taps["1"], vgg[:4](x))
        torch.testing.assert_close(taps["3"], vgg[:18](x))
        torch.testing.assert_close(taps["5"], vgg[:44](x))
    with pytest.raises(WeightsError, match="no decoder for level 5"):
        models.decoder(5)


def test_torchvision_vgg19_file(tmp_path):
    torch.manual_seed(1)
    features = torchvision_features().eval()
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # a whole vgg19() state dict carries its classifier
    torch.save(state, tmp_path / "vgg19.pth")
    models = VGGModels(tmp_path / "vgg19.pth")
    assert models.name == "torchvision" and models.levels() == ()
    x = torch.rand(1, 3, 64, 48)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    normalised = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.no_grad():
        taps = models.loss_network()(x, ("2", "4", "5"))
        torch.testing.assert_close(taps["2"], features[:7](normalised))
        torch.testing.assert_close(taps["4"], features[:21](normalised))
        torch.testing.assert_close(taps["5"], features[:30](normalised))
    with pytest.raises(WeightsError, match="AdaIN decoder decodes the original vgg_normalised"):
        VGGModels(tmp_path / "vgg19.pth", tmp_path / "vgg19.pth")


def test_wrong_key_layout_names_missing_and_unexpected_keys(tmp_path, weights_dir):
    state = read_state_dict(weights_dir / "cd16x" / "3SE.pth")
    state["conv22_renamed.weight"] = state.pop("conv22.weight")
    (tmp_path / "cd16x").mkdir()
    torch.save({"epoch": 20, "model": state}, tmp_path / "cd16x" / "3SE.pth")
    with pytest.raises(WeightsError) as err:
        CD16xModels(directory=tmp_path).encoder(3)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'cd16x' / '3SE.pth'}: not a cd16x level-3 encoder file")
    assert "missing keys conv22.weight" in message and "unexpected keys conv22_renamed.weight" in message
    assert "aux" not in message  # the distillation-only *_aux layers are expected extras, not errors


def test_user_files_with_wrong_layouts(tmp_path, adain_files):
    _, decoder, vgg_path, _ = adain_files
    truncated = {k: v for k, v in read_state_dict(vgg_path).items() if not k.startswith("51.")}
    torch.save(truncated, tmp_path / "short.pth")
    with pytest.raises(WeightsError,
                       match=r"short.pth: not a vgg_normalised VGG-19 file: missing keys 51.weight, 51.bias"):
        VGGModels(tmp_path / "short.pth")
    torch.save({"foo.weight": torch.zeros(1)}, tmp_path / "odd.pth")
    with pytest.raises(WeightsError, match="odd.pth: unknown VGG-19 layout"):
        VGGModels(tmp_path / "odd.pth")
    torch.save({f"decoder.{k}": v for k, v in decoder.state_dict().items()}, tmp_path / "prefixed.pth")
    with pytest.raises(WeightsError, match=r"prefixed.pth: not a AdaIN decoder file: missing keys 1.weight.*"
                                           r"unexpected keys decoder.1.bias"):
        VGGModels(vgg_path, tmp_path / "prefixed.pth")
    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(WeightsError, match="text.pth: not a PyTorch weights file"):
        VGGModels(tmp_path / "text.pth")


def test_cd16x_pairs_reconstruct_a_photo(weights_dir):
    """Each level's decoder inverts its encoder on a real photo (SOURCES.md: level 5 ≈ 21 dB at 512 px)."""
    from brushwork.images import load_rgb8, resize_tensor, to_tensor

    models = CD16xModels(directory=weights_dir, download=False)
    x = resize_tensor(to_tensor(load_rgb8(content_photo("chicago.jpg"))), 160, 240)
    for level in models.levels():
        with torch.no_grad():
            feat = models.encoder(level)(x)
            assert feat.shape[-2:] == (160 >> (level - 1), 240 >> (level - 1))
            out = models.decoder(level)(feat).clamp(0, 1)
        assert out.shape == x.shape
        psnr = -10 * torch.log10(((out - x) ** 2).mean())
        assert psnr > (40, 27, 24, 21, 17)[level - 1], (level, float(psnr))  # measured: 45, 30, 27, 23, 20 dB
