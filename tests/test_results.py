import json
from pathlib import Path

import numpy as np
import pytest
import torch

import gentext as gt

ROOT = Path(__file__).resolve().parents[1]

METRICS = {"train_seconds": 1.5, "n_params": 1000, "sample_seconds": 0.1, "test_nll_nats": None,
           "nested": {"a": np.float32(1.0), "b": [1, 2]}}


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("GENTEXT_RESULTS", str(tmp_path))
    return tmp_path


def test_round_trip(results):
    samples = torch.rand(800, 1, 8, 8)
    folder = gt.save_results("99_test", METRICS, samples, labels=torch.arange(800) % 10)
    assert folder == results / "99_test"
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.json", "samples.npz"]
    metrics, x, y = gt.load_results("99_test")
    assert metrics["n_params"] == 1000 and metrics["test_nll_nats"] is None and metrics["nested"]["a"] == 1.0
    assert x.dtype == np.float32 and np.allclose(x, samples.numpy())
    assert y.tolist() == [i % 10 for i in range(800)]
    json.loads((folder / "metrics.json").read_text())


def test_unconditional_results_have_no_labels(results):
    gt.save_results("98_test", METRICS, np.random.rand(900, 1, 8, 8))
    assert gt.load_results("98_test")[2] is None


@pytest.mark.parametrize("samples, message", [
    (torch.rand(799, 1, 8, 8), "at least 800"),
    (torch.rand(800, 8, 8), r"N x 1 x H x W"),
    (torch.rand(800, 3, 8, 8), r"N x 1 x H x W"),
    (torch.rand(800, 1, 8, 8) * 2, r"\[0, 1\]"),
])
def test_bad_samples_are_rejected(results, samples, message):
    with pytest.raises(ValueError, match=message):
        gt.save_results("97_test", METRICS, samples)


def test_bad_metrics_and_labels_are_rejected(results):
    x = torch.rand(800, 1, 8, 8)
    with pytest.raises(ValueError, match="sample_seconds"):
        gt.save_results("96_test", {"train_seconds": 1, "n_params": 2}, x)
    with pytest.raises(ValueError, match="finite"):
        gt.save_results("96_test", {**METRICS, "fd": float("nan")}, x)
    with pytest.raises(TypeError, match="type object"):
        gt.save_results("96_test", {**METRICS, "bad": object()}, x)
    with pytest.raises(ValueError, match=r"labels must have shape \(800,\)"):
        gt.save_results("96_test", METRICS, x, labels=torch.arange(10))
    with pytest.raises(ValueError, match="plain name"):
        gt.save_results("../escape", METRICS, x)


def test_missing_results_say_what_to_do(results):
    with pytest.raises(FileNotFoundError, match="run its notebook first"):
        gt.load_results("01_nothing")


def test_default_results_dir_is_at_the_repository_root(monkeypatch, root):
    monkeypatch.delenv("GENTEXT_RESULTS")
    monkeypatch.chdir(root / "notebooks")
    assert gt.results_dir() == root / "results"
    folder = root / "results" / "01_autoencoder" / "checkpoints"
    assert gt.checkpoint_path("01_autoencoder", "AE-2", "quick") == folder / "quick" / "AE-2.pt"
    # Quick and full runs never share a checkpoint.
    assert gt.checkpoint_path("01_autoencoder", "AE-2", "full") == folder / "full" / "AE-2.pt"
    gt.setup(seed=0, profile="full", verbose=False, style=False)
    try:
        assert gt.checkpoint_path("01_autoencoder", "AE-2") == folder / "full" / "AE-2.pt"
    finally:
        gt.setup(seed=0, profile="quick", verbose=False, style=False)
    assert gt.checkpoint_path("01_autoencoder", "AE-2") == folder / "quick" / "AE-2.pt"
    with pytest.raises(ValueError, match="unknown profile"):
        gt.checkpoint_path("01_autoencoder", "AE-2", "huge")


