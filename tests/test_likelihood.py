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
