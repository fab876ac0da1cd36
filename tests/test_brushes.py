"""The brush registry and the seam it promises: every kind is one module in brushwork.brushes, and
everything else asks the registry. Each kind's drawings agree with one another (raster, SVG, flat
SVG, bounds), whatever kind it is, so a new kind is checked by these tests without editing them."""

import ast
import io
import re
import subprocess
import sys
from pathlib import Path

import cairosvg
import numpy as np
import pytest
import torch
from PIL import Image

import brushwork
from brushwork import brushes, raster, svg
from brushwork.errors import BrushworkError
from brushwork.neural import layout
from brushwork.neural.model import NeuralRenderer
from brushwork.painter import paint, soft
from brushwork.strokes import BRUSHES, Stroke, StrokeList, random_stroke

from conftest import psnr

PACKAGE = Path(brushwork.__file__).parent
KINDS = list(brushes.names())


def kind_list(kind: str, count: int = 30, width: int = 160, height: int = 120, seed: int = 0,
              background=(0.95, 0.93, 0.9)) -> StrokeList:
    rng = np.random.default_rng(seed)
    side = max(width, height)
    return StrokeList(width, height, tuple(random_stroke(kind, width, height, rng, min_size=0.03 * side,
                                                         max_size=0.3 * side) for _ in range(count)), background)


def test_registry_lists_every_kind_once_in_a_stable_order():
    assert KINDS == ["markerpen", "watercolor", "oilbrush", "tape", "pencil"]
    assert [b.kind.name for b in brushes.registered()] == KINDS
    assert list(BRUSHES) == KINDS and all(BRUSHES[n] is brushes.get(n).kind for n in KINDS)
    assert brushes.DEFAULT in KINDS
    for brush in brushes.registered():
        assert brush.kind.label and brush.kind.description and all(f.doc for f in brush.kind.fields)
        # each kind's module is named after it
        assert sys.modules[type(brush).__module__].__name__ == f"brushwork.brushes.{brush.kind.name}"


def test_an_unknown_brush_is_refused_with_the_known_ones():
    with pytest.raises(BrushworkError, match=r"unknown brush 'crayon'; expected one of markerpen, .*pencil"):
        brushes.get("crayon")


def test_brushes_strokes_and_settings_import_without_torch():
    code = ("import sys, brushwork.settings, brushwork.strokes, brushwork.brushes; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_module_outside_brushes_names_a_brush_kind():
    mentions = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("brushes/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                mentions |= {(relative, kind) for kind in KINDS if re.search(rf"\b{kind}\b", node.value)}
            if isinstance(node, ast.ImportFrom) and node.module in {f"brushwork.brushes.{kind}" for kind in KINDS}:
                mentions.add((relative, node.module))  # a kind's module is reached through the registry
    assert not mentions, sorted(mentions)


@pytest.mark.parametrize("kind", KINDS)
def test_cairosvg_draws_each_kinds_svg_like_raster(kind):
    painting = kind_list(kind)
    png = cairosvg.svg2png(bytestring=svg.write(painting).encode())
    assert psnr(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), raster.render(painting)) >= 40


@pytest.mark.parametrize("kind", KINDS)
def test_each_kinds_flat_svg_draws_what_raster_draws(kind):
    painting = kind_list(kind, seed=1)
    png = cairosvg.svg2png(bytestring=svg.write_flat(painting).encode())
    assert psnr(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), raster.render(painting)) >= 35


@pytest.mark.parametrize("kind", KINDS)
def test_each_kinds_svg_reads_back_exactly(kind):
    painting = kind_list(kind, seed=2, background=None)
    assert svg.read(svg.write(painting)) == painting


@pytest.mark.parametrize("kind", KINDS)
def test_bounds_hold_every_drawn_pixel_and_area_ranks_sizes(kind):
    rng = np.random.default_rng(4)
    brush = brushes.get(kind)
    for _ in range(15):
        stroke = random_stroke(kind, 120, 90, rng, min_size=4, max_size=40)
        alpha = raster.render_patch(stroke, 120, 90).alpha
        ys, xs = np.nonzero(alpha > 0)
        x0, y0, x1, y1 = brush.bounds(stroke)
        assert x0 - 1 <= xs.min() and xs.max() <= x1 + 1 and y0 - 1 <= ys.min() and ys.max() <= y1 + 1
        assert brush.area(stroke.transformed(2.0)) == pytest.approx(4 * brush.area(stroke))


