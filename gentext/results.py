"""The results contract: what each chapter leaves behind for the comparison chapter.

Every chapter ends with one :func:`save_results` call. It writes, under
``$GENTEXT_RESULTS`` (default ``results/`` at the repository root):

* ``<chapter>/metrics.json``: the chapter's measurements (train and sampling seconds,
  parameter count, test NLL where the family has one, Frechet distances, ...);
* ``<chapter>/samples.npz``: at least 800 final samples, ``N x 1 x H x W`` float32 in
  ``[0, 1]``, and for conditional models the requested labels beside them; for a chapter
  with a likelihood, the reported model's NLL of each test image it scored and those
  images' indices in the test split, so that two chapters' likelihoods can be compared
  image by image (:func:`load_test_nll`, :func:`gentext.metrics.paired_difference`).

Both are written atomically, like checkpoints, so a reader never sees half a result; the
samples first and the metrics last, so a metrics file always has its samples beside it.
The metrics record the profile that produced them and the hashes of the code that did
(the chapter's code cells and gentext's sources), so the comparison chapter can refuse
results that are stale.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .env import PROFILES, active_profile
from .files import atomic_write, atomic_write_text

REQUIRED_METRICS = ("train_seconds", "n_params", "sample_seconds")
PACKAGE_DIR = Path(__file__).resolve().parent
MIN_SAMPLES = 800


def repo_root() -> Path:
    """The repository root (the folder holding ``_config.yml``), else the working directory."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").exists() and (folder / "gentext").is_dir():
            return folder
    return here


def results_dir() -> Path:
    """``$GENTEXT_RESULTS`` if set, else ``results/`` at the repository root."""
    env = os.environ.get("GENTEXT_RESULTS")
    return Path(env) if env else repo_root() / "results"


def checkpoint_path(chapter: str, name: str, profile: str | None = None) -> Path:
    """Where a chapter keeps the checkpoint of one of its models, one folder per profile.

    ``profile`` defaults to the one :func:`gentext.setup` chose, so quick and full runs
    never share (or overwrite) a checkpoint.
    """
    profile = profile or active_profile()
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return results_dir() / chapter / "checkpoints" / profile / f"{name}.pt"


def notebook_code_hash(chapter: str) -> str | None:
    """SHA-256 of the code cells of ``notebooks/<chapter>.ipynb`` (sources only, not outputs),
    or None where the notebook is not in a checkout of the book (e.g. opened alone in Colab)."""
    path = repo_root() / "notebooks" / f"{chapter}.ipynb"
    if not path.exists():
        return None
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    code = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells if c.get("cell_type") == "code"]
    return hashlib.sha256("\n\x00\n".join(code).encode()).hexdigest()


# gentext's modules that never run while a chapter computes its results: the exercise
# checkers (they read a reader's answer) and the writer of the student edition. Editing
# them, as every new chapter's exercises do, must not make every chapter's results stale.
RESULT_NEUTRAL_MODULES = frozenset({"exercises.py", "student.py"})


