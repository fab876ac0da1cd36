"""The heap a painting reuses: freed tensors stay in the process inside `reused_heap`, and go back to
the system when it ends (also when the work fails)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists(),
                                reason="reads the resident size from Linux's /proc")

# In a fresh interpreter: a long-lived one (this test run) has freed memory of its own to reuse.
MEASURE = """
from pathlib import Path
import torch
from brushwork.heap import reused_heap

def resident_mib():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20

def allocate_and_free(mib):
    tensor = torch.ones(mib << 18)  # float32: every page touched
    del tensor

allocate_and_free(100)
outside = resident_mib()
try:
    with reused_heap():
        allocate_and_free(100)
        kept = resident_mib()
        if {fail}:
            raise RuntimeError("a failed step")
except RuntimeError:
    pass
print(kept - outside, resident_mib() - outside)
"""


@pytest.mark.parametrize("fail", [False, True], ids=["finished", "failed"])
def test_freed_tensors_stay_for_reuse_inside_and_go_back_after(fail):
    result = subprocess.run([sys.executable, "-c", MEASURE.format(fail=fail)], capture_output=True, text=True,
                            check=True)
    kept, after = (float(x) for x in result.stdout.split())
    assert kept > 80  # of the 100 MiB freed inside
    assert after < 10
