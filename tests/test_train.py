import pytest
import torch
from torch import nn

import gentext as gt


def _problem(seed=0):
    """A tiny regression task with dropout, so resuming must restore the RNG too."""
    g = torch.Generator().manual_seed(123)
    x = torch.randn(96, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]]) + 0.1 * torch.randn(96, 1, generator=g)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
    loader = gt.data.make_loader(x, y, batch_size=16, seed=seed)
    val = gt.data.make_loader(x[:32], y[:32], batch_size=32, shuffle=False)
    return model, loader, val


def mse(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def test_fit_lowers_the_loss_and_records_history():
    model, loader, val = _problem()
    h = gt.fit(model, mse, loader, val_loader=val, epochs=15, lr=1e-2, verbose=False)
    assert h.epochs == 15 and len(h.val_loss) == 15
    assert h.train_loss[-1] < 0.2 * h.train_loss[0]
    assert h.best_val == min(h.val_loss) and h.finished and h.seconds > 0


def test_checkpoint_is_atomic_and_loads_weights_only(tmp_path):
    model, loader, _ = _problem()
    path = tmp_path / "ck" / "model.pt"
    gt.fit(model, mse, loader, epochs=2, checkpoint=path, verbose=False)
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    state = torch.load(path, weights_only=True)
    assert set(state) >= {"model", "optimizer", "history", "rng"}
    assert state["history"]["train_loss"] and len(state["history"]["train_loss"]) == 2


def test_save_checkpoint_leaves_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    gt.save_checkpoint(path, {"w": torch.ones(2)})

    def broken(obj, fh):
        fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError):
        gt.save_checkpoint(path, {"w": torch.zeros(2)})
    monkeypatch.undo()
    assert torch.equal(gt.load_checkpoint(path)["w"], torch.ones(2))


class Crash(Exception):
    pass


def test_resumed_run_ends_with_the_same_weights(tmp_path):
    model, loader, val = _problem()
    gt.fit(model, mse, loader, val_loader=val, epochs=6, lr=1e-2, verbose=False)
    reference = {k: v.clone() for k, v in model.state_dict().items()}

    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += model.training  # count training batches only
        if calls["n"] == 6 * 3 + 2:  # in the middle of the fourth epoch (6 batches per epoch)
            raise Crash()
        return mse(model, batch)

    path = tmp_path / "run.pt"
    model, loader, val = _problem()
    with pytest.raises(Crash):
        gt.fit(model, crashing, loader, val_loader=val, epochs=6, lr=1e-2, checkpoint=path, verbose=False)
    assert gt.load_checkpoint(path)["history"]["train_loss"].__len__() == 3

    torch.manual_seed(999)  # the new process would start from other random states
    model, loader, val = _problem(seed=0)
    torch.rand(10)
    h = gt.fit(model, mse, loader, val_loader=val, epochs=6, lr=1e-2, checkpoint=path, verbose=False)
    assert h.epochs == 6
    for k, v in model.state_dict().items():
        assert torch.equal(v, reference[k]), k


def test_finished_checkpoint_returns_at_once(tmp_path):
    model, loader, _ = _problem()
    path = tmp_path / "done.pt"
    gt.fit(model, mse, loader, epochs=3, checkpoint=path, verbose=False)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    fresh, loader, _ = _problem(seed=5)
    h = gt.fit(fresh, lambda m, b: (_ for _ in ()).throw(AssertionError("trained again")), loader,
               epochs=3, checkpoint=path, verbose=False)
    assert h.epochs == 3
    assert all(torch.equal(v, trained[k]) for k, v in fresh.state_dict().items())


def test_checkpoint_of_another_model_is_not_resumed(tmp_path, capsys):
    model, loader, _ = _problem()
    path = tmp_path / "other.pt"
    gt.fit(model, mse, loader, epochs=2, checkpoint=path, verbose=False)
    wider = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))
    h = gt.fit(wider, mse, loader, epochs=2, checkpoint=path)
    assert "other settings (model changed)" in capsys.readouterr().out
    assert h.epochs == 2


