"""Reading photos: size limits, decompression bombs, and decoding no larger than the job needs."""

import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from brushwork import images
from brushwork.errors import BrushworkError
from brushwork.images import image_size, load_image, load_rgb8, resize


def bomb_png(path, width: int, height: int, *, pixels: bool = True):
    """A grey PNG declaring width x height, its pixels one zlib stream of zeros (about 1/1000 of
    their size): what a decompression bomb looks like. Without `pixels` the data is cut short,
    which only a reader that decodes before checking the size would notice."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    stream = zlib.compressobj(9)
    row = bytes(1 + width)  # filter byte 0, then the grey values
    body = b"".join(stream.compress(row) for _ in range(height if pixels else 1)) + stream.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("width, height", [(30_000, 30_000), (16_385, 16), (16, 16_385)])
def test_pictures_over_the_limit_are_refused_from_their_header(tmp_path, width, height):
    path = bomb_png(tmp_path / "bomb.png", width, height, pixels=False)
    message = f"^{path}: {width}x{height} pixels is larger than brushwork reads \\(at most 16384 px on either side\\)$"
    with pytest.raises(BrushworkError, match=message):
        load_image(path)
    with pytest.raises(BrushworkError, match=message):
        image_size(path)
    with pytest.raises(BrushworkError, match=message):
        load_rgb8(path, max_side=512)


def test_the_limit_is_inclusive(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_SIDE", 40)
    assert load_image(bomb_png(tmp_path / "edge.png", 40, 7)).shape == (7, 40, 3)
    with pytest.raises(BrushworkError, match="41x7 pixels is larger than brushwork reads"):
        load_image(bomb_png(tmp_path / "over.png", 41, 7))


def test_a_large_picture_is_shrunk_before_any_float_copy(tmp_path):
    # 8192^2 grey: a float32 RGB copy is 805 MB and an 8-bit RGB one 201 MB; the picture the painter
    # needs (512 px) is 3 MB. tracemalloc sees numpy's allocations (not Pillow's own buffers).
    path = bomb_png(tmp_path / "big.png", 8192, 8192)
    tracemalloc.start()
    try:
        picture = load_image(path, max_side=512)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert picture.shape == (512, 512, 3) and picture.dtype == np.float32
    assert peak < 32 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert image_size(path) == (8192, 8192)


def test_jpegs_are_decoded_reduced(tmp_path, monkeypatch):
    from PIL import JpegImagePlugin

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (1536, 2048, 3), dtype=np.uint8)).save(tmp_path / "big.jpg")
    decoded = []
    original = JpegImagePlugin.JpegImageFile.load

    def load(self):
        decoded.append(self.size)
        return original(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", load)
    picture = load_image(tmp_path / "big.jpg", max_side=256)
    assert picture.shape == (192, 256, 3)
    assert set(decoded) == {(256, 192)}  # the decoder's 1/8 scale, not 2048 x 1536


def test_reduced_pictures_match_reducing_the_full_picture(tmp_path):
    rng = np.random.default_rng(1)
    smooth = np.kron(rng.random((6, 9)), np.ones((16, 16)))  # 96 x 144, blocks the box filter keeps
    cases = {
        "grey.png": Image.fromarray((smooth * 255).astype(np.uint8)),
        "sixteen.tif": Image.fromarray((smooth * 65535).astype(np.uint16)),
        "palette.png": Image.fromarray((np.stack([smooth, 1 - smooth, smooth], 2) * 255).astype(np.uint8)).convert("P"),
        "rgba.png": Image.fromarray((np.stack([smooth, smooth, 1 - smooth, smooth], 2) * 255).astype(np.uint8)),
    }
    for name, image in cases.items():
        image.save(tmp_path / name)
        full = load_image(tmp_path / name, (0.2, 0.4, 0.6))
        reduced = load_image(tmp_path / name, (0.2, 0.4, 0.6), max_side=72)
        assert reduced.shape == (48, 72, 3), name
        assert np.abs(reduced - resize(full, 72, 48)).max() < 0.02, name
        assert np.abs(load_rgb8(tmp_path / name, max_side=72) / 255 - resize(load_image(tmp_path / name), 72, 48)
                      ).max() < 0.02, name


def test_orientation_is_applied_to_reduced_pictures(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: shown turned 90 degrees clockwise
    stored = np.zeros((100, 200, 3), np.uint8)
    stored[:, :100] = 255  # the left half white
    Image.fromarray(stored).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    path = tmp_path / "turned.jpg"
    assert image_size(path) == (100, 200)
    for picture in (load_image(path), load_image(path, max_side=50)):
        height = picture.shape[0]
        assert picture.shape[:2] == (height, height // 2)
        assert picture[: height // 2 - 2].mean() > 0.9 and picture[height // 2 + 2:].mean() < 0.1  # white on top


def test_small_pictures_are_not_enlarged(tmp_path):
    Image.new("RGB", (30, 20), "red").save(tmp_path / "small.png")
    assert load_image(tmp_path / "small.png", max_side=512).shape == (20, 30, 3)


# ------------------------------------------------------------------------------------ compositing

def test_composite_over_is_straight_alpha_over_the_background(monkeypatch):
    rgba = np.array([[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 255, 51], [200, 100, 0, 128]]], np.uint8)
    paper = (0.2, 0.4, 0.6)
    out = images.composite_over(rgba, paper)
    alpha = rgba[..., 3:] / 255
    np.testing.assert_allclose(out, rgba[..., :3] / 255 * alpha + np.array(paper) * (1 - alpha), atol=1e-6)
    assert out.dtype == np.float32 and out.shape == (1, 4, 3)
    np.testing.assert_array_equal(out[0, 1], np.float32(paper))  # fully transparent: the paper itself
    rgb8 = images.composite_over(rgba, dtype=np.uint8)  # over white, rounded
    assert rgb8.dtype == np.uint8
    np.testing.assert_array_equal(rgb8, np.round(images.composite_over(rgba) * 255))
    # in bands of rows: the same pixels whatever the band height
    tall = np.random.default_rng(0).integers(0, 256, (37, 5, 4), dtype=np.uint8)
    whole = images.composite_over(tall, paper)
    monkeypatch.setattr(images, "BAND_ROWS", 4)
    np.testing.assert_array_equal(images.composite_over(tall, paper), whole)


def test_composite_over_refuses_other_arrays():
    for array in (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 4), np.float32), np.zeros((4, 4), np.uint8)):
        with pytest.raises(BrushworkError, match=r"composite_over: expected \(H, W, 4\) uint8 RGBA"):
            images.composite_over(array)


def test_transparent_files_are_composited_once_for_both_conventions(tmp_path):
    rgba = np.random.default_rng(2).integers(0, 256, (20, 30, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "see-through.png")
    np.testing.assert_array_equal(load_image(tmp_path / "see-through.png", (0.1, 0.5, 0.9)),
                                  images.composite_over(rgba, (0.1, 0.5, 0.9)))
    np.testing.assert_array_equal(load_rgb8(tmp_path / "see-through.png"), images.composite_over(rgba, dtype=np.uint8))


# ------------------------------------------------------------------------------------------ masks

def test_masks_are_their_alpha_else_their_grey_the_right_way_up(tmp_path):
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (4, 1))  # 4 x 25, dark on the left
    Image.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_allclose(images.load_mask(tmp_path / "grey.png"), grey / 255, atol=1e-7)
    rgba = np.zeros((4, 25, 4), np.uint8)
    rgba[..., 3] = grey
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    np.testing.assert_allclose(images.load_mask(tmp_path / "alpha.png"), grey / 255, atol=1e-7)
    exif = Image.Exif()
    exif[0x0112] = 3  # stored upside down
    Image.fromarray(grey).save(tmp_path / "turned.jpg", exif=exif, quality=100)
    turned = images.load_mask(tmp_path / "turned.jpg")
    assert turned.shape == (4, 25) and turned[:, 0].mean() > turned[:, -1].mean() + 0.5  # dark now on the right
    with pytest.raises(BrushworkError, match="nowhere.png: no such file"):
        images.load_mask(tmp_path / "nowhere.png")


# ---------------------------------------------------------------------------------------- resizing

def test_fit_long_side():
    assert images.fit_long_side(53, 75, 101) == (71, 101)
    assert images.fit_long_side(200, 100, 50) == (50, 25)
    assert images.fit_long_side(1, 1000, 10) == (1, 10)


def test_resize_tensor_averages_when_shrinking_and_stays_on_its_device():
    import torch

    checks = torch.zeros(1, 3, 64, 64, device="cpu")
    checks[..., ::2, ::2] = checks[..., 1::2, 1::2] = 1  # one-pixel checkerboard
    small = images.resize_tensor(checks, 16, 16)
    assert small.shape == (1, 3, 16, 16) and small.device == checks.device
    assert torch.allclose(small, torch.full_like(small, 0.5), atol=0.02)  # grey, not aliased to black or white
    assert images.resize_tensor(checks, 64, 64) is checks
    mask = torch.tensor([[[[0.0, 1.0]]]], device="cpu")
    wide = images.resize_tensor(mask, 1, 8, mode="bilinear")
    assert wide.min() >= 0 and wide.max() <= 1 and torch.all(wide[..., 1:] >= wide[..., :-1])


def test_tensors_and_arrays_round_trip():
    rgb8 = np.random.default_rng(3).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    tensor = images.to_tensor(rgb8, "cpu")
    assert tensor.shape == (1, 3, 5, 7) and tensor.dtype.is_floating_point
    np.testing.assert_array_equal(images.to_array(tensor), rgb8)
    np.testing.assert_allclose(images.to_array(tensor, np.float32), rgb8 / 255, atol=1e-6)