@pytest.mark.parametrize("kind", KINDS)
def test_a_paintings_boxes_at_once_are_each_strokes_box(kind):
    rng = np.random.default_rng(6)
    strokes = [random_stroke(kind, 120, 90, rng, min_size=1, max_size=60) for _ in range(40)]
    strokes.append(strokes[0].transformed(1.0, 500.0, 0.0))  # off the canvas: an empty box
    boxes = brushes.pixel_boxes(kind, np.array([s.params for s in strokes]), 120, 90)
    assert [tuple(box) for box in boxes.tolist()] == [brushes.pixel_box(s, 120, 90) for s in strokes]
    assert boxes[-1][2] <= boxes[-1][0]
    windows = soft.windows(kind, np.array([s.params for s in strokes]), 120, 90, margin=2)
    assert windows[-1] is None and all(w is not None and w.width > 0 and w.height > 0 for w in windows[:-1])


@pytest.mark.parametrize("kind", KINDS)
def test_soft_drawing_and_neural_renderer_keep_to_their_inputs_device(kind):
    """With meta as torch's default device, any tensor made without its input's device would be
    meta and fail when it meets the CPU inputs."""
    rng = np.random.default_rng(5)
    strokes = [random_stroke(kind, 64, 48, rng) for _ in range(3)]
    params = soft.params_tensor(strokes, device="cpu")
    windows = [w or soft.Window(0, 0, 4, 4) for w in soft.windows(kind, params.double().numpy(), 64, 48)]
    model = NeuralRenderer(kind, 16, 8)
    v = layout.sample(kind, 4, torch.Generator().manual_seed(0))
    with torch.device("meta"):
        premultiplied, alpha = soft.draw(kind, params, windows)
        foreground, mask = model(v)
        low, high = layout.size_bounds(kind, 2.0, 10.0, 32, device="cpu")
    for t in (premultiplied, alpha, foreground, mask, low, high):
        assert t.device.type == "cpu" and torch.isfinite(t).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", ["point", "hairpin"])
def test_soft_drawing_of_degenerate_strokes_has_finite_gradients(kind, shape):
    """Optimisers reach strokes whose points coincide or fold back on themselves; one NaN gradient
    would spoil every stroke of the painting."""
    stroke = random_stroke(kind, 40, 30, np.random.default_rng(6), min_size=6, max_size=12)
    values = stroke.as_dict()
    for axis, centre in (("x", 20.0), ("y", 15.0)):
        names = [f.name for f in stroke.brush.fields if f.role == axis]
        for i, name in enumerate(names):
            values[name] = centre + (5.0 * (i == 1) if shape == "hairpin" else 0.0)  # out to the control and back
    params = soft.params_tensor([Stroke.make(kind, **values)]).requires_grad_()
    premultiplied, alpha = soft.draw(kind, params, [soft.Window(0, 0, 40, 30)])
    (premultiplied.sum() + alpha.sum()).backward()
    assert torch.isfinite(premultiplied).all() and torch.isfinite(params.grad).all()