def test_nan_loss_stops_with_a_clear_error_and_keeps_last_good_checkpoint(tmp_path):
    model, loader, _ = _problem()
    path = tmp_path / "nan.pt"
    calls = {"n": 0}

    def exploding(model, batch):
        calls["n"] += model.training
        loss = mse(model, batch)
        return loss * float("nan") if calls["n"] > 6 * 2 + 3 else loss

    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 3, step 4.*nan.pt.*after epoch 2"):
        gt.fit(model, exploding, loader, epochs=5, checkpoint=path, verbose=False)
    state = gt.load_checkpoint(path)
    assert len(state["history"]["train_loss"]) == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_early_stopping_restores_the_best_weights():
    model, loader, val = _problem()
    # Validate on the negated targets: the better the fit, the worse the validation loss.
    x, y = next(iter(val))
    val = gt.data.make_loader(x, -y, batch_size=32, shuffle=False)
    h = gt.fit(model, mse, loader, val_loader=val, epochs=200, lr=1e-2, patience=3, verbose=False)
    assert h.stopped_early and h.epochs < 200
    assert h.epochs - 1 - h.best_epoch == 3
    model.eval()
    x, y = next(iter(val))
    with torch.no_grad():
        assert abs(mse(model, (x, y)).item() - h.best_val) < 1e-6


def test_fit_argument_errors():
    model, loader, _ = _problem()
    with pytest.raises(ValueError, match="patience.*val_loader"):
        gt.fit(model, mse, loader, epochs=2, patience=2)
    with pytest.raises(ValueError, match="epochs must be positive"):
        gt.fit(model, mse, loader, epochs=0)


def test_count_parameters():
    assert gt.count_parameters(nn.Linear(3, 2)) == 8


# ------------------------------------------------------------ stale checkpoints

class Noisy(nn.Module):
    """A model with a setting that its repr does not show."""

    def __init__(self, noise_std=0.0):
        super().__init__()
        self.noise_std = noise_std
        self.net = nn.Linear(4, 1)

    def forward(self, x):
        return self.net(x + self.noise_std * torch.randn_like(x))


def _run(path, capsys, *, model=None, epochs=2, optimizer=None, config=None):
    _, loader, _ = _problem()
    model = model or Noisy()
    h = gt.fit(model, mse, loader, epochs=epochs, checkpoint=path, config=config,
               optimizer=optimizer(model) if optimizer else None)
    return h, capsys.readouterr().out


@pytest.mark.parametrize("change, part", [
    (dict(model=Noisy(noise_std=0.3)), "model"),
    (dict(epochs=3), "training"),
    (dict(optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=1e-2)), "optimizer"),
    (dict(optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.999))), "optimizer"),
    (dict(config={"dataset": "digits", "hidden": 512}), "settings"),
])
def test_changing_one_setting_starts_fresh(tmp_path, capsys, change, part):
    path = tmp_path / "run.pt"
    _run(path, capsys, config={"dataset": "digits", "hidden": 256})
    h, out = _run(path, capsys, **{"config": {"dataset": "digits", "hidden": 256}, **change})
    assert "resuming train from" not in out
    assert "not resuming run.pt" in out and f"{part} changed" in out and out.count("note:") == 1, out
    assert h.epochs == change.get("epochs", 2)


def test_same_settings_resume(tmp_path, capsys):
    path = tmp_path / "run.pt"
    _run(path, capsys, config={"lr": 1e-3, "betas": (0.0, 0.99)})
    _, out = _run(path, capsys, config={"lr": 1e-3, "betas": (0.0, 0.99)})
    assert "resuming train from run.pt: 2 epochs done (finished)" in out


def test_unreadable_checkpoint_trains_again(tmp_path, capsys):
    path = tmp_path / "run.pt"
    path.write_bytes(b"not a checkpoint")
    h, out = _run(path, capsys)
    assert "could not be read" in out and h.epochs == 2
    assert gt.load_checkpoint(path)["history"]["finished"]


