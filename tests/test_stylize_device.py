"""Every tensor the stylizer makes is on the device the options name.

With torch's default device set to `meta`, a tensor created without an explicit device is a meta tensor:
it has no data, and mixing it with the real (CPU) ones fails or leaves nothing to read back. So these
runs on this CPU-only machine fail on exactly the bug that would break the CUDA and MPS paths (a tensor
left on the CPU while the job's are on the GPU) - and must give the same pictures as runs without it.
"""

import numpy as np
import pytest
import torch

from brushwork.stylize import CD16xModels, StyleOptions, stylize

from test_stylize import photo


@pytest.fixture(scope="module")
def models(weights_dir):
    """This module's own (not conftest's shared ones): its networks are first built under the meta default."""
    return CD16xModels(directory=weights_dir, download=False)


def run_twice(content, styles, options, mask, models, request) -> tuple[np.ndarray, np.ndarray]:
    """(the picture with torch's usual default device, the picture with meta as the default)."""
    plain = stylize(content, styles, options, mask=mask, models=models)
    request.getfixturevalue("meta_default")
    # fresh models too: building the networks on the device is part of what is checked
    fresh = CD16xModels(directory=models.directory, download=False)
    return plain, stylize(content, styles, options, mask=mask, models=fresh)


CASES = {
    "adain": StyleOptions(method="adain", device="cpu"),
    "wct, colour kept": StyleOptions(method="wct", levels=(5, 3, 1), preserve_color=True, device="cpu"),
    "wct, tiled": StyleOptions(method="wct", levels=(5, 2), tile=64, margin=32, device="cpu"),
    "adain, tiled": StyleOptions(method="adain", tile=64, device="cpu"),
    "gatys": StyleOptions(method="gatys", steps=3, device="cpu"),
    "gatys, tiled, two stages": StyleOptions(method="gatys", steps=2, refine_steps=2, work_size=64, tile=64,
                                             margin=16, size=112, device="cpu"),
    "gatys, adam": StyleOptions(method="gatys", steps=2, optimizer="adam", device="cpu"),
    "microast": StyleOptions(method="microast", device="cpu"),
    "microast, tiled, colour kept": StyleOptions(method="microast", tile=64, preserve_color=True, alpha=0.7,
                                                 device="cpu"),
}


@pytest.mark.parametrize("case", CASES)
def test_every_tensor_is_made_on_the_options_device(models, starry, request, case):
    content = photo("chicago.jpg", 96, 72)
    mask = np.tile(np.linspace(0, 1, 48, dtype=np.float32), (36, 1))  # half size: resized on the device
    plain, meta = run_twice(content, [starry, starry[::-1]], CASES[case], mask, models, request)
    assert meta.dtype == np.uint8 and meta.shape == plain.shape
    np.testing.assert_array_equal(meta, plain)


def test_models_are_built_once_per_device(models):
    assert models.encoder(3, "cpu") is models.encoder(3, torch.device("cpu"))
    assert models.loss_network("cpu") is models.encoder(5, "cpu")
    assert next(models.decoder(2, "cpu").parameters()).device == torch.device("cpu")



def test_float32_statistics_as_on_mps(models, starry, monkeypatch):
    """MPS has no float64, so statistics there are float32 (`device.statistics_dtype`): that path, run on
    the CPU, gives nearly the float64 pictures."""
    from brushwork.stylize import gatys, transforms

    content = photo("chicago.jpg", 96, 72)
    options = {method: StyleOptions(method=method, steps=3, device="cpu") for method in ("wct", "adain", "gatys")}
    precise = {method: stylize(content, [starry], o, models=models) for method, o in options.items()}
    monkeypatch.setattr(transforms, "statistics_dtype", lambda device: torch.float32)
    monkeypatch.setattr(gatys, "statistics_dtype", lambda device: torch.float32)
    assert transforms.FeatureStats(4).outer.dtype == torch.float32
    for method, o in options.items():
        single = stylize(content, [starry], o, models=models)
        assert np.abs(single.astype(int) - precise[method]).mean() < 1.0, method


def test_gatys_runs_inside_a_callers_inference_mode(models, starry):
    """Gatys back-propagates; a caller's inference mode (as around the feed-forward methods) must not
    stop it."""
    content = photo("coffee.png", 48, 32)
    options = StyleOptions(method="gatys", steps=2, device="cpu")
    expected = stylize(content, [starry], options, models=models)
    with torch.inference_mode():
        np.testing.assert_array_equal(stylize(content, [starry], options, models=models), expected)
