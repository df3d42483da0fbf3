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
import inspect
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
    """Turn a function that asserts things about a student's function into a checker.

    Most exercises ask for one function; one that asks for a pair (a map and its inverse, say)
    asserts things about both, and its checker is called with both."""

    def wrap(check: Callable[..., None]) -> Callable[..., CheckResult]:
        names = list(inspect.signature(check).parameters)

        @functools.wraps(check)
        def run(*fns: Callable, verbose: bool = True) -> CheckResult:
            if any(not callable(fn) for fn in fns):
                bad = next(fn for fn in fns if not callable(fn))
                result = CheckResult(exercise, False, f"pass your function itself, not {type(bad).__name__}")
            elif len(fns) != len(names):
                result = CheckResult(exercise, False, f"pass {len(names)} function{'s' if len(names) > 1 else ''} "
                                                      f"({', '.join(names)}), got {len(fns)}")
            else:
                try:
                    check(*fns)
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
    a, b = a.detach().float(), b.detach().float()
    assert torch.allclose(a, b, atol=atol, rtol=1e-4), \
        f"{what} differs from the expected values (max error {float((a - b).abs().max()):.3g})."


def _finite_grad(fn: Callable, *args: torch.Tensor) -> None:
    for arg in args:
        arg.requires_grad_(True)
    out = fn(*args)
    assert isinstance(out, torch.Tensor), f"the result should be a tensor, got {type(out).__name__}."
    out.sum().backward()
    for arg in args:
        assert arg.grad is not None, "no gradient reaches the inputs: build the result from them with torch operations."
        assert torch.isfinite(arg.grad).all(), "the gradient is not finite at extreme inputs: work in a stable form."


# ---------------------------------------------------------------- chapter 1: autoencoders

@checker("Bernoulli reconstruction error", "start from the log-probability of a pixel value x under a "
         "Bernoulli distribution with mean x_hat, negate it, and add it up per image. Keep the logarithm "
         "away from 0 so a perfect 0 or 1 in x_hat does not give an infinite loss.")
def check_bernoulli_error(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(x, x_hat)``: the binary cross-entropy of each image, summed over its pixels, shape ``(N,)``."""
    g = torch.Generator().manual_seed(1)
    for shape in [(5, 1, 8, 8), (3, 1, 4, 6), (1, 1, 28, 28)]:
        x, x_hat = torch.rand(shape, generator=g), torch.rand(shape, generator=g) * 0.98 + 0.01
        out = fn(x.clone(), x_hat.clone())
        expected = -(x * x_hat.log() + (1 - x) * (1 - x_hat).log()).flatten(1).sum(1)
        assert isinstance(out, torch.Tensor) and out.shape == (shape[0],), \
            f"for a batch of shape {shape} return one number per image, shape ({shape[0]},)."
        _close(out, expected, f"the error for a batch of shape {shape}", atol=1e-3)
    x = torch.tensor([[[[0.0, 1.0, 0.0, 1.0]]]])
    edge = fn(x, torch.tensor([[[[0.0, 1.0, 1.0, 0.0]]]]))
    assert torch.isfinite(edge).all(), "x_hat of exactly 0 or 1 gave a non-finite error: clamp before the logarithm."
    assert float(edge[0]) > 20, "predicting 1 for a pixel that is 0 should cost a lot, not nothing."


@checker("masking noise", "each pixel needs its own uniform random number, drawn from the generator you are "
         "given, compared with p. Return a new tensor and leave x unchanged.")
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

@checker("KL between two diagonal Gaussians", "write the KL of one one-dimensional Gaussian from another "
         "(it has a mean term, a variance ratio and a log of that ratio), check that it reduces to the "
         "chapter's formula when the second is the standard normal, then sum over the last axis.")
def check_kl_gaussians(fn: Callable[..., torch.Tensor]) -> None:
    """``fn(mu_q, logvar_q, mu_p, logvar_p)``: ``KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p))`` per row."""
    g = torch.Generator().manual_seed(0)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(6, 5, generator=g) for _ in range(4))
    normal = torch.distributions.Normal
    expected = torch.distributions.kl_divergence(normal(mu_q, (0.5 * lv_q).exp()),
                                                 normal(mu_p, (0.5 * lv_p).exp())).sum(-1)
    out = fn(mu_q.clone(), lv_q.clone(), mu_p.clone(), lv_p.clone())
    _close(out, expected, "KL for a batch of 6 five-dimensional Gaussians")
    same = fn(mu_q, lv_q, mu_q.clone(), lv_q.clone())
    assert torch.allclose(same, torch.zeros(6), atol=1e-5), "the KL of a Gaussian from itself must be 0."
    swapped = fn(mu_p.clone(), lv_p.clone(), mu_q.clone(), lv_q.clone())
    assert not torch.allclose(swapped, out), "the KL is not symmetric: your result does not depend on the order."


@checker("Laplace reparameterization", "a Laplace sample with location mu and scale b is mu plus b times a "
         "standard Laplace sample; a standard Laplace sample is a fixed function of a uniform number "
         "(invert the Laplace CDF). Draw the noise with torch.rand_like so gradients reach mu and log_b.")
def check_laplace_sample(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(mu, log_b)`` must sample ``Laplace(mu, exp(log_b))`` so that gradients reach both."""
    n = 40000
    mu = torch.tensor([[-2.0, 0.0, 3.0]]).repeat(n, 1).requires_grad_()
    log_b = torch.tensor([[0.0, math.log(0.5), math.log(2.0)]]).repeat(n, 1).requires_grad_()
    torch.manual_seed(0)
    z = fn(mu, log_b)
    assert isinstance(z, torch.Tensor) and z.shape == mu.shape, "z should have the shape of mu."
    assert torch.isfinite(z).all(), "some samples are infinite: keep the uniform noise away from its ends."
    assert torch.allclose(z.median(0).values, mu[0], atol=0.05), \
        f"the sample medians {[round(v, 2) for v in z.median(0).values.tolist()]} should be mu."
    mad = (z - mu).abs().mean(0)
    assert torch.allclose(mad, torch.tensor([1.0, 0.5, 2.0]), rtol=0.05), \
        f"the mean absolute deviations {[round(v, 2) for v in mad.tolist()]} should equal the scales [1, 0.5, 2]."
    kurtosis = ((z - mu) ** 4).mean(0) / ((z - mu) ** 2).mean(0) ** 2
    assert (kurtosis > 4.5).all(), "these samples have Gaussian-like tails; a Laplace's kurtosis is 6."
    assert z.requires_grad, "no gradient flows through z: build it from mu and log_b."
    z.sum().backward()
    assert mu.grad is not None and torch.allclose(mu.grad, torch.ones_like(mu)), "dz/dmu should be 1."
    assert log_b.grad is not None and log_b.grad.abs().sum() > 0, "gradients should reach log_b."


@checker("effective sample size", "the effective sample size is (sum of weights)^2 / (sum of squared weights), "
         "and it does not change when every weight of a column is multiplied by the same number: use that "
         "to keep the exponentials in range.")
