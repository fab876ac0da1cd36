"""Choosing the device: names, what `auto` picks, and clear refusals of devices this machine lacks."""

import pytest
import torch

from brushwork import device
from brushwork.errors import BrushworkError


def has_mps() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def test_auto_is_cuda_else_mps_else_cpu():
    expected = "cuda:0" if torch.cuda.is_available() else "mps" if has_mps() else "cpu"
    assert device.resolve_device("auto") == torch.device(expected)
    assert device.available_devices()[-1] == "cpu"


def test_auto_on_a_machine_without_accelerators_is_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device.resolve_device("auto") == torch.device("cpu")
    assert device.resolve_device() == torch.device("cpu")
    assert device.available_devices() == ["cpu"]


def test_a_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(BrushworkError, match=r"--device cuda: no such CUDA GPU here \(this machine has: cpu\)"):
        device.resolve_device("cuda")
    with pytest.raises(BrushworkError, match="--device mps: Apple's Metal backend is not available here"):
        device.resolve_device("mps")


def test_a_gpu_index_past_the_last_is_refused():
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(BrushworkError, match=f"--device cuda:{count}: no such CUDA GPU here"):
        device.resolve_device(f"cuda:{count}")


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:", "cuda:x", "", "cpu:0"])
def test_unknown_names_are_refused_with_the_choices(name):
    with pytest.raises(BrushworkError, match="expected one of auto, cpu, cuda, cuda:N"):
        device.validate_device(name)


def test_statistics_are_float64_except_on_mps():
    assert device.statistics_dtype(torch.device("cpu")) == torch.float64
    assert device.statistics_dtype(torch.device("cuda", 0)) == torch.float64
    assert device.statistics_dtype(torch.device("mps")) == torch.float32
