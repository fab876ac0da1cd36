"""AdaIN / WCT feature transforms, their statistics, colour preservation and tile plans (no weights)."""

import pytest
import torch

from brushwork.errors import BrushworkError
from brushwork.settings import validate_style_weights
from brushwork.stylize.adain import adain, adain_map
from brushwork.stylize.tiling import ALIGN, borders, pad_to_grid, plan
from brushwork.stylize.transforms import FeatureStats, preserve_color
from brushwork.stylize.wct import wct, wct_map


def features(seed: int, channels: int = 8, h: int = 24, w: int = 30, mix: bool = True) -> torch.Tensor:
    """Random correlated, shifted and scaled features (1, C, H, W), like ReLU-free encoder output."""
    g = torch.Generator().manual_seed(seed)
    flat = torch.randn(channels, h * w, generator=g, dtype=torch.float64)
    if mix:
        # well-conditioned mixing: correlated channels, but no direction below WCT's eigenvalue floor
        flat = (torch.eye(channels, dtype=torch.float64)
                + 0.5 * torch.randn(channels, channels, generator=g, dtype=torch.float64) / channels**0.5) @ flat
    flat = flat * (1 + 3 * torch.rand(channels, 1, generator=g, dtype=torch.float64))
    flat = flat + 5 * torch.randn(channels, 1, generator=g, dtype=torch.float64)
    return flat.reshape(1, channels, h, w).float()


def moments(feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = feat[0].reshape(feat.shape[1], -1).double()
    mean = flat.mean(dim=1)
    centred = flat - mean[:, None]
    return mean, centred @ centred.T / flat.shape[1]


def test_adain_output_mean_and_std_equal_the_styles():
    content, style = features(1), features(2, h=17, w=40)
    out = adain(content, style)
    (om, ocov), (sm, scov) = moments(out), moments(style)
    torch.testing.assert_close(om, sm, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ocov.diagonal().sqrt(), scov.diagonal().sqrt(), rtol=1e-3, atol=1e-4)
    assert not torch.allclose(moments(content)[0], sm, atol=0.1)  # the test compares something that moved


def test_wct_output_covariance_equals_the_styles():
    content, style = features(3), features(4, h=20, w=20)
    out = wct(content, style)
    (om, ocov), (sm, scov) = moments(out), moments(style)
    torch.testing.assert_close(om, sm, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ocov, scov, rtol=1e-3, atol=1e-3 * float(scov.abs().max()))
    # AdaIN matches only the diagonal: its off-diagonal covariance stays the content's, not the style's.
    assert not torch.allclose(moments(adain(content, style))[1], scov, rtol=1e-2, atol=1e-2 * float(scov.abs().max()))


def test_wct_survives_degenerate_content():
    content = features(5, channels=6)
    content[:, 3] = content[:, 2] * 2  # rank-deficient covariance: whitening needs the eigenvalue floor
    content[:, 5] = 0.0
    out = wct(content, features(6, channels=6))
    assert torch.isfinite(out).all() and out.abs().max() < 1e3


@pytest.mark.parametrize("transform", [adain, wct])
def test_alpha_zero_is_the_identity_and_alpha_blends_linearly(transform):
    content, style = features(7), features(8)
    torch.testing.assert_close(transform(content, style, alpha=0.0), content, rtol=0, atol=1e-4)
    half = transform(content, style, alpha=0.5)
    torch.testing.assert_close(half, (content + transform(content, style)) / 2, rtol=1e-4, atol=1e-3)


def test_style_interpolation():
    content, a, b = features(9), features(10), features(11)
    stats = FeatureStats.of(content)
    sa, sb = FeatureStats.of(a), FeatureStats.of(b)
    for make in (adain_map, wct_map):
        only_a = make(stats, [sa, sb], [1.0, 0.0]).apply(content)
        torch.testing.assert_close(only_a, make(stats, [sa], [1.0]).apply(content))
        mixed = make(stats, [sa, sb], [0.5, 0.5]).apply(content)
        halfway = (make(stats, [sa], [1.0]).apply(content) + make(stats, [sb], [1.0]).apply(content)) / 2
        torch.testing.assert_close(mixed, halfway, rtol=1e-4, atol=1e-3)


def test_style_weights_validated_and_normalised():
    assert validate_style_weights(None, 2) == (0.5, 0.5)
    assert validate_style_weights([0.7, 0.3], 2) == pytest.approx((0.7, 0.3))
    assert validate_style_weights([3, 1], 2) == pytest.approx((0.75, 0.25))
    for bad, message in (([1.0], "1 value.* for 2 style"), ([0.5, -0.5], "finite and >= 0"),
                         ([0, 0], "all zero"), ([float("nan"), 1], "finite")):
        with pytest.raises(BrushworkError, match=f"--style-weights.*{message}|{message}"):
            validate_style_weights(bad, 2)


def test_stats_accumulate_over_tiles_and_respect_a_mask():
    feat = features(12, h=32, w=32)
    whole = FeatureStats.of(feat)
    parts = FeatureStats(feat.shape[1])
    for y in range(0, 32, 16):
        for x in range(0, 32, 8):
            parts.add(feat[..., y:y + 16, x:x + 8])
    torch.testing.assert_close(parts.mean, whole.mean)
    torch.testing.assert_close(parts.cov, whole.cov)
    mask = torch.zeros(32, 32)
    mask[:, :10] = 1
    torch.testing.assert_close(FeatureStats.of(feat, mask).cov, FeatureStats.of(feat[..., :10]).cov)
    empty = FeatureStats.of(feat, torch.zeros(32, 32))
    with pytest.raises(BrushworkError, match="mask selects no pixels"):
        _ = empty.mean  # the statistics are checked when read


def test_preserve_color_keeps_content_chroma_and_stylized_luminance():
    g = torch.Generator().manual_seed(0)
    content = 0.25 + 0.5 * torch.rand(1, 3, 8, 8, generator=g)
    stylized = 0.25 + 0.5 * torch.rand(1, 3, 8, 8, generator=g)
    out = preserve_color(stylized, content)
    to_ycc = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])

    def ycc(x):
        return torch.einsum("ij,bjhw->bihw", to_ycc, x)

    inside = ((out > 0) & (out < 1)).all(dim=1, keepdim=True)  # clipping may change out-of-gamut pixels
    assert inside.float().mean() > 0.8
    for got, want in ((ycc(out)[:, :1], ycc(stylized)[:, :1]), (ycc(out)[:, 1:], ycc(content)[:, 1:])):
        assert torch.allclose(got * inside, want * inside, atol=1e-5)


