"""Showing code and tables inside a chapter.

Chapters teach every piece of code they use. When a piece lives in ``gentext`` because
later chapters reuse it, the chapter shows its source with :func:`show_source`, so the
reader still sees exactly the code that runs.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any, Mapping, Sequence


def show_source(*objects: Any) -> None:
    """Display the source of functions or classes as a highlighted Python block."""
    from IPython.display import Markdown, display

    code = "\n\n".join(textwrap.dedent(inspect.getsource(obj)).rstrip() for obj in objects)
    display(Markdown(f"```python\n{code}\n```"))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], floatfmt: str = ".2f") -> None:
    """Display a small table (Markdown in Jupyter and on the website)."""
    from IPython.display import Markdown, display

    def fmt(v: Any) -> str:
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    display(Markdown("\n".join(lines)))


def _copies(share: float | None) -> str:
    """A share of near copies; none for training digits, which are all their own copies."""
    return "— (training digits)" if share is None else f"{share:.1%}"


def quality_table(results: Mapping[str, Mapping[str, float]], *, real: bool = True) -> None:
    """Display :func:`gentext.metrics.sample_quality` results, one row per model, with spreads.

    Every chapter reports sample quality in this one table, so the columns read the same
    everywhere: the Frechet ratio and the two-sample accuracy (overall distance from real
    digits), precision (fidelity), recall (diversity) and near copies (memorisation), each
    with its spread over random subsets where it has one, then the classifier's confidence
    and the rarest and commonest predicted class. With ``real=True`` a last row gives the
    real-digit yardstick. Results measured against the validation split (for choosing) say
    so in their row; mixing splits in one table is refused.
    """
    splits = {q.get("split", "test") for q in results.values()}
    if len(splits) > 1:
        raise ValueError("quality_table shows results measured against one split; got " + ", ".join(sorted(splits)))
    split = splits.pop() if splits else "test"

    def pm(q: Mapping[str, float], key: str, spec: str) -> str:
        return f"{q[key]:{spec}} ± {q[key + '_std']:{spec}}"

    rows = [(name if split == "test" else f"{name} (validation)", pm(q, "fd_ratio", ".2f"), pm(q, "c2st", ".3f"),
             pm(q, "precision", ".2f"), pm(q, "recall", ".2f"), f"{q['copy_share']:.1%}",
             f"{q['confidence']:.3f}", f"{q['class_min_share']:.3f} / {q['class_max_share']:.3f}")
            for name, q in results.items()]
    if real and results:
        q = next(iter(results.values()))
        who = "real digits (validation)" if split == "test" else "real digits (training)"
        rows.append((who, "1 (the yardstick)", pm(q, "c2st_real", ".3f"), pm(q, "precision_real", ".2f"),
                     pm(q, "recall_real", ".2f"), _copies(q["copy_share_real"]), f"{q['confidence_real']:.3f}", ""))
    table(rows, headers=["samples", "Frechet distance, x real", "two-sample accuracy", "precision",
                         "recall", "near copies", "classifier confidence", "rarest / commonest class"])
