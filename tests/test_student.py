"""The student edition: no solution survives, and every exercise's checker still runs."""

import math
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import gentext as gt
from gentext import student

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    result = subprocess.run([sys.executable, "-m", "gentext.student", str(out),
                             "--notebooks", str(ROOT / "notebooks")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return out


def test_one_student_notebook_per_chapter(edition):
    assert sorted(p.name for p in edition.glob("*.ipynb")) == [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_solution_survives(edition, path):
    original = nbformat.read(path, as_version=4)
    nb = nbformat.read(edition / path.name, as_version=4)
    solutions = [c for c in original.cells if student.is_solution(c)]
    assert solutions, f"{path.name} has no solution cells to remove"
    text = "\n".join(c.source for c in nb.cells)
    assert "# @title Solution" not in text
    assert "{admonition} Solutions" not in text
    lines = {line.strip() for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()}
    for cell in solutions:  # not even a solution's answer line, under another name
        for line in cell.source.splitlines():
            answer = line.strip()
            if answer.startswith("return ") and len(answer) > 20:
                assert answer not in lines, f"{path.name}: a solution line survived: {answer!r}"
    exercises = [c for c in nb.cells if student.is_exercise(c)]
    assert len(exercises) >= 2 and all(not c.outputs for c in exercises)
    # everything else is kept: the text and the chapter's own outputs
    kept = [c for c in original.cells if not student.is_solution(c)]
    assert len(nb.cells) == len(kept)
    assert sum(bool(c.get("outputs")) for c in nb.cells) > 0


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_checker_still_runs(edition, path):
    """Run each exercise cell of the edition as a student first would: the stub is not
    implemented, so the checker must answer NOT YET with a hint, and never crash."""
    nb = nbformat.read(edition / path.name, as_version=4)
    for cell in (c for c in nb.cells if student.is_exercise(c)):
        namespace = {"gt": gt, "torch": torch, "nn": nn, "F": F, "np": np, "math": math}
        lines = cell.source.splitlines()
        *body, last = [line for line in lines if line.strip()]
        exec("\n".join(lines[:lines.index(last)]), namespace)
        verdict = eval(last, namespace)
        assert isinstance(verdict, gt.exercises.CheckResult), f"{path.name}: {last!r} is not a checker call"
        assert not verdict and "not implemented yet. Hint:" in verdict.message


def test_the_command_refuses_bad_folders(tmp_path):
    assert student.main([str(tmp_path / "out"), "--notebooks", str(tmp_path / "none")]) == 2
    with pytest.raises(ValueError, match="another folder"):
        student.write_edition(ROOT / "notebooks", ROOT / "notebooks")
