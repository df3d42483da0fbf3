"""The book's measurements: likelihood units and sample quality.

Likelihoods are reported in nats per image and in bits per dimension; the two are linked
by ``bits/dim = nats / (D * ln 2)`` for an image with ``D`` pixels.

Sample quality is a Frechet distance, as in FID (Heusel et al., 2017), but computed in
the feature space of a small convolutional digit classifier that gentext trains itself,
deterministically, on the digits training split (Inception features mean nothing on 8x8
digits). Every chapter scores its samples with the same classifier against the same
held-out images, and reports the distance beside the distance between two equally large
sets of *real* digits, so that "how far from real" has a yardstick.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .data import IMAGE_DATASETS, default_data_root, load_images
from .env import get_device, smoke_requested
from .train import batched, load_checkpoint, save_checkpoint

LN2 = math.log(2.0)


def bits_per_dim(nats_per_image: float, dims: int) -> float:
    """Convert a negative log-likelihood in nats per image to bits per dimension."""
    if dims <= 0:
        raise ValueError(f"dims must be positive, got {dims}")
    return float(nats_per_image) / (dims * LN2)


def nats_per_image(bits_per_dimension: float, dims: int) -> float:
    """Convert bits per dimension back to nats per image."""
    if dims <= 0:
        raise ValueError(f"dims must be positive, got {dims}")
    return float(bits_per_dimension) * dims * LN2


class DigitClassifier(nn.Module):
    """A small CNN whose penultimate layer is the feature space of the Frechet distance.

    Adaptive pooling makes it work for 8x8 digits and 28x28 MNIST alike.
    """

    def __init__(self, width: int = 32, features: int = 64, classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.AdaptiveMaxPool2d(4),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * width * 16, features), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(features, classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def cache_dir() -> Path:
    """Where gentext caches what it trains for itself: ``$GENTEXT_CACHE`` or ``~/.cache/gentext``."""
    return Path(os.environ.get("GENTEXT_CACHE", Path.home() / ".cache" / "gentext"))


_CLASSIFIERS: dict[str, DigitClassifier] = {}


def _shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to one pixel: a little augmentation so features generalise."""
    n, _, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1))
    crops = torch.stack([padded[:, :, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)])
    choice = torch.randint(0, 9, (n,), generator=generator)
    return crops[choice, torch.arange(n)]


SMOKE_IMAGES = 2000
"""In a smoke run (``$GENTEXT_SMOKE``) the real digits that measure samples are cut to this
many per split: the smoke data are the 5,000 offline digits repeated to MNIST's sizes, so
a cut loses nothing, and the nearest-image searches and the classifier's training, which
take minutes at MNIST's size on a CPU, take seconds. The code paths stay the same."""


