"""Johnson's transformation network and the collection generator at any size: shapes, whole-image
instance-norm statistics tile by tile (tiled == untiled), and the collection's tile split/join."""

from __future__ import annotations

import pytest
import torch

from brushwork.stylize.collection import (
    Generator,
    GeneratorShape,
    join_tiles,
    split_tiles,
    translate_seamed,
    translate_tiles,
)
from brushwork.stylize.johnson import SKIPS, JohnsonNet, JohnsonShape, run_tiled


def _net(seed: int = 0, skip: str = "photo") -> JohnsonNet:
    torch.manual_seed(seed)
    net = JohnsonNet(JohnsonShape(width=4, blocks=2, skip=skip)).eval()
    with torch.no_grad():  # away from the identity initialisation of the norms, so statistics matter
        for p in net.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return net


@pytest.mark.parametrize("height, width", [(64, 64), (48, 80), (37, 53)])
def test_johnson_keeps_the_size(height: int, width: int) -> None:
    with torch.no_grad():
        out = _net().tiled(torch.rand(1, 3, height, width), tile=1024)
    assert out.shape == (1, 3, height, width) and out.isfinite().all()


@pytest.mark.parametrize("skip", SKIPS)
def test_tiled_equals_untiled_with_whole_image_statistics(skip: str) -> None:
    net = _net(skip=skip)
    image = torch.rand(1, 3, 150, 230)
    with torch.no_grad():
        whole = net.tiled(image, tile=4096)
        tiled = net.tiled(image, tile=64)  # 3 x 4 tiles of 64 px
    assert (whole - tiled).abs().max() * 255 < 1
    # ...and the statistics are the whole image's: tiles normalised on their own differ visibly
    with torch.no_grad():
        alone = torch.cat([net.tiled(image[..., :, :112], 4096), net.tiled(image[..., :, 112:], 4096)], -1)
    assert (whole - alone).abs().max() * 255 > 2


def test_untrained_network_returns_the_photo_or_the_photo_at_its_learned_mean_colour() -> None:
    image = torch.rand(1, 3, 48, 64) * 0.5
    with torch.no_grad():
        assert torch.equal(JohnsonNet(JohnsonShape(4, 1, "photo"))(image), image)
        centred = JohnsonNet(JohnsonShape(4, 1, "centred"))(image)
    assert torch.allclose(centred - image, 0.45 - image.mean((2, 3), keepdim=True), atol=1e-6)
    with pytest.raises(ValueError, match="skip 'other'"):
        JohnsonNet(JohnsonShape(4, 1, "other"))


def test_tiled_stage_accumulates_each_norm_over_all_tiles() -> None:
    from brushwork.stylize.tiling import plan

    net = _net(1)
    image = torch.rand(1, 3, 96, 128) - 0.5
    with torch.no_grad():
        tiled = run_tiled(net.head, image, plan(96, 128, 32, 32), 1)
        whole = net.head[0](image)
        for layer in list(net.head)[1:]:
            whole = torch.relu(layer(whole)) if layer.__class__.__name__ == "InstanceNorm" else layer(whole)
    assert tiled.shape == (1, 16, 24, 32)
    assert torch.allclose(tiled, whole, atol=1e-4)


def test_split_and_join_tiles() -> None:
    crops = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    tiles = split_tiles(crops)
    assert tiles.shape == (8, 3, 4, 4)
    # image 0's quadrants, row-major, then image 1's
    assert torch.equal(tiles[0], crops[0, :, :4, :4]) and torch.equal(tiles[1], crops[0, :, :4, 4:])
    assert torch.equal(tiles[2], crops[0, :, 4:, :4]) and torch.equal(tiles[7], crops[1, :, 4:, 4:])
    assert torch.equal(join_tiles(tiles), crops)


def test_seam_training_translates_each_tile_on_its_own() -> None:
    torch.manual_seed(0)
    g = Generator(GeneratorShape(width=4, blocks=1, tile=16)).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.add_(0.05 * torch.randn_like(p))
        crops = torch.rand(2, 3, 32, 32)
        seamed = translate_seamed(g, crops)
        assert torch.allclose(seamed[1, :, 16:, :16], g(crops[1:2, :, 16:, :16])[0], atol=1e-5)
        # a tile's result does not depend on its neighbours: change one quadrant, the others stay
        changed = crops.clone()
        changed[0, :, :16, :16] = 0
        again = translate_seamed(g, changed)
        assert torch.allclose(again[0, :, 16:, :], seamed[0, :, 16:, :], atol=1e-6)
        assert not torch.allclose(again[0, :, :16, :16], seamed[0, :, :16, :16])
        # inference cuts an image the same way: 16 px tiles, any size
        image = torch.rand(1, 3, 40, 50)
        out = translate_tiles(g, image, batch=3)
        assert out.shape == image.shape
        assert torch.allclose(out[..., 16:32, 32:48], g(image[..., 16:32, 32:48]), atol=1e-5)


def test_untrained_generator_is_the_photo() -> None:
    image = torch.rand(1, 3, 64, 64) * 0.9 + 0.05
    with torch.no_grad():
        assert torch.allclose(Generator(GeneratorShape(tile=32))(image), image, atol=1e-5)
