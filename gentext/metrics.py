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

import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .data import IMAGE_DATASETS, load_images
from .train import load_checkpoint, save_checkpoint

CLASSIFIER_VERSION = 1
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


def train_digit_classifier(dataset: str = "digits", *, epochs: int = 20, seed: int = 0,
                           verbose: bool = False) -> DigitClassifier:
    """Train the feature classifier from a fixed seed on the training split.

    Twenty epochs of Adam with a one-cycle learning rate and one-pixel shifts reach about
    98% test accuracy on digits in about 5 seconds on two CPU cores.
    """
    x, y = load_images(dataset, "train")
    if dataset == "mnist":
        epochs = min(epochs, 3)
    batch = 64
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = DigitClassifier()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
        steps = epochs * ((len(x) + batch - 1) // batch)
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(x), generator=generator)
            for i in range(0, len(x), batch):
                idx = order[i:i + batch]
                loss = F.cross_entropy(model(_shift(x[idx], generator)), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()
    model.eval()
    if verbose:
        print(f"trained the {dataset} feature classifier in {time.perf_counter() - start:.1f} s")
    return model


def digit_classifier(dataset: str = "digits") -> DigitClassifier:
    """The book's feature classifier for ``dataset``: from memory, from the disk cache, or trained."""
    if dataset not in IMAGE_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid datasets are: {', '.join(IMAGE_DATASETS)}")
    if dataset in _CLASSIFIERS:
        return _CLASSIFIERS[dataset]
    path = cache_dir() / f"classifier-{dataset}-v{CLASSIFIER_VERSION}-torch{torch.__version__.split('+')[0]}.pt"
    model = DigitClassifier()
    if path.exists():
        model.load_state_dict(load_checkpoint(path))
        model.eval()
    else:
        with torch.enable_grad():  # callers may be inside torch.no_grad()
            model = train_digit_classifier(dataset)
        save_checkpoint(path, model.state_dict())
    for p in model.parameters():
        p.requires_grad_(False)
    _CLASSIFIERS[dataset] = model
    return model


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


@torch.no_grad()
def classifier_features(x: torch.Tensor, dataset: str = "digits") -> torch.Tensor:
    """Feature vectors (N x 64) of images in [0, 1] under the book's digit classifier."""
    x = _check_images(x, dataset)
    model = digit_classifier(dataset)
    return torch.cat([model.features(x[i:i + 1000]) for i in range(0, len(x), 1000)])


@torch.no_grad()
def classify_digits(x: torch.Tensor, dataset: str = "digits") -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's predicted labels and class probabilities (N x 10) for images in [0, 1]."""
    x = _check_images(x, dataset)
    model = digit_classifier(dataset)
    probs = torch.cat([model(x[i:i + 1000]).softmax(-1) for i in range(0, len(x), 1000)])
    return probs.argmax(-1), probs


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


def sample_quality(samples: torch.Tensor, dataset: str = "digits") -> dict[str, float]:
    """Score generated images against the test split with the book's classifier.

    The yardstick is the validation split: real digits that neither the classifier nor
    any model trained on, exactly like new samples. With ``n = len(val)`` (350 for
    digits), samples are scored in chunks of ``n`` (up to four, averaged) so that samples
    and yardstick are compared at the same set size. The samples are shuffled with a fixed
    permutation first, so every chunk is a random subset: samples sorted by class score
    like shuffled ones, up to sampling noise. Returns:

    * ``fd``: Frechet distance of the samples to the test split;
    * ``fd_real``: the same for the ``n`` real validation images (the yardstick);
    * ``fd_ratio``: ``fd / fd_real`` (1 means as close to the test digits as real digits are);
    * ``confidence`` / ``confidence_real``: the classifier's mean top probability;
    * ``class_min_share`` / ``class_max_share``: the rarest and commonest predicted class's share.
    """
    samples = _check_images(samples, dataset, "samples")
    test, _ = load_images(dataset, "test")
    real, _ = load_images(dataset, "val")
    n = min(len(samples), len(real))
    if n < 100:
        raise ValueError(f"sample_quality needs at least 100 samples, got {len(samples)}")
    samples = samples[torch.randperm(len(samples), generator=torch.Generator().manual_seed(0))]
    chunks = min(len(samples) // n, 4)
    f_test = classifier_features(test, dataset)
    fd = float(np.mean([frechet_distance(classifier_features(samples[i * n:(i + 1) * n], dataset), f_test)
                        for i in range(chunks)]))
    fd_real = frechet_distance(classifier_features(real[:n], dataset), f_test)
    labels, probs = classify_digits(samples[:chunks * n], dataset)
    _, probs_real = classify_digits(real[:n], dataset)
    shares = torch.bincount(labels, minlength=10).float() / len(labels)
    return {
        "fd": fd,
        "fd_real": fd_real,
        "fd_ratio": fd / fd_real,
        "confidence": float(probs.max(-1).values.mean()),
        "confidence_real": float(probs_real.max(-1).values.mean()),
        "class_min_share": float(shares.min()),
        "class_max_share": float(shares.max()),
    }
