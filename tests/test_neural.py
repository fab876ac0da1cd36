import math

import numpy as np
import pytest
import torch

from brushwork import raster, renderers
from brushwork.errors import BrushworkError
from brushwork.neural import geometry, layout
from brushwork.neural.model import SUPPORT_MARGIN, NeuralRenderer
from brushwork.neural.train import TrainConfig, card_figures, draw_targets, export, psnr, train
from brushwork.strokes import BRUSHES, StrokeList

KINDS = list(BRUSHES)


@pytest.mark.parametrize("kind", KINDS)
def test_layout_maps_to_valid_strokes_and_back(kind):
    v = layout.sample(kind, 50, torch.Generator().manual_seed(0)).double()
    canvas = layout.to_canvas(kind, v, 64)
    assert torch.allclose(layout.from_canvas(kind, canvas, 64), v)
    StrokeList(64, 64, layout.to_strokes(kind, v, 64))  # every sample is a valid stroke


@pytest.mark.parametrize("kind", KINDS)
def test_output_shapes_dtypes_and_ranges(kind):
    model = NeuralRenderer(kind, size=24)
    v = layout.sample(kind, 5, torch.Generator().manual_seed(1))
    foreground, alpha = model(v)
    assert foreground.shape == (5, 3, 24, 24) and alpha.shape == (5, 1, 24, 24)
    assert foreground.dtype == alpha.dtype == torch.float32
    assert 0 <= alpha.min() and alpha.max() <= 1
    assert (foreground <= alpha + 1e-6).all() and foreground.min() >= 0  # premultiplied


def test_bad_kind_pathways_and_parameter_shapes_are_refused():
    with pytest.raises(BrushworkError, match="unknown brush kind 'crayon'"):
        NeuralRenderer("crayon")
    with pytest.raises(BrushworkError, match="unknown pathways"):
        NeuralRenderer("tape", pathways="triple")
    with pytest.raises(BrushworkError, match=r"expects parameters of shape \(N, 9\), got \(2, 4\)"):
        NeuralRenderer("tape")(torch.rand(2, 4))


def test_bezier_geometry_measures_distance_to_the_curve():
    # A straight horizontal marker stroke through the middle of a 32 px block, 8 px wide.
    v = torch.tensor([[8.0, 16, 16, 16, 24, 16, 8, 0, 0, 0, 1]])
    x, y = geometry.pixel_grid(32)
    features = geometry.bezier_features(v[:, None, None, :], x, y, 6, 6)[0]
    edge, t = features[..., 0], features[..., 1]
    squash = lambda d: geometry.EDGE * math.tanh(d / geometry.EDGE)  # noqa: E731
    assert abs(edge[16, 16].item() - squash(4 - 0.5)) < 1e-4  # 0.5 px from the axis, radius 4
    assert abs(edge[20, 16].item() - squash(4 - 4.5)) < 1e-4  # just outside the side
    assert abs(edge[16, 0].item() - squash(4 - math.hypot(7.5, 0.5))) < 1e-4  # beyond the round cap
    assert abs(edge[16, 5].item() - squash(4 - math.hypot(2.5, 0.5))) < 1e-4  # inside the round cap
    assert abs(t[10, 16].item() - (16.5 - 8) / 16) < 1e-3  # nearest point on the line


def test_geometry_is_differentiable_in_the_shape_parameters():
    for kind in KINDS:
        v = layout.sample(kind, 3, torch.Generator().manual_seed(2)).requires_grad_()
        foreground, alpha = NeuralRenderer(kind, size=16)(v)
        alpha.sum().backward()
        assert v.grad[:, :2].abs().sum() > 0, kind  # position moves the mask


def test_training_resumes_exactly_where_it_stopped(tmp_path):
    config = TrainConfig(kind="tape", size=16, hidden=8, steps=6, batch=4, validation=8, eval_every=3)
    straight, _, fidelity = train(config, tmp_path / "straight.pt", log=lambda _: None)
    train(TrainConfig(**{**config.__dict__, "steps": 6}), tmp_path / "resumed.pt", log=lambda _: None,
          max_seconds=1e-9)  # stops after its first step
    resumed, state, _ = train(config, tmp_path / "resumed.pt", log=lambda _: None)
    assert state.step == 6
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="another configuration"):
        train(TrainConfig(**{**config.__dict__, "hidden": 9}), tmp_path / "resumed.pt", log=lambda _: None)


