"""Every checker passes a right answer and rejects plausible wrong ones, with a useful message.

The hints are tested too: a hint guides, it never contains the answer's code.
"""

import inspect
import math
import re

import pytest
import torch
import torch.nn.functional as F

from gentext import exercises as ex

# check_logit_transform is left out: its hint states the transform's formula, on purpose.
CHECKERS = [ex.check_bernoulli_error, ex.check_masking_noise, ex.check_kl_gaussians, ex.check_laplace_sample,
            ex.check_effective_sample_size, ex.check_hinge_loss, ex.check_gradient_penalty,
            ex.check_confusion, ex.check_projection, ex.check_order_mask, ex.check_column_mask,
            ex.check_window_attention, ex.check_kv_step, ex.check_min_p, ex.check_coupling_inverse,
            ex.check_forward_jump, ex.check_ddim_eta_step,
            ex.check_langevin_step, ex.check_cd_loss, ex.check_sliced_score_matching,
            ex.check_cfm_target, ex.check_euler_step, ex.check_masked_diffusion_loss,
            ex.check_straight_through, ex.check_clip_loss, ex.check_patchify,
            ex.check_pareto_front, ex.check_paired_difference]


def _hint(check) -> str:
    stub = lambda *a: (_ for _ in ()).throw(NotImplementedError())  # noqa: E731
    result = check(*[stub] * len(inspect.signature(check).parameters), verbose=False)  # one per function asked for
    assert not result and "not implemented yet. Hint:" in result.message
    return result.message.split("Hint:", 1)[1]


@pytest.mark.parametrize("check", CHECKERS, ids=lambda c: c.__name__)
def test_hints_guide_without_code(check):
    hint = _hint(check)
    code = re.search(r"[A-Za-z_][\w.]*\(|\*\*|\.(sum|mean|exp|log)\b|\w\s*=\s*\w", hint)
    assert code is None, f"{check.__name__}'s hint contains code ({code.group()!r}): {hint!r}"


def test_bernoulli_error_checker():
    def right(x, xh):
        xh = xh.clamp(1e-6, 1 - 1e-6)
        return -(x * xh.log() + (1 - x) * (1 - xh).log()).flatten(1).sum(1)

    assert ex.check_bernoulli_error(right, verbose=False)
    unclamped = ex.check_bernoulli_error(lambda x, xh: F.binary_cross_entropy(xh, x, reduction="none")
                                         .flatten(1).sum(1) * 0 - (x * xh.log() + (1 - x) * (1 - xh).log())
                                         .flatten(1).sum(1), verbose=False)
    assert not unclamped and "non-finite" in unclamped.message
    mean_not_sum = ex.check_bernoulli_error(lambda x, xh: right(x, xh) / x[0].numel(), verbose=False)
    assert not mean_not_sum and "differs" in mean_not_sum.message
    squared = ex.check_bernoulli_error(lambda x, xh: ((x - xh) ** 2).flatten(1).sum(1), verbose=False)
    assert not squared


def test_masking_noise_checker():
    def right(x, p, generator):
        return x * (torch.rand(x.shape, generator=generator) >= p)

    def in_place(x, p, generator):
        x[torch.rand(x.shape, generator=generator) < p] = 0
        return x

    def same_mask_everywhere(x, p, generator):
        return x * (torch.rand(x.shape[1:], generator=generator) >= p)

    assert ex.check_masking_noise(right, verbose=False)
    assert "in place" in ex.check_masking_noise(in_place, verbose=False).message
    assert not ex.check_masking_noise(same_mask_everywhere, verbose=False)
    assert not ex.check_masking_noise(lambda x, p, g: x * (torch.rand(x.shape) >= p), verbose=False)


def test_checker_reports_instead_of_raising(capsys):
    def todo(x, x_hat):
        raise NotImplementedError

    result = ex.check_bernoulli_error(todo)
    assert not result and "not implemented yet" in result.message
    assert "[NOT YET] Bernoulli reconstruction error" in capsys.readouterr().out
    crashed = ex.check_bernoulli_error(lambda x, xh: x.nonexistent, verbose=False)
    assert "raised AttributeError" in crashed.message
    assert "pass your function" in ex.check_bernoulli_error(42, verbose=False).message


