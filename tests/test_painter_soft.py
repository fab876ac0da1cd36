import numpy as np
import pytest
import torch

from brushwork import raster
from brushwork.painter import soft
from brushwork.strokes import BRUSHES, Stroke, random_stroke

WIDTH, HEIGHT = 96, 72
CANVAS = soft.Window(0, 0, WIDTH, HEIGHT)


def soft_patch(stroke: Stroke, window: soft.Window = CANVAS):
    premultiplied, alpha = soft.draw(stroke.kind, soft.params_tensor([stroke]), [window])
    return premultiplied[0].permute(1, 2, 0).numpy(), alpha[0].numpy()


@pytest.mark.parametrize("kind", list(BRUSHES))
def test_soft_strokes_cover_what_the_exact_renderer_covers(kind):
    rng = np.random.default_rng(3)
    alpha_errors, colour_errors = [], []
    for _ in range(25):
        stroke = random_stroke(kind, WIDTH, HEIGHT, rng, min_size=8, max_size=40)
        exact = raster.render_patch(stroke, WIDTH, HEIGHT)
        premultiplied, alpha = soft_patch(stroke)
        area = exact.alpha.sum()
        alpha_errors.append(np.abs(alpha - exact.alpha).sum() / area)
        colour_errors.append(np.abs(premultiplied - exact.premultiplied).sum() / (3 * area))
    # Outlines agree up to antialiasing (a pixel-wide band) and cairo's flattening of curves.
    assert np.median(alpha_errors) < 0.08 and np.percentile(alpha_errors, 90) < 0.2
    assert np.median(colour_errors) < 0.06


def test_a_window_draws_the_same_pixels_as_the_whole_canvas():
    stroke = random_stroke("oilbrush", WIDTH, HEIGHT, np.random.default_rng(1), min_size=20, max_size=40)
    whole = soft_patch(stroke)[1]
    part = soft_patch(stroke, soft.Window(10, 20, 40, 30))[1]
    np.testing.assert_allclose(part, whole[20:50, 10:50], atol=1e-6)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled loop (CPU)", "window operations (GPU)"])
def test_compositing_matches_drawing_one_stroke_after_another_and_its_gradient(compiled, monkeypatch):
    monkeypatch.setattr(soft, "compiled_loop", lambda device: compiled)
    torch.manual_seed(0)
    windows = [soft.Window(1, 2, 5, 4), soft.Window(3, 0, 4, 6), soft.Window(0, 0, 6, 6)]
    placements = [soft.Placement(0, 0, windows[0]), soft.Placement(1, 1, windows[1]), soft.Placement(0, 1, windows[2])]
    drawings = [(torch.rand(2, 3, 6, 6, dtype=torch.float64), torch.rand(2, 6, 6, dtype=torch.float64))
                for _ in range(2)]
    base = torch.rand(3, 7, 8, dtype=torch.float64)
    expected = base.clone()
    for place in placements:
        w = place.window
        premultiplied, alpha = (t[place.item][..., : w.height, : w.width] for t in drawings[place.drawing])
        view = expected[:, w.y0:w.y0 + w.height, w.x0:w.x0 + w.width]
        view.copy_(premultiplied + view * (1 - alpha))
    torch.testing.assert_close(soft.composite(base, placements, drawings), expected)
    inputs = [t.requires_grad_() for t in (base, *drawings[0], *drawings[1])]
    assert torch.autograd.gradcheck(lambda b, p0, a0, p1, a1: soft.composite(b, placements, [(p0, a0), (p1, a1)]),
                                    inputs)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled loop (CPU)", "window operations (GPU)"])
def test_strokes_all_off_the_canvas_leave_it_as_it_was(compiled, monkeypatch):
    monkeypatch.setattr(soft, "compiled_loop", lambda device: compiled)
    base = torch.rand(3, 7, 8, requires_grad=True)
    canvas = soft.composite(base, [None, None], [])
    canvas.sum().backward()
    assert torch.equal(canvas, base) and torch.equal(base.grad, torch.ones_like(base))


@pytest.mark.parametrize("kind", list(BRUSHES))
def test_moving_a_stroke_onto_its_target_lowers_the_error_along_the_gradient(kind):
    rng = np.random.default_rng(4)
    truth = random_stroke(kind, WIDTH, HEIGHT, rng, min_size=20, max_size=30)
    target = torch.from_numpy(raster.render_patch(truth, WIDTH, HEIGHT).alpha)
    names = BRUSHES[kind].names
    shifted = list(truth.params)
    for name in names:
        if name in ("x0", "x1", "x2", "cx"):
            shifted[names.index(name)] += 3.0
    params = soft.params_tensor([Stroke(kind, tuple(shifted))]).requires_grad_()
    error = ((soft.draw(kind, params, [soft.Window(0, 0, WIDTH, HEIGHT)])[1][0] - target) ** 2).sum()
    error.backward()
    x_fields = [names.index(n) for n in names if BRUSHES[kind].fields[names.index(n)].role == "x"]
    assert (params.grad[0, x_fields] > 0).all()  # the error falls as the stroke moves back (-x)
