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


def test_setup_line_shows_the_notebook_command_to_switch_profile(capsys, monkeypatch):
    monkeypatch.setenv("GENTEXT_DEVICE", "cpu")
    monkeypatch.setenv("GENTEXT_PROFILE", "quick")
    gt.setup(seed=0, style=False)
    line = capsys.readouterr().out.strip()
    assert line.startswith("gentext: profile=quick device=cpu seed=0")
    assert "%env GENTEXT_PROFILE=full" in line
    gt.setup(seed=0, profile="full", style=False)
    assert "%env GENTEXT_PROFILE=quick" in capsys.readouterr().out


def test_setup_keeps_the_chapter_it_was_given(monkeypatch):
    monkeypatch.setenv("GENTEXT_DEVICE", "cpu")
    assert gt.setup(seed=0, verbose=False, style=False).chapter is None
    cfg = gt.setup(seed=1, verbose=False, style=False, chapter="02_vae")
    assert cfg.chapter == "02_vae" and cfg.seed == 1
    assert str(cfg).startswith("profile=")


def _fake_colab(monkeypatch, tmp_path):
    """A stand-in for google.colab whose drive.mount makes MyDrive under tmp_path."""
    import sys
    import types

    mounted = []

    def mount(mountpoint, **kwargs):
        mounted.append(mountpoint)
        (tmp_path / "drive" / "MyDrive").mkdir(parents=True, exist_ok=True)

    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(env, "COLAB_DRIVE", str(tmp_path / "drive"))
    return mounted


def test_use_drive_mounts_and_points_gentext_at_drive(monkeypatch, tmp_path, capsys):
    from gentext import data, metrics, results

    for name in ("GENTEXT_RESULTS", "GENTEXT_DATA", "GENTEXT_CACHE"):
        # setenv (not delenv) so that monkeypatch restores even a variable that was unset
        monkeypatch.setenv(name, "before-use-drive")
    mounted = _fake_colab(monkeypatch, tmp_path)
    base = gt.use_drive()
    assert mounted == [str(tmp_path / "drive")]
    assert base == tmp_path / "drive" / "MyDrive" / "gentext"
    out = capsys.readouterr().out
    for name, sub in (("GENTEXT_RESULTS", "results"), ("GENTEXT_DATA", "data"), ("GENTEXT_CACHE", "cache")):
        assert (base / sub).is_dir()
        assert env.os.environ[name] == str(base / sub)
        assert f"{name}={base / sub}" in out
    # gentext reads the variables when it needs a folder, not when it is imported
    assert results.results_dir() == base / "results"
    assert results.checkpoint_path("01_autoencoder", "ae", profile="quick").is_relative_to(base / "results")
    assert data.default_data_root() == base / "data"
    assert metrics.cache_dir() == base / "cache"
    assert gt.use_drive("my book", verbose=False) == tmp_path / "drive" / "MyDrive" / "my book"
    with pytest.raises(ValueError, match="inside MyDrive"):
        gt.use_drive("../elsewhere")


def test_use_drive_outside_colab_says_what_to_do(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "google.colab", None)  # makes the import fail
    with pytest.raises(RuntimeError, match="for Google Colab.*GENTEXT_RESULTS, GENTEXT_DATA, GENTEXT_CACHE"):
        gt.use_drive()