def test_results_record_their_code_and_go_stale_when_it_changes(results, tmp_path, monkeypatch):
    import nbformat

    from gentext import results as res

    book = tmp_path / "book"
    (book / "notebooks").mkdir(parents=True)
    (book / "gentext").mkdir()
    (book / "_config.yml").write_text("title: x\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, book / "notebooks" / "97_test.ipynb")
    monkeypatch.chdir(book)
    gt.save_results("97_test", METRICS, torch.rand(800, 1, 8, 8))
    metrics = gt.load_results("97_test")[0]
    assert metrics["provenance"] == res.provenance("97_test")
    assert res.stale_reason("97_test", metrics) is None
    # outputs and prose do not matter, code does
    nb.cells[0].source = "# new title"
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(nb, book / "notebooks" / "97_test.ipynb")
    assert res.stale_reason("97_test", metrics) is None
    nb.cells[1].source = "x = 2"
    nbformat.write(nb, book / "notebooks" / "97_test.ipynb")
    assert "code of notebooks/97_test.ipynb changed" in res.stale_reason("97_test", metrics)
    old = {**metrics, "provenance": {**res.provenance("97_test"), "gentext_sha256": "0" * 64}}
    assert "gentext's code changed" in res.stale_reason("97_test", old)
    assert "do not record" in res.stale_reason("97_test", {k: v for k, v in metrics.items() if k != "provenance"})


def test_package_hash_ignores_only_the_result_neutral_modules(tmp_path, monkeypatch):
    """Editing an exercise checker leaves results fresh; editing any other module does not."""
    from gentext import results as res

    for name in ("exercises.py", "student.py", "metrics.py", "train.py"):
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.setattr(res, "PACKAGE_DIR", tmp_path)
    before = res.package_code_hash()
    for name in sorted(res.RESULT_NEUTRAL_MODULES):
        (tmp_path / name).write_text("x = 2\n")
        assert res.package_code_hash() == before, name
    for name in ("metrics.py", "train.py"):
        (tmp_path / name).write_text("x = 2\n")
        assert res.package_code_hash() != before, name
        before = res.package_code_hash()
    # the checkers never run while a chapter computes: every chapter calls them only in
    # its exercise cells, after the cell that saves its results, and no other module uses them
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        sources = ["".join(c["source"]) for c in code]
        saves = [i for i, s in enumerate(sources) if "save_results(" in s]
        checks = [i for i, s in enumerate(sources) if "gt.exercises." in s]
        assert saves and checks and max(saves) < min(checks), path.name
    for path in sorted((ROOT / "gentext").glob("*.py")):
        # __init__ only imports them; results.py only names them
        if path.name not in res.RESULT_NEUTRAL_MODULES | {"__init__.py", "results.py"}:
            text = path.read_text()
            assert "exercises" not in text and "student" not in text, path.name


def test_reference_results_ship_for_every_chapter_and_are_fresh():
    """The comparison (chapter 12) opened alone (as in Colab) falls back on these: they must
    match the code.

    ``python -m gentext.execute`` refreshes them whenever it re-executes a chapter.
    """
    from gentext.results import REFERENCE_DIR, load_reference, stale_reason

    notebooks = ROOT / "notebooks"  # absent where the tests run against an installed gentext
    chapters = (sorted(p.stem for p in notebooks.glob("*.ipynb") if p.stem != "12_comparison") if notebooks.is_dir()
                else sorted(p.name for p in REFERENCE_DIR.iterdir()))
    assert len(chapters) >= 10, chapters
    for chapter in chapters:
        metrics, samples, _ = load_reference(chapter)
        assert metrics["profile"] == "quick", chapter
        assert stale_reason(chapter, metrics) is None, (
            f"the reference results of {chapter} are stale ({stale_reason(chapter, metrics)}): "
            f"re-execute it with python -m gentext.execute notebooks/{chapter}.ipynb")
        assert samples.shape[1:] == (1, 8, 8) and len(samples) >= 800
        size = sum(f.stat().st_size for f in (REFERENCE_DIR / chapter).iterdir())
        assert size < 400_000, f"{chapter}'s reference results take {size} bytes"


def test_store_reference_copies_the_quick_profiles_results_only(results, tmp_path, monkeypatch):
    from gentext import results as results_module

    monkeypatch.setattr(results_module, "REFERENCE_DIR", tmp_path / "reference")
    assert results_module.store_reference("96_test") is None  # nothing saved yet
    gt.setup(seed=0, profile="quick", device="cpu", verbose=False, style=False)
    gt.save_results("96_test", METRICS, torch.rand(800, 1, 8, 8))
    folder = results_module.store_reference("96_test")
    assert folder == tmp_path / "reference" / "96_test"
    metrics, samples, _ = results_module.load_reference("96_test")
    assert metrics["train_seconds"] == 1.5 and samples.shape == (800, 1, 8, 8)
    gt.setup(seed=0, profile="full", device="cpu", verbose=False, style=False)
    gt.save_results("95_test", METRICS, torch.rand(800, 1, 28, 28))
    assert results_module.store_reference("95_test") is None  # full-profile results stay


def test_the_comparison_opened_alone_uses_the_shipped_reference_results(tmp_path):
    """As in Colab: no chapter has run in this runtime, so no results are on disk."""
    import os

    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "12_comparison.ipynb"
    if not path.exists():
        pytest.skip("needs the book's checkout")
    nb = nbformat.read(path, as_version=4)
    first_exercise = next(i for i, c in enumerate(nb.cells)
                          if c.cell_type == "markdown" and c.source.startswith("## Exercises"))
    nb.cells = nb.cells[:first_exercise]  # the comparison itself; the exercises need no data
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env={**os.environ, "GENTEXT_PROFILE": "quick", "GENTEXT_PLAIN_PROGRESS": "1",
                        "GENTEXT_RESULTS": str(tmp_path / "empty")})
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "11 of them are the reference results that ship with gentext" in text
    assert "saved the comparison" in text


def test_per_image_test_nlls_round_trip_and_pair_on_common_images(results):
    samples = torch.rand(800, 1, 8, 8)
    metrics = {"train_seconds": 1.0, "n_params": 1, "sample_seconds": 1.0}
    gt.save_results("a", metrics, samples, test_nll=torch.tensor([80.0, 81.0, 82.0, 83.0]))
    gt.save_results("b", metrics, samples, test_nll=np.array([90.0, 92.0, 93.0]),
                    test_index=np.array([3, 1, 2]))
    gt.save_results("c", metrics, samples)
    a, b = gt.results.load_test_nll("a"), gt.results.load_test_nll("b")
    assert a[0].tolist() == [0, 1, 2, 3] and gt.results.load_test_nll("c") is None
    va, vb = gt.results.paired_test_nll(a, b)  # images 1, 2 and 3, in the same order
    assert va.tolist() == [81.0, 82.0, 83.0] and vb.tolist() == [92.0, 93.0, 90.0]
    with pytest.raises(ValueError, match="same length"):
        gt.save_results("d", metrics, samples, test_nll=np.ones(3), test_index=np.arange(4))
    with pytest.raises(ValueError, match="distinct"):
        gt.save_results("d", metrics, samples, test_nll=np.ones(2), test_index=np.array([1, 1]))
    with pytest.raises(ValueError, match="finite"):
        gt.save_results("d", metrics, samples, test_nll=np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="in common"):
        gt.results.paired_test_nll(a, (np.array([7, 8]), np.array([1.0, 2.0])))