def check_effective_sample_size(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """``fn(log_weights)`` (``k x N``) must return each column's effective sample size of its weights."""
    g = torch.Generator().manual_seed(0)
    log_w = torch.randn(50, 4, generator=g) * 2 - 300.0
    w = (log_w - log_w.max(0).values).double().exp()
    expected = (w.sum(0) ** 2 / (w ** 2).sum(0)).float()
    out = fn(log_w.clone())
    assert torch.isfinite(torch.as_tensor(out)).all(), "the result is not finite: compute it in log space."
    _close(torch.as_tensor(out), expected, "the effective sample sizes of 4 columns of 50 weights", atol=1e-3)
    equal = fn(torch.full((7, 2), -120.0))
    assert torch.allclose(equal, torch.full((2,), 7.0)), "k equal weights are worth k samples."
    one = fn(torch.tensor([[0.0], [-1000.0], [-1000.0]]))
    assert torch.allclose(one, torch.ones(1)), "when one weight dominates, the effective sample size is 1."


# ---------------------------------------------------------------- chapter 3: GANs

@checker("hinge discriminator loss", "the hinge loss asks real logits to be at least +1 and generated ones "
         "at most -1, charges linearly for falling short of a margin, and charges nothing beyond it.")
def check_hinge_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(real_logits, fake_logits)``: ``mean relu(1 - real) + mean relu(1 + fake)``."""
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(32, 1, generator=g) * 3, torch.randn(40, 1, generator=g) * 3
    expected = torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
    out = fn(real.clone(), fake.clone())
    assert isinstance(out, torch.Tensor) and out.dim() == 0, "the loss should be a scalar tensor (a mean)."
    _close(out, expected, "the loss on 32 real and 40 generated logits")
    satisfied = fn(torch.tensor([[3.0], [1.5]]), torch.tensor([[-2.0], [-1.0]]))
    assert abs(float(satisfied)) < 1e-6, "logits beyond the margins (real >= 1, generated <= -1) should cost nothing."
    assert abs(float(fn(torch.tensor([[-100.0]]), torch.tensor([[100.0]]))) - 202.0) < 1e-3, \
        "a confidently wrong discriminator should pay linearly: 101 for each logit of the wrong sign here."


@checker("gradient penalty", "evaluate D at random points on the lines between real and generated samples, "
         "take the gradient of its output with respect to those points, asking autograd for a gradient "
         "that can itself be differentiated (the penalty is trained), and penalise how far each sample's gradient norm is from 1.")
def check_gradient_penalty(fn: Callable[..., torch.Tensor]) -> None:
    """``fn(D, real, fake, u)``: ``mean_i (||grad D(x_i)|| - 1)^2`` at ``x_i = u_i real_i + (1 - u_i) fake_i``."""
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real, fake = torch.randn(16, 1, 3, 4), torch.randn(16, 1, 3, 4)
    u = torch.rand(16, 1, 1, 1)
    x = (u * real + (1 - u) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    expected = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    out = fn(D, real, fake, u)
    assert isinstance(out, torch.Tensor) and out.dim() == 0, "the penalty should be a scalar tensor (a mean)."
    _close(out, expected, "the penalty for 16 pairs of 3x4 images", atol=1e-5)
    assert out.requires_grad, "the penalty does not depend on D's weights: pass create_graph=True."
    D.zero_grad()
    out.backward()
    assert all(p.grad is not None for name, p in D.named_parameters() if name.endswith("weight")), \
        "gradients of the penalty must reach every weight of D."
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1))
    with torch.no_grad():
        linear[1].weight.fill_(0.5)
    value = float(fn(linear, real, fake, u).detach())
    assert abs(value - (math.sqrt(12) * 0.5 - 1) ** 2) < 1e-4, \
        "for a linear D the gradient is its weight vector everywhere: penalise (norm - 1)^2, not the squared norm."


# ---------------------------------------------------------------- chapter 4: conditional models

@checker("confusion matrix", "count, for each requested digit (a row), how often each digit was predicted "
         "(a column), then divide each row by its total so that it sums to 1.")
def check_confusion(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(predicted, requested)``: the 10 x 10 matrix of ``P(predicted = j | requested = i)``."""
    requested = torch.arange(100) % 10
    predicted = requested.clone()
    predicted[:7] = (predicted[:7] + 1) % 10            # requested 0..6 are once predicted as the next digit
    predicted[requested == 9] = 3                       # requested 9 always comes out as a 3
    out = torch.as_tensor(fn(predicted.clone(), requested.clone()), dtype=torch.float32)
    assert out.shape == (10, 10), f"return a 10 x 10 matrix, got shape {tuple(out.shape)}."
    expected = torch.zeros(10, 10)
    for i, j in zip(requested.tolist(), predicted.tolist()):
        expected[i, j] += 1
    swapped = torch.nan_to_num(expected.T / expected.T.sum(1, keepdim=True))
    expected /= expected.sum(1, keepdim=True)
    if torch.allclose(torch.nan_to_num(out), swapped):
        raise AssertionError("rows and columns are swapped: rows are the requested digits.")
    assert torch.allclose(out.sum(1), torch.ones(10)), "each row should sum to 1 (divide by the row's count)."
    _close(out, expected, "the matrix for 100 requests")


@checker("soft-label projection", "the projection term is linear in the label's embedding: what should the "
         "embedding of a label that is 70% one class and 30% another be?")
def check_projection(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(h, embedding, p)`` must return ``sum_c p_ic <embedding[c], h_i>`` for each row ``i``."""
    g = torch.Generator().manual_seed(0)
    h, embedding = torch.randn(6, 5, generator=g), torch.randn(10, 5, generator=g)
    p = torch.softmax(torch.randn(6, 10, generator=g), -1)
    expected = ((p @ embedding) * h).sum(1)
    out = torch.as_tensor(fn(h.clone(), embedding.clone(), p.clone())).reshape(-1)
    assert out.shape == (6,), f"return one number per image, got shape {tuple(out.shape)}."
    hard = (embedding[p.argmax(1)] * h).sum(1)
    assert not torch.allclose(out, hard, atol=1e-4), \
        "that is the projection of the most probable label only: use every class, weighted by p."
    _close(out, expected, "the projection for 6 images")
    one_hot = torch.nn.functional.one_hot(torch.tensor([0, 3, 3, 9, 1, 7]), 10).float()
    _close(torch.as_tensor(fn(h, embedding, one_hot)).reshape(-1), (embedding[[0, 3, 3, 9, 1, 7]] * h).sum(1),
           "the projection for one-hot labels (it should equal the hard-label projection)")


# ---------------------------------------------------------------- chapter 5: autoregressive models

@checker("mask for any ordering", "pixel i may depend on pixel j exactly when j is generated earlier than i. "
         "First find, for every pixel, its position in the ordering; then compare positions for every pair.")
def check_order_mask(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """``fn(order)``: the ``d x d`` mask whose entry ``(i, j)`` is 1 when pixel ``j`` comes before pixel ``i``.

    ``order[k]`` is the pixel generated ``k``-th, so the raster order is ``arange(d)``.
    """
    g = torch.Generator().manual_seed(3)
    for d in (1, 4, 9, 64):
        for order in (torch.arange(d), torch.randperm(d, generator=g), torch.arange(d).flip(0)):
            position = torch.empty(d, dtype=torch.long)
            position[order] = torch.arange(d)
            expected = (position[None, :] < position[:, None]).float()
            out = fn(order.clone())
            assert isinstance(out, torch.Tensor), f"return a tensor, got {type(out).__name__}."
            assert out.shape == (d, d), f"for {d} pixels return a {d} x {d} mask, got {tuple(out.shape)}."
            out = out.float()
            if d > 1 and torch.equal(out, expected.T):
                raise AssertionError("the mask is transposed: row i lists what pixel i may depend on.")
            if torch.equal(out, expected + torch.eye(d)):
                raise AssertionError("a pixel may not depend on itself: the diagonal must be 0.")
            if d > 1 and torch.equal(out, torch.tril(torch.ones(d, d), -1)) and not torch.equal(out, expected):
                raise AssertionError("that is the raster-order mask: use the ordering you are given.")
            _close(out, expected, f"the mask for the ordering {order.tolist()[:6]}{'...' if d > 6 else ''}")


@checker("masked convolution for column-major order", "in a column-by-column ordering, a pixel comes before "
         "the centre when it lies in an earlier column, or in the same column and an earlier row. Build a "
         "k x k tensor of ones and zero out everything else; the centre itself depends on the mask type.")
def check_column_mask(fn: Callable[[int, str], torch.Tensor]) -> None:
    """``fn(k, mask_type)``: the ``k x k`` kernel mask for a PixelCNN that generates column by column.

    Pixels are generated top to bottom within a column and columns left to right. Type
    ``"A"`` hides the centre, type ``"B"`` lets it through.
    """
    for k in (1, 3, 5, 7):
        c = k // 2
        rows, cols = torch.meshgrid(torch.arange(k), torch.arange(k), indexing="ij")
        before = (cols < c) | ((cols == c) & (rows < c))
        for mask_type in ("A", "B"):
            expected = (before | ((rows == c) & (cols == c) & (mask_type == "B"))).float()
            out = fn(k, mask_type)
            assert isinstance(out, torch.Tensor), f"return a tensor, got {type(out).__name__}."
            assert out.shape == (k, k), f"for k = {k} return a {k} x {k} mask, got {tuple(out.shape)}."
            out = out.float()
            raster = expected.T
            if k > 1 and torch.equal(out, raster):
                raise AssertionError("that is the row-by-row (raster) mask: here columns come first.")
            centre = float(out[c, c])
            assert centre == float(mask_type == "B"), \
                f"type {mask_type} should {'keep' if mask_type == 'B' else 'hide'} the centre (k = {k})."
            _close(out, expected, f"the type {mask_type} mask for k = {k}")


# ---------------------------------------------------------------- chapter 6: Transformers

def _reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal scaled dot-product attention written out: softmax(q k^T / sqrt(d) + mask) v."""
    t_q, t_k = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    # query i sits at position t_k - t_q + i and may see keys up to that position
    future = torch.ones(t_q, t_k, dtype=torch.bool).triu(t_k - t_q + 1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), -1) @ v


def _window_mask(t: int, window: int) -> torch.Tensor:
    """True where query i may not see key j: the future (j > i) and the far past (j <= i - window)."""
    offset = torch.arange(t)[:, None] - torch.arange(t)[None, :]  # i - j
    return (offset < 0) | (offset >= window)


@checker("sliding-window causal attention", "which pairs (i, j) may interact? Write the offset i - j for "
         "every query i and key j as a T x T tensor and compare it with 0 and with the window; hide "
         "the forbidden pairs before the softmax, not after it.")
def check_window_attention(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]) -> None:
    """``fn(q, k, v, window)``: causal attention in which position ``i`` sees only the
    ``window`` positions ``i - window + 1, ..., i`` (tensors of shape ``(..., T, d)``)."""
    g = torch.Generator().manual_seed(6)
    for shape, window in (((1, 1, 1, 4), 1), ((2, 3, 9, 8), 3), ((4, 7, 16), 7), ((1, 2, 12, 2), 40)):
        q, k, v = (torch.randn(shape, generator=g) for _ in range(3))
        out = fn(q, k, v, window)
        assert isinstance(out, torch.Tensor), f"return a tensor, got {type(out).__name__}."
        assert out.shape == v.shape, f"for inputs of shape {shape} return that shape, got {tuple(out.shape)}."
        t = shape[-2]
        scores = q @ k.transpose(-2, -1) / math.sqrt(shape[-1])
        expected = torch.softmax(scores.masked_fill(_window_mask(t, window), float("-inf")), -1) @ v
        if t > 1:
            causal = torch.softmax(scores.masked_fill(_window_mask(t, t), float("-inf")), -1) @ v
            if window < t and torch.allclose(out, causal, atol=1e-5):
                raise AssertionError(f"with window = {window} the output equals plain causal attention: "
                                     "positions further back than the window must be hidden too.")
            if torch.allclose(out, torch.softmax(scores, -1) @ v, atol=1e-5):
                raise AssertionError("the output uses future positions: hide keys j > i.")
            too_narrow = torch.softmax(scores.masked_fill(_window_mask(t, max(window - 1, 1)), float("-inf")), -1) @ v
            if window > 1 and window <= t and torch.allclose(out, too_narrow, atol=1e-5):
                raise AssertionError(f"each position sees only {window - 1} positions: the window counts the "
                                     "position itself.")
            unscaled = torch.softmax((q @ k.transpose(-2, -1)).masked_fill(_window_mask(t, window), float("-inf")),
                                     -1) @ v
            if torch.allclose(out, unscaled, atol=1e-5) and not torch.allclose(out, expected, atol=1e-5):
                raise AssertionError("the scores are not scaled by 1 / sqrt(d).")
        _close(out, expected, f"the output for inputs of shape {shape} and window = {window}")


