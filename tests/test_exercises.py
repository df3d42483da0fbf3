import torch

from gentext import exercises as ex


def test_reconstruction_error_checker():
    assert ex.check_reconstruction_error(lambda x, xh: ((x - xh) ** 2).flatten(1).sum(1), verbose=False)
    wrong = ex.check_reconstruction_error(lambda x, xh: ((x - xh) ** 2).mean(), verbose=False)
    assert not wrong and "shape" in wrong.message and "Hint" in wrong.message
    mean_not_sum = ex.check_reconstruction_error(lambda x, xh: ((x - xh) ** 2).flatten(1).mean(1), verbose=False)
    assert not mean_not_sum and "differs" in mean_not_sum.message


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

    result = ex.check_reconstruction_error(todo)
    assert not result and "not implemented yet" in result.message
    assert "[NOT YET] reconstruction error" in capsys.readouterr().out
    crashed = ex.check_reconstruction_error(lambda x, xh: x.nonexistent, verbose=False)
    assert "raised AttributeError" in crashed.message
    assert "pass your function" in ex.check_reconstruction_error(42, verbose=False).message
    ok = ex.check_reconstruction_error(lambda x, xh: ((x - xh) ** 2).flatten(1).sum(1))
    assert str(ok).startswith("[PASSED]")


def test_chapter_2_checkers():
    import math

    from gentext import likelihood as lk

    assert ex.check_gaussian_kl(lk.gaussian_kl, verbose=False)
    assert not ex.check_gaussian_kl(lambda m, lv: 0.5 * (m ** 2 + lv - 1 - lv.exp()).sum(-1), verbose=False)
    assert ex.check_reparameterize(lk.reparameterize, verbose=False)
    std_mistake = ex.check_reparameterize(lambda m, lv: m + lv.exp() * torch.randn_like(m), verbose=False)
    assert not std_mistake and "standard deviations" in std_mistake.message
    detached = ex.check_reparameterize(lambda m, lv: torch.normal(m.detach(), (0.5 * lv).exp().detach()),
                                       verbose=False)
    assert not detached and "gradient" in detached.message
    assert ex.check_iwae(lk.importance_weighted_nll, verbose=False)
    naive = ex.check_iwae(lambda w: -torch.log(w.exp().mean(0)), verbose=False)
    assert not naive and "log space" in naive.message
    assert not ex.check_iwae(lambda w: -torch.logsumexp(w, 0), verbose=False)


def test_chapter_3_checkers():
    import torch.nn.functional as F

    from gentext import gan

    assert ex.check_discriminator_loss(gan.d_loss, verbose=False)
    naive = ex.check_discriminator_loss(
        lambda r, f: -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean()), verbose=False)
    assert not naive and "not finite" in naive.message
    assert ex.check_generator_loss(gan.g_loss, verbose=False)
    saturating = ex.check_generator_loss(lambda f: -F.softplus(f).mean(), verbose=False)
    assert not saturating and "saturating" in saturating.message


def test_chapter_4_checkers():
    def accuracy(pred, req):
        per_class = torch.stack([(pred[req == k] == k).float().mean() for k in range(10)])
        return (pred == req).float().mean(), per_class

    assert ex.check_label_accuracy(accuracy, verbose=False)
    swapped = ex.check_label_accuracy(lambda p, r: accuracy(r, p), verbose=False)
    assert not swapped
    assert ex.check_projection(lambda h, e, y: (e[y] * h).sum(1), verbose=False)
    assert not ex.check_projection(lambda h, e, y: (e[:6] * h).sum(1), verbose=False)
