import time

import pytest
import torch

import gentext as gt
from gentext import timing


def test_timer_on_cpu_measures_a_sleep(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: calls.append(a))
    with gt.timer("cpu") as t:
        time.sleep(0.2)
    assert 0.19 <= t.seconds < 1.0
    with gt.timer() as t2:  # no device: the CPU
        pass
    assert 0 <= t2.seconds < 0.1
    assert calls == [], "the CPU needs no synchronisation"
    assert "cpu" in repr(t) and " s" in repr(t)


def test_timer_synchronizes_cuda_at_both_ends(monkeypatch):
    events = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append(("sync", device)))
    with gt.timer("cuda") as t:
        events.append("work")
    assert events == [("sync", torch.device("cuda")), "work", ("sync", torch.device("cuda"))]
    assert t.seconds >= 0


def test_timer_synchronizes_mps_at_both_ends(monkeypatch):
    events = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: events.append("sync"))
    with gt.timer(torch.device("mps")):
        events.append("work")
    assert events == ["sync", "work", "sync"]


def test_timer_does_not_wait_on_the_device_after_an_error(monkeypatch):
    events = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append("sync"))
    with pytest.raises(ZeroDivisionError):
        with gt.timer("cuda") as t:
            1 / 0
    assert events == ["sync"] and t.seconds >= 0


def test_reading_seconds_too_early_is_a_clear_error():
    t = gt.timer()
    with pytest.raises(RuntimeError, match="has not run"):
        t.seconds
    with t:
        with pytest.raises(RuntimeError, match="still running"):
            t.seconds
    assert t.seconds >= 0
    assert isinstance(t, timing.Timer)


def test_per_thousand():
    assert gt.per_thousand(2.0, 500) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="positive"):
        gt.per_thousand(1.0, 0)
