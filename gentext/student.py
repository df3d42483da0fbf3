"""The student edition: every chapter without its solutions, for a teacher to hand out.

    python -m gentext.student OUT/ [--notebooks notebooks/]

writes ``OUT/NN_name.ipynb`` for every chapter, with

* every solution removed: the code cells tagged ``hide-cell`` that start with
  ``# @title Solution``, and the Markdown admonitions whose title starts with
  "Solutions" (the sketched answers to the open exercises);
* the outputs of the exercise cells cleared, so no verdict or hint from the author's run
  is left in them, while the cells themselves (a stub to fill in and the call of its
  checker from :mod:`gentext.exercises`) stay as they are.

Everything else, the chapter's text, code and outputs, is kept, so the edition reads
like the website. A student who fills in a stub and runs its cell gets the checker's
verdict at once.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

CHECKER_CALL = "gt.exercises.check_"
# A MyST admonition fence whose title starts with "Solutions", up to its closing fence.
_SOLUTION_ADMONITION = re.compile(r"^```\{admonition\} Solutions.*?^```[ \t]*\n?", re.M | re.S)


def is_solution(cell) -> bool:
    """A solution cell: hidden (``hide-cell``) code that starts with ``# @title Solution``."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.cell_type == "code" and "hide-cell" in tags and cell.source.lstrip().startswith("# @title Solution")


def is_exercise(cell) -> bool:
    """An exercise cell: visible code that calls one of gentext's checkers."""
    return cell.cell_type == "code" and CHECKER_CALL in cell.source and not is_solution(cell)


def student_notebook(nb):
    """A copy of notebook ``nb`` without solutions and with exercise outputs cleared."""
    out = nbformat.from_dict(nb)
    cells = []
    for cell in out.cells:
        if is_solution(cell):
            continue
        if is_exercise(cell):
            cell.outputs = []
            cell.execution_count = None
        if cell.cell_type == "markdown" and "{admonition} Solutions" in cell.source:
            cell.source = _SOLUTION_ADMONITION.sub("", cell.source).rstrip() + "\n"
        cells.append(cell)
    out.cells = cells
    return out


def write_edition(out_dir: str | Path, notebooks: str | Path = "notebooks") -> list[Path]:
    """Write the student edition of every chapter in ``notebooks`` to ``out_dir``."""
    source = Path(notebooks)
    chapters = sorted(source.glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        raise FileNotFoundError(f"no chapter notebooks (NN_name.ipynb) in {source.resolve()}")
    out = Path(out_dir)
    if out.resolve() == source.resolve():
        raise ValueError("write the student edition to another folder, not over the chapters")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in chapters:
        nb = student_notebook(nbformat.read(path, as_version=4))
        target = out / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gentext.student", description=__doc__.split("\n")[0])
    parser.add_argument("out", help="folder to write the student edition to")
    parser.add_argument("--notebooks", default="notebooks", help="the chapters' folder (default: notebooks)")
    args = parser.parse_args(argv)
    try:
        written = write_edition(args.out, args.notebooks)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