@checker("one step with a key-value cache", "which of the cached tokens lie in the new token's future? Grow "
         "the caches along the time axis first, then let the new query attend over all of them, and "
         "return the output with the grown caches.")
def check_kv_step(fn: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
    """``fn(q, k, v, k_cache, v_cache) -> (out, k_cache, v_cache)`` for one new token.

    ``q, k, v`` have shape ``(B, H, 1, d)``; the caches ``(B, H, t, d)`` hold the keys and
    values of the ``t`` earlier tokens. Run token by token, the outputs must equal causal
    attention over the whole sequence.
    """
    g = torch.Generator().manual_seed(7)
    for b, h, t, d in ((1, 1, 5, 4), (2, 3, 9, 8)):
        q, k, v = (torch.randn(b, h, t, d, generator=g) for _ in range(3))
        expected = _reference_attention(q, k, v)
        k_cache, v_cache = k[:, :, :0], v[:, :, :0]
        for i in range(t):
            out, k_cache, v_cache = fn(q[:, :, i:i + 1], k[:, :, i:i + 1], v[:, :, i:i + 1], k_cache, v_cache)
            assert isinstance(out, torch.Tensor) and out.shape == (b, h, 1, d), \
                f"the output for one token should have shape {(b, h, 1, d)}."
            assert tuple(k_cache.shape) == (b, h, i + 1, d) and tuple(v_cache.shape) == (b, h, i + 1, d), \
                f"after {i + 1} tokens the caches should hold {i + 1} keys and values (shape {(b, h, i + 1, d)})."
            _close(out, expected[:, :, i:i + 1], f"the output of token {i} (0-based)")


@checker("min-p filtering", "the threshold is relative: compute the probabilities, find the largest one in "
         "each row, and compare every probability with that row's threshold. Filtered tokens get a logit of "
         "minus infinity; kept ones keep theirs.")
def check_min_p(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """``fn(logits, ratio)``: the logits with every token whose probability is below
    ``ratio`` times the largest probability (of its row) set to ``-inf``."""
    g = torch.Generator().manual_seed(8)
    cases = [(torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05])), 0.5, [True, True, False, False]),
             (torch.log(torch.tensor([0.1, 0.6, 0.3])), 0.1, [True, True, True]),
             (torch.log(torch.tensor([0.05, 0.9, 0.05])), 0.2, [False, True, False])]
    for logits, ratio, keep in cases:
        out = fn(logits.clone(), ratio)
        assert isinstance(out, torch.Tensor) and out.shape == logits.shape, \
            f"return logits of the same shape {tuple(logits.shape)}."
        kept = torch.isfinite(out).tolist()
        if kept != keep and torch.isfinite(out).tolist() == (logits.exp() >= ratio).tolist():
            raise AssertionError("the threshold is ratio times the largest probability, not ratio itself.")
        assert kept == keep, (f"for probabilities {[round(float(x), 2) for x in logits.exp()]} and ratio = "
                              f"{ratio} keep {keep}, got {kept}.")
        _close(out[torch.isfinite(out)], logits[torch.tensor(keep)], "the kept logits (leave them unchanged)")
    logits = torch.randn(5, 50, generator=g) * 3
    out = fn(logits.clone(), 0.1)
    assert out.shape == logits.shape, "filter every row of a batch of logits."
    probs = logits.softmax(-1)
    expected = probs >= 0.1 * probs.max(-1, keepdim=True).values
    if not torch.equal(torch.isfinite(out), expected) and \
            torch.equal(torch.isfinite(out), probs >= 0.1 * probs.max()):
        raise AssertionError("each row needs its own threshold: take the largest probability per row.")
    assert torch.equal(torch.isfinite(out), expected), "a batch of 5 rows was filtered incorrectly."


# ---------------------------------------------------------------- chapter 7: normalizing flows

@checker("inverse of an affine coupling", "the conditioning half passes through unchanged, so you can feed "
         "it to the network again and get the same log-scale and shift; then undo the affine map on the "
         "other half: first subtract the shift, then divide by the scale.")
def check_coupling_inverse(fn: Callable[[torch.Tensor, torch.Tensor, Callable], torch.Tensor]) -> None:
    """``fn(y, mask, net)``: the ``x`` with ``y = mask * x + (1 - mask) * (x * exp(s) + t)``,
    where ``s, t = net(mask * x)`` (both already zero where ``mask`` is 1)."""
    g = torch.Generator().manual_seed(9)
    for d in (2, 5, 16):
        weight = torch.randn(d, 2 * d, generator=g) * 0.5

        for mask in (torch.arange(d) % 2 == 0, torch.arange(d) < d // 2):
            mask = mask.float()

            def net(xm, weight=weight, mask=mask):
                s, t = torch.tanh(xm @ weight).chunk(2, -1)
                return s * (1 - mask), (3 * t) * (1 - mask)

            x = torch.randn(7, d, generator=g, dtype=torch.float64).float()
            s, t = net(mask * x)
            y = mask * x + (1 - mask) * (x * s.exp() + t)
            out = fn(y.clone(), mask, net)
            assert isinstance(out, torch.Tensor) and out.shape == x.shape, \
                f"return a tensor of shape {tuple(x.shape)}."
            wrong_order = mask * y + (1 - mask) * (y * (-s).exp() - t)
            if d > 2 and torch.allclose(out, wrong_order, atol=1e-5) and not torch.allclose(out, x, atol=1e-4):
                raise AssertionError("the shift is removed after the scaling: subtract t first, then divide.")
            _close(out, x, f"the recovered input (dimension {d})", atol=1e-4)


@checker("logit transform with its log-determinant", "write p = alpha + (1 - 2 alpha) y and z = log p - "
         "log(1 - p). The map acts on each coordinate separately, so its Jacobian is diagonal: add up the "
         "logs of the derivatives dz/dy over each image's coordinates.")
def check_logit_transform(fn: Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]) -> None:
    """``fn(y, alpha) -> (z, logdet)`` for ``y`` of shape ``(N, ...)`` in ``(0, 1)``: ``z =
    logit(alpha + (1 - 2 alpha) y)`` elementwise and, per example, ``log |det dz/dy|``."""
    g = torch.Generator().manual_seed(10)
    for shape, alpha in (((3, 4), 0.05), ((2, 1, 3, 3), 0.01), ((5, 2), 0.0)):
        y = torch.rand(shape, generator=g, dtype=torch.float64) * 0.98 + 0.01
        out = fn(y.clone(), alpha)
        assert isinstance(out, tuple) and len(out) == 2, "return a pair (z, logdet)."
        z, logdet = out
        p = alpha + (1 - 2 * alpha) * y
        _close(z, torch.log(p) - torch.log1p(-p), f"z for alpha = {alpha}")
        assert logdet.shape == (shape[0],), \
            f"return one log-determinant per example: shape ({shape[0]},), got {tuple(logdet.shape)}."
        expected = []
        for row in y:
            jac = torch.autograd.functional.jacobian(
                lambda v: torch.log(alpha + (1 - 2 * alpha) * v) - torch.log1p(-(alpha + (1 - 2 * alpha) * v)),
                row.flatten())
            expected.append(torch.linalg.slogdet(jac)[1])
        expected = torch.stack(expected)
        without_scale = expected - y[0].numel() * math.log(1 - 2 * alpha) if alpha else None
        if without_scale is not None and torch.allclose(logdet, without_scale, atol=1e-5):
            raise AssertionError("the factor (1 - 2 alpha) from the squeeze into [alpha, 1 - alpha] is missing.")
        _close(logdet, expected, f"the log-determinant for alpha = {alpha}")


# ---------------------------------------------------------------- chapter 8: diffusion models

@checker("jumping forward from x_s to x_t", "the forward process is a chain of Gaussian steps, so the "
         "jump between two noisy levels is Gaussian too. Its mean scales x_s by the square root of the ratio "
         "of the two alpha-bars; its variance is one minus that ratio. Each image has its own pair of "
         "levels: reshape them so they multiply a whole image.")
