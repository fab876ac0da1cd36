"""The losses: one Gram matrix and Gram loss (the painter's style mode and Gatys), pixel L1, mass maps
and the Sinkhorn divergence - each on its input's device."""

import pytest
import torch

from brushwork.losses import gram, gram_count, gram_loss, gram_sum, mass_map, pixel_l1, sinkhorn_divergence


def features(seed: int, batch: int = 1, channels: int = 6, h: int = 10, w: int = 12) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(batch, channels, h, w, generator=g, dtype=torch.float64, device="cpu") + 0.3)


def test_gram_is_the_mean_outer_product_per_channel_and_location():
    feat = features(1, batch=2)
    for b in range(2):
        flat = feat[b].reshape(6, -1)
        torch.testing.assert_close(gram(feat)[b], flat @ flat.T / flat.numel())
    assert gram(feat).shape == (2, 6, 6)


def test_gram_does_not_depend_on_the_image_size():
    feat = features(2)
    torch.testing.assert_close(gram(torch.cat([feat, feat], dim=3)), gram(feat))


def test_gram_sums_over_tiles_add_up_to_the_whole():
    """What tiled Gatys relies on: the whole image's Gram from its tiles' sums and counts."""
    feat = features(3)
    left, right = feat[..., :5], feat[..., 5:]
    summed = (gram_sum(left) + gram_sum(right)) / (gram_count(left) + gram_count(right))
    torch.testing.assert_close(summed, gram(feat))


def test_gram_loss_is_relative():
    target = gram(features(4))
    other = gram(features(5))
    assert float(gram_loss(target, target)) == 0
    assert float(gram_loss(torch.zeros_like(target), target)) == pytest.approx(1.0)
    # scale-free: features 3x larger give Grams 9x larger and the same relative loss
    assert float(gram_loss(9 * other, 9 * target)) == pytest.approx(float(gram_loss(other, target)))
    # a batch is averaged
    batch = torch.cat([target, other])
    assert float(gram_loss(batch, target)) == pytest.approx(float(gram_loss(other, target)) / 2)


def test_gram_loss_moves_features_towards_the_target():
    target = gram(features(6))
    x = features(7).requires_grad_(True)
    before = gram_loss(gram(x), target)
    before.backward()
    with torch.no_grad():
        after = gram_loss(gram(x - 0.5 * x.grad / x.grad.abs().max()), target)
    before = before.detach()
    assert float(after) < float(before)


def test_painter_losses_make_their_tensors_on_the_inputs_device(meta_default):
    g = torch.Generator().manual_seed(0)
    canvas = torch.rand(2, 3, 16, 16, generator=g, device="cpu")
    target = torch.rand(2, 3, 16, 16, generator=g, device="cpu")
    assert pixel_l1(canvas, target).device.type == "cpu"
    a, b = mass_map(canvas, 4), mass_map(target, 4)
    assert a.device.type == "cpu" and torch.allclose(a.sum(1), torch.ones(2, device="cpu"))
    divergence = sinkhorn_divergence(a, b)
    assert divergence.device.type == "cpu" and torch.isfinite(divergence).all()
    assert float(sinkhorn_divergence(a, a).abs().max()) < 1e-4
    style = gram(features(8).float())
    assert float(gram_loss(gram(features(9).float()), style)) > 0


def _maps(seed: int, batch: int, grid: int, dtype: torch.dtype) -> torch.Tensor:
    """Mass maps as the painter makes them: positive, summing to 1, some cells nearly empty."""
    g = torch.Generator().manual_seed(seed)
    cells = torch.rand(batch, grid * grid, generator=g, dtype=dtype) ** 4 + 1e-4
    return cells / cells.sum(1, keepdim=True)


def _geomloss_reference(a: torch.Tensor, b: torch.Tensor, blur: float, scaling: float) -> torch.Tensor:
    """GeomLoss's generic solver on the grid's cell centres: what the painter used before."""
    from geomloss import SamplesLoss

    grid = int(round(a.shape[1] ** 0.5))
    centres = (torch.arange(grid, dtype=a.dtype) + 0.5) / grid
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    points = torch.stack([x.flatten(), y.flatten()], dim=1)[None].expand(a.shape[0], -1, -1).contiguous()
    loss = SamplesLoss("sinkhorn", p=2, blur=blur, scaling=scaling, debias=True, backend="tensorized")
    return loss(a, points, b, points)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("grid", "blur", "scaling"), [(8, 0.1, 0.5), (5, 0.05, 0.7), (12, 0.2, 0.5)])
def test_sinkhorn_divergence_equals_geomloss_in_value_and_gradient(dtype, grid, blur, scaling):
    """The grid solver is GeomLoss's annealed symmetric Sinkhorn, computed differently: the same
    divergence and the same gradient for both maps."""
    pytest.importorskip("geomloss")
    a0, b0 = _maps(1, 6, grid, dtype), _maps(2, 6, grid, dtype)
    tolerance = {"rtol": 1e-4, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-12}
    results = []
    for solver in (sinkhorn_divergence, _geomloss_reference):
        a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
        value = solver(a, b, blur, scaling)
        # an uneven weighting of the batch, so each map's gradient is checked on its own
        (value * torch.arange(1, 7, dtype=dtype)).sum().backward()
        results.append((value.detach(), a.grad, b.grad))
    ours, reference = results
    assert float(reference[0].min()) > 0
    for mine, theirs in zip(ours, reference, strict=True):
        torch.testing.assert_close(mine, theirs, **tolerance)
