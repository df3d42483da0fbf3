"""Every chapter's full profile, end to end at MNIST's full shapes, as if on a GPU.

The full profile is for readers with a GPU and MNIST. CI has neither, so each chapter runs
its full-profile code path here as a *smoke run*: ``GENTEXT_PROFILE=full`` with
``GENTEXT_SMOKE=1``, which keeps the full settings (28x28, 256 grey levels) except what
the chapter's ``smoke`` table shrinks (widths, sample counts, evaluation subsets), and in
which ``gt.fit`` and ``gt.gan.train_gan`` use a few batches per epoch. Three checks ride
on each run:

* **Shapes.** The data are the 5,000 real offline MNIST digits repeated to MNIST's own
  sizes (50,000 train, 10,000 validation, 10,000 test, as IDX files read by torchvision's
  loader), so every loop, evaluation and baseline sees full-size data.
* **Memory.** The kernel runs under an address-space cap, so a whole-set allocation (the
  80 GB one-hot of a 50,000-image training set) fails here rather than in a reader's
  notebook, and its peak resident memory must stay under the full profile's host budget.
* **Devices.** The first cell turns on :mod:`gentext.devicecheck`: tensors on ``cuda``
  are computed on the CPU but checked as CUDA checks them, so a mask made without
  ``device=`` or a ``.numpy()`` of a GPU tensor fails here (chapter 6's mask did).

The comparison (chapter 12) runs last and reads the results the others just saved. The
committed notebooks are untouched (each runs from an in-memory copy).
"""

import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import gentext as gt
from gentext import devicecheck

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ADDRESS_CAP_GB = 16  # virtual memory: torch's import alone maps about 3.5 GB of it
HOST_RAM_GB = 10  # the full profile's host-memory budget (a free Colab runtime has ~12)

PROLOGUE = f"""{devicecheck.FIRST_CELL}
import resource
_cap = {ADDRESS_CAP_GB} * 2**30
resource.setrlimit(resource.RLIMIT_AS, (_cap, _cap))
print("memory cap: {ADDRESS_CAP_GB} GB of address space")"""
EPILOGUE = """import resource
print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")"""


@pytest.fixture(scope="module")
def full_mnist(tmp_path_factory):
    pytest.importorskip("torchvision")
    root = tmp_path_factory.mktemp("mnist-full")
    gt.data.prepare_offline_mnist(root, full_size=True)
    return root


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("results")  # shared: the comparison reads chapters 1-11


def run_smoke(path: Path, env: dict[str, str]) -> tuple[str, float]:
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROLOGUE))
    nb.cells.append(nbformat.v4.new_code_cell(EPILOGUE))
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env=env)
    seconds = time.perf_counter() - start
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs)
    return text, seconds


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_full_profile_smoke_run(path, full_mnist, results_dir, monkeypatch):
    env = {**os.environ, "GENTEXT_PROFILE": "full", "GENTEXT_SMOKE": "1",
           "GENTEXT_DEVICE": "cuda", "GENTEXT_DATA": str(full_mnist),
           "GENTEXT_RESULTS": str(results_dir), "GENTEXT_PLAIN_PROGRESS": "1"}
    text, seconds = run_smoke(path, env)
    assert "device check: virtual CUDA is on" in text
    assert "profile=full device=cuda" in text
    if "smoke=dict(" in path.read_text():  # the comparison needs no smoke table: it trains little
        assert "smoke run" in text
    peak = float(re.search(r"peak resident memory: ([0-9.]+) GB", text).group(1))
    assert peak < HOST_RAM_GB, f"{path.stem} peaked at {peak:.1f} GB of host memory"
    monkeypatch.setenv("GENTEXT_RESULTS", str(results_dir))
    metrics, samples, _ = gt.load_results(path.stem)
    assert metrics["profile"] == "full"
    if path.stem != "12_comparison":  # the comparison keeps its stability experiment's samples
        assert samples.shape[1:] == (1, 28, 28)
    print(f"{path.stem}: full-profile smoke run as if on CUDA in {seconds:.0f} s, "
          f"peak {peak:.2f} GB")


def test_the_memory_cap_stops_a_whole_set_one_hot(full_mnist, tmp_path):
    """What the cap exists for: the old baseline's one-hot of 50,000 x 784 x 256 int64."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PROLOGUE), nbformat.v4.new_code_cell(
        "import torch\nimport gentext as gt\n"
        "x, _ = gt.data.load_mnist('train', download=False)\n"
        "try:\n"
        "    torch.nn.functional.one_hot(x.flatten(1), 256).sum(0)\n"
        "    print('allocated')\n"
        "except (RuntimeError, MemoryError) as err:\n"
        "    print('refused:', type(err).__name__)")]
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ, "GENTEXT_DATA": str(full_mnist)})
    out = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "refused" in out and "allocated" not in out
