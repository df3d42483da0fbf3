"""Self-check functions for the chapters' exercises.

The pattern: a student writes a function in the notebook and passes it to a checker,
``gentext.exercises.check_<name>(their_function)``. The checker runs it on cases it makes
itself, compares with a reference, and prints a verdict: a pass, or what went wrong and a
hint. It never raises, so a wrong answer cannot stop the notebook; it returns a
:class:`CheckResult` that is truthy when the answer passed.

A new checker is a function decorated with :func:`checker` that raises ``AssertionError``
with a helpful message when something is wrong.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one exercise."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "PASSED" if self.passed else "NOT YET"
        return f"[{mark}] {self.exercise}: {self.message}"

    def _ipython_display_(self) -> None:
        """Show nothing in Jupyter: the checker has already printed the verdict."""


def checker(exercise: str, hint: str) -> Callable:
    """Turn a function that asserts things about a student's function into a checker."""

    def wrap(check: Callable[[Callable], None]) -> Callable[[Callable], CheckResult]:
        @functools.wraps(check)
        def run(fn: Callable, *, verbose: bool = True) -> CheckResult:
            if not callable(fn):
                result = CheckResult(exercise, False, f"pass your function itself, not {type(fn).__name__}")
            else:
                try:
                    check(fn)
                    result = CheckResult(exercise, True, "correct, well done.")
                except NotImplementedError:
                    result = CheckResult(exercise, False, f"not implemented yet. Hint: {hint}")
                except AssertionError as err:
                    result = CheckResult(exercise, False, f"{err} Hint: {hint}")
                except Exception as err:  # the student's code failed: report it, don't crash
                    result = CheckResult(exercise, False,
                                         f"your function raised {type(err).__name__}: {err}. Hint: {hint}")
            if verbose:
                print(result)
            return result

        return run

    return wrap


def _close(a: torch.Tensor, b: torch.Tensor, what: str, atol: float = 1e-5) -> None:
    assert isinstance(a, torch.Tensor), f"{what} should be a tensor, got {type(a).__name__}."
    assert a.shape == b.shape, f"{what} has shape {tuple(a.shape)}, expected {tuple(b.shape)}."
    assert torch.allclose(a.float(), b.float(), atol=atol, rtol=1e-4), \
        f"{what} differs from the expected values (max error {float((a.float() - b.float()).abs().max()):.3g})."


# ---------------------------------------------------------------- chapter 1: autoencoders

@checker("reconstruction error", "sum the squared differences over every axis but the batch "
         "axis, e.g. ((x - x_hat) ** 2).flatten(1).sum(1).")
