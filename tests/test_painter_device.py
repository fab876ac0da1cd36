"""The painter on the device the user picks.

On a CPU-only machine a tensor made without the settings' device would still land on the CPU and
work, so a GPU user would be the first to see it fail. Here torch's default device is `meta`
(shapes without data, which mix with no real tensor) while the painter runs with device="cpu": any
tensor the painter, its renderers, its losses or the refinement make without naming the device
fails the painting, and the strokes must be the very ones a plain CPU run gives.
"""

import numpy as np
import pytest
import torch

from brushwork import svg
from brushwork.errors import BrushworkError
from brushwork.painter import PaintCancelled, paint
from brushwork.renderers import load
from brushwork.strokes import BRUSHES

# Small, but every stage runs: two levels of passes, pruning, refinement and the colour refit.
SMALL = dict(strokes=24, working_size=64, iterations=3, refine_iterations=3, seed=5)


def photo(width=80, height=56) -> np.ndarray:
    """A synthetic photo with a gradient sky, a dark band and a red disc."""
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    image = np.stack([0.4 + 0.5 * xx / width, 0.6 + 0.3 * yy / height, 0.9 - 0.2 * yy / height], axis=-1)
    image[int(0.6 * height):] = (0.15, 0.2, 0.1)
    image[(xx - 0.3 * width) ** 2 + (yy - 0.4 * height) ** 2 < (0.2 * height) ** 2] = (0.8, 0.1, 0.1)
    return image


def test_a_tensor_without_a_device_fails_under_the_meta_default(meta_default):
    made_plainly = torch.zeros(3)
    assert made_plainly.device.type == "meta"
    with pytest.raises((RuntimeError, NotImplementedError)):
        made_plainly + torch.zeros(3, device="cpu")  # what the painter would hit


def test_a_renderer_is_built_on_the_device_it_is_loaded_for(meta_default):
    model = load("tape", device="cpu")
    assert {t.device.type for t in [*model.parameters(), *model.buffers()]} == {"cpu"}


@pytest.mark.parametrize("brush", [*BRUSHES, ("oilbrush", "markerpen", "tape", "watercolor")],
                         ids=lambda b: b if isinstance(b, str) else "mix")
def test_every_tensor_follows_the_settings_device(brush, meta_default):
    on_cpu = paint(photo(), brush=brush, device="cpu", **SMALL)
    torch.set_default_device("cpu")
    plain = paint(photo(), brush=brush, device="cpu", **SMALL)
    assert svg.write(on_cpu) == svg.write(plain)


def test_the_other_paths_follow_the_settings_device_too(meta_default):
    """Resuming, size limits, opaque strokes, the exact forward pass, an extra loss, previews and a cancel."""
    first = paint(photo(), brush="tape", device="cpu", **{**SMALL, "strokes": 6})

    def extra_loss(canvas: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        return 0.1 * (canvas * inside).std()

    resumed = paint(photo(), brush=["watercolor", "oilbrush"], resume=first, min_size=4, max_size=30, opaque=True,
                    exact_forward=True, device="cpu", **{**SMALL, "strokes": 8})
    assert len(resumed) == 14
    styled = paint(photo(), brush="markerpen", extra_loss=extra_loss, device="cpu", **SMALL)
    assert len(styled) == SMALL["strokes"]
    previews = []

    def look_then_stop(progress) -> bool:
        previews.append(progress.preview())
        return len(previews) < 4

    with pytest.raises(PaintCancelled) as cancelled:
        paint(photo(), brush="oilbrush", callback=look_then_stop, device="cpu", **SMALL)
    assert 0 < len(cancelled.value.strokes) < SMALL["strokes"] and previews[-1].shape == (45, 64, 3)


@pytest.mark.parametrize("device", ["cuda", "cuda:7", "mps"])
def test_a_device_this_machine_lacks_is_refused_by_name(device):
    if device.startswith("cuda") and torch.cuda.device_count() > int(device.partition(":")[2] or 0):
        pytest.skip(f"this machine has {device}")
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has mps")
    with pytest.raises(BrushworkError, match=f"--device {device}: .*this machine has: .*cpu"):
        paint(photo(), brush="oilbrush", device=device, **SMALL)


def test_an_unknown_device_name_is_refused():
    with pytest.raises(BrushworkError, match="--device 'gpu'"):
        paint(photo(), device="gpu", **SMALL)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_paints_on_the_gpu():
    painting = paint(photo(), brush=["oilbrush", "markerpen", "tape", "watercolor"], device="cuda", **SMALL)
    assert len(painting) == SMALL["strokes"]
    assert all(np.isfinite(stroke.params).all() for stroke in painting.strokes)