def test_fingerprint_sees_tuples_attributes_and_data():
    from gentext.train import fingerprint

    base = fingerprint(settings={"betas": (0.0, 0.99)}, data=torch.zeros(3))
    assert fingerprint(settings={"betas": (0.0, 0.99)}, data=torch.zeros(3)) == base
    assert fingerprint(settings={"betas": (0.5, 0.99)}, data=torch.zeros(3))["settings"] != base["settings"]
    assert fingerprint(settings={"betas": (0.0, 0.99)}, data=torch.ones(3))["data"] != base["data"]
    assert fingerprint(model=Noisy(0.1))["model"] != fingerprint(model=Noisy(0.2))["model"]


# ------------------------------------------------------------ devices

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + \
    (["mps"] if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else [])


def _on(module, device):
    tensors = list(module.parameters()) + list(module.buffers())
    return tensors and all(t.device.type == torch.device(device).type for t in tensors)


@pytest.mark.parametrize("device", DEVICES)
def test_fit_trains_on_the_requested_device(device, tmp_path):
    model, loader, val = _problem()
    model.append(nn.BatchNorm1d(1))  # a buffer must move too
    gt.fit(model, mse, loader, val_loader=val, epochs=2, device=device, checkpoint=tmp_path / "d.pt",
           verbose=False)
    assert _on(model, device)
    state = gt.load_checkpoint(tmp_path / "d.pt")
    assert set(state["rng"]) == {"cpu", "cuda", "mps"}
    if device == "cuda":
        assert len(state["rng"]["cuda"]) == torch.cuda.device_count()


def test_rng_state_round_trip():
    from gentext.train import rng_state, set_rng_state

    saved = rng_state()
    a = torch.rand(3)
    set_rng_state(saved)
    assert torch.equal(torch.rand(3), a)


def test_warmup_cosine_shape_and_validation():
    s = gt.train.WarmupCosine(warmup=0.1, final=0.1)
    assert s(0.0) < 0.02 and s(0.1) == pytest.approx(1.0) and s(1.0) == pytest.approx(0.1)
    assert s(0.05) < s(0.1) and s(0.3) > s(0.6) > s(0.9)
    assert "WarmupCosine(warmup=0.1, final=0.1)" == repr(s)
    with pytest.raises(ValueError, match="warmup"):
        gt.train.WarmupCosine(warmup=1.0)


def test_fit_follows_the_schedule_step_by_step():
    model, loader, _ = _problem()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    seen = []
    gt.fit(model, mse, loader, epochs=3, optimizer=opt, verbose=False,
           lr_schedule=gt.train.WarmupCosine(warmup=0.2),
           after_step=lambda m: seen.append(opt.param_groups[0]["lr"]))
    expected = [1e-2 * gt.train.WarmupCosine(warmup=0.2)(i / 18) for i in range(18)]
    assert seen == pytest.approx(expected)
    assert max(seen) == pytest.approx(1e-2, rel=0.05) and seen[-1] < 1e-3


def test_resume_with_a_schedule_ends_with_the_same_weights(tmp_path):
    schedule = gt.train.WarmupCosine(warmup=0.2)
    model, loader, val = _problem()
    gt.fit(model, mse, loader, val_loader=val, epochs=5, lr=1e-2, lr_schedule=schedule, verbose=False)
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += model.training
        if calls["n"] == 6 * 2 + 3:
            raise Crash()
        return mse(model, batch)

    path = tmp_path / "sched.pt"
    model, loader, val = _problem()
    with pytest.raises(Crash):
        gt.fit(model, crashing, loader, val_loader=val, epochs=5, lr=1e-2, lr_schedule=schedule,
               checkpoint=path, verbose=False)
    model, loader, val = _problem()
    gt.fit(model, mse, loader, val_loader=val, epochs=5, lr=1e-2, lr_schedule=schedule,
           checkpoint=path, verbose=False)
    for k, v in model.state_dict().items():
        assert torch.equal(v, reference[k]), k