def check_reconstruction_error(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(x, x_hat)`` must return each image's summed squared error, shape ``(N,)``."""
    g = torch.Generator().manual_seed(1)
    for shape in [(5, 1, 8, 8), (3, 1, 4, 6), (1, 1, 28, 28)]:
        x, x_hat = torch.rand(shape, generator=g), torch.rand(shape, generator=g)
        out = fn(x.clone(), x_hat.clone())
        _close(out, ((x - x_hat) ** 2).flatten(1).sum(1), f"the error for a batch of shape {shape}")
    x = torch.rand(4, 1, 8, 8, generator=g)
    assert torch.allclose(fn(x, x.clone()), torch.zeros(4)), "a perfect reconstruction should have error 0."


@checker("masking noise", "draw a uniform number per pixel with torch.rand(x.shape, generator=generator) "
         "and zero the pixels where it is below p; return a new tensor, leave x unchanged.")
def check_masking_noise(fn: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]) -> None:
    """``fn(x, p, generator)`` must zero each pixel independently with probability ``p``."""
    x = torch.rand(2000, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.9 + 0.1
    original = x.clone()
    for p in (0.0, 0.25, 0.5, 1.0):
        out = fn(x, p, torch.Generator().manual_seed(2))
        assert torch.equal(x, original), "your function changed its input x in place; return a new tensor."
        assert isinstance(out, torch.Tensor) and out.shape == x.shape, \
            f"the output should have the input's shape {tuple(x.shape)}."
        kept = out != 0
        assert torch.equal(out[kept], x[kept]), "pixels that are not zeroed must keep their value."
        share = 1 - kept.float().mean().item()
        assert abs(share - p) < 0.01, f"with p={p} you zeroed {share:.3f} of the pixels, expected about {p}."
    a = fn(x, 0.5, torch.Generator().manual_seed(3))
    b = fn(x, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b), "the same generator seed should give the same mask: draw from the generator."
    masks = (fn(x, 0.5, torch.Generator().manual_seed(4)) == 0).flatten(1).float()
    assert masks.std(0).min() > 0.3, "every pixel position should be zeroed in some images and kept in others."


# ---------------------------------------------------------------- chapter 2: VAEs

@checker("Gaussian KL", "KL(N(mu, s^2) || N(0, 1)) = 0.5 * (mu^2 + s^2 - 1 - log s^2) per dimension, with "
         "s^2 = exp(logvar); sum over the last axis only.")
def check_gaussian_kl(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(mu, logvar)`` must return ``KL(N(mu, exp(logvar)) || N(0, I))`` per row."""
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, (0.5 * logvar).exp()), torch.distributions.Normal(0.0, 1.0)).sum(-1)
    out = fn(mu.clone(), logvar.clone())
    _close(out, expected, "KL for a batch of 6 five-dimensional Gaussians")
    zero = fn(torch.zeros(3, 4), torch.zeros(3, 4))
    assert torch.allclose(zero, torch.zeros(3)), "the KL of N(0, I) from itself must be 0."


@checker("reparameterization", "z = mu + exp(0.5 * logvar) * eps with eps = torch.randn_like(mu): "
         "logvar is a log-variance, so the standard deviation is exp(logvar / 2).")
def check_reparameterize(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(mu, logvar)`` must sample ``N(mu, exp(logvar))`` so that gradients reach both."""
    mu = torch.tensor([[-2.0, 0.0, 3.0]]).repeat(20000, 1).requires_grad_()
    logvar = torch.tensor([[0.0, 2 * math.log(0.5), 2 * math.log(2.0)]]).repeat(20000, 1).requires_grad_()
    torch.manual_seed(0)
    z = fn(mu, logvar)
    assert isinstance(z, torch.Tensor) and z.shape == mu.shape, "z should have the shape of mu."
    assert torch.allclose(z.mean(0), mu[0], atol=0.06), f"the sample mean {z.mean(0).tolist()} should be mu."
    assert torch.allclose(z.std(0), torch.tensor([1.0, 0.5, 2.0]), atol=0.05), \
        f"the sample standard deviations {[round(v, 2) for v in z.std(0).tolist()]} should be [1, 0.5, 2]."
    assert z.requires_grad, "no gradient flows through z: build it from mu and logvar, do not sample it directly."
    z.sum().backward()
    assert mu.grad is not None and torch.allclose(mu.grad, torch.ones_like(mu)), "dz/dmu should be 1."
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0, "gradients should reach logvar."


@checker("IWAE estimate", "-log mean_i exp(log_w_i) = -(logsumexp(log_w, 0) - log k); never exponentiate "
         "log weights of -300 directly.")
def check_iwae(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """``fn(log_weights)`` (``k x N``) must return the per-column IWAE estimate of ``-log p(x)``."""
    g = torch.Generator().manual_seed(0)
    log_w = torch.randn(50, 4, generator=g) - 300.0
    expected = -(torch.logsumexp(log_w, 0) - math.log(50))
    out = fn(log_w.clone())
    assert torch.isfinite(torch.as_tensor(out)).all(), "the result is not finite: compute it in log space."
    _close(out, expected, "the estimate for 4 data points with 50 weights each", atol=1e-4)
    single = fn(torch.tensor([[-90.0, -100.0]]))
    assert torch.allclose(single, torch.tensor([90.0, 100.0])), "with one weight the estimate is -log w."


# ---------------------------------------------------------------- chapter 3: GANs

@checker("discriminator loss", "with D = sigmoid(l): -log D(x) = softplus(-l_real) and -log(1 - D(G(z))) = "
         "softplus(l_fake); average each over the batch and add them. Never take log(sigmoid(l)) directly.")
def check_discriminator_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(real_logits, fake_logits)`` must return the mean logistic loss of the discriminator."""
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(32, 1, generator=g) * 3, torch.randn(32, 1, generator=g) * 3
    expected = torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(fake).mean()
    out = fn(real.clone(), fake.clone())
    assert isinstance(out, torch.Tensor) and out.dim() == 0, "the loss should be a scalar tensor (a mean)."
    _close(out, expected, "the loss on a batch of 32 logits")
    extreme = fn(torch.tensor([[-100.0]]), torch.tensor([[100.0]]))
    assert torch.isfinite(extreme), "with logits of -100 and 100 the loss is not finite: work with logits."
    assert abs(float(extreme) - 200.0) < 1e-3, f"with logits -100 and 100 the loss should be 200, got {float(extreme):.3g}."


@checker("generator loss", "the non-saturating loss is -log D(G(z)) = softplus(-l_fake), averaged over the batch.")
def check_generator_loss(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """``fn(fake_logits)`` must return the non-saturating generator loss ``-log D(G(z))``."""
    fake = torch.linspace(-8, 8, 17).unsqueeze(1)
    out = fn(fake.clone())
    saturating = -torch.nn.functional.softplus(fake).mean()
    assert not (isinstance(out, torch.Tensor) and torch.allclose(out, saturating)), \
        "that is the saturating loss log(1 - D(G(z))): its gradient vanishes when D rejects the samples."
    _close(out, torch.nn.functional.softplus(-fake).mean(), "the loss on 17 logits from -8 to 8")
    logits = torch.tensor([[-30.0]], requires_grad=True)
    fn(logits).backward()
    assert logits.grad is not None and logits.grad.abs().item() > 0.5, \
        "when D confidently rejects a sample the gradient should stay large: that is the point of this loss."


# ---------------------------------------------------------------- chapter 4: conditional models

@checker("requested-label accuracy", "compare the classifier's predictions with the requested labels: "
         "(predicted == requested).float().mean() overall, and the same within each requested class.")
def check_label_accuracy(fn: Callable[[torch.Tensor, torch.Tensor], tuple]) -> None:
    """``fn(predicted, requested)`` must return ``(overall, per_class)`` with per_class of length 10."""
    requested = torch.arange(100) % 10
    predicted = requested.clone()
    predicted[:7] = (predicted[:7] + 1) % 10            # classes 0..6 each lose one of their 10
    predicted[requested == 9] = 3                       # class 9 is never produced correctly
    overall, per_class = fn(predicted.clone(), requested.clone())
    assert abs(float(overall) - 0.83) < 1e-6, f"overall accuracy should be 0.83, got {float(overall):.3f}."
    per_class = torch.as_tensor(per_class, dtype=torch.float32)
    assert per_class.shape == (10,), f"per_class should have one entry per digit, got shape {tuple(per_class.shape)}."
    expected = torch.tensor([0.9] * 7 + [1.0, 1.0, 0.0])
    assert torch.allclose(per_class, expected), \
        f"per-class accuracy should be {expected.tolist()}, got {[round(v, 2) for v in per_class.tolist()]}."


@checker("projection discriminator", "the projection term is the dot product of each image's features h_i "
         "with the embedding of its label, embedding[y_i]: (embedding[y] * h).sum(1).")
def check_projection(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(h, embedding, y)`` must return ``<embedding[y_i], h_i>`` for each row ``i``."""
    g = torch.Generator().manual_seed(0)
    h, embedding = torch.randn(6, 5, generator=g), torch.randn(10, 5, generator=g)
    y = torch.tensor([0, 3, 3, 9, 1, 7])
    out = fn(h.clone(), embedding.clone(), y.clone())
    _close(torch.as_tensor(out).reshape(-1), (embedding[y] * h).sum(1), "the projection for 6 images")
