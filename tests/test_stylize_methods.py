"""Stylization methods are looked up by name in one registry: the names the settings offer, each one
dispatched to its own implementation, and never a silent fallback (no weights needed)."""

import numpy as np
import pytest
import torch

from brushwork import settings
from brushwork.errors import BrushworkError
from brushwork.stylize import StyleOptions, methods, stylize
from brushwork.stylize.adain import adain_map
from brushwork.stylize.feedforward import FeedForward
from brushwork.stylize.job import Job
from brushwork.stylize.wct import wct_map


def test_the_registry_is_the_settings_methods():
    assert tuple(methods.REGISTRY) == settings.METHODS


def test_each_name_has_its_own_implementation():
    assert methods.method("adain") == FeedForward(adain_map, adain_decoder=True)  # its own trained decoder
    assert methods.method("wct") == FeedForward(wct_map)
    assert methods.method("gatys") is methods.gatys.run
    assert len({id(m) for m in methods.REGISTRY.values()}) == len(settings.METHODS)


@pytest.mark.parametrize("name", ["cnn", "", "WCT", None])
def test_an_unknown_method_is_an_error_naming_the_choices(name):
    with pytest.raises(BrushworkError, match=r"--method .*: expected one of adain, wct, gatys"):
        methods.method(name)


def test_stylize_refuses_an_unknown_method_before_any_work():
    with pytest.raises(BrushworkError, match="--method 'cnn': expected one of adain, wct, gatys"):
        stylize(np.zeros((8, 8, 3), np.uint8), [np.zeros((8, 8, 3), np.uint8)], StyleOptions(method="cnn"))


def test_a_new_method_is_one_function_and_one_registration(monkeypatch):
    """What a method receives (the job's tensors on the device, the options) and what comes of its
    result (the mask applied after it, uint8 back)."""
    seen: list[Job] = []

    def invert(job: Job) -> torch.Tensor:
        seen.append(job)
        job.progress(1.0, "invert")
        return 1 - job.content

    monkeypatch.setattr(methods, "REGISTRY", {**methods.REGISTRY, "invert": invert})
    # the settings offer it: one record (its name, words and default levels)
    monkeypatch.setattr(settings, "METHOD_CHOICES",
                        (*settings.METHOD_CHOICES, settings.MethodChoice("invert", "Invert", "Inverts.", levels=(1,))))
    content = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    mask = np.zeros((4, 6), np.float32)
    mask[:, 3:] = 1
    out = stylize(content, [content], StyleOptions(method="invert", device="cpu"), mask=mask,
                  models=object())  # type: ignore[arg-type]  # a method that uses no models
    assert np.array_equal(out[:, :3], content[:, :3]) and np.array_equal(out[:, 3:], 255 - content[:, 3:])
    (job,) = seen
    assert job.device == torch.device("cpu") and job.content.shape == (1, 3, 4, 6)
    assert job.options.style_weights == (1.0,)
