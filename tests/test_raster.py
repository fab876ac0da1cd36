import numpy as np
import pytest

from brushwork import raster
from brushwork.errors import BrushworkError
from brushwork.strokes import Stroke, StrokeList

from conftest import random_list

GREY = (0.5, 0.5, 0.5)


def one(stroke, width=200, height=100, background=GREY):
    return StrokeList(width, height, [stroke], background)


def tape(**changes):
    values = dict(cx=100, cy=50, length=80, width=30, angle=0.0, r=1.0, g=0.0, b=0.0, opacity=1.0)
    values.update(changes)
    return Stroke.make("tape", **values)


def test_output_size_follows_scale_or_width_and_keeps_aspect():
    painting = random_list(0, 10, 320, 200)
    assert raster.render(painting).shape == (200, 320, 3)
    assert raster.render(painting, scale=2.5).shape == (500, 800, 3)
    assert raster.render(painting, width=64).shape == (40, 64, 3)
    assert raster.render(painting, transparent=True).shape == (200, 320, 4)


def test_bad_sizes_are_refused():
    painting = random_list(0, 1)
    with pytest.raises(BrushworkError, match="scale must be a positive number"):
        raster.render(painting, scale=0)
    with pytest.raises(BrushworkError, match="too large"):
        raster.render(painting, width=100_000_000)


def test_scaling_draws_the_same_picture():
    painting = random_list(3, 30, 160, 100)
    small = raster.render(painting).astype(float)
    big = raster.render(painting, scale=4).astype(float)
    downsampled = big.reshape(100, 4, 160, 4, 3).mean(axis=(1, 3))
    assert np.abs(downsampled - small).mean() < 3


def test_tape_is_a_rotated_rectangle_with_opacity():
    img = raster.render(one(tape(opacity=0.5, angle=np.pi / 2))).astype(int)
    half_red_over_grey = np.array([191, 64, 64])
    assert np.abs(img[50, 100] - half_red_over_grey).max() <= 1
    assert tuple(img[50, 125]) == (128, 128, 128)  # rotated: now 30 wide, 80 tall
    assert np.abs(img[15, 100] - half_red_over_grey).max() <= 1


def test_transparent_canvas_has_straight_alpha():
    img = raster.render(one(tape(opacity=0.5, g=1.0)), transparent=True)
    assert tuple(img[50, 100]) == (255, 255, 0, 128)
    assert tuple(img[5, 5]) == (0, 0, 0, 0)
    assert raster.render(one(tape(), background=None)).shape[-1] == 4


def test_markerpen_has_round_caps_and_constant_width():
    pen = Stroke.make("markerpen", x0=40, y0=50, x1=100, y1=50, x2=160, y2=50, width=20,
                      r=0, g=0, b=1, opacity=1)
    img = raster.render(one(pen), transparent=True)[..., 3]
    assert img[50, 35] == 255 and img[50, 25] == 0  # cap reaches 10 px beyond the end point
    columns = (img > 127).sum(axis=0)
    assert set(columns[45:155]) == {20}


def test_watercolor_width_and_colour_run_from_start_to_end():
    wc = Stroke.make("watercolor", x0=20, y0=50, x1=100, y1=50, x2=180, y2=50, width0=10, width1=40,
                     r0=1, g0=0, b0=0, r1=0, g1=0, b1=1, opacity=1)
    rgba = raster.render(one(wc), transparent=True)
    heights = (rgba[..., 3] > 127).sum(axis=0)
    assert abs(heights[20] - 10) <= 1 and abs(heights[180] - 40) <= 1
    assert abs(heights[100] - 25) <= 1
    assert rgba[50, 22, 0] > 240 and rgba[50, 22, 2] < 15
    assert rgba[50, 178, 2] > 240 and rgba[50, 178, 0] < 15


def test_overlapping_pieces_of_a_translucent_stroke_are_painted_once():
    # A tight hairpin: the swept discs and quads overlap heavily, yet opacity stays uniform.
    wc = Stroke.make("watercolor", x0=60, y0=80, x1=100, y1=-40, x2=140, y2=80, width0=40, width1=40,
                     r0=0, g0=0, b0=0, r1=0, g1=0, b1=0, opacity=0.5)
    pen = Stroke.make("markerpen", x0=60, y0=80, x1=100, y1=-40, x2=140, y2=80, width=40,
                      r=0, g=0, b=0, opacity=0.5)
    for stroke in (wc, pen):
        alpha = raster.render(one(stroke), transparent=True)[..., 3]
        assert alpha.max() == 128
        assert (alpha == 128).sum() > 2000


def test_oilbrush_is_opaque_textured_and_runs_c0_to_c1():
    oil = Stroke.make("oilbrush", cx=100, cy=50, length=160, width=60, angle=0,
                      r0=1, g0=0, b0=0, r1=0, g1=0, b1=1)
    rgba = raster.render(one(oil), transparent=True)
    assert (rgba[35:65, 40:160, 3] == 255).all()
    head, tail = rgba[35:65, 30:45, :3].mean(axis=(0, 1)), rgba[35:65, 155:170, :3].mean(axis=(0, 1))
    assert head[0] > 200 and head[2] < 40
    assert tail[2] > 180 and tail[0] < 40
    middle_row = rgba[38:62, 100, :3].astype(int).sum(axis=1)
    assert middle_row.max() - middle_row.min() > 40  # bristle streaks, not a flat fill


def test_patch_is_premultiplied_and_composites_like_render():
    painting = random_list(5, 1, 64, 64)
    stroke = painting.strokes[0]
    patch = raster.render_patch(stroke, 64)
    assert patch.premultiplied.shape == (64, 64, 3) and patch.alpha.shape == (64, 64)
    assert patch.premultiplied.dtype == np.float32 and patch.alpha.dtype == np.float32
    assert (patch.premultiplied <= patch.alpha[..., None] + 1e-6).all()
    assert 0 < patch.alpha.max() <= 1
    background = np.array(painting.background, np.float32)
    composite = patch.premultiplied + background * (1 - patch.alpha[..., None])
    expected = raster.render(painting).astype(np.float32) / 255
    assert np.abs(composite - expected).max() < 2.5 / 255


def test_incremental_canvas_matches_whole_render():
    painting = random_list(9, 25)
    canvas = raster.RasterCanvas(painting.width, painting.height, background=painting.background)
    for stroke in painting.strokes:
        canvas.draw(stroke)
    assert np.array_equal(canvas.to_rgb(), raster.render(painting))
