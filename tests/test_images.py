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
