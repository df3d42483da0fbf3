import math

import pytest
import torch
from torch import nn

from gentext import gan
from gentext.data import load_toy


def test_losses_match_their_formulas():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    d = torch.sigmoid
    expected_d = (-torch.log(d(real))).mean() + (-torch.log(1 - d(fake))).mean()
    assert torch.allclose(gan.d_loss(real, fake), expected_d)
    assert torch.allclose(gan.g_loss(fake), (-torch.log(d(fake))).mean())
    # Stable where a naive log(sigmoid) underflows.
    assert math.isfinite(gan.d_loss(torch.tensor([-200.0]), torch.tensor([200.0])).item())


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight_norm():
    D = nn.Linear(3, 1)
    x = torch.randn(10, 3, requires_grad=True)
    assert torch.allclose(gan.r1_penalty(D(x), x), D.weight.pow(2).sum())


def _toy(seed=0, pack=1):
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    D_in = 2 * pack
    D = nn.Sequential(nn.Flatten(), nn.Linear(D_in, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    return G, D


DATA = load_toy("gaussians", 512, seed=0)


def test_training_runs_records_history_and_snapshots():
    G, D = _toy()
    run = gan.train_gan(G, D, DATA, z_dim=2, epochs=3, batch_size=64, verbose=False,
                        snapshot=lambda g, d: {"x": g(torch.zeros(4, 2))}, snapshot_epochs=(1, 3))
    assert run.history.epochs == 3 and len(run.history.d_real) == 3
    assert sorted(run.snapshots) == [1, 3] and run.snapshots[3]["x"].shape == (4, 2)
    assert all(0 < p < 1 for p in run.history.d_real + run.history.d_fake)


def test_packing_and_generator_steps():
    G, D = _toy(pack=4)
    run = gan.train_gan(G, D, DATA, z_dim=2, epochs=1, batch_size=16, pack=4, g_steps=2, verbose=False)
    assert run.history.epochs == 1


class Crash(Exception):
    pass


def test_resume_gives_the_same_generator(tmp_path):
    G, D = _toy()
    ref = gan.train_gan(G, D, DATA, z_dim=2, epochs=4, batch_size=64, verbose=False).generator

    path = tmp_path / "gan.pt"
    G, D = _toy()
    calls = {"n": 0}
    forward = D.forward

    def crashing(x):
        calls["n"] += 1
        if calls["n"] == 8 * 3 * 2 + 5:  # during the third epoch (8 batches, 3 D calls each)
            raise Crash()
        return forward(x)

    D.forward = crashing
    with pytest.raises(Crash):
        gan.train_gan(G, D, DATA, z_dim=2, epochs=4, batch_size=64, checkpoint=path, verbose=False,
                      snapshot=lambda g, d: {"w": g[0].weight.clone()}, snapshot_epochs=(1,))
    G, D = _toy(seed=7)
    torch.rand(3)
    run = gan.train_gan(G, D, DATA, z_dim=2, epochs=4, batch_size=64, checkpoint=path, verbose=False)
    assert run.history.epochs == 4 and 1 in run.snapshots
    for a, b in zip(run.generator.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)


def test_non_finite_loss_is_a_clear_error(tmp_path):
    G, D = _toy()
    with torch.no_grad():
        D[1].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite.*epoch 1"):
        gan.train_gan(G, D, DATA, z_dim=2, epochs=2, batch_size=64, r1_gamma=0, verbose=False)


def test_bad_arguments():
    G, D = _toy()
    with pytest.raises(ValueError, match="larger than the data"):
        gan.train_gan(G, D, DATA[:10], z_dim=2, epochs=1, batch_size=64, verbose=False)
    with pytest.raises(ValueError, match="same length"):
        gan.train_gan(G, D, DATA, labels=torch.zeros(3), z_dim=2, epochs=1, verbose=False)


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_train_gan_uses_the_requested_device(device):
    G, D = _toy()
    G.append(nn.BatchNorm1d(2))  # buffers move too
    seen = []
    forward = D.forward
    D.forward = lambda x: (seen.append(x.device.type), forward(x))[1]
    run = gan.train_gan(G, D, DATA, z_dim=2, epochs=1, batch_size=64, device=device, verbose=False)
    for module in (run.generator, G, D):
        tensors = list(module.parameters()) + list(module.buffers())
        assert all(t.device.type == device for t in tensors)
    assert seen and set(seen) == {device}


@pytest.mark.parametrize("change", [dict(lr=2e-3), dict(betas=(0.5, 0.999)), dict(r1_gamma=0.5),
                                    dict(epochs=3), dict(config={"toy_noise": 0.02})])
def test_gan_checkpoint_with_other_settings_is_not_resumed(tmp_path, capsys, change):
    path = tmp_path / "gan.pt"
    args = dict(z_dim=2, epochs=2, batch_size=64, checkpoint=path, config={"toy_noise": 0.01})
    gan.train_gan(*_toy(), DATA, **args)
    capsys.readouterr()
    run = gan.train_gan(*_toy(), DATA, **{**args, **change})
    out = capsys.readouterr().out
    assert "not resuming gan.pt" in out and "training from scratch" in out and "resuming GAN" not in out
    assert run.history.epochs == change.get("epochs", 2)
    gan.train_gan(*_toy(), DATA, **{**args, **change})
    assert "resuming GAN from gan.pt" in capsys.readouterr().out


def test_gan_checkpoint_of_other_data_is_not_resumed(tmp_path, capsys):
    path = tmp_path / "gan.pt"
    gan.train_gan(*_toy(), DATA, z_dim=2, epochs=1, batch_size=64, checkpoint=path, verbose=False)
    gan.train_gan(*_toy(), DATA * 2, z_dim=2, epochs=1, batch_size=64, checkpoint=path)
    assert "data changed" in capsys.readouterr().out
