"""Execute chapter notebooks the way their committed outputs must be made.

    python -m gentext.execute notebooks/01_autoencoder.ipynb [more.ipynb ...]

Each notebook runs top to bottom in a fresh kernel, in the quick profile, from its own
folder, and is written back in place with clean outputs: progress bars collapsed to their
final line, execution counts 1..N, and the run's wall-clock seconds printed here. The
chapter's old checkpoints are deleted first, so a stale checkpoint can never stand in for
training; its results land in ``GENTEXT_RESULTS`` as usual, and are copied to
``gentext/reference/`` (the reference results that the comparison chapter falls back on
when it is opened alone).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import shutil
import time
from pathlib import Path

from .results import checkpoint_path, store_reference

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def collapse_carriage_returns(text: str) -> str:
    """Keep what a terminal would show: for each line, the text after its last ``\\r``."""
    lines = []
    for line in text.split("\n"):
        parts = [p for p in line.split("\r") if p.strip()]
        lines.append(parts[-1] if parts else "")
    return _ANSI.sub("", "\n".join(lines))


def collapse_hidden_cells(nb) -> None:
    """Make cells tagged ``hide-cell`` (the solutions) open collapsed everywhere.

    Jupyter Book hides them on the website by their tag; JupyterLab and Notebook 7 read
    ``jupyter.source_hidden`` / ``outputs_hidden``; Colab shows a cell with
    ``cellView: form`` as its ``# @title`` line only (the solution cells start with one).
    """
    for cell in nb.cells:
        if cell.cell_type == "code" and "hide-cell" in cell.get("metadata", {}).get("tags", []):
            cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
            cell.metadata["cellView"] = "form"
            cell.metadata["collapsed"] = True


def clean_outputs(nb) -> None:
    """Merge consecutive stream outputs, collapse progress-bar redraws, drop empty streams."""
    collapse_hidden_cells(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged: list = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and merged
                    and merged[-1].get("output_type") == "stream" and merged[-1]["name"] == out["name"]):
                merged[-1]["text"] += out["text"]
            else:
                merged.append(out)
        kept = []
        for out in merged:
            if out.get("output_type") == "stream":
                out["text"] = collapse_carriage_returns(out["text"])
                if not out["text"].strip():
                    continue
            kept.append(out)
        cell["outputs"] = kept
        cell.get("metadata", {}).pop("execution", None)


def execute(path: Path, timeout: int = 900) -> float:
    """Run one notebook in place; returns its wall-clock seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    clean_outputs(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    os.environ["GENTEXT_PLAIN_PROGRESS"] = "1"
    os.environ["GENTEXT_PROFILE"] = "quick"
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for path in args.notebooks:
        if not path.exists():
            print(f"no such notebook: {path}", file=sys.stderr)
            return 2
        shutil.rmtree(checkpoint_path(path.stem, "x").parent, ignore_errors=True)
        seconds = execute(path)
        print(f"{path}: {seconds:.1f} s")
        if store_reference(path.stem) is not None:
            print(f"{path}: its results are now the shipped reference (gentext/reference)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