def package_code_hash() -> str:
    """SHA-256 of gentext's own source files, those in RESULT_NEUTRAL_MODULES aside: results
    made by other helper code are stale."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        if path.name in RESULT_NEUTRAL_MODULES:
            continue
        h.update(path.name.encode() + b"\x00" + path.read_bytes())
    return h.hexdigest()


def provenance(chapter: str) -> dict[str, str | None]:
    """What produced a chapter's results: the hashes of its notebook's code and of gentext."""
    return {"notebook_sha256": notebook_code_hash(chapter), "gentext_sha256": package_code_hash()}


def stale_reason(chapter: str, metrics: dict[str, Any]) -> str | None:
    """Why saved results no longer match the code that would produce them now, or None.

    Results are stale when the chapter's code cells or gentext's sources changed since they
    were saved; results saved without a record of their code count as stale too.
    """
    saved = metrics.get("provenance")
    if not isinstance(saved, dict):
        return "they do not record which code produced them"
    now = provenance(chapter)
    if now["notebook_sha256"] is not None and saved.get("notebook_sha256") != now["notebook_sha256"]:
        return f"the code of notebooks/{chapter}.ipynb changed since they were saved"
    if saved.get("gentext_sha256") != now["gentext_sha256"]:
        return "gentext's code changed since they were saved"
    return None


def _clean_metric(key: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) or (isinstance(value, torch.Tensor) and value.numel() == 1):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"metric {key!r} is {value}; results must be finite numbers")
        return value
    if isinstance(value, dict):
        return {str(k): _clean_metric(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_metric(f"{key}[{i}]", v) for i, v in enumerate(value)]
    raise TypeError(f"metric {key!r} has type {type(value).__name__}; use numbers, strings, lists or dicts")


def _as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def save_results(chapter: str, metrics: dict[str, Any], samples: torch.Tensor | np.ndarray,
                 labels: torch.Tensor | np.ndarray | None = None, *,
                 test_nll: torch.Tensor | np.ndarray | None = None,
                 test_index: torch.Tensor | np.ndarray | None = None) -> Path:
    """Validate and save a chapter's metrics and samples; returns the chapter's folder.

    ``test_nll``: the reported model's NLL (nats) of each test image it scored, in the
    order of ``test_index``, those images' positions in the test split (default: the first
    ``len(test_nll)`` images). The mean of ``test_nll`` should be the reported
    ``test_nll_nats``.
    """
    if not chapter or any(c in chapter for c in "/\\"):
        raise ValueError(f"chapter must be a plain name like '01_autoencoder', got {chapter!r}")
    missing = [k for k in REQUIRED_METRICS if k not in metrics]
    if missing:
        raise ValueError(f"metrics lack {missing}; every chapter reports {list(REQUIRED_METRICS)}")
    clean = {str(k): _clean_metric(str(k), v) for k, v in metrics.items()}
    clean.setdefault("profile", active_profile())
    clean["provenance"] = provenance(chapter)
    x = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"samples must have shape N x 1 x H x W, got {x.shape}")
    if len(x) < MIN_SAMPLES:
        raise ValueError(f"save at least {MIN_SAMPLES} samples, got {len(x)}")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError("samples must be finite and lie in [0, 1]")
    arrays = {"samples": x.astype(np.float32)}
    if labels is not None:
        y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
        if y.shape != (len(x),):
            raise ValueError(f"labels must have shape ({len(x)},) to match the samples, got {y.shape}")
        arrays["labels"] = y.astype(np.int64)
    if test_nll is not None:
        nll = _as_numpy(test_nll).astype(np.float64)
        index = np.arange(len(nll)) if test_index is None else _as_numpy(test_index)
        if nll.ndim != 1 or index.shape != nll.shape:
            raise ValueError(f"test_nll must be one value per scored test image, with test_index of the same "
                             f"length; got shapes {nll.shape} and {index.shape}")
        if not np.isfinite(nll).all():
            raise ValueError("test_nll must be finite")
        if len(np.unique(index)) != len(index) or (len(index) and index.min() < 0):
            raise ValueError("test_index must list distinct positions in the test split")
        arrays["test_nll"], arrays["test_index"] = nll, index.astype(np.int64)
    elif test_index is not None:
        raise ValueError("test_index without test_nll")
    folder = results_dir() / chapter
    atomic_write(folder / "samples.npz", lambda fh: np.savez_compressed(fh, **arrays))
    atomic_write_text(folder / "metrics.json", json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return folder


REFERENCE_DIR = PACKAGE_DIR / "reference"
"""Reference results that ship with gentext: each chapter's quick-profile metrics and
samples from the clean run that made the notebooks' committed outputs
(``python -m gentext.execute`` copies them here). The comparison chapter falls back on them
when a reader opens it alone, as in Colab, where each chapter runs in its own runtime."""


def store_reference(chapter: str) -> Path | None:
    """Copy a chapter's quick-profile results from :func:`results_dir` to the reference.

    Returns the reference folder, or None when the chapter saved no results (or saved
    them in another profile: only the quick profile's outputs are committed).
    """
    source = results_dir() / chapter
    if not (source / "metrics.json").exists():
        return None
    metrics = json.loads((source / "metrics.json").read_text())
    if metrics.get("profile") != "quick":
        return None
    target = REFERENCE_DIR / chapter
    for name in ("samples.npz", "metrics.json"):  # metrics last, as in save_results
        data = (source / name).read_bytes()
        atomic_write(target / name, lambda fh, data=data: fh.write(data))
    return target


def load_reference(chapter: str) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """The shipped reference results of a chapter, like :func:`load_results`."""
    return load_results(chapter, folder=REFERENCE_DIR / chapter)


def load_results(chapter: str, *, folder: Path | None = None
                 ) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """Read back what :func:`save_results` wrote: ``(metrics, samples, labels or None)``."""
    folder = folder if folder is not None else results_dir() / chapter
    if not (folder / "metrics.json").exists():
        raise FileNotFoundError(f"no results for chapter {chapter!r} in {folder}; run its notebook first")
    metrics = json.loads((folder / "metrics.json").read_text())
    with np.load(folder / "samples.npz") as data:
        samples = data["samples"]
        labels = data["labels"] if "labels" in data.files else None
    return metrics, samples, labels


def load_test_nll(chapter: str, *, folder: Path | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The per-image test NLLs a chapter saved with :func:`save_results`: ``(index, nll)``,
    or None when it saved none."""
    folder = folder if folder is not None else results_dir() / chapter
    if not (folder / "samples.npz").exists():
        raise FileNotFoundError(f"no results for chapter {chapter!r} in {folder}; run its notebook first")
    with np.load(folder / "samples.npz") as data:
        if "test_nll" not in data.files:
            return None
        return data["test_index"], data["test_nll"]


def paired_test_nll(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Two models' per-image NLLs (as :func:`load_test_nll` returns them) on the test images
    both scored, in the same order: ready for :func:`gentext.metrics.paired_difference`."""
    (ia, va), (ib, vb) = a, b
    common, pa, pb = np.intersect1d(ia, ib, return_indices=True)
    if len(common) < 2:
        raise ValueError(f"the two models scored {len(common)} test images in common; a paired "
                         "comparison needs at least two")
    return va[pa], vb[pb]