def test_chapter_2_checkers():
    def kl(mq, lq, mp, lp):
        return 0.5 * (lp - lq + (lq.exp() + (mq - mp) ** 2) / lp.exp() - 1).sum(-1)

    assert ex.check_kl_gaussians(kl, verbose=False)
    assert not ex.check_kl_gaussians(lambda mq, lq, mp, lp: kl(mp, lp, mq, lq), verbose=False)
    from_standard_normal = ex.check_kl_gaussians(lambda mq, lq, mp, lp: 0.5 * (mq ** 2 + lq.exp() - 1 - lq).sum(-1),
                                                 verbose=False)
    assert not from_standard_normal

    def laplace(mu, log_b):
        u = torch.rand_like(mu).clamp(1e-6, 1 - 1e-6) - 0.5
        return mu - log_b.exp() * u.sign() * torch.log1p(-2 * u.abs())

    assert ex.check_laplace_sample(laplace, verbose=False)
    gaussian = ex.check_laplace_sample(lambda m, lb: m + lb.exp() * math.sqrt(math.pi / 2) * torch.randn_like(m),
                                       verbose=False)
    assert not gaussian and "tails" in gaussian.message
    detached = ex.check_laplace_sample(lambda m, lb: torch.distributions.Laplace(m.detach(), lb.exp().detach()).sample(),
                                       verbose=False)
    assert not detached and "gradient" in detached.message

    def ess(log_w):
        return torch.exp(2 * torch.logsumexp(log_w, 0) - torch.logsumexp(2 * log_w, 0))

    assert ex.check_effective_sample_size(ess, verbose=False)
    naive = ex.check_effective_sample_size(lambda w: w.exp().sum(0) ** 2 / (w.exp() ** 2).sum(0), verbose=False)
    assert not naive and "log space" in naive.message
    assert not ex.check_effective_sample_size(lambda w: torch.exp(torch.logsumexp(w, 0) - torch.logsumexp(2 * w, 0)),
                                              verbose=False)


def test_chapter_3_checkers():
    assert ex.check_hinge_loss(lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), verbose=False)
    logistic = ex.check_hinge_loss(lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(), verbose=False)
    assert not logistic
    no_margin = ex.check_hinge_loss(lambda r, f: F.relu(-r).mean() + F.relu(f).mean(), verbose=False)
    assert not no_margin
    summed = ex.check_hinge_loss(lambda r, f: F.relu(1 - r).sum() + F.relu(1 + f).sum(), verbose=False)
    assert not summed

    def penalty(D, real, fake, u, square=False, graph=True):
        x = (u * real + (1 - u) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=graph)
        norm = grad.flatten(1).norm(dim=1)
        return (norm ** 2).mean() if square else ((norm - 1) ** 2).mean()

    assert ex.check_gradient_penalty(penalty, verbose=False)
    no_graph = ex.check_gradient_penalty(lambda *a: penalty(*a, graph=False), verbose=False)
    assert not no_graph and "create_graph" in no_graph.message
    r1_like = ex.check_gradient_penalty(lambda *a: penalty(*a, square=True), verbose=False)
    assert not r1_like


def test_chapter_4_checkers():
    def confusion(pred, req):
        m = torch.zeros(10, 10)
        m.index_put_((req, pred), torch.ones(len(req)), accumulate=True)
        return m / m.sum(1, keepdim=True)

    assert ex.check_confusion(confusion, verbose=False)
    swapped = ex.check_confusion(lambda p, r: torch.nan_to_num(confusion(r, p)), verbose=False)
    assert not swapped and "swapped" in swapped.message
    counts = ex.check_confusion(lambda p, r: confusion(p, r) * 10, verbose=False)
    assert not counts and "sum to 1" in counts.message

    assert ex.check_projection(lambda h, e, p: ((p @ e) * h).sum(1), verbose=False)
    hard = ex.check_projection(lambda h, e, p: (e[p.argmax(1)] * h).sum(1), verbose=False)
    assert not hard and "most probable" in hard.message
    assert not ex.check_projection(lambda h, e, p: (p @ e).sum(1), verbose=False)


