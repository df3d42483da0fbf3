"""The device check finds the bugs a GPU would find, and only those.

CI runs every chapter's full-profile smoke run under :func:`gentext.devicecheck.virtual_cuda`
(tests/test_full_profile.py). These tests show that the check fails on the bug it exists
for (chapter 6's causal mask, made on the CPU) and that ordinary correct training code
passes it unchanged.
"""

import copy
import io
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import gentext as gt
from gentext.devicecheck import DeviceMismatchError, on_device, virtual_cuda


def attention_with_cpu_mask(q, k, v):
    T = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    future = torch.ones(T, T, dtype=torch.bool).triu(1)  # the bug: no device=
    return scores.masked_fill(future, float("-inf")).softmax(-1) @ v


def attention(q, k, v):
    T = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    return scores.masked_fill(future, float("-inf")).softmax(-1) @ v


def test_a_cpu_mask_fails_as_it_would_on_cuda():
    q, k, v = torch.randn(3, 2, 4, 10, 16)
    expected = attention(q, k, v)  # on the CPU both versions run
    assert torch.allclose(attention_with_cpu_mask(q, k, v), expected)
    with virtual_cuda():
        device = gt.get_device("cuda")
        qd, kd, vd = q.to(device), k.to(device), v.to(device)
        assert qd.device.type == "cuda" and qd.is_cuda
        with pytest.raises(DeviceMismatchError, match="masked_fill mixes devices"):
            attention_with_cpu_mask(qd, kd, vd)
        out = attention(qd, kd, vd)
        assert on_device(out) and out.device == torch.device("cuda", 0)
        assert torch.allclose(out.cpu(), expected)  # the numbers are the CPU's


@pytest.mark.parametrize("bug", ["numpy", "asarray", "randn", "generator", "cat", "index"])
def test_other_device_bugs_are_caught(bug):
    with virtual_cuda():
        x = torch.randn(5, 3, device="cuda")
        cases = {
            "numpy": lambda: x.numpy(),
            "asarray": lambda: np.asarray(x),
            "randn": lambda: x + torch.randn(5, 3),
            "generator": lambda: torch.randn(3, device="cuda",
                                             generator=torch.Generator().manual_seed(0)),
            "cat": lambda: torch.cat([x, torch.zeros(1, 3)]),
            "index": lambda: torch.zeros(9)[torch.arange(3, device="cuda")],
        }
        with pytest.raises(DeviceMismatchError):
            cases[bug]()


def test_correct_training_code_passes_unchanged():
    """Adam, clipping, an EMA copy, a checkpoint round trip and plotting after .cpu()."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
    data = torch.randn(64, 3)
    with virtual_cuda() as mode:
        device = gt.get_device("cuda")
        model.to(device)
        ema = copy.deepcopy(model)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        gen = torch.Generator(device=device).manual_seed(1)
        for _ in range(3):
            x = data.to(device) + 0.1 * torch.randn(data.shape, device=device, generator=gen)
            loss = model(x).pow(2).mean() + 0.0 * torch.tensor(1.0)  # a CPU scalar is fine
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            gt.train.ema_update(ema, model, 0.9)
        xg = x.detach().requires_grad_()
        (grad,) = torch.autograd.grad(model(xg).sum(), xg)
        assert on_device(grad) and all(on_device(p) for p in ema.parameters())
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        buffer.seek(0)
        ema.load_state_dict(torch.load(buffer, map_location="cpu", weights_only=True))
        assert float(loss.detach()) == loss.item() and np.isfinite(model(x).detach().cpu().numpy()).all()
        assert mode.calls > 100
    # everything is restored afterwards
    assert torch.Generator().device.type == "cpu" and not hasattr(torch.Generator(), "virtual_cuda")
    assert not on_device(nn.Parameter(torch.zeros(2)))


def test_other_devices_are_real_inside_the_check():
    """A cost cell builds full-size models on ``meta`` inside a smoke run: that must work."""
    with virtual_cuda():
        model = nn.Linear(3, 3).to("meta")
        assert model.weight.device.type == "meta"
        x = torch.randn(2, 3, device="cuda")
        assert x.to("meta").device.type == "meta" and x.to("cpu").device.type == "cpu"
        assert x.to(torch.float64).device.type == "cuda"


def test_a_recurrent_network_moves_to_the_virtual_gpu():
    """nn.GRU.to('cuda') flattens its weights for cuDNN, which a CPU lacks: the check runs
    PyTorch's own kernels instead, as on a GPU without cuDNN."""
    with virtual_cuda():
        rnn = nn.GRU(4, 8, batch_first=True).to("cuda")
        out, _ = rnn(torch.randn(2, 5, 4, device="cuda"))
        out.sum().backward()
        assert on_device(out) and on_device(rnn.weight_ih_l0.grad)
        with pytest.raises(DeviceMismatchError):
            rnn(torch.randn(2, 5, 4))
