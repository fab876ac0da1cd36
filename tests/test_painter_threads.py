"""The painter keeps to the cores a busy machine leaves free, and gives torch its thread count back."""

import os

import pytest
import torch

from brushwork.painter.threads import load_aware_threads, threads_for_load


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


def test_threads_are_lowered_while_painting_and_restored_after(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.2, 1.0, 1.0), raising=False)
    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    with load_aware_threads() as threads:
        assert threads == 5 and chosen == [5]
    assert chosen == [5, 8]
    monkeypatch.undo()
    assert torch.get_num_threads() == before


def test_without_a_load_average_the_thread_count_is_kept(monkeypatch):
    monkeypatch.delattr(os, "getloadavg", raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    with load_aware_threads() as threads:
        assert threads == 3
    assert chosen == [3, 3]


def test_a_painting_on_a_busy_machine_uses_one_thread(monkeypatch):
    from brushwork.painter import paint

    monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 50.0, 50.0), raising=False)
    before, chosen, seen = torch.get_num_threads(), [], []
    real_set = torch.set_num_threads

    def set_threads(n: int) -> None:
        chosen.append(n)
        real_set(n)

    monkeypatch.setattr(torch, "set_num_threads", set_threads)
    picture = torch.rand(24, 32, 3, generator=torch.Generator().manual_seed(0)).numpy()
    paint(picture, strokes=3, working_size=32, iterations=2, refine_iterations=1, device="cpu",
          callback=lambda progress: seen.append(torch.get_num_threads()))
    assert chosen == [1, before] and set(seen) == {1}
    assert torch.get_num_threads() == before
