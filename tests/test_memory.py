"""gentext's data-set-wide helpers at full MNIST shapes, under a memory cap.

The full profile uses MNIST: 50,000 training, 10,000 validation and 10,000 test images of
28x28 pixels with 256 grey levels. A helper that holds the whole set one-hot
(50,000 x 784 x 256 int64: 80 GB) or a whole-set x whole-set matrix (10,000 x 50,000
floats: 2 GB) takes a reader's notebook down with it, yet passes every test on the 8x8
digits. So each test here runs such a path at full shapes in a subprocess whose memory is
capped (:func:`run_capped`): a path that materialises the whole set fails the test with
"can't allocate memory" instead of swapping a reader's machine to a halt.

The cap is ``RLIMIT_DATA``, set *above what a bare ``import torch`` already holds*. A bare
``import torch`` (2.x with CUDA libraries, this machine) maps about 3.0 GB of address space
but holds only about 0.7 GB of private data; ``RLIMIT_AS`` would count the 3 GB of mapped
libraries, 64 MB of address space reserved per malloc arena and every thread's stack,
which vary with the build and the thread count, while ``RLIMIT_DATA`` (enforced for mmap
since Linux 4.7) counts only private writable memory: what tensors and arrays take. Both
make an 80 GB ``one_hot`` fail at once; ``RLIMIT_DATA`` relative to the import is the
stable yardstick. The headroom :data:`CAP_GB` holds the full-shape data sets (about
0.4 GB as int64 levels), scikit-learn (0.1 GB) and the batches that a streaming helper
uses (0.1 to 0.2 GB), and is below the 2 GB of the smallest whole-set x whole-set matrix
above. Measured on a 2-core CPU: each test below peaks at 0.6 to 0.7 GB of resident memory
above the import, its data included, and the file takes about 40 s of CPU time.

Other tests can reuse the helper::

    from test_memory import run_capped
    result = run_capped("import torch; x = torch.zeros(10**9)", cap_gb=1.0)
    assert result.returncode != 0 and "allocate" in result.stderr
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Headroom above a bare `import torch`, in GB (see the module docstring).
CAP_GB = 1.5

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="RLIMIT_DATA caps mmap'd memory only on Linux")

_PRELUDE = """\
import resource as _resource
import torch


def _status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field + " not in /proc/self/status")


BASELINE = _status("VmData")
_HWM0 = _status("VmHWM")  # not ru_maxrss: a child starts with its parent's (pytest's) peak
_resource.setrlimit(_resource.RLIMIT_DATA, (BASELINE + int({cap_gb!r} * 2**30),) * 2)
print(f"CAP import torch holds {{BASELINE / 2**30:.2f}} GB of data, "
      f"{{_status('VmSize') / 2**30:.2f}} GB of address space; cap: {cap_gb} GB above that", flush=True)


def peak_gb():
    \"\"\"Peak resident memory above the import's peak, in GB (what the snippet added).\"\"\"
    return (_status("VmHWM") - _HWM0) / 2**30

