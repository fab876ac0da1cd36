"""A non-editable install from the built wheel works in a fresh virtual environment."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    wheel = next((tmp_path / "dist").glob("brushwork-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "brushwork/data/chelsea.jpg" in names and "brushwork/renderers/__init__.py" in names
    for kind in ("markerpen", "watercolor", "oilbrush", "tape"):
        assert f"brushwork/renderers/{kind}/renderer.pt" in names
    assert not any(n.startswith(("tests/", "core/")) for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # torch first, pinned to the build this machine provides (see README, Installing PyTorch).
    subprocess.run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0", str(wheel)],
                   check=True, capture_output=True, timeout=900)
    probe = subprocess.run(
        [str(python), "-c", "import brushwork, brushwork.renderers as r; print(brushwork.__file__); "
         "print(r.renderer_dir('oilbrush'))"],
        check=True, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert str(venv) in probe.stdout.splitlines()[0]  # imported from the install, not the checkout
    demo = subprocess.run([str(venv / "bin" / "brushwork"), "demo", "-o", str(tmp_path / "out"), "--strokes", "20"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "out" / "painting.svg").stat().st_size > 10_000
    assert (tmp_path / "out" / "painting.png").stat().st_size > 10_000