def test_ema_update_moves_towards_the_model_and_copies_buffers():
    import copy

    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    ema = copy.deepcopy(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.fill_(5.0)
    before = [p.clone() for p in ema.parameters()]
    gt.train.ema_update(ema, model, 0.9)
    for b, pe, p in zip(before, ema.parameters(), model.parameters()):
        assert torch.allclose(pe, 0.9 * b + 0.1 * p)
    assert torch.equal(ema[1].running_mean, model[1].running_mean)
    gt.train.ema_update(ema, model, 0.0)
    assert all(torch.equal(pe, p) for pe, p in zip(ema.parameters(), model.parameters()))
    with pytest.raises(ValueError, match="decay"):
        gt.train.ema_update(ema, model, 1.5)
    with pytest.raises(ValueError, match="same parameters"):
        gt.train.ema_update(torch.nn.Linear(2, 2), model, 0.9)


# Progress bars: a widget under any Jupyter kernel (Colab's shell subclasses ipykernel's),
# text in a terminal IPython and in plain Python.

class ZMQInteractiveShell:  # the name ipykernel's shell has; only the name is checked
    pass


class ColabShell(ZMQInteractiveShell):  # like google.colab._shell.Shell
    pass


class TerminalInteractiveShell:
    pass


def _fake_ipython(monkeypatch, shell_class):
    import sys
    import types

    module = types.ModuleType("IPython")
    module.get_ipython = lambda: None if shell_class is None else shell_class()
    monkeypatch.setitem(sys.modules, "IPython", module)


@pytest.mark.parametrize("shell_class, expected", [
    (ZMQInteractiveShell, True), (ColabShell, True), (TerminalInteractiveShell, False), (None, False),
])
def test_notebook_detection_recognises_kernel_shells_and_subclasses(monkeypatch, shell_class, expected):
    from gentext import train

    _fake_ipython(monkeypatch, shell_class)
    assert train._in_notebook() is expected


def test_notebook_detection_without_ipython(monkeypatch):
    import sys

    from gentext import train

    monkeypatch.setitem(sys.modules, "IPython", None)
    assert train._in_notebook() is False
    monkeypatch.delitem(sys.modules, "IPython")
    assert train._in_notebook() is False


def test_progress_uses_the_widget_in_colab_unless_plain_is_forced(monkeypatch):
    import sys
    import types

    from tqdm.std import tqdm as text_tqdm

    # Stand-ins for ipywidgets and tqdm.notebook, so the test needs neither installed.
    created = []
    widget_module = types.ModuleType("tqdm.notebook")
    widget_module.tqdm = lambda iterable=None, **kw: created.append(kw) or "widget"
    monkeypatch.setitem(sys.modules, "ipywidgets", types.ModuleType("ipywidgets"))
    monkeypatch.setitem(sys.modules, "tqdm.notebook", widget_module)
    monkeypatch.delenv("GENTEXT_PLAIN_PROGRESS", raising=False)
    _fake_ipython(monkeypatch, ColabShell)
    assert gt.progress(range(3)) == "widget" and len(created) == 1
    monkeypatch.setenv("GENTEXT_PLAIN_PROGRESS", "1")
    bar = gt.progress(range(3), disable=True)
    assert isinstance(bar, text_tqdm) and len(created) == 1
    bar.close()
    monkeypatch.delenv("GENTEXT_PLAIN_PROGRESS")
    _fake_ipython(monkeypatch, TerminalInteractiveShell)
    bar = gt.progress(range(3), disable=True)
    assert isinstance(bar, text_tqdm) and len(created) == 1
    bar.close()


def test_batched_equals_one_call_and_keeps_tuples():
    x, y = torch.randn(10, 3), torch.arange(10)
    out = gt.batched(lambda a: a * 2, x, batch_size=3)
    assert torch.equal(out, x * 2)
    mu, idx = gt.batched(lambda a, b: (a.sum(1), b + 1), x, y, batch_size=4, device="cpu")
    assert torch.allclose(mu, x.sum(1)) and torch.equal(idx, y + 1)
    seen = []
    gt.batched(lambda a: seen.append(len(a)) or a, x, batch_size=4)
    assert seen == [4, 4, 2]  # never more than a batch at once
    with pytest.raises(ValueError, match="equal lengths"):
        gt.batched(lambda a, b: a, x, y[:5], batch_size=4)
    with pytest.raises(ValueError, match="at least 1"):
        gt.batched(lambda a: a, x, batch_size=0)