"""


def run_capped(code: str, cap_gb: float = CAP_GB, *, setup: str = "", timeout: float = 300,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run Python ``code`` in a fresh interpreter whose data memory is capped.

    The subprocess imports torch, then sets ``RLIMIT_DATA`` to what that import holds plus
    ``cap_gb`` GB, then runs ``code`` (dedented) from the repository root, on the CPU
    (``GENTEXT_DEVICE=cpu``) with one thread, after ``setup`` (also dedented; it runs under
    the cap too). An allocation beyond the cap raises
    ``RuntimeError: ... can't allocate memory`` (torch) or ``MemoryError`` (numpy) there.
    ``code`` may call ``peak_gb()`` for the peak resident memory it added. Returns the
    completed process (``returncode``, ``stdout``, ``stderr``); ``env`` adds variables.
    """
    full_env = dict(os.environ, GENTEXT_DEVICE="cpu", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                    OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore", **(env or {}))
    script = _PRELUDE.format(cap_gb=float(cap_gb)) + textwrap.dedent(setup) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def _check(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (f"failed under the {CAP_GB} GB cap:\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-3000:]}")
    print(result.stdout)  # shown with pytest -s: the measured times and peaks
    return result.stdout


def _values(stdout: str, tag: str) -> list[float]:
    line = next(line for line in stdout.splitlines() if line.startswith(tag + " "))
    return [float(v) for v in line.split()[1:]]


# Full MNIST shapes from 1,000 random tiles: int64 grey levels, as load_images(levels=True)
# returns them. Random pixels are the worst case for the mixture baseline, which skips each
# pixel's commonest level (MNIST's black background).
_LEVELS = """
import math, time
import torch
_tile = torch.randint(0, 256, (1000, 1, 28, 28), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(0))
train = _tile.repeat(50, 1, 1, 1).long()  # 50,000 x 1 x 28 x 28, 314 MB
test = _tile.repeat(10, 1, 1, 1).long()   # 10,000
"""

# Full MNIST splits as gentext.metrics sees them (floats in [0, 1], labels), made from the
# 8x8 digits upsampled to 28x28 and put on MNIST's 256 levels; metrics.load_images serves
# them, and the book's classifier architecture, with seeded weights, stands in for the
# trained one (training it on 50,000 images takes minutes).
_SPLITS = """
import time
import torch
from torch.nn import functional as F
import gentext as gt
from gentext import metrics
_x, _y = gt.data.load_images("digits", "train")
_x = (F.interpolate(_x, size=(28, 28), mode="bilinear", align_corners=False).clamp(0, 1) * 255).round()
SIZES = {"train": 50000, "val": 10000, "test": 10000}
SPLITS = {}
for _name, _n in SIZES.items():
    _reps = -(-_n // len(_x))
    SPLITS[_name] = (_x.to(torch.uint8).repeat(_reps, 1, 1, 1)[:_n], _y.repeat(_reps)[:_n])


def fake_load_images(name, split="train", *, levels=False, **kwargs):
    assert name == "mnist", name
    x, y = SPLITS[split]
    return (x.long(), y.clone()) if levels else (x.float() / 255, y.clone())


metrics.load_images = fake_load_images
torch.manual_seed(0)
model = metrics.DigitClassifier().eval()
for _p in model.parameters():
    _p.requires_grad_(False)
metrics._CLASSIFIERS[metrics._memo_key("mnist")] = model
"""


def test_cap_is_headroom_above_a_bare_torch_import():
    result = run_capped("""
        import numpy as np
        a = np.ones(int(0.5 * 2**30) // 8)  # 0.5 GB fits under 1.5 GB of headroom
        del a
        try:
            b = np.ones(int(2.0 * 2**30) // 8)
            print("NOT CAUGHT")
        except MemoryError:
            print("CAUGHT")
    """)
    out = _check(result)
    baseline = float(out.split("holds ")[1].split(" GB")[0])
    assert 0.1 < baseline < 4, f"a bare import torch holds {baseline} GB of data?"
    assert "CAUGHT" in out.splitlines()


def test_cap_catches_a_whole_set_one_hot_and_a_whole_by_whole_distance_matrix():
    # The old independent_pixels_nll: one_hot of the whole training set (80 GB), and the
    # copy search without chunks (10,000 x 50,000 distances, 2 GB). Both must fail here.
    result = run_capped(setup=_LEVELS, code="""
        caught = []
        try:
            counts = torch.nn.functional.one_hot(train.flatten(1), 256).sum(0)
        except RuntimeError as err:
            assert "allocate" in str(err), err
            caught.append("one_hot")
        try:
            d = torch.cdist(test.flatten(1)[:, :64].float(), train.flatten(1)[:, :64].float())
        except RuntimeError as err:
            assert "allocate" in str(err), err
            caught.append("cdist")
        print("CAUGHT", *caught)
        one_hot = torch.nn.functional.one_hot(train.flatten(1), 256)  # uncaught: the process fails
    """)
    assert "CAUGHT one_hot cdist" in result.stdout, result.stdout + result.stderr[-2000:]
    assert result.returncode != 0 and "can't allocate memory" in result.stderr


def test_pixel_baselines_at_full_mnist_shapes():
    result = run_capped(setup=_LEVELS, code="""
        from gentext import likelihood as lk
        start = time.perf_counter()
        independent = lk.independent_pixels_nll(train, test, 256)
        t_independent = time.perf_counter() - start
        start = time.perf_counter()
        mixture = lk.mixture_of_independent_pixels_nll(train, test, 256, components=10, iterations=2)
        t_mixture = time.perf_counter() - start
        print("NLL", independent, mixture)
        print("SECONDS", t_independent, t_mixture)
        print("PEAK_GB", peak_gb())
    """)
    out = _check(result)
    independent, mixture = _values(out, "NLL")
    uniform = 784 * math.log(256)
    assert 0.9 * uniform < independent < uniform  # the test tiles are among the training ones
    assert math.isfinite(mixture) and mixture < uniform
    assert _values(out, "SECONDS")[0] < 15, "the independent-pixel baseline should take seconds"


def test_sample_quality_and_classifier_paths_at_full_mnist_shapes():
    # The copy search has its own test below (here it would add about 35 s of CPU time for
    # the 10,000 validation and test images), so it is replaced by a cheap stand-in.
    result = run_capped(setup=_SPLITS, code="""
        import numpy as np

        def quick_nearest(x, dataset="digits", split="test"):
            return torch.ones(len(x)), torch.zeros(len(x), dtype=torch.long), 0.5

        metrics.nearest_training = quick_nearest
        samples = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(1))
        start = time.perf_counter()
        q = metrics.sample_quality(samples, "mnist", repeats=2)
        t_quality = time.perf_counter() - start
        assert q.pop("split") == "test" and all(np.isfinite(v) for v in q.values()), q
        # what sample_quality and within_class_diversity do with features, at 10,000 images a
        # set (sample_quality compares only as many as there are samples)
        start = time.perf_counter()
        g = torch.Generator().manual_seed(2)
        fa, fb = torch.randn(10000, 64, generator=g), torch.randn(10000, 64, generator=g)
        fd = metrics.frechet_distance(fa, fb)
        acc = metrics.two_sample_accuracy(fa, fb)
        spread = metrics._mean_pairwise_distance(fa)  # one class of 10,000: pdist held 50 million pairs
        t_features = time.perf_counter() - start
        assert 0 <= fd < 5 and 0.4 < acc < 0.6 and abs(spread - 128 ** 0.5) < 0.5
        # the classifier's cache key hashes the whole training set without copying it
        key = metrics.classifier_key("mnist")
        # the training loop, for a few steps, on the full training split
        class Enough(Exception):
            pass

        steps = []
        step = torch.optim.lr_scheduler.OneCycleLR.step

        def counted_step(self, *args, **kwargs):
            steps.append(1)
            if len(steps) > 3:
                raise Enough
            return step(self, *args, **kwargs)

        torch.optim.lr_scheduler.OneCycleLR.step = counted_step
        try:
            metrics.train_digit_classifier("mnist", device="cpu")
        except Enough:
            pass
        assert len(steps) == 4
        print("SECONDS", t_quality, t_features)
        print("PEAK_GB", peak_gb())
    """)
    _check(result)


def test_copy_search_at_full_mnist_shapes():
    # 1,000 samples against all 50,000 training images; the copy threshold (the same search
    # for the 10,000 test images, another 17 s of CPU time) is given, so that it is skipped.
    result = run_capped(setup=_SPLITS, code="""
        metrics._COPY_THRESHOLDS[metrics._memo_key("mnist"), "test"] = 1.0
        train = SPLITS["train"][0].float() / 255
        samples = torch.cat([train[[3, 49999]], torch.rand(998, 1, 28, 28)])
        start = time.perf_counter()
        dist, idx, threshold = metrics.nearest_training(samples, "mnist")
        t_search = time.perf_counter() - start
        assert dist.shape == idx.shape == (1000,) and threshold == 1.0
        # the nearest of a training image is one of its copies (every 1,000th), at about 0
        # (the distances go through a matrix product, which is not exact)
        assert idx[0] % 1000 == 3 and idx[1] % 1000 == 999 and (dist[:2] < 0.05).all()
        assert (dist[2:] > 5).all()
        print("SECONDS", t_search)
        print("PEAK_GB", peak_gb())
    """)
    _check(result)
