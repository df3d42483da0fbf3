import math

import pytest
import torch

import gentext as gt
from gentext import likelihood as lk


def test_beta_binomial_sums_to_one_and_matches_a_binomial_limit():
    alpha, beta = torch.tensor([0.5, 2.0, 30.0]), torch.tensor([0.7, 5.0, 10.0])
    k = torch.arange(17.0).unsqueeze(1).expand(17, 3)
    p = lk.beta_binomial_log_prob(k, 16, alpha, beta).exp()
    assert torch.allclose(p.sum(0), torch.ones(3), atol=1e-5)
    # With alpha, beta large and alpha / (alpha + beta) = 0.25, it approaches Binomial(16, 0.25).
    big = torch.tensor(1e8, dtype=torch.float64)  # float32 lgamma would cancel badly this large
    bb = lk.beta_binomial_log_prob(torch.arange(17.0, dtype=torch.float64), 16, big * 0.25, big * 0.75)
    binom = torch.distributions.Binomial(16, probs=torch.tensor(0.25, dtype=torch.float64)).log_prob(
        torch.arange(17.0, dtype=torch.float64))
    assert torch.allclose(bb, binom, atol=1e-3)


def test_beta_binomial_mean_and_errors():
    torch.manual_seed(0)
    alpha, beta = torch.full((20000,), 2.0), torch.full((20000,), 6.0)
    k = lk.beta_binomial_sample(16, alpha, beta)
    assert k.dtype == torch.int64 and k.min() >= 0 and k.max() <= 16
    assert abs(k.float().mean().item() - 16 * 2 / 8) < 0.05
    with pytest.raises(ValueError, match="0..16"):
        lk.beta_binomial_log_prob(torch.tensor([17.0]), 16, torch.ones(1), torch.ones(1))


def test_gaussian_kl_matches_torch_distributions():
    mu, logvar = torch.randn(8, 3), torch.randn(8, 3)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, (0.5 * logvar).exp()),
                                            torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(lk.gaussian_kl(mu, logvar), ref, atol=1e-5)


def test_reparameterize_and_log_prob():
    torch.manual_seed(0)
    mu, logvar = torch.full((50000, 1), 1.0), torch.full((50000, 1), math.log(4.0))
    z = lk.reparameterize(mu, logvar)
    assert abs(z.mean().item() - 1) < 0.03 and abs(z.std().item() - 2) < 0.03
    ref = torch.distributions.Normal(1.0, 2.0).log_prob(z[:5]).sum(-1)
    assert torch.allclose(lk.gaussian_log_prob(z[:5], mu[:5], logvar[:5]), ref, atol=1e-5)


def test_importance_weighted_nll_is_stable_and_exact_for_equal_weights():
    log_w = torch.full((1000, 3), -500.0)
    assert torch.allclose(lk.importance_weighted_nll(log_w), torch.full((3,), 500.0))
    log_w = torch.tensor([[0.0], [math.log(3.0)]])
    assert lk.importance_weighted_nll(log_w).item() == pytest.approx(-math.log(2.0))
    with pytest.raises(ValueError, match="k x N"):
        lk.importance_weighted_nll(torch.zeros(3))


def test_baselines():
    assert lk.uniform_nll(64, 17) == pytest.approx(64 * math.log(17))
    train = torch.zeros(10, 1, 2, 2, dtype=torch.long)
    test = torch.zeros(3, 1, 2, 2, dtype=torch.long)
    # Each pixel: counts 10 + 1 for level 0, 1 for level 1 -> p(0) = 11 / 12.
    assert lk.independent_pixels_nll(train, test, 2) == pytest.approx(-4 * math.log(11 / 12))


def test_active_units():
    mu = torch.cat([torch.randn(500, 2), 1e-3 * torch.randn(500, 3)], 1)
    assert lk.active_units(mu) == 2