def test_chapter_5_checkers():
    def order_mask(order):
        position = torch.argsort(order)
        return (position[None, :] < position[:, None]).float()

    assert ex.check_order_mask(order_mask, verbose=False)
    raster = ex.check_order_mask(lambda order: torch.tril(torch.ones(len(order), len(order)), -1), verbose=False)
    assert not raster and "raster-order mask" in raster.message
    transposed = ex.check_order_mask(lambda order: order_mask(order).T, verbose=False)
    assert not transposed and "transposed" in transposed.message
    diagonal = ex.check_order_mask(lambda order: order_mask(order) + torch.eye(len(order)), verbose=False)
    assert not diagonal and "itself" in diagonal.message
    # using the ordering itself instead of each pixel's position in it: right for the raster
    # and reversed orders, wrong for a shuffled one
    assert not ex.check_order_mask(lambda o: (o[None, :] < o[:, None]).float(), verbose=False)

    def column_mask(k, mask_type):
        mask = torch.zeros(k, k)
        mask[:, : k // 2] = 1
        mask[: k // 2 + (mask_type == "B"), k // 2] = 1
        return mask

    assert ex.check_column_mask(column_mask, verbose=False)
    raster_conv = ex.check_column_mask(lambda k, t: column_mask(k, t).T, verbose=False)
    assert not raster_conv and "raster" in raster_conv.message
    swapped = ex.check_column_mask(lambda k, t: column_mask(k, "B" if t == "A" else "A"), verbose=False)
    assert not swapped and "centre" in swapped.message
    no_centre_column = ex.check_column_mask(
        lambda k, t: torch.cat([torch.ones(k, k // 2), torch.zeros(k, k - k // 2)], 1), verbose=False)
    assert not no_centre_column


def test_chapter_6_checkers():
    def window_attention(q, k, v, window, scale=True, width=None):
        t = q.shape[-2]
        offset = torch.arange(t)[:, None] - torch.arange(t)[None, :]
        hidden = (offset < 0) | (offset >= (window if width is None else width))
        scores = q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale else 1.0)
        return scores.masked_fill(hidden, float("-inf")).softmax(-1) @ v

    assert ex.check_window_attention(window_attention, verbose=False)
    causal = ex.check_window_attention(lambda q, k, v, w: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                                       verbose=False)
    assert not causal and "window" in causal.message
    off_by_one = ex.check_window_attention(lambda q, k, v, w: window_attention(q, k, v, w, width=max(w - 1, 1)),
                                           verbose=False)
    assert not off_by_one and "itself" in off_by_one.message
    unscaled = ex.check_window_attention(lambda q, k, v, w: window_attention(q, k, v, w, scale=False),
                                         verbose=False)
    assert not unscaled and "sqrt" in unscaled.message

    def step(q, k, v, k_cache, v_cache):
        k_cache, v_cache = torch.cat([k_cache, k], 2), torch.cat([v_cache, v], 2)
        return F.scaled_dot_product_attention(q, k_cache, v_cache), k_cache, v_cache

    assert ex.check_kv_step(step, verbose=False)
    # a common slip: a causal mask on a single query hides every cached key but the first
    masked = ex.check_kv_step(lambda q, k, v, kc, vc: (
        F.scaled_dot_product_attention(q, torch.cat([kc, k], 2), torch.cat([vc, v], 2), is_causal=True),
        torch.cat([kc, k], 2), torch.cat([vc, v], 2)), verbose=False)
    assert not masked
    forgetful = ex.check_kv_step(lambda q, k, v, kc, vc: (F.scaled_dot_product_attention(q, k, v), k, v),
                                 verbose=False)
    assert not forgetful and "cache" in forgetful.message

    def min_p(logits, ratio, per_row=True, absolute=False):
        probs = logits.softmax(-1)
        top = probs.max(-1, keepdim=True).values if per_row else probs.max()
        threshold = ratio if absolute else ratio * top
        return logits.masked_fill(probs < threshold, float("-inf"))

    assert ex.check_min_p(min_p, verbose=False)
    absolute = ex.check_min_p(lambda lo, r: min_p(lo, r, absolute=True), verbose=False)
    assert not absolute and "largest probability" in absolute.message
    global_max = ex.check_min_p(lambda lo, r: min_p(lo, r, per_row=False), verbose=False)
    assert not global_max and "per row" in global_max.message


def test_chapter_7_checkers():
    def inverse(y, mask, net, wrong=False):
        s, t = net(mask * y)
        if wrong:
            return mask * y + (1 - mask) * (y * (-s).exp() - t)
        return mask * y + (1 - mask) * ((y - t) * (-s).exp())

    assert ex.check_coupling_inverse(inverse, verbose=False)
    swapped = ex.check_coupling_inverse(lambda y, m, n: inverse(y, m, n, wrong=True), verbose=False)
    assert not swapped and "shift" in swapped.message
    assert not ex.check_coupling_inverse(lambda y, m, n: y, verbose=False)

    def logit(y, alpha, scale=True):
        p = alpha + (1 - 2 * alpha) * y
        z = p.log() - (-p).log1p()
        per = -p.log() - (-p).log1p() + (math.log(1 - 2 * alpha) if scale else 0.0)
        return z, per.flatten(1).sum(1)

    assert ex.check_logit_transform(logit, verbose=False)
    unscaled = ex.check_logit_transform(lambda y, a: logit(y, a, scale=False), verbose=False)
    assert not unscaled and "1 - 2 alpha" in unscaled.message
    summed = ex.check_logit_transform(lambda y, a: (logit(y, a)[0], logit(y, a)[1].sum()), verbose=False)
    assert not summed and "per example" in summed.message


def test_chapter_8_checkers():
    def jump(x_s, ab_s, ab_t, eps, variance=False, from_x0=False):
        r = (ab_t if from_x0 else ab_t / ab_s).view(-1, 1, 1, 1)
        return r * x_s + (1 - r) * eps if variance else r.sqrt() * x_s + (1 - r).sqrt() * eps

    assert ex.check_forward_jump(jump, verbose=False)
    variance = ex.check_forward_jump(lambda *a: jump(*a, variance=True), verbose=False)
    assert not variance and "square roots" in variance.message
    from_x0 = ex.check_forward_jump(lambda *a: jump(*a, from_x0=True), verbose=False)
    assert not from_x0 and "ratio" in from_x0.message
    flat = ex.check_forward_jump(lambda x, s, t, e: (t / s).sqrt() * x + (1 - t / s).sqrt() * e, verbose=False)
    assert not flat

    def step(x_t, eps, ab_t, ab_prev, eta, z, split=True):
        x0 = (x_t - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab_t)) * math.sqrt(1 - ab_t / ab_prev)
        keep = 1 - ab_prev - (sigma**2 if split else 0.0)
        return math.sqrt(ab_prev) * x0 + math.sqrt(keep) * eps + sigma * z

    assert ex.check_ddim_eta_step(step, verbose=False)
    twice = ex.check_ddim_eta_step(lambda *a: step(*a, split=False), verbose=False)
    assert not twice and "counted twice" in twice.message
    deterministic = ex.check_ddim_eta_step(lambda x, e, a, b, eta, z: step(x, e, a, b, 0.0, z), verbose=False)
    assert not deterministic
    swapped = ex.check_ddim_eta_step(lambda x, e, a, b, eta, z: step(x, e, b, a, eta, z) if eta == 0
                                     else step(x, e, a, b, eta, z), verbose=False)
    assert not swapped


def test_comparison_chapter_checkers():
    def front(cost, seconds, strict=True):
        better_eq = (cost[None, :] <= cost[:, None]) & (seconds[None, :] <= seconds[:, None])
        better = (cost[None, :] < cost[:, None]) | (seconds[None, :] < seconds[:, None])
        dominated = (better_eq & better).any(1) if strict else (better_eq & ~torch.eye(len(cost), dtype=bool)).any(1)
        return ~dominated

    assert ex.check_pareto_front(front, verbose=False)
    ties = ex.check_pareto_front(lambda c, s: front(c, s, strict=False), verbose=False)
    assert not ties and "identical" in ties.message
    inverted = ex.check_pareto_front(lambda c, s: ~front(c, s), verbose=False)
    assert not inverted and "opposite" in inverted.message

    def paired(a, b):
        d = a - b
        return d.mean().item(), (d.std() / math.sqrt(len(d))).item()

    assert ex.check_paired_difference(paired, verbose=False)
    unpaired = ex.check_paired_difference(
        lambda a, b: ((a - b).mean().item(), math.sqrt(a.var().item() / len(a) + b.var().item() / len(b))),
        verbose=False)
    assert not unpaired and "unpaired" in unpaired.message
    spread = ex.check_paired_difference(lambda a, b: ((a - b).mean().item(), (a - b).std().item()), verbose=False)
    assert not spread and "spread of the differences" in spread.message
    assert not ex.check_paired_difference(lambda a, b: ((b - a).mean().item(), paired(a, b)[1]), verbose=False)


def test_energy_score_checkers():
    def langevin(energy, x, step, noise, sign=-1.0, noise_scale=None, detach=True):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(x).sum(), x)
        scale = math.sqrt(2 * step) if noise_scale is None else noise_scale(step)
        out = x + sign * step * grad + scale * noise
        return out.detach() if detach else out

    assert ex.check_langevin_step(langevin, verbose=False)
    uphill = ex.check_langevin_step(lambda *a: langevin(*a, sign=1.0), verbose=False)
    assert not uphill and "downhill" in uphill.message
    sqrt_step = ex.check_langevin_step(lambda *a: langevin(*a, noise_scale=math.sqrt), verbose=False)
    assert not sqrt_step and "sqrt(2 step)" in sqrt_step.message
    step_noise = ex.check_langevin_step(lambda *a: langevin(*a, noise_scale=lambda s: s), verbose=False)
    assert not step_noise and "step size itself" in step_noise.message
    attached = ex.check_langevin_step(lambda *a: langevin(*a, detach=False), verbose=False)
    assert not attached and "detach" in attached.message

    def needs_grad_on_entry(energy, x, step, noise):
        (grad,) = torch.autograd.grad(energy(x).sum(), x)
        return (x - step * grad + math.sqrt(2 * step) * noise).detach()

    entry = ex.check_langevin_step(needs_grad_on_entry, verbose=False)
    assert not entry and "requires_grad" in entry.message

    def in_place(energy, x, step, noise):
        grad = langevin(energy, x, step, noise * 0) - x  # -step * grad
        return x.add_(grad + math.sqrt(2 * step) * noise)

    assert "in place" in ex.check_langevin_step(in_place, verbose=False).message
    # a gradient guessed from the quadratic energy is wrong for the network's energy
    guessed = ex.check_langevin_step(lambda e, x, s, z: x - s * x / 0.49 + math.sqrt(2 * s) * z, verbose=False)
    assert not guessed and "network" in guessed.message
    flat = ex.check_langevin_step(lambda *a: langevin(*a).flatten(), verbose=False)
    assert not flat and "shape" in flat.message

    assert ex.check_cd_loss(lambda ed, em: ed.mean() - em.mean(), verbose=False)
    flipped = ex.check_cd_loss(lambda ed, em: em.mean() - ed.mean(), verbose=False)
    assert not flipped and "tug of war" in flipped.message
    summed = ex.check_cd_loss(lambda ed, em: ed.sum() - em.sum(), verbose=False)
    assert not summed and "sums" in summed.message
    detached = ex.check_cd_loss(lambda ed, em: ed.mean() - em.detach().mean(), verbose=False)
    assert not detached and "samples' energies" in detached.message
    per_point = ex.check_cd_loss(lambda ed, em: ed - em.mean(), verbose=False)
    assert not per_point and "scalar" in per_point.message
    pooled = ex.check_cd_loss(lambda ed, em: (ed.sum() - em.sum()) / (len(ed) + len(em)), verbose=False)
    assert not pooled

    def sliced(score, x, v, graph=True, retain=True, half=0.5, sign=1.0, reduce=False):
        x = x.detach().requires_grad_(True)
        projection = (score(x) * v).sum(1)
        (grad,) = torch.autograd.grad(projection.sum(), x, create_graph=graph, retain_graph=retain)
        loss = sign * (grad * v).sum(1) + half * projection**2
        return loss.mean() if reduce else loss

    assert ex.check_sliced_score_matching(sliced, verbose=False)

    def with_jacobian(score, x, v):  # the full Jacobian, differentiable: slow, but right
        rows = []
        for xi, vi in zip(x, v):
            jac = torch.autograd.functional.jacobian(lambda p: score(p[None])[0], xi, create_graph=True)
            rows.append(vi @ jac @ vi + 0.5 * (vi @ score(xi[None])[0]) ** 2)
        return torch.stack(rows)

    assert ex.check_sliced_score_matching(with_jacobian, verbose=False)
    no_graph = ex.check_sliced_score_matching(lambda *a: sliced(*a, graph=False), verbose=False)
    assert not no_graph and "create_graph" in no_graph.message
    freed = ex.check_sliced_score_matching(lambda *a: sliced(*a, graph=False, retain=False), verbose=False)
    assert not freed and "create_graph" in freed.message
    no_half = ex.check_sliced_score_matching(lambda *a: sliced(*a, half=1.0), verbose=False)
    assert not no_half and "0.5" in no_half.message
    sign = ex.check_sliced_score_matching(lambda *a: sliced(*a, sign=-1.0), verbose=False)
    assert not sign and "sign" in sign.message
    mean = ex.check_sliced_score_matching(lambda *a: sliced(*a, reduce=True), verbose=False)
    assert not mean and "one loss per point" in mean.message

    def needs_grad_on_entry(score, x, v):
        projection = (score(x) * v).sum(1)
        (grad,) = torch.autograd.grad(projection.sum(), x, create_graph=True)
        return (grad * v).sum(1) + 0.5 * projection**2

    entry = ex.check_sliced_score_matching(needs_grad_on_entry, verbose=False)
    assert not entry and "requires_grad" in entry.message

    def variance_reduced(score, x, v):
        s = score(x)
        return sliced(score, x, v) - 0.5 * (s * v).sum(1) ** 2 + 0.5 * (s * s).sum(1)

    reduced = ex.check_sliced_score_matching(variance_reduced, verbose=False)
    assert not reduced and "variance-reduced" in reduced.message


def test_flow_matching_checkers():
    def cfm(x0, x1, t, s, swap=False, path_sigma=True, velocity_sigma=True, sign=1.0, axes=None):
        tt = t.view(-1, *[1] * (x1.dim() - 1)) if axes is None else axes(t)
        if swap:
            x0, x1 = x1, x0
        a, b = (1 - s if path_sigma else 1.0), (1 - s if velocity_sigma else 1.0)
        return tt * x1 + (1 - a * tt) * x0, sign * (x1 - b * x0)

    def cfm_says(word, answer):
        result = ex.check_cfm_target(answer, verbose=False)
        assert not result and word in result.message, result.message

    assert ex.check_cfm_target(cfm, verbose=False)
    assert ex.check_cfm_target(lambda *a: list(cfm(*a)), verbose=False)
    cfm_says("wrong way", lambda *a: cfm(*a, swap=True))
    cfm_says("sigma_min is missing from the path", lambda *a: cfm(*a, path_sigma=False, velocity_sigma=False))
    cfm_says("ignores sigma_min", lambda *a: cfm(*a, velocity_sigma=False))
    cfm_says("wrong sign", lambda *a: cfm(*a, sign=-1.0))
    cfm_says("reshape t", lambda *a: cfm(*a, axes=lambda t: t))  # a shape error on the 2-D points
    cfm_says("lined up with the last two axes", lambda *a: cfm(*a, axes=lambda t: t[:, None]))  # silent on images
    cfm_says("pair", lambda x0, x1, t, s: cfm(x0, x1, t, s)[1])
    cfm_says("variance-preserving", lambda x0, x1, t, s: (
        cfm(x0, x1, t, s)[0],
        math.pi / 2 * (torch.cos(math.pi / 2 * t.view(-1, *[1] * (x1.dim() - 1))) * x1
                       - torch.sin(math.pi / 2 * t.view(-1, *[1] * (x1.dim() - 1))) * x0)))
    cfm_says("velocity where the point", lambda *a: cfm(*a)[::-1])

    def cfm_in_place(x0, x1, t, s):
        out = cfm(x0, x1, t, s)
        x0.mul_(1 - s)
        return out

    cfm_says("in place", cfm_in_place)

    def euler_says(word, answer):
        result = ex.check_euler_step(answer, verbose=False)
        assert not result and word in result.message, result.message

    assert ex.check_euler_step(lambda v, x, t, h: x + h * v(x, t), verbose=False)
    assert ex.check_euler_step(lambda v, x, t, h: x + h * v(x, float(t)), verbose=False)
    euler_says("end of the step", lambda v, x, t, h: x + h * v(x, t + h))
    euler_says("wrong way", lambda v, x, t, h: x - h * v(x, t))
    euler_says("step length h is missing", lambda v, x, t, h: x + v(x, t))
    euler_says("h multiplies x too", lambda v, x, t, h: h * (x + v(x, t)))

    def heun(v, x, t, h):
        k1 = v(x, t)
        return x + h / 2 * (k1 + v(x + h * k1, t + h))

    euler_says("Heun", heun)
    euler_says("midpoint", lambda v, x, t, h: x + h * v(x + h / 2 * v(x, t), t + h / 2))
    euler_says("in place", lambda v, x, t, h: x.add_(h * v(x, t)))

    def twice(v, x, t, h):
        v(x, t)
        return x + h * v(x, t)

    euler_says("one evaluation per step", twice)

    def bound(logits, x, masked, t, weight=lambda t: 1 / t, visible=False, by_count=False):
        nll = F.cross_entropy(logits.transpose(1, 2), x, reduction="none")  # (B, T)
        summed = nll.sum(1) if visible else (nll * masked).sum(1)
        return summed / masked.sum(1) if by_count else summed * weight(t) / x.shape[1]

    def bound_says(word, answer):
        result = ex.check_masked_diffusion_loss(answer, verbose=False)
        assert not result and word in result.message, result.message

    assert ex.check_masked_diffusion_loss(bound, verbose=False)
    bound_says("1/t is missing", lambda *a: bound(*a, weight=lambda t: 1.0))
    bound_says("weight is t;", lambda *a: bound(*a, weight=lambda t: t))
    bound_says("1/(1 - t)", lambda *a: bound(*a, weight=lambda t: 1 / (1 - t)))
    bound_says("visible positions are included", lambda *a: bound(*a, visible=True))
    bound_says("number of masked positions", lambda *a: bound(*a, by_count=True))
    bound_says("one value per window", lambda *a: bound(*a).mean())
    bound_says("sign is wrong", lambda l, x, m, t: bound(torch.log_softmax(l, -1), x, m, t) * -1)
    bound_says("autograd", lambda *a: bound(*a).detach())


def test_straight_through_checker():
    def nearest(z, c, metric="l2"):
        difference = z[:, None] - c[None]
        if metric == "l1":
            return difference.abs().sum(-1).argmin(1)
        if metric == "dot":
            return (z @ c.T).argmax(1)
        distance = (difference ** 2).sum(-1)
        return distance.argmax(1) if metric == "farthest" else distance.argmin(1)

    def quantize(z, c, metric="l2"):
        idx = nearest(z, c, metric)
        return z + (c[idx] - z).detach(), idx

    def says(word, answer):
        result = ex.check_straight_through(answer, verbose=False)
        assert not result and word in result.message, result.message

    assert ex.check_straight_through(quantize, verbose=False)

    def expanded(z, c):  # |z|^2 - 2 z.c + |c|^2, the usual way, with indices of another integer type
        with torch.no_grad():
            idx = ((z * z).sum(1, keepdim=True) - 2 * z @ c.T + (c * c).sum(1)).argmin(1)
        return z + (c.detach()[idx] - z.detach()), idx.int()

    assert ex.check_straight_through(expanded, verbose=False)
    assert ex.check_straight_through(lambda z, c: list(quantize(z, c)), verbose=False)
    says("not differentiable", lambda z, c: (c[nearest(z, c)], nearest(z, c)))
    says("not differentiable", lambda z, c: (c[nearest(z, c)].detach(), nearest(z, c)))
    says("detached", lambda z, c: (z + (c[nearest(z, c)] - z), nearest(z, c)))
    says("into the codebook", lambda z, c: (z + (c[nearest(z, c)] - z.detach()), nearest(z, c)))
    says("dot product", lambda z, c: quantize(z, c, "dot"))
    says("L1", lambda z, c: quantize(z, c, "l1"))
    says("farthest", lambda z, c: quantize(z, c, "farthest"))
    says("z_e itself", lambda z, c: (z, nearest(z, c)))
    says("wrong order", lambda z, c: quantize(z, c)[::-1])
    says("integer", lambda z, c: (quantize(z, c)[0], nearest(z, c).double()))
    says("one index per encoder vector", lambda z, c: (quantize(z, c)[0], nearest(z, c)[:, None]))

    def in_place(z, c):
        out = quantize(z, c)
        with torch.no_grad():
            c.mul_(2)
        return out

    says("in place", in_place)


def test_clip_loss_checker():
    def clip(image, text, scale, both=True, reduction="mean", targets=None, logits=None):
        logits = scale * image @ text.T if logits is None else logits(image, text, scale)
        labels = torch.arange(len(image)) if targets is None else targets(len(image))
        rows = F.cross_entropy(logits, labels, reduction=reduction)
        return (rows + F.cross_entropy(logits.T, labels, reduction=reduction)) / 2 if both else rows

    def says(word, answer):
        result = ex.check_clip_loss(answer, verbose=False)
        assert not result and word in result.message, result.message

    assert ex.check_clip_loss(clip, verbose=False)

    def by_hand(image, text, scale):  # the log-softmax's diagonal, along each axis
        logits = image @ text.T * scale
        return -(logits.log_softmax(1).diagonal().mean() + logits.log_softmax(0).diagonal().mean()) / 2

    assert ex.check_clip_loss(by_hand, verbose=False)
    says("image-to-text half only", lambda *a: clip(*a, both=False))
    says("text-to-image half only", lambda i, t, s: clip(t, i, s, both=False))
    says("added the two directions", lambda *a: 2 * clip(*a))
    says("scale (inverse temperature) is missing", lambda i, t, s: clip(i, t, 1.0))
    says("divided the similarities by the scale", lambda i, t, s: clip(i, t, 1 / s))
    says("exponentiated", lambda i, t, s: clip(i, t, math.exp(float(s))))
    says("sum over the pairs", lambda *a: clip(*a, reduction="sum"))
    says("diagonal", lambda *a: clip(*a, targets=lambda n: torch.zeros(n, dtype=torch.long)))
    says("images with each other", lambda *a: clip(*a, logits=lambda i, t, s: s * i @ i.T))
    says("sign is wrong", lambda *a: -clip(*a))
    says("one value per pair", lambda *a: clip(*a, reduction="none"))
    says("text embeddings", lambda i, t, s: clip(i, t.detach(), s))
    says("autograd", lambda *a: clip(*a).detach())
    says("gradient with respect to the image", lambda i, t, s: (F.cross_entropy(s * i @ t.T, torch.arange(len(i)))
                                                               + F.cross_entropy(s * t @ i.detach().T,
                                                                                 torch.arange(len(i)))) / 2)


def test_patchify_checker():
    def patchify(x, p, axes=(0, 2, 4, 1, 3, 5)):
        n, c, h, w = x.shape
        return x.reshape(n, c, h // p, p, w // p, p).permute(*axes).reshape(n, (h // p) * (w // p), c * p * p)

    def unpatchify(tokens, p, shape, axes=(0, 3, 1, 4, 2, 5)):
        (c, h, w), n = shape, len(tokens)
        return tokens.reshape(n, h // p, w // p, c, p, p).permute(*axes).reshape(n, c, h, w)

    def says(word, *answer):
        result = ex.check_patchify(*answer, verbose=False)
        assert not result and word in result.message, result.message

    assert ex.check_patchify(patchify, unpatchify, verbose=False)
    # the convolution's view of it: unfold and fold cut and paste the same patches in the same order
    assert ex.check_patchify(lambda x, p: F.unfold(x, p, stride=p).transpose(1, 2),
                             lambda t, p, s: F.fold(t.transpose(1, 2), s[1:], p, stride=p), verbose=False)
    says("strips", lambda x, p: x.reshape(len(x), -1, x.shape[1] * p * p), unpatchify)
    says("column order", lambda x, p: patchify(x, p, (0, 4, 2, 1, 3, 5)), unpatchify)
    says("channel first", lambda x, p: patchify(x, p, (0, 2, 4, 3, 5, 1)), unpatchify)
    says("column by column", lambda x, p: patchify(x, p, (0, 2, 4, 1, 5, 3)), unpatchify)
    says("swapped", lambda x, p: patchify(x, p).transpose(1, 2), unpatchify)
    says("reshape alone", patchify, lambda t, p, s: t.reshape(len(t), *s))
    says("instead of undoing", patchify, lambda t, p, s: unpatchify(t, p, s, axes=(0, 2, 4, 1, 3, 5)))
    says("does not give back the images", patchify, lambda t, p, s: unpatchify(t, p, s).flip(-1))

    def unpatchify_in_place(tokens, p, shape):
        out = unpatchify(tokens.clone(), p, shape)
        tokens.zero_()
        return out

    says("in place", patchify, unpatchify_in_place)

    def todo(tokens, p, shape):
        raise NotImplementedError

    says("not implemented", patchify, todo)
    says("pass 2 functions", patchify)
    says("pass your function itself", patchify, None)
