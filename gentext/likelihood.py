"""Likelihood tools shared by the latent-variable chapters (VAE, cVAE, comparison).

Chapter 2 derives each of these and shows its source; later chapters import them.

* The **beta-binomial** distribution over the counts ``0..n``: the likelihood of a pixel
  that is a count of inked sub-pixels, which is how the 8x8 digits were made (16
  sub-pixels per pixel, so ``n = 16``), with room for more spread than a binomial has.
* The closed-form **KL divergence** of a diagonal Gaussian from the standard normal, and
  the **reparameterized** Gaussian sample.
* The **importance-weighted** estimate of ``-log p(x)`` (Burda et al., 2016), computed
  with a stable log-mean-exp.
* Baselines in the book's units, and the **active units** count for posterior collapse.
"""

from __future__ import annotations

import math
from typing import Callable

import torch


def beta_binomial_log_prob(k: torch.Tensor, n: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log p(k)`` for ``k ~ BetaBinomial(n, a, b)``, elementwise.

    ``p(k) = C(n, k) B(k + a, n - k + b) / B(a, b)``: a binomial count whose success
    probability is itself drawn from ``Beta(a, b)``.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of trials, got {n}")
    k = k.to(a.dtype)
    if (k < 0).any() or (k > n).any():
        raise ValueError(f"counts must lie in 0..{n}")
    n_t = torch.as_tensor(float(n), dtype=a.dtype, device=a.device)
    log_choose = torch.lgamma(n_t + 1) - torch.lgamma(k + 1) - torch.lgamma(n_t - k + 1)
    log_beta_ratio = (torch.lgamma(k + a) + torch.lgamma(n_t - k + b) - torch.lgamma(n_t + a + b)
                      - torch.lgamma(a) - torch.lgamma(b) + torch.lgamma(a + b))
    return log_choose + log_beta_ratio


def beta_binomial_sample(n: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Draw counts in ``0..n``: first ``p ~ Beta(a, b)``, then ``k ~ Binomial(n, p)``."""
    p = torch.distributions.Beta(a, b).sample()
    return torch.distributions.Binomial(n, probs=p).sample().long()


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))``, summed over the last axis.

    ``0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2)``.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``z = mu + sigma * eps`` with ``eps ~ N(0, I)``: a sample that gradients flow through."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(z; mu, diag(exp(logvar)))``, summed over the last axis."""
    return -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


def log_mean_exp(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``log(mean(exp(x)))`` along ``dim``, without overflow or underflow."""
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


def importance_log_weights(mu: torch.Tensor, logvar: torch.Tensor,
                           log_px_given_z: Callable[[torch.Tensor], torch.Tensor],
                           k: int, chunk: int = 250) -> torch.Tensor:
    """``k x N`` log-weights ``log p(x | z_i) + log p(z_i) - log q(z_i | x)``, ``z_i ~ q(z | x)``.

    ``q(z | x) = N(mu, diag(exp(logvar)))`` (``N x K``), the prior is ``N(0, I)``, and
    ``log_px_given_z`` maps codes ``c x N x K`` to ``c x N`` log-likelihoods. Codes are drawn
    ``chunk`` at a time to bound memory. Feed the result to :func:`importance_weighted_nll`.
    """
    out = []
    with torch.no_grad():
        for start in range(0, k, chunk):
            z = reparameterize(mu.expand(min(chunk, k - start), *mu.shape), logvar)
            prior = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
            out.append(log_px_given_z(z) + prior - gaussian_log_prob(z, mu, logvar))
    return torch.cat(out)


def importance_weighted_nll(log_weights: torch.Tensor) -> torch.Tensor:
    """The IWAE estimate of ``-log p(x)`` from ``k x N`` log importance weights.

    ``log w_i = log p(x, z_i) - log q(z_i | x)`` with ``z_i ~ q(z | x)``; the estimate
    ``-log mean_i w_i`` is an upper bound on ``-log p(x)`` in expectation that tightens as
    ``k`` grows, and equals the negative ELBO for ``k = 1``.
    """
    if log_weights.dim() != 2:
        raise ValueError(f"log_weights must be k x N, got shape {tuple(log_weights.shape)}")
    return -log_mean_exp(log_weights, 0)


def uniform_nll(dims: int, levels: int) -> float:
    """Nats per image of the uniform model over ``levels`` values per dimension."""
    return dims * math.log(levels)


def independent_pixels_nll(train_levels: torch.Tensor, test_levels: torch.Tensor, levels: int,
                           smoothing: float = 1.0) -> float:
    """Mean nats per test image of a model with one categorical per pixel, fitted on train.

    Each pixel's histogram gets ``smoothing`` pseudo-counts per level, so unseen values
    keep a non-zero probability.
    """
    train = train_levels.flatten(1).long()
    test = test_levels.flatten(1).long()
    counts = torch.nn.functional.one_hot(train, levels).sum(0).double() + smoothing  # D x levels
    log_p = (counts / counts.sum(-1, keepdim=True)).log()
    return float(-log_p.gather(1, test.T).sum(0).mean())


def mixture_of_independent_pixels_nll(train_levels: torch.Tensor, test_levels: torch.Tensor, levels: int,
                                      components: int = 10, iterations: int = 100, smoothing: float = 1.0,
                                      seed: int = 0) -> float:
    """Mean nats per test image of a mixture of ``components`` independent-pixel models.

    The classic latent-class baseline: each component is one categorical per pixel, fitted
    with EM on the training images (``smoothing`` pseudo-counts per level in every M-step,
    responsibilities started at random from ``seed``). With one component it is
    :func:`independent_pixels_nll`. It is the cheapest model with a discrete latent
    variable, so a deep model should beat it.
    """
    if components < 1 or iterations < 1:
        raise ValueError(f"need components >= 1 and iterations >= 1, got {components} and {iterations}")
    train = torch.nn.functional.one_hot(train_levels.flatten(1).long(), levels).double()  # N x D x L
    test = test_levels.flatten(1).long()
    g = torch.Generator().manual_seed(seed)
    resp = torch.rand(len(train), components, generator=g, dtype=torch.float64)
    resp = resp / resp.sum(1, keepdim=True)
    for _ in range(iterations):
        counts = torch.einsum("nk,ndl->kdl", resp, train) + smoothing  # M-step
        log_theta = (counts / counts.sum(-1, keepdim=True)).log()  # K x D x L
        log_pi = (resp.sum(0) / len(train)).log()
        joint = log_pi + torch.einsum("ndl,kdl->nk", train, log_theta)  # E-step
        resp = (joint - joint.logsumexp(1, keepdim=True)).exp()
    picked = log_theta[:, torch.arange(test.shape[1])[None, :], test]  # K x N x D
    log_p = (log_pi[:, None] + picked.sum(-1)).logsumexp(0)
    return float(-log_p.mean())


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """How many latent dimensions the encoder uses (Burda et al., 2016).

    A unit is active when its posterior mean varies across data points:
    ``Var_x(E_q[z_d | x]) > threshold``. ``mu`` holds the posterior means, ``N x K``.
    """
    return int((mu.var(0) > threshold).sum())
