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
import warnings
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


# Pixels handled per batch by the baselines below (334 MNIST images, all 1,000 8x8 digits).
# Every buffer they make is this many entries times at most ``components`` doubles (20 MB
# at the default of ten components), so their memory does not grow with the number of
# images; and staying under glibc's 32 MB mmap threshold, the buffers are reused from
# batch to batch instead of being mapped (and zeroed) afresh, which is faster.
_PIXELS_PER_BATCH = 1 << 18


def uniform_nll(dims: int, levels: int) -> float:
    """Nats per image of the uniform model over ``levels`` values per dimension."""
    return dims * math.log(levels)


def _level_batches(levels_tensor: torch.Tensor, levels: int, check: bool = True):
    """``B x D`` int64 batches of an ``N x ...`` tensor of grey levels, checked to lie in ``0..levels-1``.

    Batches hold about :data:`_PIXELS_PER_BATCH` pixels, so no whole-set copy is made.
    """
    n = len(levels_tensor)
    dims = math.prod(levels_tensor.shape[1:])
    size = max(1, _PIXELS_PER_BATCH // max(dims, 1))
    for start in range(0, n, size):
        batch = levels_tensor[start:start + size].reshape(-1, dims).long()
        if check and batch.numel() and (batch.min() < 0 or batch.max() >= levels):
            raise ValueError(f"grey levels must lie in 0..{levels - 1}, got values in "
                             f"{int(batch.min())}..{int(batch.max())}")
        yield batch


def _level_counts(train_levels: torch.Tensor, levels: int) -> torch.Tensor:
    """``D x levels`` int64: how many training images have each level at each pixel."""
    dims = math.prod(train_levels.shape[1:])
    device = train_levels.device
    offsets = torch.arange(dims, device=device) * levels  # pixel d's levels are bins d*L .. d*L+L-1
    counts = torch.zeros(dims * levels, dtype=torch.long, device=device)
    for batch in _level_batches(train_levels, levels):
        counts += torch.bincount((batch + offsets).flatten(), minlength=dims * levels)
    return counts.view(dims, levels)


def independent_pixels_nll(train_levels: torch.Tensor, test_levels: torch.Tensor, levels: int,
                           smoothing: float = 1.0, *, per_image: bool = False) -> float | torch.Tensor:
    """Mean nats per test image of a model with one categorical per pixel, fitted on train.

    Each pixel's histogram gets ``smoothing`` pseudo-counts per level, so unseen values
    keep a non-zero probability. Both sets are read a batch at a time (the histograms are
    counted with ``bincount``), so memory does not grow with the number of images. With
    ``per_image=True`` it returns each test image's NLL (a float64 tensor on the CPU)
    instead of their mean, for paired comparisons with a model scored on the same images.
    """
    counts = _level_counts(train_levels, levels).double() + smoothing  # D x levels
    log_p = (counts / counts.sum(-1, keepdim=True)).log().flatten()
    dims = counts.shape[0]
    offsets = torch.arange(dims, device=log_p.device) * levels
    each = [-log_p[batch.to(log_p.device) + offsets].sum(1).cpu() for batch in _level_batches(test_levels, levels)]
    each = torch.cat(each)
    return each if per_image else float(each.sum() / len(test_levels))


def mixture_of_independent_pixels_nll(train_levels: torch.Tensor, test_levels: torch.Tensor, levels: int,
                                      components: int = 10, iterations: int = 100, smoothing: float = 1.0,
                                      seed: int = 0, *, per_image: bool = False) -> float | torch.Tensor:
    """Mean nats per test image of a mixture of ``components`` independent-pixel models
    (each test image's NLL, a float64 CPU tensor, with ``per_image=True``).

    The classic latent-class baseline: each component is one categorical per pixel, fitted
    with EM on the training images (``smoothing`` pseudo-counts per level in every M-step,
    responsibilities started at random from ``seed``; ``iterations`` M-steps). With one
    component it is :func:`independent_pixels_nll`. It is the cheapest model with a discrete
    latent variable, so a deep model should beat it.

    EM runs a batch of images at a time: each pass computes a batch's responsibilities
    (E-step) and adds them to the next M-step's level counts, so memory does not grow with
    the number of images. Only the pixels that differ from their commonest level are
    visited (the rest is accounted for in closed form), which makes a pass over MNIST's
    mostly black pixels about five times cheaper. On full MNIST (50,000 images, 256
    levels) an iteration takes about 0.6 s of one CPU core, so the default 100 take a
    minute; fewer ``iterations`` give a quicker, slightly weaker baseline.
    """
    if components < 1 or iterations < 1:
        raise ValueError(f"need components >= 1 and iterations >= 1, got {components} and {iterations}")
    device = train_levels.device
    n, k = len(train_levels), components
    common = _level_counts(train_levels, levels).argmax(1)  # D: each pixel's commonest level
    em = _SparseLevels(common, levels, k)
    # The start is drawn on the CPU a batch at a time: the same numbers as one N x K draw.
    generator = torch.Generator().manual_seed(seed)

    def start(b: int) -> torch.Tensor:
        resp = torch.rand(b, k, generator=generator, dtype=torch.float64).to(device)
        return resp / resp.sum(1, keepdim=True)

    for batch in _level_batches(train_levels, levels, check=False):
        em.accumulate(em.visit(batch), start(len(batch)))
    for it in range(iterations):
        em.m_step(n, smoothing)
        if it == iterations - 1:
            break
        for batch in _level_batches(train_levels, levels, check=False):
            visited = em.visit(batch)
            joint = em.joint(visited)  # E-step
            em.accumulate(visited, (joint - joint.logsumexp(1, keepdim=True)).exp())
    each = torch.cat([-em.joint(em.visit(batch.to(device))).logsumexp(1).cpu()
                      for batch in _level_batches(test_levels, levels)])
    return each if per_image else float(each.sum() / len(test_levels))


class _SparseLevels:
    """EM statistics of a mixture of per-pixel categoricals, from batches of ``B x D`` levels.

    A pixel at its commonest level ``common[d]`` is never visited: the M-step gets its count
    as the rest of the component's mass, and the E-step adds ``sum_d log theta[k, d,
    common[d]]`` once per component and only the differences to it for the other pixels,
    which a sparse ``B x (D * L)`` matrix of the visited (pixel, level) pairs picks out.
    """

    def __init__(self, common: torch.Tensor, levels: int, components: int):
        self.common, self.levels, self.k = common, levels, components
        self.dims = len(common)
        self.device = common.device
        self.offsets = torch.arange(self.dims, device=self.device) * levels
        self._reset()

    def _reset(self) -> None:
        # Level counts (D * L) x K of the pixels not at their commonest level, and the mass.
        self.counts = torch.zeros(self.dims * self.levels, self.k, dtype=torch.float64, device=self.device)
        self.mass = torch.zeros(self.k, dtype=torch.float64, device=self.device)

    def visit(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch's visited entries, image by image: their bins ``d * L + level``, and how
        many each image has."""
        mask = batch != self.common
        where = mask.view(-1).nonzero().squeeze(1)  # faster than boolean indexing
        return (batch + self.offsets).view(-1).index_select(0, where), mask.sum(1)

    def accumulate(self, visited: tuple[torch.Tensor, torch.Tensor], resp: torch.Tensor) -> None:
        """Add a batch's responsibilities (``B x K``) to the statistics of the next M-step."""
        bins, per_row = visited
        rows = torch.repeat_interleave(torch.arange(len(per_row), device=self.device), per_row)
        # index_put_ accumulates in a fixed order (also on a GPU, unlike scatter_add_'s atomics)
        self.counts.index_put_((bins,), resp.index_select(0, rows), accumulate=True)
        self.mass += resp.sum(0)

    def m_step(self, n: int, smoothing: float) -> None:
        """Turn the accumulated statistics into log-probabilities, and start new statistics."""
        counts = self.counts.view(self.dims, self.levels, self.k)
        pixels = torch.arange(self.dims, device=self.device)
        counts[pixels, self.common] = (self.mass - counts.sum(1)).clamp_min(0)  # the unvisited level
        counts += smoothing
        log_theta = (counts / counts.sum(1, keepdim=True)).log()  # D x L x K
        at_common = log_theta[pixels, self.common]  # D x K
        self.base = (self.mass / n).log() + at_common.sum(0)  # log pi_k + sum_d log theta[k, d, common]
        self.delta = (log_theta - at_common[:, None]).view(-1, self.k)
        self._reset()

    def joint(self, visited: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """``B x K``: ``log pi_k + sum_d log theta[k, d, x_d]`` for each image of the batch."""
        bins, per_row = visited
        crow = torch.zeros(len(per_row) + 1, dtype=torch.long, device=self.device)
        crow[1:] = per_row.cumsum(0)
        ones = torch.ones(len(bins), dtype=torch.float64, device=self.device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            picks = torch.sparse_csr_tensor(crow, bins, ones, size=(len(per_row), self.dims * self.levels))
        return self.base + picks @ self.delta


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """How many latent dimensions the encoder uses (Burda et al., 2016).

    A unit is active when its posterior mean varies across data points:
    ``Var_x(E_q[z_d | x]) > threshold``. ``mu`` holds the posterior means, ``N x K``.
    """
    return int((mu.var(0) > threshold).sum())
