"""Stroke-space style transfer: the Gram style loss on the painter's canvas."""

import numpy as np
import pytest
import torch

from brushwork.images import load_image, resize
from brushwork.painter import paint
from brushwork.painter.style import style_loss

from conftest import content_photo


@pytest.fixture(autouse=True)
def weights_env(monkeypatch, weights_dir):
    monkeypatch.setenv("BRUSHWORK_WEIGHTS", str(weights_dir))
    monkeypatch.setenv("BRUSHWORK_OFFLINE", "1")


def blocks(image: np.ndarray, size: int = 32) -> torch.Tensor:
    small = resize(image, 4 * size, 4 * size)
    t = torch.from_numpy(small.transpose(2, 0, 1).copy())
    return t.unfold(1, size, size).unfold(2, size, size).permute(1, 2, 0, 3, 4).reshape(-1, 3, size, size)


def test_style_loss_prefers_the_style_images_own_texture(style_image):
    starry = load_image(style_image("starry_night.jpg"))
    photo = load_image(content_photo("tubingen.jpg"))
    loss = style_loss(starry, weight=1.0)
    inside = torch.ones(16, 1, 32, 32)
    with torch.no_grad():
        own, other = loss(blocks(starry), inside).item(), loss(blocks(photo), inside).item()
    assert 0 <= own < other


def test_painting_with_a_style_moves_the_strokes_towards_it(style_image):
    photo = load_image(content_photo("chelsea.png"))
    starry = load_image(style_image("starry_night.jpg"))
    measure = style_loss(starry, weight=1.0)
    settings = dict(strokes=24, working_size=64, iterations=15, seed=2)
    plain = paint(photo, **settings)
    styled = paint(photo, extra_loss=style_loss(starry, weight=2.0), **settings)
    from brushwork import raster

    def distance(painting):
        drawn = raster.render(painting, width=128).astype(np.float32) / 255
        return measure(blocks(drawn), torch.ones(16, 1, 32, 32)).item()

    assert distance(styled) < distance(plain)


def test_style_loss_makes_its_tensors_on_the_canvas_device(style_image, weights_dir):
    """With meta as torch's default device, a tensor made without a device would fail to mix with the
    real canvas (see test_stylize_device)."""
    from brushwork.stylize import CD16xModels

    starry = load_image(style_image("starry_night.jpg"), max_side=128)
    canvas = torch.from_numpy(np.ascontiguousarray(blocks(starry).numpy()))
    expected = style_loss(starry, weight=1.0, device="cpu")(canvas, torch.ones(16, 1, 32, 32)).item()
    previous = torch.get_default_device()
    torch.set_default_device("meta")
    try:
        models = CD16xModels(directory=weights_dir, download=False)
        loss = style_loss(starry, weight=1.0, models=models, device="cpu")
        value = loss(canvas.requires_grad_(True), torch.ones(16, 1, 32, 32, device="cpu"))
        value.backward()
    finally:
        torch.set_default_device(previous)
    assert value.item() == pytest.approx(expected) and canvas.grad is not None
    assert models.loss_network("cpu") is models.loss_network(torch.device("cpu"))  # built once
