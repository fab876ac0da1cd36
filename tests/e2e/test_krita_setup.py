"""Installing brushwork the way an artist does, in the real Krita under Xvfb: a fresh profile imports
the release zip (scripts/build_krita_plugin.py) with Krita's own "Import Python Plugin from File...",
and after a restart the docker's "Set up engine" makes the engine's environment (PyTorch and the
bundled wheel) in the user's data folder, connects, and paints. The driver plug-in is
tests/e2e/krita_setup_driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork import client, raster, svg

from krita_profile import add_plugin, krita_env, need

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
SCREENSHOT = ROOT / "docs" / "screenshots" / "krita-docker.png"  # kept current by this test

pytestmark = pytest.mark.slow


def _krita(env: dict, conf: dict, tmp: Path, timeout: int) -> dict:
    (tmp / "job.json").write_text(json.dumps({**conf, "result": str(tmp / "result.json"), "timeout": timeout - 30}))
    (tmp / "result.json").unlink(missing_ok=True)
    run = subprocess.run(["timeout", str(timeout), need("xvfb-run"), "-a", "-s", "-screen 0 1280x1024x24",
                          need("krita"), "--nosplash"],
                         env={**env, "BRUSHWORK_SETUP_E2E": str(tmp / "job.json")}, capture_output=True, text=True)
    assert (tmp / "result.json").exists(), f"Krita exited {run.returncode} without a result:\n{run.stderr[-3000:]}"
    result = json.loads((tmp / "result.json").read_text())
    assert result.get("ok"), result
    return result


def test_import_the_release_zip_set_up_the_engine_and_paint(tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_krita_plugin.py"), "-o", str(dist)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    archive = next(dist.glob("brushwork-krita-*.zip"))

    env = krita_env(tmp_path, ["brushwork_setup_e2e", "plugin_importer"])
    add_plugin(tmp_path, HERE / "krita_setup_driver")
    cache = Path.home() / ".cache" / "pip"  # the user's pip cache: what setup.sh already downloaded
    env.update(BRUSHWORK_STATE_DIR=str(tmp_path / "state"), BRUSHWORK_LOG_DIR=str(tmp_path / "log"),
               # the PyTorch build this machine provides (README: Installing PyTorch); the set-up
               # takes the same pip arguments as scripts/setup.sh
               BRUSHWORK_TORCH=os.environ.get("BRUSHWORK_TORCH", "torch==2.13.0"),
               **({"PIP_CACHE_DIR": str(cache)} if cache.is_dir() else {}))

    imported = _krita(env, {"phase": "import", "zip": str(archive)}, tmp_path, 120)
    assert {"brushwork_krita", "brushwork_krita.desktop"} <= set(imported["installed"]), imported
    assert imported["enabled"] == "true"
    pykrita = tmp_path / "data" / "krita" / "pykrita" / "brushwork_krita"
    assert next((pykrita / "engine").glob("brushwork-*.whl")).is_file()

    # the bundled photo: the screenshot shows a real painting
    photo = ROOT / "core" / "brushwork" / "data" / "chelsea.jpg"
    W, H = Image.open(photo).size
    painting = tmp_path / "painting.bgra"
    conf = {"phase": "setup", "image": str(photo), "painting": str(painting),
            "title": "brushwork: oil brush, 100 strokes", "screenshot": str(tmp_path / "krita.png")}
    try:
        done = _krita(env, conf, tmp_path, 1500)
        engine = tmp_path / "data" / "brushwork" / "engine"
        print(f"krita set-up e2e: engine in {done['setup_seconds']:.0f} s, Draft painting in "
              f"{done['paint_seconds']:.0f} s")
        assert done["engine_python"] == str(engine / "bin" / "python")
        assert subprocess.run([str(engine / "bin" / "python"), "-c", "import brushwork, torch"],
                              capture_output=True).returncode == 0

        os.environ["BRUSHWORK_STATE_DIR"] = str(tmp_path / "state")
        try:
            bridge = client.Bridge(None, start=False)
            jobs = bridge.request("GET", "/jobs")
            strokes = svg.read(bridge.result_svg(jobs[-1]["id"]))
        finally:
            del os.environ["BRUSHWORK_STATE_DIR"]
        assert len(strokes) == 100 and (strokes.width, strokes.height) == (W, H)
        pixels = np.frombuffer(painting.read_bytes(), np.uint8).reshape(H, W, 4)[..., [2, 1, 0]]
        np.testing.assert_array_equal(pixels, raster.render(strokes))
        shot = Image.open(tmp_path / "krita.png")
        assert shot.size == (1280, 1000) and len(np.unique(np.asarray(shot.convert("L")))) > 50  # not blank
        shot.save(SCREENSHOT)
    finally:
        try:
            state = json.loads((tmp_path / "state" / "server.json").read_text())
            os.kill(state["pid"], signal.SIGTERM)
        except (OSError, ValueError, KeyError):
            pass