def check_forward_jump(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(x_s, alpha_bar_s, alpha_bar_t, eps)``: a sample of ``q(x_t | x_s)`` for a batch of
    noisy images ``x_s`` (N x C x H x W) at a later step t > s, given each image's alpha-bar
    at both steps (shape ``(N,)``, ``alpha_bar_t < alpha_bar_s``) and standard normal noise ``eps``."""
    g = torch.Generator().manual_seed(11)
    for n in (6, 1):
        x_s = torch.randn(n, 1, 4, 4, generator=g, dtype=torch.float64)
        eps = torch.randn(n, 1, 4, 4, generator=g, dtype=torch.float64)
        ab_s = torch.rand(n, generator=g, dtype=torch.float64) * 0.5 + 0.45
        ab_t = ab_s * (torch.rand(n, generator=g, dtype=torch.float64) * 0.8 + 0.1)
        out = fn(x_s.clone(), ab_s.clone(), ab_t.clone(), eps.clone())
        assert isinstance(out, torch.Tensor) and out.shape == x_s.shape, \
            f"return a tensor of the images' shape {tuple(x_s.shape)}."
        r = (ab_t / ab_s).view(-1, 1, 1, 1)
        from_x0 = ab_t.sqrt().view(-1, 1, 1, 1) * x_s + (1 - ab_t).sqrt().view(-1, 1, 1, 1) * eps
        if torch.allclose(out.double(), from_x0, atol=1e-6):
            raise AssertionError("that is the jump from a clean x_0; x_s already carries noise, so only the "
                                 "ratio of the alpha-bars is left to apply.")
        if torch.allclose(out.double(), r * x_s + (1 - r) * eps, atol=1e-6):
            raise AssertionError("the ratio and one minus it are variances: scale by their square roots.")
        _close(out, r.sqrt() * x_s + (1 - r).sqrt() * eps, f"x_t for a batch of {n}")


@checker("a DDIM step with noise (eta)", "estimate the clean image from x_t and the predicted noise as in the "
         "chapter. Then split the earlier level's noise variance, one minus alpha-bar, into a fresh-noise part, "
         "sigma squared, and a part that keeps the direction of the predicted noise. At eta zero this is the "
         "chapter's DDIM step.")
def check_ddim_eta_step(fn: Callable[..., torch.Tensor]) -> None:
    """``fn(x_t, eps, alpha_bar_t, alpha_bar_prev, eta, z)``: one step of DDIM's family of
    samplers, with ``sigma = eta * sqrt((1 - ab_prev) / (1 - ab_t)) * sqrt(1 - ab_t / ab_prev)``
    and ``z`` the fresh standard normal noise."""
    g = torch.Generator().manual_seed(12)
    for ab_t, ab_prev, eta in ((0.3, 0.5, 0.0), (0.02, 0.9, 1.0), (0.6, 0.8, 0.5)):
        x_t = torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64)
        eps = torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64)
        z = torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64)
        out = fn(x_t.clone(), eps.clone(), ab_t, ab_prev, eta, z.clone())
        assert isinstance(out, torch.Tensor) and out.shape == x_t.shape, \
            f"return a tensor of shape {tuple(x_t.shape)}."
        x0 = (x_t - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab_t)) * math.sqrt(1 - ab_t / ab_prev)
        expected = math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev - sigma**2) * eps + sigma * z
        if eta > 0:
            no_split = math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev) * eps + sigma * z
            if torch.allclose(out.double(), no_split, atol=1e-6):
                raise AssertionError("the noise variance is counted twice: the predicted-noise direction keeps "
                                     "only what sigma squared leaves of one minus alpha-bar.")
        _close(out, expected, f"the step from alpha-bar {ab_t} to {ab_prev} with eta = {eta}")


# ---------------------------------------------------------------- chapter 9: energy-based and score models

def _tanh_mlp(sizes: tuple[int, ...], seed: int) -> torch.nn.Sequential:
    """A small fixed network in float64 (Linear, Tanh, ..., Linear), with weights from its own generator."""
    g = torch.Generator().manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(d_in, d_out, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.8)
    return net


def _call_without_grad_on_x(fn: Callable, *args) -> torch.Tensor:
    """Call ``fn``, turning autograd's complaint about an x that does not require grad into a hint."""
    try:
        return fn(*args)
    except RuntimeError as err:
        if "does not require grad" in str(err):
            raise AssertionError("x arrives without requires_grad, so autograd cannot differentiate with respect "
                                 "to it: work on a detached copy of x with requires_grad switched on.") from None
        raise


@checker("a Langevin step", "take the gradient of the summed energies with respect to a copy of x that "
         "tracks gradients, move downhill by the step size times that gradient, add the noise scaled by "
         "the square root of twice the step size, and detach the result so that a long chain of steps "
         "does not keep growing one graph.")
def check_langevin_step(fn: Callable[[Callable, torch.Tensor, float, torch.Tensor], torch.Tensor]) -> None:
    """``fn(energy, x, step, noise)``: one step of (unadjusted) Langevin dynamics,
    ``x - step * grad_x E(x) + sqrt(2 step) * noise``, as a new tensor detached from the graph. Repeated
    with a small step, it samples approximately from ``p(x)`` proportional to ``exp(-E(x))``; ``energy``
    maps a batch ``(N, D)`` to ``(N,)`` and is a network, so the gradient comes from autograd."""
    sigma = 0.7
    mlp = _tanh_mlp((3, 16, 1), seed=21)
    def quadratic(x: torch.Tensor) -> torch.Tensor:
        return (x * x).sum(1) / (2 * sigma**2)

    def network(x: torch.Tensor) -> torch.Tensor:
        return mlp(x).squeeze(-1)

    g = torch.Generator().manual_seed(22)
    for name, energy, d, n, step in (("the quadratic energy", quadratic, 2, 5, 0.1),
                                     ("a small tanh network's energy", network, 3, 6, 0.5),
                                     ("a small tanh network's energy", network, 3, 1, 0.01)):
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
        noise = torch.randn(n, d, generator=g, dtype=torch.float64)
        original = x.clone()
        out = _call_without_grad_on_x(fn, energy, x, step, noise.clone())
        assert torch.equal(x, original), "your function changed its input x in place; return a new tensor."
        assert not x.requires_grad, "your function switched on requires_grad on the caller's x: do that on a " \
                                    "detached copy instead."
        assert isinstance(out, torch.Tensor) and out.shape == x.shape, \
            f"return a tensor of the batch's shape {tuple(x.shape)}."
        assert not out.requires_grad, "the result is still attached to the graph (it requires grad): detach " \
                                      "it, or every step of a chain keeps the graphs of all steps before it."
        xr = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(xr).sum(), xr)
        out = out.detach().double()
        wrong = {
            "the gradient term has the wrong sign: Langevin dynamics moves downhill in energy (uphill in "
            "log-probability), so subtract step times the energy's gradient.":
                x + step * grad + math.sqrt(2 * step) * noise,
            "the noise is scaled by sqrt(step); with the drift step times the gradient, the noise that "
            "keeps exp(-E) stationary has standard deviation sqrt(2 step).":
                x - step * grad + math.sqrt(step) * noise,
            "the noise is scaled by the step size itself; it must be sqrt(2 step), which is much larger "
            "for small steps (the noise dominates the drift).":
                x - step * grad + step * noise,
            "that is the other common convention, a drift of step/2 times the gradient with noise sqrt(step); "
            "here the drift is step times the gradient and the noise sqrt(2 step).":
                x - step / 2 * grad + math.sqrt(step) * noise,
        }
        for message, candidate in wrong.items():
            if torch.allclose(out, candidate, atol=1e-6):
                raise AssertionError(message)
        _close(out, x - step * grad + math.sqrt(2 * step) * noise,
               f"the step for {name} (N = {n}, step = {step})", atol=1e-6)


@checker("contrastive-divergence loss", "the maximum-likelihood gradient lowers the energy of the data and "
         "raises the energy of the model's samples. Write a scalar whose gradient does both, averaging each "
         "batch on its own, since the two batches can have different sizes.")