def test_training_runs_on_the_device_asked_and_exports_weights_loadable_anywhere(tmp_path):
    config = TrainConfig(kind="pencil", size=16, hidden=8, steps=2, batch=4, validation=8, eval_every=2)
    with torch.device("meta"):  # a tensor made without the training device would be meta
        model, state, fidelity = train(config, tmp_path / "c.pt", log=lambda _: None, device="cpu")
    assert state.step == 2 and math.isfinite(fidelity.psnr)
    figures = card_figures(model, config, state, fidelity)
    assert figures["environment"]["device"] == "cpu"
    export(model, figures, tmp_path / "pencil", "brushwork train-renderer --kind pencil --steps 2")
    saved = torch.load(tmp_path / "pencil" / "renderer.pt", weights_only=True)
    assert all(t.device.type == "cpu" for t in saved["state_dict"].values())
    assert "(cpu)" in (tmp_path / "pencil" / "card.md").read_text()
    with pytest.raises(BrushworkError, match="--device cuda:7"):
        train(config, tmp_path / "d.pt", log=lambda _: None, device="cuda:7")


def test_training_reduces_the_error(tmp_path):
    config = TrainConfig(kind="tape", size=16, hidden=8, steps=80, batch=16, lr=1e-2, warmup=10,
                         validation=32, eval_every=80)
    model = NeuralRenderer("tape", 16, 8)
    v = layout.sample("tape", 32, torch.Generator().manual_seed(3))
    fg, alpha = draw_targets("tape", v, 16)
    before = psnr(model(v)[1].detach(), alpha)
    trained, _, _ = train(config, tmp_path / "c.pt", log=lambda _: None)
    assert psnr(trained(v)[1].detach(), alpha) > before + 5


@pytest.mark.parametrize("kind", KINDS)
def test_renderer_works_only_where_a_stroke_can_ink(kind):
    # The support a pixel wide holds every pixel the exact mark inks (anti-aliasing reaches a pixel
    # centre up to 0.71 px outside the edge), so leaving the rest empty loses nothing; the renderer
    # puts nothing outside its support.
    size = 32
    v = layout.sample(kind, 64, torch.Generator().manual_seed(3))
    canvas = layout.to_canvas(kind, v, size)
    _, exact_alpha = draw_targets(kind, v, size)
    x, y = geometry.pixel_grid(size)
    brush = renderers.load(kind).brush
    support = brush.support(canvas, x, y, 1.0)
    assert not (exact_alpha[:, 0] > 1 / 255)[~support].any()
    assert 0.02 < support.float().mean() < 0.5  # a real saving, not every pixel
    _, alpha = NeuralRenderer(kind, size=size)(v)
    outside = ~brush.support(canvas, x, y, SUPPORT_MARGIN)
    assert (alpha[:, 0][outside] == 0).all()


# --- the shipped renderers ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_renderer_matches_raster_within_its_card(kind):
    card = renderers.card(kind)
    assert card is not None, f"no shipped {kind} renderer"
    model = renderers.load(kind)
    assert model.size == card["size"] and sum(p.numel() for p in model.parameters()) == card["parameters"]
    v = layout.sample(kind, 128, torch.Generator().manual_seed(99))  # fixed strokes, not the card's set
    foreground, alpha = draw_targets(kind, v, model.size)
    with torch.no_grad():
        predicted_fg, predicted_alpha = model(v)
    margin = 1.5  # dB: 128 strokes vary more than the card's 512
    assert psnr(predicted_fg, foreground) >= card["psnr_foreground"] - margin
    assert psnr(predicted_alpha, alpha) >= card["psnr_alpha"] - margin


def test_neural_and_exact_composites_agree_on_a_canvas():
    model = renderers.load("markerpen")
    v = layout.sample("markerpen", 1, torch.Generator().manual_seed(5))
    with torch.no_grad():
        foreground, alpha = model(v)
    white = torch.ones(3, model.size, model.size)
    neural = (foreground[0] + white * (1 - alpha[0])).permute(1, 2, 0).numpy()
    exact = raster.render(StrokeList(model.size, model.size, layout.to_strokes("markerpen", v, model.size)))
    assert psnr(torch.from_numpy(neural), torch.from_numpy(exact / 255.0)) > 25
    assert np.isfinite(neural).all()


def test_missing_or_corrupt_renderer_files_are_explained(tmp_path):
    with pytest.raises(BrushworkError, match="no trained tape renderer: .* is missing; .*train-renderer --kind tape"):
        renderers.load("tape", tmp_path / "none.pt")
    corrupt = tmp_path / "renderer.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(BrushworkError, match="is corrupt or incompatible"):
        renderers.load("tape", corrupt)
    torch.save({"config": NeuralRenderer("oilbrush", 16).config(), "state_dict": {}}, corrupt)
    with pytest.raises(BrushworkError, match="holds a oilbrush renderer"):
        renderers.load("tape", corrupt)
