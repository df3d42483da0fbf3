import pytest
import torch

import gentext as gt
from gentext import env


def test_profile_defaults_to_quick_without_gpu(monkeypatch):
    monkeypatch.delenv("GENTEXT_PROFILE", raising=False)
    monkeypatch.setattr(env, "_cuda_available", lambda: False)
    assert gt.get_profile() == "quick"
    monkeypatch.setattr(env, "_cuda_available", lambda: True)
    assert gt.get_profile() == "full"


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("GENTEXT_PROFILE", " FULL ")
    assert gt.get_profile() == "full"


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GENTEXT_PROFILE", "fast")
    with pytest.raises(ValueError, match="unknown profile 'fast'.*quick, full"):
        gt.get_profile()


def test_device_order_and_override(monkeypatch):
    monkeypatch.delenv("GENTEXT_DEVICE", raising=False)
    monkeypatch.setattr(env, "_cuda_available", lambda: False)
    monkeypatch.setattr(env, "_mps_available", lambda: False)
    assert gt.get_device() == torch.device("cpu")
    monkeypatch.setattr(env, "_mps_available", lambda: True)
    assert gt.get_device() == torch.device("mps")
    monkeypatch.setattr(env, "_cuda_available", lambda: True)
    assert gt.get_device() == torch.device("cuda")
    monkeypatch.setenv("GENTEXT_DEVICE", "cpu")
    assert gt.get_device() == torch.device("cpu")


def test_bad_device_requests(monkeypatch):
    monkeypatch.setattr(env, "_cuda_available", lambda: False)
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        gt.get_device("gpu")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        gt.get_device("cuda")


def test_setup_seeds_and_prints_one_line(capsys, monkeypatch):
    monkeypatch.setenv("GENTEXT_PROFILE", "quick")
    monkeypatch.setenv("GENTEXT_DEVICE", "cpu")
    cfg = gt.setup(seed=3)
    a = torch.rand(3)
    gt.setup(seed=3)
    b = torch.rand(3)
    assert torch.equal(a, b)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("gentext: profile=quick device=cpu seed=3")
    assert cfg.profile == "quick" and cfg.device.type == "cpu" and cfg.seed == 3


def test_seed_must_be_a_non_negative_int():
    with pytest.raises(ValueError, match="non-negative int"):
        gt.seed_everything(-1)


def test_settings_table(capsys, monkeypatch):
    monkeypatch.delenv("GENTEXT_SMOKE", raising=False)
    quick, full = {"steps": 10, "width": 32}, {"steps": 100, "width": 256}
    assert gt.settings("quick", quick=quick, full=full) == quick
    assert gt.settings("full", quick=quick, full=full)["steps"] == 100
    with pytest.raises(ValueError, match="full-profile settings"):
        gt.settings("full", quick=quick, full=None)
    with pytest.raises(ValueError, match="same keys"):
        gt.settings("quick", quick=quick, full={"steps": 1})
    with pytest.raises(ValueError, match="unknown profile"):
        gt.settings("medium", quick=quick, full=full)


def test_smoke_settings_override_full_only_when_asked(capsys, monkeypatch):
    quick, full = {"steps": 10, "width": 32}, {"steps": 100, "width": 256}
    monkeypatch.delenv("GENTEXT_SMOKE", raising=False)
    assert gt.settings("full", quick=quick, full=full, smoke={"steps": 2}) == full
    monkeypatch.setenv("GENTEXT_SMOKE", "1")
    assert gt.settings("full", quick=quick, full=full, smoke={"steps": 2}) == {"steps": 2, "width": 256}
    assert "smoke run" in capsys.readouterr().out
    assert gt.settings("quick", quick=quick, full=full, smoke={"steps": 2}) == quick
    with pytest.raises(ValueError, match="unknown keys"):
        gt.settings("full", quick=quick, full=full, smoke={"epochs": 2})