def autograd_oil_marks(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The oil brush's soft drawing written plainly, for autograd: what its hand-written backward must equal."""
    from brushwork.brushes import _soft, oilbrush

    length, width = p[:, 2, None, None], p[:, 3, None, None]
    along, across = _soft.local_frame(p, xs, ys)
    u, v = along / length, across / width
    with torch.no_grad():
        half = torch.where(u < oilbrush.HEAD_END, oilbrush.head_half_width(u, lambda a: a.clamp_min(0).sqrt()),
                           oilbrush.body_half_width(u, torch.where(v < 0, -2.1, 2.1), torch.sin))
    distance = torch.minimum((half - v.abs()) * width, torch.minimum((u + 0.5) * length, (oilbrush.TAIL - u) * length))
    alpha = _soft.coverage(distance)
    t = (u + 0.5).clamp(0, 1)[:, None]
    grid = torch.stack([2 * u, 2 * v], dim=-1).detach()
    streaks = torch.nn.functional.grid_sample(oilbrush.bristle_texture(p.device), grid.reshape(1, -1, 1, 2),
                                              align_corners=False).reshape(2, *grid.shape[:3]).transpose(0, 1)
    colour = p[:, 5:8, None, None] * (1 - t) + p[:, 8:11, None, None] * t
    return alpha[:, None] * (colour * (1 - streaks[:, :1]) + streaks[:, 1:]), alpha


def test_the_oil_brushs_hand_written_backward_equals_autograd():
    """Refinement moves oil strokes by the gradient of their hand-written backward pass: the drawing and
    every parameter's gradient must be autograd's, edges, head, tail and colour ramp, from the compiled
    loops on the separable grid refinement passes on the CPU (`_oil_cpu`) as from the tensor operations
    on any other grid or device (`_oil_soft`)."""
    rng = np.random.default_rng(11)
    strokes = [random_stroke("oilbrush", 60, 40, rng, min_size=3, max_size=30) for _ in range(12)]
    weights = torch.rand(len(strokes), 3, 40, 60, generator=torch.Generator().manual_seed(0))
    separable = torch.arange(60.0)[None, None, :] + 0.5, torch.arange(40.0)[None, :, None] + 0.5
    full = tuple(t.expand(len(strokes), 40, 60) for t in separable)
    oil = brushes.get("oilbrush").soft_draw
    drawn, grads = [], []
    for draw, grid in ((autograd_oil_marks, full), (oil, separable), (oil, full)):
        params = soft.params_tensor(strokes).requires_grad_()
        premultiplied, alpha = draw(params, *grid)
        ((premultiplied * weights).sum() + (alpha * weights[:, 0]).sum()).backward()
        drawn.append((premultiplied.detach(), alpha.detach()))
        grads.append(params.grad)
    assert (grads[0].abs() > 0).any(dim=0).all()  # every parameter has a gradient to compare
    for ours in range(1, 3):
        for mine, reference in zip(drawn[ours], drawn[0], strict=True):
            assert torch.allclose(mine, reference, atol=1e-5)
        assert torch.allclose(grads[ours], grads[0], rtol=1e-4, atol=1e-4 * float(grads[0].abs().max()))


def test_the_curve_distance_is_the_nearest_points_with_autograds_gradient():
    """The Bezier brushes' soft drawings measure each pixel's distance to the curve (`_soft.curve_distance`):
    it must be the distance to the nearest of densely sampled curve points, on the separable pixel grid the
    painter passes as on a full one, and its hand-written backward must equal autograd's."""
    from brushwork.brushes import _soft

    rng = np.random.default_rng(12)
    strokes = [random_stroke("markerpen", 60, 40, rng, min_size=3, max_size=50) for _ in range(12)]
    xs, ys = torch.arange(60.0)[None, None, :] + 0.5, torch.arange(40.0)[None, :, None] + 0.5
    weights = torch.rand(len(strokes), 40, 60, generator=torch.Generator().manual_seed(0))
    distances, grads = [], []
    for grid in ((xs, ys), (xs.expand(len(strokes), 40, 60), ys.expand(len(strokes), 40, 60)), None):
        params = soft.params_tensor(strokes).requires_grad_()
        if grid is None:  # autograd through the plain formula, at the same nearest points
            t = distances[0][1]
            curve = [(1 - t) ** 2 * params[:, i, None, None] + 2 * (1 - t) * t * params[:, i + 2, None, None]
                     + t * t * params[:, i + 4, None, None] for i in (0, 1)]
            distance = ((xs - curve[0]) ** 2 + (ys - curve[1]) ** 2 + 1e-6).sqrt()
        else:
            distance, t = _soft.curve_distance(params, *grid)
        (distance * weights).sum().backward()
        distances.append((distance.detach(), t))
        grads.append(params.grad)
    samples = torch.linspace(0, 1, 2001)[:, None]
    points = [(1 - samples) ** 2 * params[:, i].detach() + 2 * (1 - samples) * samples * params[:, i + 2].detach()
              + samples ** 2 * params[:, i + 4].detach() for i in (0, 1)]  # (2001, N)
    nearest = ((xs[..., None] - points[0].T[:, None, None]) ** 2
               + (ys[..., None] - points[1].T[:, None, None]) ** 2).min(-1).values.sqrt()
    assert (distances[0][0] - nearest).abs().max() < 0.25  # the polyline keeps within a quarter pixel
    assert torch.equal(distances[0][0], distances[1][0])
    assert (grads[2][:, :6].abs() > 0).all() and not grads[2][:, 6:].any()
    for ours in grads[:2]:
        assert torch.allclose(ours, grads[2], rtol=1e-4, atol=1e-4 * float(grads[2].abs().max()))


def test_the_marker_pens_compiled_drawing_equals_its_tensor_drawing():
    """On the CPU refinement draws marker pens with compiled loops (`_marker_cpu`): the drawing and every
    parameter's gradient must be the tensor drawing's (`_soft.curve_distance`, autograd), which counts
    the polyline's chords per batch, so it draws one stroke at a time here to count them per stroke."""
    rng = np.random.default_rng(13)
    strokes = [random_stroke("markerpen", 60, 40, rng, min_size=3, max_size=40) for _ in range(12)]
    weights = torch.rand(len(strokes), 3, 40, 60, generator=torch.Generator().manual_seed(0))
    marker = brushes.get("markerpen").soft_draw
    xs, ys = torch.arange(60.0)[None, None, :] + 0.5, torch.arange(40.0)[None, :, None] + 0.5
    compiled = soft.params_tensor(strokes).requires_grad_()
    premultiplied, alpha = marker(compiled, xs, ys)
    ((premultiplied * weights).sum() + (alpha * weights[:, 0]).sum()).backward()
    for i, stroke in enumerate(strokes):
        tensors = soft.params_tensor([stroke]).requires_grad_()
        reference = marker(tensors, xs.expand(1, 40, 60), ys.expand(1, 40, 60))
        ((reference[0] * weights[i]).sum() + (reference[1] * weights[i, 0]).sum()).backward()
        assert torch.allclose(premultiplied[i].detach(), reference[0][0].detach(), atol=1e-4)
        assert torch.allclose(alpha[i].detach(), reference[1][0].detach(), atol=1e-4)
        assert (tensors.grad.abs() > 0).all()  # every parameter has a gradient to compare
        assert torch.allclose(compiled.grad[i], tensors.grad[0], rtol=1e-3, atol=1e-3 * float(tensors.grad.abs().max()))


# --- the pencil ---------------------------------------------------------------------------------


def pencil(**changes) -> Stroke:
    values = dict(x0=10, y0=50, x1=60, y1=10, x2=110, y2=45, width0=6, width1=10, r=0.2, g=0.2, b=0.25, opacity=1.0)
    values.update(changes)
    return Stroke.make("pencil", **values)


def test_the_pencil_line_has_grain_and_keeps_it_when_scaled():
    stroke = pencil()
    alpha = raster.render_patch(stroke, 120, 60).alpha
    inside = brushes.get("pencil").outline(stroke).buffer(-1.5)  # well inside the line's silhouette
    from shapely import Point

    centres = [(x, y) for y in range(60) for x in range(120) if inside.contains(Point(x + 0.5, y + 0.5))]
    values = np.array([alpha[y, x] for x, y in centres])
    # paper shows through: breaks in the strands and lighter strands, not one flat fill
    assert len(values) > 200 and (values < 0.6).mean() > 0.1 and (values > 0.9).mean() > 0.15
    twice = raster.render_patch(stroke.transformed(2.0), 240, 120).alpha
    assert abs(twice.mean() - alpha.mean()) < 0.1 * alpha.mean()  # the grain scales with the stroke


def test_the_pencil_paints_exports_and_animates(tmp_path):
    photo = np.zeros((48, 64, 3))
    photo[:, :32] = (0.9, 0.85, 0.8)
    photo[:, 32:] = (0.2, 0.25, 0.3)
    painting = paint(photo, strokes=12, brush="pencil", seed=1, working_size=64, iterations=5,
                               refine_iterations=2)
    assert painting.counts()["pencil"] == 12 == len(painting)
    assert svg.read(svg.write(painting)) == painting
    clip = brushwork.animate(painting, tmp_path / "pencil.gif", fps=10, duration=1)
    assert clip.strokes == 12 and (tmp_path / "pencil.gif").stat().st_size > 0