def check_cd_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(energy_data, energy_model)``: the scalar ``mean(energy_data) - mean(energy_model)``, whose
    gradient with respect to the energy network's parameters estimates the negative log-likelihood's
    gradient (the model's samples stand in for the intractable expectation under the model)."""
    g = torch.Generator().manual_seed(23)
    for n_data, n_model in ((7, 4), (5, 5), (1, 3)):
        e_data = (torch.randn(n_data, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
        e_model = (torch.randn(n_model, generator=g, dtype=torch.float64) * 2 + 1).requires_grad_(True)
        out = fn(e_data, e_model)
        assert isinstance(out, torch.Tensor), f"the loss should be a tensor, got {type(out).__name__}."
        assert out.dim() == 0, f"the loss should be a scalar (a 0-dimensional tensor), got shape {tuple(out.shape)}."
        d, m = e_data.detach(), e_model.detach()
        value, expected = float(out.detach()), float(d.mean() - m.mean())
        if abs(value + expected) < 1e-9 and abs(expected) > 1e-6:
            raise AssertionError("the sign is flipped: it is a tug of war in which training pushes the "
                                 "data's energy down and the samples' energy up, so the data term enters "
                                 "with a plus and the samples' term with a minus.")
        if abs(value - float(d.sum() - m.sum())) < 1e-9:
            raise AssertionError("those are sums: use a mean for each batch, or the larger batch weighs more "
                                 "and the loss grows with the batch size.")
        assert abs(value - expected) < 1e-9, \
            f"the loss for {n_data} data and {n_model} model energies differs from the expected value " \
            f"({value:.6g} instead of {expected:.6g})."
        assert out.requires_grad, "the loss does not depend on the energies: build it from them with torch " \
                                  "operations, without detaching or converting to numbers."
        grad_data, grad_model = torch.autograd.grad(out, [e_data, e_model], allow_unused=True)
        assert grad_data is not None, "no gradient reaches the data's energies."
        assert grad_model is not None, "no gradient reaches the samples' energies: the samples themselves are " \
                                       "constants, but their energies depend on the network's parameters, so " \
                                       "keep them in the graph."
        assert torch.allclose(grad_data, torch.full_like(grad_data, 1 / n_data)), \
            f"each data energy should get gradient +1/{n_data} (the batch's mean)."
        assert torch.allclose(grad_model, torch.full_like(grad_model, -1 / n_model)), \
            f"each sample's energy should get gradient -1/{n_model} (minus the batch's mean)."


def _sliced_reference(net: torch.nn.Module, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(v^T J v, v^T s, trace J, ||s||^2)`` per point for a linear or one-hidden-layer tanh score, exactly."""
    s = net(x)
    if isinstance(net, torch.nn.Linear):
        w = net.weight
        jac, trace = ((v @ w) * v).sum(1), torch.diagonal(w).sum().expand(len(x))
    else:
        w1, w2 = net[0].weight, net[2].weight
        slope = 1 - torch.tanh(net[0](x)) ** 2  # J(x) = W2 diag(slope) W1
        jac = ((v @ w2) * slope * (v @ w1.T)).sum(1)
        trace = (slope * (w2.T * w1).sum(1)).sum(1)
    return jac, (v * s).sum(1), trace, (s * s).sum(1)


@checker("sliced score matching", "project the score onto v, differentiate the projections (summed over the "
         "batch) with respect to a copy of x that tracks gradients, asking autograd for a gradient that can "
         "itself be differentiated (the loss is trained), project that gradient onto v again, and add half "
         "the squared projection of the score. Keep one value per point.")
def check_sliced_score_matching(fn: Callable[[Callable, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(score, x, v)``: the sliced score-matching loss of each point, shape ``(N,)``,
    ``v^T J_s(x) v + 0.5 (v^T s(x))^2`` with ``v^T J_s v`` computed as ``v . grad_x (v . s(x))``
    (Song, Garg, Shi & Ermon 2019, without variance reduction). Up to a constant its expectation is the
    Fisher divergence along random directions, which needs no true score and no full Jacobian."""
    linear = torch.nn.Linear(3, 3, dtype=torch.float64)
    with torch.no_grad():
        g = torch.Generator().manual_seed(24)
        linear.weight.copy_(torch.randn(3, 3, generator=g, dtype=torch.float64))
        linear.bias.copy_(torch.randn(3, generator=g, dtype=torch.float64))
    g = torch.Generator().manual_seed(25)
    for name, net, n, d in (("a linear score", linear, 6, 3),
                            ("a small tanh network's score", _tanh_mlp((4, 8, 4), seed=26), 5, 4),
                            ("a small tanh network's score", _tanh_mlp((4, 8, 4), seed=27), 1, 4)):
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
        v = torch.randn(n, d, generator=g, dtype=torch.float64)
        original = x.clone()
        out = _call_without_grad_on_x(fn, net, x, v.clone())
        assert torch.equal(x, original), "your function changed its input x in place."
        assert not x.requires_grad, "your function switched on requires_grad on the caller's x: do that on a " \
                                    "detached copy instead."
        assert isinstance(out, torch.Tensor), f"the loss should be a tensor, got {type(out).__name__}."
        if n > 1 and out.numel() == 1:
            raise AssertionError(f"you returned a single number: return one loss per point, shape ({n},); "
                                 "the training loop takes the mean.")
        assert out.shape == (n,), f"return one loss per point, shape ({n},), got shape {tuple(out.shape)}."
        jac, proj, trace, norm2 = _sliced_reference(net, x, v)
        expected = jac + 0.5 * proj**2
        got = out.detach().double()
        wrong = {
            "the factor 0.5 on the squared projection is missing.": jac + proj**2,
            "a sign is wrong: both terms enter with a plus, v^T J v and half the squared projection.":
                jac - 0.5 * proj**2,
            "a sign is wrong: the Jacobian term enters with a plus (it is minus the integration by parts "
            "of the cross term).": -jac + 0.5 * proj**2,
            "that is the variance-reduced version with half the squared norm of the score; this exercise "
            "asks for half the squared projection (v^T s)^2.": jac + 0.5 * norm2,
            "that is exact score matching (trace of the Jacobian and the squared norm): project both terms "
            "onto the random direction v instead.": trace + 0.5 * norm2,
        }
        for message, candidate in wrong.items():
            if torch.allclose(got, candidate.detach(), atol=1e-6):
                raise AssertionError(message)
        _close(got, expected, f"the loss for {name} (N = {n})", atol=1e-6)
        create_graph = "no gradient reaches the network's parameters through the Jacobian term: ask " \
                       "autograd for the gradient with respect to x with create_graph=True."
        assert out.requires_grad, create_graph
        params = list(net.parameters())
        want = torch.autograd.grad(expected.mean(), params, retain_graph=True)
        square_only = torch.autograd.grad((0.5 * proj**2).mean(), params)
        try:
            have = torch.autograd.grad(out.mean(), params, allow_unused=True)
        except RuntimeError:
            raise AssertionError("backpropagating through your loss failed: taking the gradient with respect "
                                 f"to x freed the graph. {create_graph}") from None
        have = [torch.zeros_like(p) if h is None else h for h, p in zip(have, params)]
        if all(torch.allclose(h, s, atol=1e-6) for h, s in zip(have, square_only)):
            raise AssertionError(create_graph)
        for h, w in zip(have, want):
            _close(h, w, f"the gradient of the mean loss with respect to the parameters of {name}", atol=1e-6)


# ---------------------------------------------------------------- chapter 10: flow matching and masked diffusion

def _first_match(out: torch.Tensor, want: torch.Tensor, wrong: dict[str, torch.Tensor], atol: float) -> None:
    """Name the first known mistake that ``out`` reproduces; a candidate that happens to equal
    the right answer on these inputs is skipped, so a right answer is never refused."""
    for message, candidate in wrong.items():
        if candidate.shape == out.shape and torch.allclose(out, candidate, atol=atol) \
                and not torch.allclose(candidate, want, atol=atol):
            raise AssertionError(message)


def _per_row(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``t`` of shape ``(N,)`` viewed as ``(N, 1, ..., 1)`` so that it scales each row of ``like``."""
    return t.view(-1, *[1] * (like.dim() - 1))


def _is_broadcast_error(err: RuntimeError) -> bool:
    text = str(err)
    return "must match the size" in text or "broadcast" in text


@checker("the flow-matching target", "the path runs in a straight line from the noise at time 0 to the data "
         "at time 1, where what is left of the noise is scaled down to sigma_min rather than to zero; the "
         "velocity is the path's derivative in t. Give t one axis of length 1 for every data dimension, so "
         "that each row is moved by its own time.")
def check_cfm_target(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float],
                                  tuple[torch.Tensor, torch.Tensor]]) -> None:
    """``fn(x0, x1, t, sigma_min) -> (x_t, u_t)``: the point ``t x1 + (1 - (1 - sigma_min) t) x0`` of
    chapter 10's straight conditional path and its velocity ``x1 - (1 - sigma_min) x0``, which is the
    regression target of conditional flow matching. ``x0`` (noise) and ``x1`` (data) have shape
    ``(N, ...)``, ``t`` has shape ``(N,)``."""
    g = torch.Generator().manual_seed(31)
    # (4, 1, 4, 4): a t of shape (N,) broadcasts silently along the last axis there, so look for it
    for shape, sigma_min in (((5, 2), 0.0), ((6, 2), 0.03), ((4, 1, 4, 4), 0.03), ((3, 1, 4, 4), 0.0)):
        x0 = torch.randn(shape, generator=g, dtype=torch.float64)
        x1 = torch.randn(shape, generator=g, dtype=torch.float64)
        t = torch.rand(shape[0], generator=g, dtype=torch.float64)
        originals = (x0.clone(), x1.clone(), t.clone())
        try:
            out = fn(x0, x1, t, sigma_min)
        except RuntimeError as err:
            if not _is_broadcast_error(err):
                raise
            raise AssertionError(f"for data of shape {shape} the shapes did not match ({err}): t has shape "
                                 "(N,); reshape t to (N, 1, ...) before multiplying it with the data.") from None
        assert all(torch.equal(a, b) for a, b in zip((x0, x1, t), originals)), \
            "your function changed an input in place; compute new tensors."
        assert not isinstance(out, torch.Tensor), \
            "you returned one tensor: return the pair (x_t, u_t), the point on the path and its velocity."
        assert isinstance(out, (tuple, list)) and len(out) == 2, "return the pair (x_t, u_t)."
        x_t, u_t = out
        assert isinstance(x_t, torch.Tensor) and isinstance(u_t, torch.Tensor), "return a pair of tensors."
        s, tt = sigma_min, _per_row(t, x1)
        want_x, want_u = tt * x1 + (1 - (1 - s) * tt) * x0, x1 - (1 - s) * x0

        wrong_x = {}
        for bad_t, lined_up in ((t, "t of shape (N,) lined up with the last axis"),
                                (t[:, None], "t of shape (N, 1) lined up with the last two axes")):
            try:
                wrong_x[f"t broadcast along the wrong axes ({lined_up}): each row needs its own time, so "
                        "reshape t to (N, 1, ...), with one axis of length 1 per data dimension."] = \
                    bad_t * x1 + (1 - (1 - s) * bad_t) * x0
            except RuntimeError:
                pass
        assert x_t.shape == x0.shape and u_t.shape == x0.shape, \
            f"both tensors should have the data's shape {shape}, got {tuple(x_t.shape)} and " \
            f"{tuple(u_t.shape)}: reshape t to (N, 1, ...) so it broadcasts over each row."
        x_t, u_t = x_t.detach().double(), u_t.detach().double()
        wrong_x.update({
            "the path runs the wrong way, from data to noise: at time 0 it must be the noise x0, at time 1 "
            "the data x1.": tt * x0 + (1 - (1 - s) * tt) * x1,
            "sigma_min is missing from the path: the noise shrinks to sigma_min times x0 at time 1, not to 0.":
                tt * x1 + (1 - tt) * x0,
            "you returned the velocity where the point on the path belongs: the pair is (x_t, u_t).": want_u,
        })
        _first_match(x_t, want_x, wrong_x, atol=1e-8)
        _close(x_t, want_x, f"x_t for data of shape {shape} with sigma_min = {s}", atol=1e-8)

        half_pi = math.pi / 2
        _first_match(u_t, want_u, {
            "the velocity has the wrong sign: the path moves from the noise towards the data.": -want_u,
            "that is the velocity of the path from data to noise (the roles of x0 and x1 are swapped).":
                x0 - (1 - s) * x1,
            "the velocity ignores sigma_min: differentiate (1 - (1 - sigma_min) t) x0 in t as well.": x1 - x0,
            "that is the velocity of the variance-preserving path (cosine and sine of t); this exercise asks "
            "for the straight path's.":
                half_pi * (torch.cos(half_pi * tt) * x1 - torch.sin(half_pi * tt) * x0),
            "your velocity changes with t; the path is a straight line travelled at constant speed, so its "
            "derivative in t has no t left in it.": tt * want_u,
        }, atol=1e-8)
        _close(u_t, want_u, f"u_t for data of shape {shape} with sigma_min = {s}", atol=1e-8)


@checker("one Euler step", "evaluate the velocity field once, at the point and the time where the step "
         "starts, and move the point by the step length times that velocity. A negative step length runs the "
         "ODE backwards with no other change. Return a new tensor.")
def check_euler_step(fn: Callable[[Callable, torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
    """``fn(v, x, t, h)``: ``x + h v(x, t)``, one explicit Euler step of ``dx/dt = v(x, t)``, the sampler
    of chapter 10 (one network evaluation per step); ``t`` is a 0-dim tensor and ``h`` may be negative,
    as when the likelihood integrates the ODE backwards."""
    def field(x: torch.Tensor, t) -> torch.Tensor:  # depends on x and t, so every mistake shows
        t = torch.as_tensor(t, dtype=x.dtype)
        return -x * (1 + t) + torch.sin(3 * t)

    calls = []

    def v(x: torch.Tensor, t) -> torch.Tensor:
        calls.append(t)
        return field(x, t)

    g = torch.Generator().manual_seed(32)
    for shape, t0, h in (((6, 2), 0.2, 0.25), ((3, 1, 4, 4), 0.7, -0.1), ((1, 3), 0.0, 0.5), ((4, 5), 0.9, -0.3)):
        x = torch.randn(shape, generator=g, dtype=torch.float64)
        original = x.clone()
        t = torch.tensor(t0, dtype=torch.float64)
        calls.clear()
        out = fn(v, x, t, h)
        assert torch.equal(x, original), "your function changed x in place; return the new point as a new tensor."
        assert calls, "your function never evaluated v: the step moves along the velocity v(x, t)."
        assert isinstance(out, torch.Tensor) and out.shape == x.shape, f"return a tensor of x's shape {shape}."
        out = out.detach().double()
        k1 = field(x, t)
        want = x + h * k1
        _first_match(out, want, {
            "v is evaluated at the end of the step, time t + h (the end-point value an implicit method would "
            "use): Euler's explicit step takes the slope where the step starts, at (x, t).":
                x + h * field(x, t + h),
            "the step goes the wrong way: add h times the velocity (a negative h runs backwards by itself).":
                x - h * k1,
            "the step length h is missing: move by h times the velocity, not by the velocity.": x + k1,
            "h multiplies x too: only the velocity is scaled by h, the step starts from x itself.": h * (x + k1),
            "that is Heun's step (two evaluations, averaged); this exercise asks for Euler's, with one "
            "evaluation per step.": x + h / 2 * (k1 + field(x + h * k1, t + h)),
            "that is the midpoint method (two evaluations); this exercise asks for Euler's, with one "
            "evaluation per step.": x + h * field(x + h / 2 * k1, t + h / 2),
        }, atol=1e-8)
        _close(out, want, f"the step from t = {t0} with h = {h} for x of shape {shape}", atol=1e-8)
        assert len(calls) == 1, f"your step evaluated v {len(calls)} times: Euler uses one evaluation per step " \
                                "(each one is a pass of the network)."


@checker("the masked-diffusion bound", "take the cross-entropy of every position, keep only the hidden ones, "
         "add them up per window, and divide by the window's masking rate and by its length (all of its "
         "positions, hidden or not). Keep one value per window.")
def check_masked_diffusion_loss(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
                                             torch.Tensor]) -> None:
    """``fn(logits, x, masked, t)``: each window's bound in nats per token, shape ``(B,)``: ``(1/t)`` times
    the summed cross-entropy of the masked positions, over the length ``T``. It is the absorbing-state
    ELBO (Sahoo et al. 2024, Shi et al. 2024) with the linear schedule ``alpha_t = 1 - t``, whose weight
    ``|alpha'_t| / (1 - alpha_t)`` is ``1/t``; logits ``(B, T, V)``, x ``(B, T)``, masked ``(B, T)``."""
    g = torch.Generator().manual_seed(33)
    for B, T, V in ((4, 7, 5), (3, 12, 9), (1, 5, 4), (2, 6, 3)):
        logits = torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2
        x = torch.randint(0, V, (B, T), generator=g)
        t = torch.rand(B, generator=g, dtype=torch.float64) * 0.8 + 0.1
        masked = torch.rand(B, T, generator=g) < t[:, None]
        masked[:, 0] = True  # at least one hidden position per window
        masked[:, -1] = False  # and one visible
        if B == 2:  # the end of the range: at t = 1 every position is hidden
            t[1], masked[1] = 1.0, True
        originals = (logits.clone(), x.clone(), masked.clone(), t.clone())
        logits.requires_grad_(True)
        out = fn(logits, x, masked, t)
        assert all(torch.equal(a, b) for a, b in zip((logits.detach(), x, masked, t), originals)), \
            "your function changed an input in place."
        assert isinstance(out, torch.Tensor), f"return a tensor, got {type(out).__name__}."
        if B > 1 and out.numel() == 1:
            raise AssertionError(f"you returned one number (a mean over the batch?): return one value per window "
                                 f"(sequence), shape ({B},).")
        assert out.shape == (B,), f"return one value per window (sequence), shape ({B},), got {tuple(out.shape)}."
        assert out.requires_grad, "the bound does not depend on the logits through autograd: it is a training " \
                                  "loss, so build it from them with torch operations."
        with torch.no_grad():
            nll = -torch.log_softmax(logits, -1).gather(-1, x.unsqueeze(-1)).squeeze(-1)  # (B, T)
            hidden = (nll * masked).sum(1)
            want = hidden / t / T
            wrong = {
                "the weight 1/t is missing: that is a masked-language-model loss, not the bound; at rate t only "
                "about t T positions are hidden, so their sum must be divided by t.": hidden / T,
                "the weight is t; it must be 1/t.": hidden * t / T,
                "the weight is 1/(1 - t); with the masking rate t the bound's weight is 1/t.":
                    hidden / (1 - t).clamp_min(1e-12) / T,
                "the visible positions are included: only the masked ones are predicted (the others are given).":
                    nll.sum(1) / t / T,
                "you divided by the number of masked positions: divide by t and by the window's length T.":
                    hidden / masked.sum(1),
                "the number of masked positions is used together with t: divide by t and by the window's "
                "length T only.": hidden / t / masked.sum(1),
                "the sign is wrong: the bound is a sum of negative log-probabilities, so it is positive.": -want,
            }
            got = out.detach().double()
            _first_match(got, want, wrong, atol=1e-8)
            _close(got, want, f"the bound of {B} windows of {T} tokens", atol=1e-8)


# ---------------------------------------------------------------- chapter 11: latent and multimodal generation

def _is_index_tensor(t: object) -> bool:
    return isinstance(t, torch.Tensor) and not t.dtype.is_floating_point and not t.dtype.is_complex \
        and t.dtype != torch.bool


@checker("the straight-through quantizer", "find, for every encoder vector, the code at the smallest squared "
         "Euclidean distance. The forward value is that code, but picking and looking it up has no gradient "
         "with respect to the encoder vector, so pass the gradient straight through: start from the encoder "
         "vector and add the difference to its code, taken out of the graph. The codebook gets no gradient "
         "this way; it is trained by a loss of its own.")
def check_straight_through(fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]) -> None:
    """``fn(z_e, codebook) -> (z_q, idx)``: the vector quantizer of a VQ-VAE (van den Oord et al. 2017).
    ``idx``, integers of shape ``(N,)``, holds for each row of ``z_e`` ``(N, D)`` the index of the nearest row
    of ``codebook`` ``(K, D)`` in squared Euclidean distance; ``z_q`` equals ``codebook[idx]`` in value, while
    its gradient passes straight through to the encoder: for any upstream gradient ``g``, ``z_e`` receives
    ``g`` itself, and the codebook receives nothing through ``z_q`` (it is learned by its own loss term)."""
    g = torch.Generator().manual_seed(41)
    for n, d, k in ((6, 2, 4), (9, 3, 6), (1, 4, 3), (12, 5, 8)):
        # codes of very different lengths, so that the largest dot product is often not the nearest code
        lengths = torch.linspace(0.25, 2.5, k, dtype=torch.float64)
        codebook = torch.randn(k, d, generator=g, dtype=torch.float64) * lengths[:, None]
        z_e = torch.randn(n, d, generator=g, dtype=torch.float64)
        # the last vector lies far from the random codes, between two codes placed by hand: code 0 is the
        # nearest in squared Euclidean distance (0.5 against 0.81), code 1 in L1 distance (0.9 against 1.0)
        z_e[-1] = 0.0
        z_e[-1, :2] = torch.tensor([8.0, -8.0], dtype=torch.float64)
        codebook[0], codebook[1] = z_e[-1], z_e[-1]
        codebook[0, :2] += 0.5
        codebook[1, 0] += 0.9
        originals = (z_e.clone(), codebook.clone())
        z_e.requires_grad_(True)
        codebook.requires_grad_(True)
        out = fn(z_e, codebook)
        assert all(torch.equal(a.detach(), b) for a, b in zip((z_e, codebook), originals)), \
            "your function changed an input in place."
        assert isinstance(out, (tuple, list)) and len(out) == 2, "return the pair (z_q, idx)."
        z_q, idx = out
        if _is_index_tensor(z_q) and isinstance(idx, torch.Tensor) and idx.dtype.is_floating_point:
            raise AssertionError("the pair is in the wrong order: return the quantized vectors first, then "
                                 "the indices, (z_q, idx).")
        assert isinstance(z_q, torch.Tensor) and isinstance(idx, torch.Tensor), "return a pair of tensors."
        assert _is_index_tensor(idx), f"idx has dtype {idx.dtype}: it should hold integer indices, which pick " \
                                      "rows of the codebook."
        assert idx.shape == (n,), f"idx should hold one index per encoder vector, shape ({n},), got " \
                                  f"{tuple(idx.shape)}."
        zd, cd = z_e.detach(), codebook.detach()
        difference = zd[:, None] - cd[None]  # (N, K, D)
        distance = (difference * difference).sum(-1)
        want_idx = distance.argmin(1)
        got_idx = idx.detach().long()
        for message, candidate in {
            "idx picks the nearest code in L1 distance (the sum of absolute differences): the quantizer uses "
            "the squared Euclidean distance, and the two can disagree.": difference.abs().sum(-1).argmin(1),
            "idx picks the code with the largest dot product, which favours long codes whatever their "
            "direction: pick the code at the smallest squared Euclidean distance.": (zd @ cd.T).argmax(1),
            "idx picks the farthest code (the largest distance): the quantizer picks the nearest, the "
            "smallest.": distance.argmax(1),
        }.items():
            if torch.equal(got_idx, candidate) and not torch.equal(candidate, want_idx):
                raise AssertionError(message)
        assert torch.equal(got_idx, want_idx), \
            f"idx is not the index of the nearest code for {n} vectors and {k} codes of dimension {d}."

        assert z_q.shape == (n, d), f"z_q should have the shape of z_e, ({n}, {d}), got {tuple(z_q.shape)}."
        want = cd[want_idx]
        got = z_q.detach().double()
        if torch.allclose(got, zd, atol=1e-10) and not torch.allclose(zd, want, atol=1e-10):
            raise AssertionError("z_q is z_e itself: in the forward pass it must be the chosen codes (the decoder "
                                 "only ever sees codebook vectors); the straight-through trick changes only the "
                                 "backward pass.")
        _close(got, want, f"z_q for {n} vectors and {k} codes of dimension {d}", atol=1e-10)

        no_gradient = "no gradient reaches z_e: choosing the nearest code and looking it up is not " \
                      "differentiable with respect to z_e, so its gradient is zero (autograd gives None). " \
                      "Keep the code's value in the forward pass but let z_e receive the gradient of z_q " \
                      "unchanged (the straight-through estimator)."
        assert z_q.requires_grad, no_gradient
        upstream = torch.randn(n, d, generator=g, dtype=torch.float64)
        grad_z, grad_c = torch.autograd.grad(z_q, (z_e, codebook), upstream.to(z_q.dtype), allow_unused=True)
        assert grad_z is not None, no_gradient
        leaked = grad_c is not None and bool(grad_c.abs().max() > 0)
        if leaked and torch.allclose(grad_z, torch.zeros_like(grad_z)):
            raise AssertionError("z_e receives a zero gradient while the codes receive one: the difference "
                                 "between the code and z_e has to be detached, or its gradient cancels the "
                                 "one z_e gets directly and passes to the code instead.")
        assert not leaked, "gradient flows into the codebook through z_q: the straight-through output carries " \
                           "gradient to the encoder only; the codebook is learned by its own loss term, so " \
                           "the code's part of z_q must be out of the graph."
        assert not torch.allclose(grad_z, torch.zeros_like(grad_z)), no_gradient
        _close(grad_z, upstream, "the gradient reaching z_e (the upstream gradient, passed on unchanged)",
               atol=1e-10)


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, target, reduction=reduction)


@checker("the CLIP contrastive loss", "compare every image with every caption: the scaled similarities form "
         "an N by N table of logits. Image i goes with caption i, so the right class of row i is i, and so "
         "is the right class of column i. Take the cross-entropy of the rows (each image picks its caption) "
         "and of the columns (each caption picks its image), each averaged over the pairs, and average the "
         "two directions.")
def check_clip_loss(fn: Callable[[torch.Tensor, torch.Tensor, float | torch.Tensor], torch.Tensor]) -> None:
    """``fn(image_emb, text_emb, scale)``: the symmetric contrastive (InfoNCE) loss of CLIP (Radford et al.
    2021) for ``N`` matching pairs whose embeddings ``(N, D)`` are already L2-normalized, a scalar. With the
    logits ``scale * image_emb @ text_emb.T``, it is the mean of the cross-entropy of the rows (each image
    must pick its own caption among the batch's) and that of the columns (each caption its image), the right
    class of pair ``i`` being ``i``; ``scale`` (a positive number or 0-dim tensor) is the inverse temperature."""
    g = torch.Generator().manual_seed(42)
    for n, d, scale in ((4, 3, 10.0), (8, 5, 1.0), (6, 4, torch.tensor(14.3, dtype=torch.float64)), (16, 8, 50.0)):
        image = torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
        text = torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
        originals = (image.clone(), text.clone())
        image.requires_grad_(True)
        text.requires_grad_(True)
        out = fn(image, text, scale)
        assert all(torch.equal(a.detach(), b) for a, b in zip((image, text), originals)), \
            "your function changed an input in place."
        assert isinstance(out, torch.Tensor), f"the loss should be a tensor, got {type(out).__name__}."
        if out.dim() > 0 and out.numel() == n:
            raise AssertionError(f"you returned one value per pair (shape {tuple(out.shape)}): the loss is their "
                                 "mean, a scalar.")
        assert out.dim() == 0, f"the loss should be a scalar (a 0-dimensional tensor), got shape {tuple(out.shape)}."
        s = float(scale)
        i, t = originals
        labels = torch.arange(n)

        def both(logits: torch.Tensor, target: torch.Tensor = labels, reduction: str = "mean") -> torch.Tensor:
            return (_cross_entropy(logits, target, reduction) + _cross_entropy(logits.T, target, reduction)) / 2

        similarity = i @ t.T
        want = both(s * similarity)
        got = out.detach().double()
        _first_match(got, want, {
            "your loss equals the image-to-text half only: a caption must also pick its image, so average "
            "the cross-entropy of the rows with that of the columns.": _cross_entropy(s * similarity, labels),
            "your loss equals the text-to-image half only: an image must also pick its caption, so average "
            "the cross-entropy of the columns with that of the rows.": _cross_entropy(s * similarity.T, labels),
            "you added the two directions: average them.": 2 * want,
            "the scale (inverse temperature) is missing: without it the logits stay between -1 and 1 and "
            "the softmax can hardly prefer the right caption; multiply the similarities by it.": both(similarity),
            "you divided the similarities by the scale: the scale multiplies them (it is the inverse of the "
            "temperature).": both(similarity / s),
            "you exponentiated the scale: here it is given as it is, not as its logarithm.":
                both(math.exp(s) * similarity),
            "that is a sum over the pairs: take the mean, so that the loss does not grow with the batch.":
                both(s * similarity, reduction="sum"),
            "the targets are not the matching pairs: image i goes with caption i, so the right class of row "
            "i (and of column i) is i, on the diagonal.": both(s * similarity, torch.zeros(n, dtype=torch.long)),
            "the logits compare the images with each other: compare each image with every caption.":
                both(s * i @ i.T),
            "the logits compare the captions with each other: compare each image with every caption.":
                both(s * t @ t.T),
            "the sign is wrong: a cross-entropy is positive, and training lowers it.": -want,
        }, atol=1e-8)
        _close(got, want, f"the loss of {n} pairs of {d}-dimensional embeddings with scale {s:g}", atol=1e-8)

        assert out.requires_grad, "the loss does not depend on the embeddings through autograd: it trains both " \
                                  "encoders, so build it from the embeddings with torch operations."
        grad_i, grad_t = torch.autograd.grad(out, (image, text), allow_unused=True)
        assert grad_i is not None, "no gradient reaches the image embeddings: the loss trains both encoders."
        assert grad_t is not None, "no gradient reaches the text embeddings: the loss trains both encoders."
        ref_i, ref_t = i.clone().requires_grad_(True), t.clone().requires_grad_(True)
        want_i, want_t = torch.autograd.grad(both(s * ref_i @ ref_t.T), (ref_i, ref_t))
        _close(grad_i, want_i, f"the gradient with respect to the image embeddings ({n} pairs)", atol=1e-8)
        _close(grad_t, want_t, f"the gradient with respect to the text embeddings ({n} pairs)", atol=1e-8)


def _patchify_reference(x: torch.Tensor, p: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(n, (h // p) * (w // p), c * p * p)


@checker("patches as tokens", "split the height into a number of patch rows times p and the width into a "
         "number of patch columns times p, bring the two axes of the patch grid next to the batch axis and "
         "put the channel axis in front of the two axes within a patch, then merge each group into one axis. "
         "The inverse undoes these steps in reverse order.")
def check_patchify(patchify: Callable[[torch.Tensor, int], torch.Tensor],
                   unpatchify: Callable[[torch.Tensor, int, tuple[int, int, int]], torch.Tensor]) -> None:
    """``patchify(x, p)`` turns images ``(N, C, H, W)`` into the token sequences of a vision Transformer
    (Dosovitskiy et al. 2021) or a DiT, shape ``(N, (H/p)(W/p), C p p)``: one token per ``p x p`` patch, the
    patches in raster order (the top row of patches from left to right, then the next row), each token's
    features ordered by channel, then by row and column within the patch (the order of the weights of a
    convolution with kernel and stride ``p``, so the two tokenizations agree). ``unpatchify(tokens, p,
    (C, H, W))`` is its inverse, which turns a Transformer's output tokens back into images."""
    g = torch.Generator().manual_seed(43)
    for n, c, h, w, p in ((2, 1, 4, 4, 2), (3, 3, 4, 8, 2), (2, 3, 8, 12, 4), (2, 1, 6, 4, 1), (1, 3, 4, 6, 2),
                          (2, 3, 4, 4, 1)):
        x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
        original = x.clone()
        tokens, features = (h // p) * (w // p), c * p * p
        case = f"images of shape {(n, c, h, w)} and p = {p}"
        out = patchify(x, p)
        assert torch.equal(x, original), "patchify changed its input in place; return a new tensor."
        assert isinstance(out, torch.Tensor), f"patchify should return a tensor, got {type(out).__name__}."
        swapped = "the last two axes are swapped: the tokens (one per patch) go along the middle axis and " \
                  "their features along the last."
        if tokens != features and out.shape == (n, features, tokens):
            raise AssertionError(swapped)
        assert out.shape == (n, tokens, features), \
            f"for {case} return {n} sequences of {tokens} tokens with {features} features each, shape " \
            f"{(n, tokens, features)}, got {tuple(out.shape)}."
        want = _patchify_reference(x, p)
        grid = x.reshape(n, c, h // p, p, w // p, p)
        got = out.detach().double()
        _first_match(got, want, {
            "your tokens are strips of consecutive pixels along the rows, not p x p patches: a reshape alone "
            "keeps the pixels in memory order, so the axes of the patch grid have to be moved in front of the "
            "axes within a patch first.": x.reshape(n, tokens, features),
            "the patches are in column order (down the first column of patches, then the next): number them "
            "in raster order, the top row of patches from left to right, then the next row.":
                grid.permute(0, 4, 2, 1, 3, 5).reshape(n, tokens, features),
            "each token's features are ordered by row, column and then channel: order them by channel first, "
            "then by row and column within the patch, so that a token holds all of the first channel's p x p "
            "pixels, then the next channel's.": grid.permute(0, 2, 4, 3, 5, 1).reshape(n, tokens, features),
            "within a patch the pixels are read column by column: read each channel's p x p block row by row.":
                grid.permute(0, 2, 4, 1, 5, 3).reshape(n, tokens, features),
            swapped: want.transpose(1, 2),
        }, atol=1e-12)
        _close(got, want, f"the tokens of {case}", atol=1e-12)

        given = want.clone()
        back = unpatchify(given, p, (c, h, w))
        assert torch.equal(given, want), "unpatchify changed its input in place; return a new tensor."
        assert isinstance(back, torch.Tensor) and back.shape == x.shape, \
            f"unpatchify should return images of shape {tuple(x.shape)} for the tokens of {case}, got " \
            f"{tuple(back.shape) if isinstance(back, torch.Tensor) else type(back).__name__}."
        back = back.detach().double()
        _first_match(back, x, {
            "unpatchify is a reshape alone: it puts the pixels back in memory order, not where they came "
            "from; undo patchify's moves of the axes, in reverse order.": want.reshape(n, c, h, w),
            "unpatchify moves the axes as patchify does instead of undoing it: the inverse of a reordering "
            "of axes is in general a different reordering.":
                want.reshape(n, h // p, w // p, c, p, p).permute(0, 2, 4, 1, 3, 5).reshape(n, c, h, w),
        }, atol=1e-12)
        assert torch.allclose(back, x, atol=1e-12), \
            f"unpatchify does not give back the images from their tokens ({case}): it must undo every step of " \
            "patchify, in reverse order."

        random_tokens = torch.randn(n, tokens, features, generator=g, dtype=torch.float64)
        given = random_tokens.clone()
        images = unpatchify(given, p, (c, h, w))
        assert torch.equal(given, random_tokens), "unpatchify changed its input in place; return a new tensor."
        again = patchify(images, p)
        assert isinstance(again, torch.Tensor) and again.shape == random_tokens.shape and \
            torch.allclose(again.detach().double(), random_tokens, atol=1e-12), \
            f"patchify does not give back the tokens that unpatchify turned into images ({case}): the two " \
            "must be inverses of each other."


# ---------------------------------------------------------------- the comparison chapter

@checker("the Pareto front of quality and time", "a model is on the front when no other model is at least "
         "as good on both measures and strictly better on one. Compare every model with every other; "
         "lower is better for both measures here.")
def check_pareto_front(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(cost, seconds)``: a boolean tensor marking the models (rows) that no other model
    dominates, where lower is better for both ``cost`` (e.g. a two-sample accuracy) and
    ``seconds``."""
    cases = [
        (torch.tensor([0.70, 0.80, 0.75, 0.90]), torch.tensor([10.0, 0.1, 1.0, 0.05]), [True, True, True, True]),
        (torch.tensor([0.70, 0.80, 0.75, 0.72]), torch.tensor([10.0, 0.1, 0.2, 20.0]), [True, True, True, False]),
        (torch.tensor([0.7, 0.7, 0.9]), torch.tensor([1.0, 1.0, 0.5]), [True, True, True]),
        (torch.tensor([0.7, 0.7, 0.9]), torch.tensor([1.0, 2.0, 5.0]), [True, False, False]),
    ]
    for cost, seconds, expected in cases:
        out = fn(cost.clone(), seconds.clone())
        assert isinstance(out, torch.Tensor) and out.shape == cost.shape, \
            f"return one boolean per model, shape {tuple(cost.shape)}."
        out = out.bool().tolist()
        if out == [not e for e in expected]:
            raise AssertionError("the front is the opposite of what you returned: mark the models that "
                                 "nothing dominates.")
        if expected == [True, True, True] and out != expected:
            raise AssertionError("two models with identical numbers do not dominate each other: "
                                 "domination needs a strict improvement on one measure.")
        assert out == expected, f"for costs {cost.tolist()} and seconds {seconds.tolist()} the front is " \
                                f"wrong (a model that is worse on both measures than another is off the front)."


@checker("a paired difference with its standard error", "the two models were scored on the same test "
         "items, so compare them item by item: take the differences first, then their mean, and the "
         "standard error of that mean from the spread of the differences.")
def check_paired_difference(fn: Callable[[torch.Tensor, torch.Tensor], tuple[float, float]]) -> None:
    """``fn(a, b) -> (mean, standard_error)`` of ``a - b`` over paired items (1-D tensors)."""
    g = torch.Generator().manual_seed(14)
    shared = torch.randn(500, generator=g, dtype=torch.float64) * 5
    a = shared + torch.randn(500, generator=g, dtype=torch.float64) * 0.5 + 0.2
    b = shared + torch.randn(500, generator=g, dtype=torch.float64) * 0.5
    out = fn(a.clone(), b.clone())
    assert isinstance(out, tuple) and len(out) == 2, "return a pair (mean, standard error)."
    mean, se = float(out[0]), float(out[1])
    d = a - b
    assert abs(mean - float(d.mean())) < 1e-6, "the mean difference is wrong (is it a minus b?)."
    unpaired = math.sqrt(float(a.var()) / len(a) + float(b.var()) / len(b))
    if abs(se - unpaired) < 1e-3:
        raise AssertionError("that is the unpaired standard error: on the same items, most of the spread "
                             "is shared and cancels in the differences.")
    if abs(se - float(d.std())) < 1e-6:
        raise AssertionError("that is the spread of the differences, not the standard error of their mean.")
    assert abs(se - float(d.std()) / math.sqrt(len(d))) < 1e-6, "the standard error is wrong."