def _reference_images(dataset: str, split: str, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = load_images(dataset, split, **kwargs)
    if smoke_requested():
        x, y = x[:SMOKE_IMAGES], y[:SMOKE_IMAGES]
    return x, y


def train_digit_classifier(dataset: str = "digits", *, epochs: int = 20, seed: int = 0,
                           device: torch.device | str | None = None,
                           verbose: bool = False) -> DigitClassifier:
    """Train the feature classifier from a fixed seed on the training split.

    Twenty epochs of Adam with a one-cycle learning rate and one-pixel shifts reach about
    98% test accuracy on digits in about 5 seconds on two CPU cores. MNIST, with 50 times
    more images, gets three epochs in batches of 128, on ``device`` (default: the book's
    device choice, so a GPU when there is one). The model is returned on the CPU.
    """
    x, y = _reference_images(dataset, "train")
    batch = 64
    if dataset == "mnist":
        epochs, batch = min(epochs, 3), 128
    device = torch.device(device) if device is not None else get_device()
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model = DigitClassifier().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
        steps = epochs * ((len(x) + batch - 1) // batch)
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(x), generator=generator)
            for i in range(0, len(x), batch):
                idx = order[i:i + batch]
                inputs = _shift(x[idx], generator).to(device)
                loss = F.cross_entropy(model(inputs), y[idx].to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()
    model.cpu().eval()
    if verbose:
        print(f"trained the {dataset} feature classifier in {time.perf_counter() - start:.1f} s")
    return model


def classifier_key(dataset: str) -> str:
    """A hash of everything that builds the classifier: its code, its data and torch's version.

    The cache file is named by it, so editing the architecture or the training recipe, or a
    change in the training data, trains a new classifier instead of loading a stale one.
    """
    x, y = load_images(dataset, "train", levels=True)
    h = hashlib.sha256()
    for obj in (DigitClassifier, _shift, train_digit_classifier):
        h.update(inspect.getsource(obj).encode())
    for t in (x, y):  # the arrays' bytes, hashed in place (tobytes() would copy MNIST's 300 MB)
        h.update(np.ascontiguousarray(t.numpy()).reshape(-1).view(np.uint8))
    h.update(torch.__version__.split("+")[0].encode())
    return h.hexdigest()[:16]


def classifier_cache_path(dataset: str) -> Path:
    """Where the trained classifier for ``dataset`` is cached (under :func:`cache_dir`)."""
    smoke = "-smoke" if smoke_requested() else ""  # trained on a cut: never a real one
    return cache_dir() / f"classifier-{dataset}-{classifier_key(dataset)}{smoke}.pt"


def digit_classifier(dataset: str = "digits") -> DigitClassifier:
    """The book's feature classifier for ``dataset``: from memory, from the disk cache, or trained.

    A cache file that cannot be read (truncated, or from an incompatible torch) is replaced
    by a freshly trained classifier, with one printed line saying so.
    """
    if dataset not in IMAGE_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid datasets are: {', '.join(IMAGE_DATASETS)}")
    memo = _memo_key(dataset)
    if memo in _CLASSIFIERS:
        return _CLASSIFIERS[memo]
    path = classifier_cache_path(dataset)
    model = DigitClassifier()
    loaded = False
    if path.exists():
        try:
            model.load_state_dict(load_checkpoint(path))
            loaded = True
        except Exception as err:  # unreadable or incompatible: train anew
            print(f"note: the cached {dataset} classifier {path.name} could not be read "
                  f"({type(err).__name__}); training it again")
    if loaded:
        model.eval()
    else:
        with torch.enable_grad():  # callers may be inside torch.no_grad()
            model = train_digit_classifier(dataset)
        save_checkpoint(path, model.state_dict())
    for p in model.parameters():
        p.requires_grad_(False)
    model.to(get_device())  # features are computed where the chapter computes
    _CLASSIFIERS[memo] = model
    return model


def _memo_key(dataset: str) -> str:
    """In-memory caches are per data set, and for MNIST per data folder too."""
    return dataset if dataset == "digits" else f"{dataset}:{default_data_root().resolve()}"


def _check_images(x: torch.Tensor | np.ndarray, dataset: str, name: str = "images") -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    expected = (8, 8) if dataset == "digits" else (28, 28)
    if x.dim() != 4 or x.shape[1] != 1 or tuple(x.shape[-2:]) != expected:
        raise ValueError(f"{name} must have shape N x 1 x {expected[0]} x {expected[1]} for "
                         f"{dataset}, got {tuple(x.shape)}")
    x = x.detach().float().cpu()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    if x.min() < -1e-6 or x.max() > 1 + 1e-6:
        raise ValueError(f"{name} must take values in [0, 1], got [{x.min():.3g}, {x.max():.3g}]")
    return x


# Pixels per batch when images go through the classifier (8x8 digits 1,000 at a time, 28x28
# MNIST 127): its widest activation is 64 channels at full resolution, 256 bytes a pixel,
# so a batch's activations take about 25 MB whatever the number of images; and staying
# under glibc's 32 MB mmap threshold, they are reused from batch to batch instead of being
# mapped afresh, which is twice as fast on a CPU as batches of 1,000 MNIST images were.
_FEATURE_PIXELS = 100_000


def _batched(fn, x: torch.Tensor, device: torch.device, size: int | None = None) -> torch.Tensor:
    if size is None:
        size = max(1, min(1000, _FEATURE_PIXELS // math.prod(x.shape[2:])))
    return batched(fn, x, batch_size=size, device=device)


@torch.no_grad()
def classifier_features(x: torch.Tensor, dataset: str = "digits") -> torch.Tensor:
    """Feature vectors (N x 64, on the CPU) of images in [0, 1] under the book's classifier."""
    x = _check_images(x, dataset)
    model = digit_classifier(dataset)
    return _batched(model.features, x, next(model.parameters()).device)


@torch.no_grad()
def classify_digits(x: torch.Tensor, dataset: str = "digits") -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's predicted labels and class probabilities (N x 10) for images in [0, 1]."""
    x = _check_images(x, dataset)
    model = digit_classifier(dataset)
    probs = _batched(lambda b: model(b).softmax(-1), x, next(model.parameters()).device)
    return probs.argmax(-1), probs


@torch.no_grad()
def _features_and_probs(x: torch.Tensor, dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`classifier_features` and :func:`classify_digits`' probabilities in one pass."""
    x = _check_images(x, dataset)
    model = digit_classifier(dataset)

    def both(batch: torch.Tensor) -> torch.Tensor:
        features = model.features(batch)
        return torch.cat([features, model.head(features).softmax(-1)], 1)

    out = _batched(both, x, next(model.parameters()).device)
    return out[:, :-10], out[:, -10:]


def nearest_training(x: torch.Tensor, dataset: str = "digits", *, split: str = "test"
                     ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Each image's pixel distance to its nearest training image, that image's index, and
    the copy threshold: the distance that only the closest 5% of ``split``'s images undercut.

    A new real digit falls below the threshold 5% of the time by construction; a generator
    that reproduces its training images falls below it more often. Reports use the test
    split (the default); choices made while developing a model use ``split="val"``, so the
    test digits are never looked at before the final report.
    """
    split = _check_split(split)
    x = _check_images(x, dataset)
    train = _reference_images(dataset, "train")[0].flatten(1).to(get_device())
    dist, idx = _nearest(x.flatten(1), train)
    memo = (_memo_key(dataset), split)
    if memo not in _COPY_THRESHOLDS:
        split_dist, _ = _nearest(_reference_images(dataset, split)[0].flatten(1), train)
        _COPY_THRESHOLDS[memo] = float(torch.quantile(split_dist, 0.05))
    return dist, idx, _COPY_THRESHOLDS[memo]


_COPY_THRESHOLDS: dict[tuple[str, str], float] = {}


def _nearest(rows: torch.Tensor, train: torch.Tensor, chunk: int = 500,
             block: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance to and index of each row's nearest training row.

    ``chunk`` rows against ``block`` training rows at a time, keeping the best so far, so
    memory is bounded (a 500 x 8192 distance matrix, 16 MB) however large both sets are;
    ties go to the first training row, as with a single ``min``.
    """
    values, indices = [], []
    for i in range(0, len(rows), chunk):
        part = rows[i:i + chunk].to(train.device)
        best = torch.full((len(part),), float("inf"), dtype=train.dtype, device=train.device)
        where = torch.zeros(len(part), dtype=torch.long, device=train.device)
        for j in range(0, len(train), block):
            dist, idx = torch.cdist(part, train[j:j + block]).min(1)
            closer = dist < best
            best = torch.where(closer, dist, best)
            where = torch.where(closer, idx + j, where)
        values.append(best.cpu())
        indices.append(where.cpu())
    return torch.cat(values), torch.cat(indices)


def auroc(normal_scores: torch.Tensor, outlier_scores: torch.Tensor) -> float:
    """Area under the ROC curve for telling outliers (higher scores) from normal data.

    The probability that a random outlier scores higher than a random normal point
    (0.5 is chance, 1 is perfect).
    """
    from sklearn.metrics import roc_auc_score

    normal = torch.as_tensor(normal_scores).detach().flatten().double()
    outliers = torch.as_tensor(outlier_scores).detach().flatten().double()
    labels = np.r_[np.zeros(len(normal)), np.ones(len(outliers))]
    return float(roc_auc_score(labels, np.r_[normal.numpy(), outliers.numpy()]))


def frechet_distance(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets of feature vectors (rows).

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})``; the matrix square root is taken
    through the symmetric matrix ``S_a^{1/2} S_b S_a^{1/2}``, which is stable.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected two N x d feature arrays with the same d, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("each set needs at least two rows")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    vals, vecs = np.linalg.eigh(cov_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    fd = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(fd, 0.0))


def two_sample_accuracy(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, *, folds: int = 5,
                        neighbours: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a simple classifier telling feature vectors ``a`` from ``b``.

    A classifier two-sample test (Lopez-Paz and Oquab, 2017): a ``neighbours``-nearest-
    neighbour classifier on standardised features, ``folds``-fold cross-validated on two
    equally large sets (rows). 0.5 means it cannot tell the sets apart; 1 means it always
    can. Unlike the Frechet distance, which compares only means and covariances, it reacts
    to any difference in where the points lie, such as a missing style or a cluster of
    near-identical samples.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected two N x d feature arrays with the same d, got {a.shape} and {b.shape}")
    n = min(len(a), len(b))
    if n < 2 * folds:
        raise ValueError(f"a two-sample test with {folds} folds needs at least {2 * folds} rows per set")
    features = np.r_[a[:n], b[:n]]
    labels = np.r_[np.zeros(n), np.ones(n)]
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=neighbours))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(model, features, labels, cv=split).mean())


SPLITS = ("val", "test")
"""The two held-out splits a sample can be measured against: ``"val"`` for every choice
(model, epoch, recipe, an assert's threshold), ``"test"`` once per model, for the report."""


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be 'val' (to choose) or 'test' (to report), got {split!r}")
    return split


def _kth_neighbour_radius(x: torch.Tensor, k: int, chunk: int = 1000) -> torch.Tensor:
    """Distance from each row of ``x`` to its ``k``-th nearest other row, ``chunk`` rows at a time."""
    radii = []
    for i in range(0, len(x), chunk):
        dist = torch.cdist(x[i:i + chunk], x)
        # the row itself sits at distance 0, so the k-th neighbour is the (k+1)-th smallest
        radii.append(dist.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _inside_any_ball(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                     chunk: int = 1000) -> torch.Tensor:
    """For each point, whether it lies within ``radii[j]`` of some ``centres[j]``."""
    inside = []
    for i in range(0, len(points), chunk):
        inside.append((torch.cdist(points[i:i + chunk], centres) <= radii).any(1))
    return torch.cat(inside)


def precision_recall(real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, *,
                     k: int = 3, real_radii: torch.Tensor | None = None) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al., 2019) of feature vectors (rows).

    Each set's manifold is the union of balls around its points, each reaching to that
    point's ``k``-th nearest neighbour in its own set. Precision is the share of ``fake``
    rows inside the real manifold (fidelity: are the samples where real data lie?); recall
    is the share of ``real`` rows inside the fake manifold (diversity: do the samples cover
    all of the data?). A model that draws only a few kinds of digit, however well, keeps
    its precision and loses recall; one that spreads its samples evenly over a region
    wider than the data keeps recall and loses precision. Compare sets of equal size:
    both numbers depend on it. The distances are computed on the book's device, in
    chunks (at MNIST's size, 10,000 x 10,000 of them); ``real_radii`` may pass the real
    set's radii when several sets are compared with the same real one.
    """
    device = get_device()

    def as_rows(x):
        return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).float().to(device)

    real, fake = as_rows(real), as_rows(fake)
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected two N x d feature arrays with the same d, got {tuple(real.shape)} "
                         f"and {tuple(fake.shape)}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"each set needs more than k = {k} rows, got {len(real)} and {len(fake)}")
    if real_radii is None:
        real_radii = _kth_neighbour_radius(real, k)
    precision = _inside_any_ball(fake, real, real_radii.to(device)).float().mean()
    recall = _inside_any_ball(real, fake, _kth_neighbour_radius(fake, k)).float().mean()
    return float(precision), float(recall)


def mean_se(values: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """Mean of per-image values (say, each test image's NLL) and its standard error."""
    v = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
    v = v.detach().double().flatten().cpu()
    if len(v) < 2:
        raise ValueError(f"a standard error needs at least two values, got {len(v)}")
    return float(v.mean()), float(v.std() / math.sqrt(len(v)))


def paired_difference(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """Mean of ``a - b`` over the same images, and its standard error.

    Two models scored on the same test images share each image's difficulty: an easy digit
    is easy for both. The standard error of the per-image differences removes that shared
    part, so it is much smaller than either model's own standard error, and it is the right
    yardstick for "model A has a lower NLL than model B on this test set".
    """
    a = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a).detach().double().flatten().cpu()
    b = torch.as_tensor(np.asarray(b) if not isinstance(b, torch.Tensor) else b).detach().double().flatten().cpu()
    if a.shape != b.shape:
        raise ValueError(f"paired values must come from the same images: {len(a)} values against {len(b)}")
    return mean_se(a - b)


def over_seeds(values) -> tuple[float, float]:
    """Mean and standard deviation (``ddof=1``) of one number per training seed."""
    v = np.asarray(list(values), dtype=np.float64)
    if len(v) < 2:
        raise ValueError(f"a spread over seeds needs at least two seeds, got {len(v)}")
    return float(v.mean()), float(v.std(ddof=1))


def compare_seeds(a, b, *, lower_is_better: bool = True, level: float = 0.95) -> dict[str, float | str]:
    """The book's rule for "A is better than B" when each was trained from several seeds.

    ``a`` and ``b`` hold one number per seed. The difference of their means gets Welch's
    t interval (``level``, 95% by default: unequal spreads, few seeds); A or B is *better*
    only when the interval excludes zero, otherwise the two are *level*. With three seeds
    a side the interval's half-width is about 2.8 standard errors of the difference, not
    2: so few seeds can only detect a large gap. A reference with no seed (a PCA, a
    baseline) is passed as its one value repeated: its spread is zero and the interval
    becomes the one-sample t interval of ``a`` around it. Returns ``gap`` (mean of a minus
    mean of b), ``half_width`` and ``verdict`` (``"a"``, ``"b"`` or ``"level"``).
    """
    from scipy import stats

    va, vb = np.asarray(list(a), dtype=np.float64), np.asarray(list(b), dtype=np.float64)
    if len(va) < 2 or len(vb) < 2:
        raise ValueError(f"compare_seeds needs at least two seeds a side, got {len(va)} and {len(vb)}")
    gap = float(va.mean() - vb.mean())
    ea, eb = va.var(ddof=1) / len(va), vb.var(ddof=1) / len(vb)
    se = math.sqrt(ea + eb)
    if se == 0:
        half_width = 0.0
    else:
        dof = (ea + eb) ** 2 / (ea ** 2 / (len(va) - 1) + eb ** 2 / (len(vb) - 1))
        half_width = float(stats.t.ppf(0.5 + level / 2, dof) * se)
    if abs(gap) <= half_width or gap == 0:
        verdict = "level"
    else:
        verdict = "a" if (gap < 0) == lower_is_better else "b"
    return {"gap": gap, "half_width": half_width, "verdict": verdict}


def select(results: dict[str, dict[str, float]], key: str = "fd_ratio", *, lower_is_better: bool = True) -> str:
    """The name of the best candidate by one :func:`sample_quality` measure on validation.

    Every choice the book makes (which model, which epoch, which recipe) goes through here
    or through a validation loss, and this refuses results measured against the test
    split: a test score used to choose is no longer an unbiased report.
    """
    if not results:
        raise ValueError("select needs at least one candidate")
    for name, r in results.items():
        split = r.get("split")
        if split != "val":
            raise ValueError(f"candidate {name!r} was measured against the {split or 'unknown'} split; "
                             "choose on sample_quality(..., split='val') and keep the test split for the report")
        if key not in r:
            raise KeyError(f"candidate {name!r} has no measure {key!r}")
    pick = min if lower_is_better else max
    return pick(results, key=lambda name: results[name][key])


_YARDSTICKS: dict[tuple[str, str], tuple] = {}


def _real_yardstick(dataset: str, split: str) -> tuple:
    """What :func:`sample_quality` measures of real digits, computed once per data set and split.

    The reference split's features (test to report, validation to choose); an equally
    large set of other real digits with their features, class probabilities and distances
    to the nearest training image; the copy threshold. Against the test split the other
    digits are the validation split; against the validation split they are training
    digits picked at random with a fixed seed, so that choosing never opens the test split
    (the classifier was trained on them, and on the book's digits they lie closer to the
    validation digits than those lie to the test digits, so validation ratios come out
    larger than test ones, about twice as large: compare ratios only within one split; a
    choice depends only on how candidates rank). They depend only on the data and the
    cached classifier, and at MNIST's size the nearest-image search alone takes half a
    minute on a CPU, so every later call reuses them.
    """
    memo = (_memo_key(dataset), split)
    if memo not in _YARDSTICKS:
        reference, _ = _reference_images(dataset, split)
        if split == "test":
            real, _ = _reference_images(dataset, "val")
        else:
            train, _ = _reference_images(dataset, "train")
            pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:len(reference)]
            real = train[pick]
        f_ref = classifier_features(reference, dataset)
        # one pass through the classifier gives each image's features and class probabilities
        f_real, probs_real = _features_and_probs(real, dataset)
        dist_real, _, threshold = nearest_training(real, dataset, split=split)
        _YARDSTICKS[memo] = (f_ref, f_real, probs_real, dist_real, threshold)
    return _YARDSTICKS[memo]


def sample_quality(samples: torch.Tensor, dataset: str = "digits", *, split: str = "test",
                   repeats: int = 5) -> dict[str, float]:
    """Score generated images against held-out real digits, each number with its spread.

    ``split`` says which held-out digits: ``"val"`` for choosing (a model, an epoch, a
    recipe, through :func:`select`), ``"test"`` for the one report per model. Against the
    test split, the yardstick is the validation split (350 digits for ``digits``), compared
    with the test split exactly as the samples are; against the validation split it is
    as many training digits (so ratios against the two splits are not comparable with
    each other: validation ones come out larger). All set sizes are ``n = len(val)``, or fewer samples. Each of
    ``repeats`` rounds draws ``n`` samples at random (a fixed seed, so reruns agree) and
    ``n`` reference digits, and measures:

    * ``fd``: the Frechet distance (below) of the samples to the whole reference split, in
      the classifier's features; ``fd_real`` the same for the yardstick digits, and
      ``fd_ratio = fd / fd_real`` (1: as close to the reference digits as real digits are);
    * ``c2st``: a classifier two-sample test, :func:`two_sample_accuracy` of the samples'
      features against those of the round's reference digits (0.5: a nearest-neighbour
      classifier cannot tell them apart); ``c2st_real`` the same for the yardstick digits;
    * ``precision`` and ``recall`` (:func:`precision_recall` in the same features):
      fidelity, the share of samples that land among real digits, and diversity, the share
      of real digits that the samples cover; ``precision_real`` / ``recall_real`` the same
      for the yardstick digits (at this sample size not 1 for real digits either).

    Each ``*_std`` is the standard deviation over the rounds. It measures only the noise
    of this finite sample against a fixed reference: a second training run with another
    seed moves the numbers too, often by more (the comparison chapter measures it), so a comparison that
    is called a win needs several seeds. Also returned: ``copy_share`` /
    ``copy_share_real``: the share of samples / yardstick digits closer to a training
    image than 95% of the reference digits are (:func:`nearest_training`; new digits give
    about 0.05, a generator that copies its training data more, and training digits 1;
    against the validation split the yardstick digits *are* training digits, so their
    share says nothing and is ``None``);
    ``confidence`` / ``confidence_real`` (the classifier's mean top probability on all
    samples / the yardstick digits), ``class_min_share`` / ``class_max_share`` (the rarest
    and commonest predicted class's share among the samples) and ``split``.
    """
    split = _check_split(split)
    samples = _check_images(samples, dataset, "samples")
    if len(samples) < 100:
        raise ValueError(f"sample_quality needs at least 100 samples, got {len(samples)}")
    f_ref, f_real, probs_real, dist_real, _ = _real_yardstick(dataset, split)
    n = min(len(f_real), len(samples))
    rng = torch.Generator().manual_seed(0)
    f_real = f_real[:n]
    fd_real = frechet_distance(f_real, f_ref)
    f_samples, probs = _features_and_probs(samples, dataset)
    rounds: dict[str, list[float]] = {k: [] for k in ("fd", "c2st", "c2st_real", "precision", "recall",
                                                      "precision_real", "recall_real")}
    for r in range(repeats):
        pick = torch.randperm(len(samples), generator=rng)[:n]
        ref_pick = torch.randperm(len(f_ref), generator=rng)[:n]
        rounds["fd"].append(frechet_distance(f_samples[pick], f_ref))
        rounds["c2st"].append(two_sample_accuracy(f_samples[pick], f_ref[ref_pick], seed=r))
        rounds["c2st_real"].append(two_sample_accuracy(f_real, f_ref[ref_pick], seed=r))
        radii = _kth_neighbour_radius(f_ref[ref_pick].to(get_device()), 3)
        for who, x in (("", f_samples[pick]), ("_real", f_real)):
            precision, recall = precision_recall(f_ref[ref_pick], x, real_radii=radii)
            rounds["precision" + who].append(precision)
            rounds["recall" + who].append(recall)
    labels = probs.argmax(-1)
    dist, _, threshold = nearest_training(samples, dataset, split=split)
    shares = torch.bincount(labels, minlength=10).float() / len(labels)
    out: dict[str, float] = {}
    for key, values in rounds.items():
        out[key] = float(np.mean(values))
        out[key + "_std"] = float(np.std(values))
    out.update({
        "fd_real": fd_real,
        "fd_ratio": out["fd"] / fd_real,
        "fd_ratio_std": out["fd_std"] / fd_real,
        "confidence": float(probs.max(-1).values.mean()),
        "confidence_real": float(probs_real.max(-1).values.mean()),
        "class_min_share": float(shares.min()),
        "class_max_share": float(shares.max()),
        "copy_share": float((dist < threshold).float().mean()),
        # the validation split's yardstick is training digits: each is its own nearest image
        "copy_share_real": float((dist_real < threshold).float().mean()) if split == "test" else None,
        "split": split,
    })
    return out


@torch.no_grad()
def within_class_diversity(samples: torch.Tensor, labels: torch.Tensor, dataset: str = "digits") -> float:
    """How varied the samples of each class are, relative to real digits of that class.

    For each class, the mean pairwise distance between the classifier features of the
    samples with that (requested) label, divided by the same for the validation digits of
    that class; the mean over the classes is returned. 1 means as varied as real digits;
    a conditional model that draws the same few digits for a label scores well below 1.
    """
    samples = _check_images(samples, dataset, "samples")
    labels = torch.as_tensor(labels).long().cpu()
    if labels.shape != (len(samples),):
        raise ValueError(f"labels must have shape ({len(samples)},), got {tuple(labels.shape)}")
    real, real_labels = _reference_images(dataset, "val")
    f_samples, f_real = classifier_features(samples, dataset), classifier_features(real, dataset)
    ratios = []
    for k in range(10):
        mine, theirs = f_samples[labels == k], f_real[real_labels == k]
        if len(mine) < 2:
            raise ValueError(f"within_class_diversity needs at least two samples of every class; class {k} "
                             f"has {len(mine)}")
        ratios.append(_mean_pairwise_distance(mine) / _mean_pairwise_distance(theirs))
    return float(torch.stack(ratios).mean())


def _mean_pairwise_distance(x: torch.Tensor, budget: int = 1 << 22) -> torch.Tensor:
    """``torch.pdist(x).mean()`` without its ``N (N - 1) / 2`` vector of distances.

    Rows are taken a chunk at a time (at most ``budget`` distances, 16 MB, at once) against
    the rows from the chunk on; the distances are computed from differences, as ``pdist``
    does (not through the matrix product ``torch.cdist`` uses by default, which loses
    precision on close pairs), and summed in float64.
    """
    n = len(x)
    chunk = max(1, budget // max(n, 1))
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for i in range(0, n, chunk):
        part = x[i:i + chunk]
        dist = torch.cdist(part, x[i:], compute_mode="donot_use_mm_for_euclid_dist")
        # pairs within the chunk once (above the diagonal), then all pairs with later rows
        total += dist[:, :len(part)].triu(1).double().sum() + dist[:, len(part):].double().sum()
    return (total / (n * (n - 1) // 2)).to(x.dtype)