def test_importance_log_weights_are_exact_for_the_true_posterior():
    # z ~ N(0, 1), x | z ~ N(z, 1): with q the exact posterior N(x/2, 1/2), every weight is p(x).
    x = torch.tensor([0.5, -1.0, 2.0])
    mu, logvar = (x / 2).unsqueeze(1), torch.full((3, 1), math.log(0.5))
    log_w = lk.importance_log_weights(
        mu, logvar, lambda z: torch.distributions.Normal(z[..., 0], 1.0).log_prob(x), k=600, chunk=250)
    assert log_w.shape == (600, 3)
    exact = torch.distributions.Normal(0.0, math.sqrt(2.0)).log_prob(x)
    assert torch.allclose(log_w, exact.expand(600, 3), atol=1e-5)
    assert torch.allclose(lk.importance_weighted_nll(log_w), -exact, atol=1e-5)


def test_mixture_of_independent_pixels_baseline():
    x_train, _ = gt.data.load_images("digits", "train", levels=True)
    x_test, _ = gt.data.load_images("digits", "test", levels=True)
    one = lk.mixture_of_independent_pixels_nll(x_train, x_test, 17, components=1, iterations=3)
    assert abs(one - lk.independent_pixels_nll(x_train, x_test, 17)) < 1e-6
    ten = lk.mixture_of_independent_pixels_nll(x_train, x_test, 17)
    assert ten < one - 3, "ten latent classes explain digits much better than one"
    assert ten == lk.mixture_of_independent_pixels_nll(x_train, x_test, 17), "seeded: the same number twice"
    with pytest.raises(ValueError, match="components"):
        lk.mixture_of_independent_pixels_nll(x_train, x_test, 17, components=0)


# The baselines as they were first written: the whole training set one-hot at once
# (N x D x levels). Exact, and fine on the 8x8 digits; at MNIST's shapes that tensor takes
# 80 GB, which is why gentext streams instead (tests/test_memory.py runs those shapes).
def _one_hot_independent_pixels_nll(train_levels, test_levels, levels, smoothing=1.0):
    train, test = train_levels.flatten(1).long(), test_levels.flatten(1).long()
    counts = torch.nn.functional.one_hot(train, levels).sum(0).double() + smoothing
    log_p = (counts / counts.sum(-1, keepdim=True)).log()
    return float(-log_p.gather(1, test.T).sum(0).mean())


def _one_hot_mixture_nll(train_levels, test_levels, levels, components=10, iterations=100, smoothing=1.0,
                         seed=0):
    train = torch.nn.functional.one_hot(train_levels.flatten(1).long(), levels).double()
    test = test_levels.flatten(1).long()
    g = torch.Generator().manual_seed(seed)
    resp = torch.rand(len(train), components, generator=g, dtype=torch.float64)
    resp = resp / resp.sum(1, keepdim=True)
    for _ in range(iterations):
        counts = torch.einsum("nk,ndl->kdl", resp, train) + smoothing
        log_theta = (counts / counts.sum(-1, keepdim=True)).log()
        log_pi = (resp.sum(0) / len(train)).log()
        joint = log_pi + torch.einsum("ndl,kdl->nk", train, log_theta)
        resp = (joint - joint.logsumexp(1, keepdim=True)).exp()
    picked = log_theta[:, torch.arange(test.shape[1])[None, :], test]
    return float(-(log_pi[:, None] + picked.sum(-1)).logsumexp(0).mean())


@pytest.mark.parametrize("batch_pixels, iterations", [(None, 100), (64 * 37, 30), (64, 3)],
                         ids=["default-batches", "37-digit-batches", "one-digit-batches"])
def test_streamed_baselines_equal_the_whole_set_computation(batch_pixels, iterations, monkeypatch):
    if batch_pixels is not None:
        monkeypatch.setattr(lk, "_PIXELS_PER_BATCH", batch_pixels)
    x_train, _ = gt.data.load_images("digits", "train", levels=True)
    x_test, _ = gt.data.load_images("digits", "test", levels=True)
    for smoothing in (1.0, 0.25):
        assert lk.independent_pixels_nll(x_train, x_test, 17, smoothing) == pytest.approx(
            _one_hot_independent_pixels_nll(x_train, x_test, 17, smoothing), rel=1e-12)
    for kwargs in ({"iterations": iterations}, {"components": 3, "iterations": min(iterations, 7), "smoothing": 0.5,
                                                "seed": 2}, {"components": 1, "iterations": 2}):
        assert lk.mixture_of_independent_pixels_nll(x_train, x_test, 17, **kwargs) == pytest.approx(
            _one_hot_mixture_nll(x_train, x_test, 17, **kwargs), rel=1e-9), kwargs


