"""The painter keeps to the cores a busy machine leaves free, and gives torch its thread count back."""

import os

import pytest
import torch

from brushwork.errors import BrushworkError
from brushwork.painter import threads as threads_module
from brushwork.painter.threads import load_aware_threads, other_work, runnable, runnable_here, threads_for_load


@pytest.fixture(autouse=True)
def load_policy(monkeypatch):
    """These tests are of the load policy: no pinned count (the suite pins one, conftest)."""
    monkeypatch.delenv(threads_module.THREADS_ENV, raising=False)


def test_brushwork_threads_pins_the_count_whatever_the_load(monkeypatch, tmp_path):
    proc_loadavg(monkeypatch, tmp_path, "50.0 50.0 50.0 51/300 1000\n")
    monkeypatch.setenv("BRUSHWORK_THREADS", "2")
    assert threads_module.threads_now(4) == 2
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("BRUSHWORK_THREADS", bad)
        with pytest.raises(BrushworkError, match=f"BRUSHWORK_THREADS='{bad}': expected a whole number of threads"):
            threads_module.threads_now(4)


def proc_loadavg(monkeypatch, tmp_path, text: str | None, threads: str = "R") -> None:
    """/proc/loadavg reads `text` (a missing file where it is None: not Linux), and this process's
    threads are in the states `threads` (R: running or runnable, S: asleep)."""
    path = tmp_path / "loadavg"
    if text is not None:
        path.write_text(text)
    monkeypatch.setattr(threads_module, "PROC_LOADAVG", path)
    tasks = tmp_path / "task"
    for tid, state in enumerate(threads, start=100):
        (tasks / str(tid)).mkdir(parents=True, exist_ok=True)
        (tasks / str(tid) / "stat").write_text(f"{tid} (python (x) 1) {state} 1 {tid} {tid} 0 -1\n")
    monkeypatch.setattr(threads_module, "PROC_SELF_TASKS", tasks)


@pytest.mark.parametrize(
    ("available", "cores", "load", "expected"),
    [
        (2, 2, 0.0, 2),  # idle: every thread torch has
        (2, 2, 0.4, 2),
        (2, 2, 1.0, 1),  # one other program: the free core
        (2, 2, 5.0, 1),  # overloaded: still one
        (8, 8, 2.6, 5),
        (4, 16, 1.0, 4),  # never more than torch was given (--threads, a caller's choice)
        (1, 2, 0.0, 1),
    ],
)
def test_threads_are_the_cores_the_load_leaves(available, cores, load, expected):
    assert threads_for_load(available, cores, load) == expected


def test_the_other_work_is_what_is_runnable_now_not_the_minute_before(monkeypatch, tmp_path):
    # a program started a moment ago (load average still 0.2) holds a core; this reader is the other task
    assert runnable("0.20 0.30 0.25 2/131 4242\n") == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.3, 0.25), raising=False)
    proc_loadavg(monkeypatch, tmp_path, "0.20 0.30 0.25 2/131 4242\n")
    assert other_work() == 1
    # right after a painting of its own the average still counts it, the runnable tasks do not
    proc_loadavg(monkeypatch, tmp_path, "1.90 0.80 0.40 1/131 4243\n")
    assert other_work() == 0


def test_this_processs_own_runnable_threads_are_not_other_work(monkeypatch, tmp_path):
    # right after torch work its idle workers spin for a while: runnable, but not another program
    proc_loadavg(monkeypatch, tmp_path, "0.90 0.80 0.40 3/131 4243\n", threads="RRS")
    assert runnable_here() == 2 and other_work() == 1


def test_without_proc_loadavg_the_load_average_counts(monkeypatch, tmp_path):
    proc_loadavg(monkeypatch, tmp_path, None)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.2, 1.0, 1.0), raising=False)
    assert other_work() == 3.2


def test_threads_are_lowered_while_painting_and_restored_after(monkeypatch, tmp_path):
    before = torch.get_num_threads()
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    proc_loadavg(monkeypatch, tmp_path, "0.50 0.40 0.30 4/200 1000\n")
    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    with load_aware_threads() as threads:
        assert threads == 5 and chosen == [5]
    assert chosen == [5, 8]
    monkeypatch.undo()
    assert torch.get_num_threads() == before


def test_without_a_load_average_the_thread_count_is_kept(monkeypatch, tmp_path):
    proc_loadavg(monkeypatch, tmp_path, None)  # Windows: neither
    monkeypatch.delattr(os, "getloadavg", raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    with load_aware_threads() as threads:
        assert threads == 3
    assert chosen == [3, 3]


def test_a_painting_on_a_busy_machine_uses_one_thread(monkeypatch, tmp_path):
    from brushwork.painter import paint

    proc_loadavg(monkeypatch, tmp_path, "50.0 50.0 50.0 51/300 1000\n")
    before, chosen, seen = torch.get_num_threads(), [], []
    real_set = torch.set_num_threads

    def set_threads(n: int) -> None:
        chosen.append(n)
        real_set(n)

    monkeypatch.setattr(torch, "set_num_threads", set_threads)
    picture = torch.rand(24, 32, 3, generator=torch.Generator().manual_seed(0)).numpy()
    paint(picture, strokes=3, working_size=32, iterations=2, refine_iterations=1, device="cpu",
          callback=lambda progress: seen.append(torch.get_num_threads()))
    assert set(chosen[:-1]) == {1} and chosen[-1] == before and set(seen) == {1}
    assert torch.get_num_threads() == before


def test_the_thread_count_follows_the_load_from_pass_to_pass(monkeypatch, tmp_path):
    from brushwork.painter import paint

    proc_loadavg(monkeypatch, tmp_path, "50.0 50.0 50.0 51/300 1000\n")  # busy when the painting starts
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)

    def others_stop(progress) -> None:  # the other programs end during the first pass
        (tmp_path / "loadavg").write_text("0.1 0.1 0.1 1/300 1000\n")

    picture = torch.rand(24, 32, 3, generator=torch.Generator().manual_seed(0)).numpy()
    paint(picture, strokes=6, working_size=32, iterations=2, refine_iterations=1, device="cpu", callback=others_stop)
    assert chosen[0] == 1 and 4 in chosen[1:-1] and chosen[-1] == 4


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="Linux only")
def test_this_machines_proc_loadavg_is_read():
    assert runnable_here() >= 1  # the thread reading its own state is running
    assert other_work() >= 0  # parsed, and this process is not counted


def test_stylizing_on_a_busy_machine_uses_one_thread(monkeypatch, tmp_path, models):
    from brushwork.stylize import StyleOptions, stylize

    proc_loadavg(monkeypatch, tmp_path, "50.0 50.0 50.0 51/300 1000\n")
    before, chosen = torch.get_num_threads(), []
    real_set = torch.set_num_threads

    def set_threads(n: int) -> None:
        chosen.append(n)
        real_set(n)

    monkeypatch.setattr(torch, "set_num_threads", set_threads)
    picture = (torch.rand(32, 48, 3, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8).numpy()
    stylize(picture, [picture], StyleOptions(method="adain", device="cpu"), models=models)
    assert chosen[0] == 1 and chosen[-1] == before  # (WCT's own one-thread steps may come between)
    assert torch.get_num_threads() == before
