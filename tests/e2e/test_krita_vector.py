"""Krita's own rendering of the strokes SVG the plug-in puts in a vector layer (`svg.write_flat`),
for every brush kind, against the exact renderer: the vector layer must look like the painting
(≥ 25 dB PSNR), sit at the selection's place and be cut at its edges. Real Krita under Xvfb; the
driver plug-in is tests/e2e/krita_svg_driver."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from brushwork import raster, svg
from brushwork.strokes import BRUSHES, StrokeList, random_stroke

from conftest import psnr
from krita_profile import add_plugin, krita_env, need

pytestmark = pytest.mark.slow

DOC = (300, 210)
ORIGIN = (23, 17)
REGION = (240, 160)


def _strokes(kinds: list[str], seed: int, count: int = 60) -> StrokeList:
    rng = np.random.default_rng(seed)
    w, h = REGION
    side = max(w, h)
    strokes = [random_stroke(kinds[i % len(kinds)], w, h, rng, min_size=0.04 * side, max_size=0.3 * side)
               for i in range(count)]
    return StrokeList(w, h, tuple(strokes), (0.96, 0.94, 0.9))


def test_vector_layer_looks_like_the_painting_for_every_brush(tmp_path):
    xvfb_run, krita = need("xvfb-run"), need("krita")
    env = krita_env(tmp_path, ["brushwork_svg_e2e"])
    add_plugin(tmp_path, Path(__file__).parent / "krita_svg_driver")

    cases = {kind: _strokes([kind], seed) for seed, kind in enumerate(BRUSHES)}
    cases["mixed"] = _strokes(list(BRUSHES), 9)
    items = []
    for name, strokes in cases.items():
        (tmp_path / f"{name}.svg").write_text(svg.write_flat(strokes, ORIGIN), encoding="utf-8")
        items.append({"svg": str(tmp_path / f"{name}.svg"), "width": DOC[0], "height": DOC[1],
                      "out": str(tmp_path / f"{name}.bgra")})
    conf = {"items": items, "result": str(tmp_path / "result.json")}
    (tmp_path / "job.json").write_text(json.dumps(conf))
    env["BRUSHWORK_SVG_E2E"] = str(tmp_path / "job.json")
    run = subprocess.run(["timeout", "240", xvfb_run, "-a", "-s", "-screen 0 1280x1024x24", krita, "--nosplash"],
                         env=env, capture_output=True, text=True)
    result_file = tmp_path / "result.json"
    assert result_file.exists(), f"Krita exited {run.returncode} without a result:\n{run.stderr[-3000:]}"
    result = json.loads(result_file.read_text())
    assert "error" not in result, result["error"]

    x, y = ORIGIN
    w, h = REGION
    scores = {}
    assert len(result["items"]) == len(cases), result
    for (name, strokes), seen in zip(cases.items(), result["items"], strict=True):
        pixels = np.frombuffer((tmp_path / f"{name}.bgra").read_bytes(), np.uint8)
        layer = pixels.reshape(DOC[1], DOC[0], 4)[..., [2, 1, 0, 3]]
        inside = layer[y:y + h, x:x + w]
        outside = np.ones(layer.shape[:2], bool)
        outside[y:y + h, x:x + w] = False
        assert (layer[outside][:, 3] == 0).all(), f"{name}: shapes drawn outside the selection"
        assert (inside[..., 3] == 255).all(), f"{name}: the paper does not cover the selection"
        # one shape per stroke plus the paper: a click selects one stroke
        assert seen["shapes"] == len(strokes) + 1, seen
        scores[name] = psnr(inside[..., :3], raster.render(strokes))
    print("krita vector layer PSNR against the exact renderer:",
          ", ".join(f"{k} {v:.1f} dB" for k, v in scores.items()))
    assert all(score >= 25 for score in scores.values()), scores