def test_streamed_baselines_at_256_levels_and_other_input_types(monkeypatch):
    monkeypatch.setattr(lk, "_PIXELS_PER_BATCH", 36 * 7)  # 7 images a batch
    g = torch.Generator().manual_seed(0)
    # MNIST-like: mostly 0, some pixels ink; and one pixel that is always 0
    ink = torch.rand(300, 1, 6, 6, generator=g) < 0.3
    x = torch.where(ink, torch.randint(1, 256, (300, 1, 6, 6), generator=g), 0)
    x[:, 0, 0, 0] = 0
    train, test = x[:250], x[250:]
    ref = _one_hot_independent_pixels_nll(train, test, 256)
    assert lk.independent_pixels_nll(train, test, 256) == pytest.approx(ref, rel=1e-12)
    assert lk.independent_pixels_nll(train.to(torch.uint8), test.to(torch.uint8), 256) == pytest.approx(ref, rel=1e-12)
    ref = _one_hot_mixture_nll(train, test, 256, components=4, iterations=20)
    assert lk.mixture_of_independent_pixels_nll(train, test, 256, components=4, iterations=20) == pytest.approx(
        ref, rel=1e-9)
    # an expanded (stride-0) tensor works too: it is sliced a batch at a time
    one = x[:1].expand(40, 1, 6, 6)
    assert lk.mixture_of_independent_pixels_nll(one, test, 256, components=2, iterations=3) == pytest.approx(
        _one_hot_mixture_nll(one, test, 256, components=2, iterations=3), rel=1e-9)
    # every training pixel at its commonest level: no pixel is visited at all
    zeros = torch.zeros(30, 1, 6, 6, dtype=torch.long)
    assert lk.mixture_of_independent_pixels_nll(zeros, zeros, 256, components=3, iterations=4) == pytest.approx(
        _one_hot_mixture_nll(zeros, zeros, 256, components=3, iterations=4), rel=1e-9)


def test_baselines_reject_levels_out_of_range():
    ok = torch.zeros(4, 1, 2, 2, dtype=torch.long)
    bad = ok.clone()
    bad[1, 0, 1, 1] = 17
    for fn in (lk.independent_pixels_nll, lk.mixture_of_independent_pixels_nll):
        with pytest.raises(ValueError, match=r"0\.\.16"):
            fn(bad, ok, 17)
        with pytest.raises(ValueError, match=r"0\.\.16"):
            fn(ok, -1 - bad, 17)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_baselines_compute_on_the_device_of_their_inputs():
    x_train, _ = gt.data.load_images("digits", "train", levels=True)
    x_test, _ = gt.data.load_images("digits", "test", levels=True)
    cpu = (lk.independent_pixels_nll(x_train, x_test, 17),
           lk.mixture_of_independent_pixels_nll(x_train, x_test, 17, iterations=20))
    gpu = (lk.independent_pixels_nll(x_train.cuda(), x_test.cuda(), 17),
           lk.mixture_of_independent_pixels_nll(x_train.cuda(), x_test.cuda(), 17, iterations=20))
    assert gpu == pytest.approx(cpu, rel=1e-9)


def test_baselines_give_each_test_image_its_nll_for_paired_comparisons():
    train, _ = gt.data.load_images("digits", "train", levels=True)
    test, _ = gt.data.load_images("digits", "test", levels=True)
    for fn, kw in ((lk.independent_pixels_nll, {}), (lk.mixture_of_independent_pixels_nll, {"iterations": 5})):
        each = fn(train, test, 17, per_image=True, **kw)
        assert each.shape == (len(test),) and each.dtype == torch.float64 and each.device.type == "cpu"
        assert float(each.mean()) == pytest.approx(fn(train, test, 17, **kw), rel=1e-12)
        assert (each > 0).all()
    # the pixels of one image are scored together: its NLL is the sum over its 64 pixels
    one = lk.independent_pixels_nll(train, test[:1], 17, per_image=True)
    assert one.item() == pytest.approx(lk.independent_pixels_nll(train, test[:1], 17))
