import numpy as np
import pytest
import torch
from PIL import Image

from brushwork import raster, svg
from brushwork.errors import BrushworkError
from brushwork.images import load_image, resize
from brushwork.losses import mass_map, pixel_l1, sinkhorn_divergence
from brushwork.painter import PaintCancelled, paint
from brushwork.painter.optimise import Painter, paint_array
from brushwork.painter.plan import plan_levels
from brushwork.renderers import load
from brushwork.settings import PaintSettings
from brushwork.strokes import BRUSHES, StrokeList

FAST = dict(working_size=64, iterations=4)


def two_tone(width=72, height=48) -> np.ndarray:
    """A small synthetic photo: dark left, warm right, a blue disc."""
    image = np.ones((height, width, 3), np.float32) * np.array([0.9, 0.7, 0.3], np.float32)
    image[:, : width // 3] = (0.15, 0.2, 0.25)
    yy, xx = np.mgrid[:height, :width]
    image[(xx - 0.7 * width) ** 2 + (yy - 0.5 * height) ** 2 < (0.2 * height) ** 2] = (0.1, 0.3, 0.9)
    return image


@pytest.mark.parametrize("width, height, count", [(512, 384, 1000), (384, 512, 200), (512, 100, 57),
                                                    (40, 40, 3), (512, 512, 2000)])
def test_plan_spends_the_exact_budget_and_covers_the_picture(width, height, count):
    levels = plan_levels(width, height, count, 32)
    assert sum(level.strokes for level in levels) == count
    for level in levels:
        covered = np.zeros((level.height, level.width), bool)
        for x, y in level.blocks:
            covered[y:y + 32, x:x + 32] = True
        assert covered.all()
    assert [lv.divisions for lv in levels] == sorted(lv.divisions for lv in levels)


@pytest.mark.parametrize("kind", list(BRUSHES))
def test_exact_budget_for_every_brush_on_a_non_square_picture(kind):
    painting = paint(two_tone(), strokes=7, brush=kind, seed=1, **FAST)
    assert len(painting) == 7 and painting.counts()[kind] == 7
    assert (painting.width, painting.height) == (72, 48)


def test_mixed_brushes_and_output_canvas_of_a_large_picture():
    big = np.asarray(Image.fromarray((two_tone() * 255).astype(np.uint8)).resize((720, 480)), np.float32) / 255
    painting = paint(big, strokes=9, brush=["oilbrush", "markerpen", "tape"], **FAST)
    assert (painting.width, painting.height) == (720, 480)
    assert painting.counts() == {**dict.fromkeys(BRUSHES, 0), "markerpen": 3, "oilbrush": 3, "tape": 3}


def test_same_seed_same_svg_other_seed_other_svg():
    first = svg.write(paint(two_tone(), strokes=6, seed=3, **FAST))
    assert svg.write(paint(two_tone(), strokes=6, seed=3, **FAST)) == first
    assert svg.write(paint(two_tone(), strokes=6, seed=4, **FAST)) != first


def test_resume_adds_strokes_on_top_of_an_existing_painting():
    first = paint(two_tone(), strokes=5, **FAST)
    more = paint(two_tone(), strokes=4, resume=first, **FAST)
    assert len(more) == 9 and more.strokes[:5] == first.strokes


def test_cancel_keeps_what_was_painted():
    calls = []

    def stop_after_a_while(progress):
        calls.append(progress.fraction)
        return len(calls) < 2  # stop in the first, coarsest level

    with pytest.raises(PaintCancelled) as cancelled:
        paint(two_tone(), strokes=40, callback=stop_after_a_while, **FAST)
    partial = cancelled.value.strokes  # the first level's strokes, as optimised so far
    assert 0 < len(partial) < 40 and isinstance(partial, StrokeList)
    assert calls == sorted(calls) and 0 < calls[-1] < 1
    assert not isinstance(cancelled.value.__context__, KeyboardInterrupt)  # the CLI tells the two apart


@pytest.mark.parametrize("after", [2, 30])  # in the first level; in the refinement
def test_ctrl_c_keeps_what_was_painted_and_says_it_was_an_interrupt(after):
    calls = []

    def interrupted(progress):
        calls.append(progress)
        if len(calls) == after:
            raise KeyboardInterrupt  # where Ctrl-C (or the CLI's SIGTERM) lands: anywhere in the loop

    with pytest.raises(PaintCancelled) as cancelled:
        paint(two_tone(), strokes=12, callback=interrupted, **FAST)
    assert 0 < len(cancelled.value.strokes) == calls[-1].strokes <= 12
    assert isinstance(cancelled.value.__context__, KeyboardInterrupt)


def test_the_painting_is_its_stages_in_turn_with_an_extra_pass_for_the_pruned_budget():
    settings = PaintSettings(strokes=14, brushes=("oilbrush", "tape"), seed=2, prune=0.9, **FAST)
    painter = Painter(two_tone(), settings)
    painter.paint_passes()
    assert len(painter.state.painted) == 14
    assert painter.state.passes == len(painter.job.passes) + 1  # strong pruning: one more pass
    painter.refine()
    painter.refit_colours()
    assert svg.write(painter.finished(painter.state.painted)) == svg.write(paint_array(two_tone(), settings))


def test_cancel_while_refining_keeps_every_stroke_as_refined_so_far():
    calls = []

    def stop_in_the_refinement(progress):
        calls.append(progress.fraction)
        return progress.fraction < 0.8  # the last 90 % of the work is the refinement here

    with pytest.raises(PaintCancelled) as cancelled:
        paint(two_tone(), strokes=12, callback=stop_in_the_refinement, **FAST)
    assert len(cancelled.value.strokes) == 12
    assert 0.8 <= calls[-1] < 1


def test_painting_reduces_the_error_and_previews_show_progress():
    target = two_tone()
    previews = []

    def keep(progress):
        if not previews or progress.fraction == 1.0:
            previews.append(progress.preview().astype(np.float32) / 255)

    painting = paint(target, strokes=10, callback=keep, working_size=64, iterations=15)
    final = np.abs(raster.render(painting, width=64).astype(np.float32) / 255 - resize(target, 64, 43)).mean()
    target = resize(target, 64, 43)  # previews are at the working size
    blank = np.abs(1 - target).mean()
    first, last = (np.abs(p - target).mean() for p in (previews[0], previews[-1]))
    assert last < first < blank
    assert final == pytest.approx(last, abs=0.01)  # the preview is the exact rendering


def test_pruning_keeps_the_budget_and_the_colour_refit_lowers_the_error():
    target = two_tone()

    def squared_error(painting):
        return np.mean((raster.render(painting).astype(np.float32) / 255 - target) ** 2)

    plain = paint(target, strokes=12, prune=0, colour_refit=False, **FAST)
    pruned = paint(target, strokes=12, prune=0.9, colour_refit=False, **FAST)
    fitted = paint(target, strokes=12, prune=0.9, **FAST)
    assert len(pruned) == len(fitted) == 12 and pruned.strokes != plain.strokes
    assert squared_error(fitted) < squared_error(pruned)


def test_refining_all_strokes_together_lowers_the_error():
    target = two_tone()

    def squared_error(painting):
        return np.mean((raster.render(painting).astype(np.float32) / 255 - target) ** 2)

    plain = paint(target, strokes=12, refine_iterations=0, **FAST)
    refined = paint(target, strokes=12, **FAST)
    assert len(refined) == 12 and squared_error(refined) < 0.9 * squared_error(plain)


def test_size_limits_and_opacity_are_respected():
    painting = paint(two_tone(), strokes=8, brush="tape", min_size=6, max_size=12, opaque=True, **FAST)
    for stroke in painting.strokes:
        assert 6 - 1e-3 <= stroke["length"] <= 12 + 1e-3 and 6 - 1e-3 <= stroke["width"] <= 12 + 1e-3
        assert stroke["opacity"] == 1.0


@pytest.mark.parametrize("bad, message", [
    (dict(strokes=0), r"--strokes 0: expected a whole number in \[1, 200000\]"),
    (dict(brush="crayon"), "unknown brush 'crayon'"),
    (dict(min_size=5, max_size=2), "min-size 5 is larger than max-size 2"),
    (dict(working_size=4), r"--working-size 4: expected a whole number in \[16, 4096\]"),
    (dict(prune=1.0), r"--prune 1.0: expected a number in \[0, 1\)"),
    (dict(refine_iterations=-1), r"--refine-iterations -1: expected a whole number in \[0, 10000\]"),
])
def test_bad_settings_are_refused(bad, message):
    with pytest.raises(BrushworkError, match=message):
        paint(two_tone(), **{"strokes": 3, **bad})


# --- the optimal-transport term -----------------------------------------------------------------


def _tape_at(cx: float) -> torch.Tensor:
    v = torch.tensor([[cx, 0.5, 0.3, 0.5, 0.5, 0.1, 0.1, 0.1, 1.0]])
    return v


def _slide(model, target: torch.Tensor, beta: float, steps: int = 40) -> float:
    """Optimise only the x position of a dark bar that starts far left of its target."""
    cx = torch.tensor(0.2, requires_grad=True)
    optimiser = torch.optim.Adam([cx], lr=0.02)
    for _ in range(steps):
        v = torch.cat([cx[None], _tape_at(0.0)[0, 1:]])[None]
        fg, alpha = model(v)
        canvas = fg + (1 - alpha)
        loss = pixel_l1(canvas, target).sum()
        if beta:
            loss = loss + beta * sinkhorn_divergence(mass_map(canvas, 8), mass_map(target, 8)).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return cx.item()


def test_transport_moves_a_stroke_that_does_not_overlap_its_target():
    model = load("tape")
    model.requires_grad_(False)
    with torch.no_grad():
        fg, alpha = model(_tape_at(0.8))
    target = fg + (1 - alpha)  # a dark bar on white, on the right; the stroke starts at 0.2
    assert _slide(model, target, beta=0.0) < 0.4  # L1 sees no overlap: no pull towards the target
    assert abs(_slide(model, target, beta=1.0) - 0.8) < 0.1
    losses = []
    for cx in (0.2, 0.4, 0.6, 0.8):  # the OT loss falls as the stroke nears its target
        with torch.no_grad():
            fg, alpha = model(_tape_at(cx))
            losses.append(sinkhorn_divergence(mass_map(fg + (1 - alpha), 8), mass_map(target, 8)).item())
    assert losses == sorted(losses, reverse=True) and losses[-1] < 1e-3


def test_sinkhorn_divergence_is_zero_for_equal_maps_and_positive_otherwise():
    a = torch.rand(3, 64)
    a = a / a.sum(1, keepdim=True)
    b = a.flip(1)
    assert sinkhorn_divergence(a, a).abs().max() < 1e-5
    assert (sinkhorn_divergence(a, b) > 0).all()


def _optimise_a_sparse_level(extra_loss) -> dict[str, torch.Tensor]:
    """A level with more blocks than strokes, optimised for a few steps; the strokes' parameters."""
    from brushwork.painter.level import cut_blocks, optimise_level, start_strokes

    photo = two_tone(128, 96)
    level = next(lv for lv in plan_levels(128, 96, 40, 32) if len(lv.blocks) > 6)
    paper = torch.ones(1, 3, 1, 1)
    blocks = cut_blocks(level, photo, np.ones_like(photo), paper)
    strokes = start_strokes(blocks, level, {"oilbrush": 5}, torch.Generator().manual_seed(3), None, None)
    assert not strokes.active["oilbrush"].any(1).all()  # some blocks without a stroke
    settings = PaintSettings(iterations=4, ot_fraction=0.5)
    optimise_level(strokes, blocks, {"oilbrush": load("oilbrush").requires_grad_(False)}, settings, paper,
                   extra_loss, lambda: None)
    return {kind: v.detach() for kind, v in strokes.params.items()}


def test_blocks_without_new_strokes_do_not_change_the_optimisation():
    """The level's loss leaves out blocks no stroke can change (a constant); with an extra term
    every block is kept, and an extra term of zero must then give the same strokes."""
    skipped = _optimise_a_sparse_level(None)
    every_block = _optimise_a_sparse_level(lambda canvas, inside: 0 * canvas.sum())
    torch.testing.assert_close(skipped, every_block, rtol=1e-5, atol=1e-6)


# --- pictures users bring -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "RGB"])
def test_every_common_image_mode_loads_as_rgb(tmp_path, mode):
    rgb = Image.fromarray((two_tone() * 255).astype(np.uint8))
    if mode == "I;16":  # a real 16-bit grey image uses the full 0..65535 range
        image = Image.fromarray((np.asarray(rgb.convert("L"), np.uint16) * 257).astype(np.uint16))
    else:
        image = rgb.convert(mode)
    path = tmp_path / ("p.tif" if mode in ("CMYK", "I;16") else "p.png")
    image.save(path)
    loaded = load_image(path)
    assert loaded.shape == (48, 72, 3) and loaded.dtype == np.float32
    assert 0 <= loaded.min() and loaded.max() <= 1 and loaded.mean() > 0.2


def test_unreadable_images_are_explained(tmp_path):
    with pytest.raises(BrushworkError, match="no such file"):
        load_image(tmp_path / "none.jpg")
    (tmp_path / "text.jpg").write_text("hello")
    with pytest.raises(BrushworkError, match="not an image brushwork can read"):
        load_image(tmp_path / "text.jpg")
    good = tmp_path / "cut.png"
    Image.fromarray((two_tone() * 255).astype(np.uint8)).save(good)
    (tmp_path / "cut2.png").write_bytes(good.read_bytes()[:200])
    with pytest.raises(BrushworkError, match="cut2.png: cannot read the image"):
        load_image(tmp_path / "cut2.png")
