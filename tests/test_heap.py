"""The heap a painting reuses: freed tensors stay in the process inside `reused_heap`, and go back to
the system when it ends."""

from pathlib import Path

import pytest
import torch

from brushwork.heap import reused_heap

STATM = Path("/proc/self/statm")
pytestmark = pytest.mark.skipif(not STATM.exists(), reason="reads the resident size from Linux's /proc")


def resident_mib() -> float:
    return int(STATM.read_text().split()[1]) * 4096 / 2**20


def allocate_and_free(mib: int) -> None:
    tensor = torch.ones(mib << 18)  # float32: 4 bytes each, every page touched
    del tensor


def test_freed_tensors_stay_for_reuse_inside_and_go_back_after():
    allocate_and_free(40)
    outside = resident_mib()
    with reused_heap():
        allocate_and_free(40)
        kept = resident_mib()
    after = resident_mib()
    assert kept - outside > 30
    assert after - outside < 10


def test_the_memory_is_handed_back_when_the_work_fails():
    before = resident_mib()
    with pytest.raises(RuntimeError), reused_heap():
        allocate_and_free(40)
        raise RuntimeError("a failed step")
    assert resident_mib() - before < 10
