"""The benchmarks run where their figures are wanted: every script takes --device, and benchmarks/gpu.sh
(issue #15's GPU figures) works end to end, checked on the CPU with its quick mode. Their figures
themselves are never asserted (DESIGN: benchmarks print figures)."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if 'if __name__ == "__main__":' in p.read_text())
GPU_FIGURES = ("paint-1k", "paint-4k", "wct-4096", "gatys-512", "train")


def test_the_scripts_are_found():
    # the glob must not silently find nothing (then the --help test below would check nothing)
    assert {"paint.py", "stylize.py", "gpu_figures.py", "render.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_benchmark_takes_device(script, monkeypatch, capsys):
    # In this process (one torch import for all), as `python benchmarks/<script> --help` runs it: its
    # folder first on sys.path, so that it finds its sibling modules (device_clock, paint).
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    for sibling in ("device_clock", "paint"):
        monkeypatch.delitem(sys.modules, sibling, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    assert "--device" in usage and "auto" in usage, usage


def test_a_device_this_machine_lacks_is_refused_in_one_line():
    hidden = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU, even on a machine with eight
    done = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_figures.py"), "paint-1k", "--device", "cuda:7"],
                          capture_output=True, text=True, timeout=120, env=hidden)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["--device cuda:7: no such CUDA GPU here (this machine has: cpu)"]


def test_gpu_sh_help_names_its_options():
    done = subprocess.run(["bash", str(BENCHMARKS / "gpu.sh"), "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    assert "--device" in done.stdout and "--quick" in done.stdout


@pytest.mark.slow  # five processes that each import torch and paint, stylize or train: 20 s on a quiet 2-core
def test_gpu_sh_quick_runs_every_figure_on_the_cpu(weights_dir):
    env = {**os.environ, "GPU_SH_QUICK": "1", "BRUSHWORK_WEIGHTS": str(weights_dir)}
    done = subprocess.run(["bash", str(BENCHMARKS / "gpu.sh"), "--device", "cpu"], capture_output=True, text=True,
                          timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    table = done.stdout[done.stdout.index("figure "):].splitlines()
    header, rule, *rows = table
    assert [cell.strip() for cell in header.split("|")] == ["figure", "target", "measured", "device name"]
    assert set(rule) <= {"-", "|"}
    assert len(rows) == len(GPU_FIGURES), table
    for row in rows:
        figure, target, measured, device = (cell.strip() for cell in row.split("|"))
        assert target == "- (quick)" and device.startswith("cpu ("), row
        assert measured.split()[0].replace(".", "").isdigit() and measured.split()[1].startswith("s"), row
    figures = [row.split("|")[0].strip() for row in rows]
    assert figures == ["paint 12 strokes at 64 px (3 iterations)", "paint 50 strokes at 128 px (3 iterations)",
                       "5-level WCT at 96 px", "Gatys at 96 px (3 steps)",
                       "train the oilbrush renderer to its card's PSNR"]
    # each figure's own output (warm-up, progress) is shown as it runs
    assert all(f"== {name}" in done.stdout for name in GPU_FIGURES)
    assert done.stderr.count("warm-up (untimed)") == len(GPU_FIGURES)


def _stylize_benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delitem(sys.modules, "device_clock", raising=False)
    return runpy.run_path(str(BENCHMARKS / "stylize.py"))


def test_grid_overrides_are_read_as_their_fields_types(monkeypatch):
    parse_overrides = _stylize_benchmark(monkeypatch)["parse_overrides"]
    overrides = parse_overrides(["wct.alpha=0.6", "gatys.steps=30", "gatys.optimizer=adam", "wct.levels=5,4",
                                 "wct.preserve_color=true"], ["wct", "gatys", "adain"])
    assert overrides == {"wct": {"alpha": 0.6, "levels": (5, 4), "preserve_color": True},
                         "gatys": {"steps": 30, "optimizer": "adam"}, "adain": {}}
    assert isinstance(overrides["gatys"]["steps"], int)


@pytest.mark.parametrize("pair, problem", [("wct.strength=0.6", "expected METHOD.FIELD=VALUE"),
                                           ("oil.alpha=0.6", "expected METHOD.FIELD=VALUE"),
                                           ("wct.size=256", "other than method, size and device"),
                                           ("gatys.steps=many", "'many' is not a int value")])
def test_a_wrong_grid_override_is_refused_naming_it(monkeypatch, pair, problem):
    parse_overrides = _stylize_benchmark(monkeypatch)["parse_overrides"]
    with pytest.raises(SystemExit) as exit_info:
        parse_overrides([pair], ["wct"])
    assert f"--set {pair!r}" in str(exit_info.value) and problem in str(exit_info.value)


def test_the_grid_prints_a_row_per_pair_and_the_medians(weights_dir):
    # one content x two styles, AdaIN only (the fastest): the table's shape, not its figures
    env = {**os.environ, "BRUSHWORK_WEIGHTS": str(weights_dir)}
    done = subprocess.run([sys.executable, str(BENCHMARKS / "stylize.py"), "--grid", "--methods", "adain",
                           "--set", "adain.alpha=0.5", "--grid-contents", "tubingen.jpg",
                           "--grid-styles", "wave.jpg,udnie.jpg", "--device", "cpu"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    pairs = [line.split() for line in lines if line.startswith("adain") and ".jpg" in line]
    assert [row[:3] for row in pairs] == [["adain", "tubingen.jpg", "wave.jpg"], ["adain", "tubingen.jpg", "udnie.jpg"]]
    medians = lines[lines.index(next(line for line in lines if line.startswith("medians over 2 pairs"))):]
    assert medians[1].split() == ["method", "content", "style", "time", "s", "cpu", "s", "settings"]
    row = medians[2].split()
    assert row[0] == "adain" and row[-1] == "alpha=0.5"
    # the medians of two pairs are their means
    for column in (1, 2):
        assert float(row[column]) == pytest.approx(sum(float(pair[column + 4]) for pair in pairs) / 2, abs=1e-3)