@pytest.mark.parametrize("height,width,tile,margin", [(64, 48, 64, 32), (400, 304, 128, 64), (160, 1024, 96, 0)])
def test_tile_plan_covers_every_pixel_once(height, width, tile, margin):
    tiles = plan(height, width, tile, margin)
    cover = torch.zeros(height, width, dtype=torch.int32)
    for t in tiles:
        cover[t.y0:t.y1, t.x0:t.x1] += 1
        assert t.wy0 <= t.y0 < t.y1 <= t.wy1 and t.wx0 <= t.x0 < t.x1 <= t.wx1
        assert all(v % ALIGN == 0 for v in (t.y0, t.y1, t.x0, t.x1, t.wy0, t.wy1, t.wx0, t.wx1))
        if len(tiles) > 1:  # context on every side, clipped only by the image edge
            assert (t.y0 - t.wy0, t.wy1 - t.y1) == (min(margin, t.y0), min(margin, height - t.y1))
            assert (t.x0 - t.wx0, t.wx1 - t.x1) == (min(margin, t.x0), min(margin, width - t.x1))
    assert (cover == 1).all()
    rows, cols = borders(tiles)
    assert all(r % (tile // ALIGN * ALIGN) == 0 for r in rows + cols)


def test_pad_to_grid_handles_odd_and_tiny_images():
    image = torch.rand(1, 3, 37, 5)
    padded, (h, w) = pad_to_grid(image)
    assert (h, w) == (37, 5) and padded.shape[-2:] == (48, 32)
    assert torch.equal(padded[..., :37, :5], image)
