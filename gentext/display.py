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


def quality_table(results: Mapping[str, Mapping[str, float]], *, real: bool = True) -> None:
    """Display :func:`gentext.metrics.sample_quality` results, one row per model, with spreads.

    Every chapter reports sample quality in this one table, so the columns read the same
    everywhere: the Frechet ratio and the two-sample accuracy, each with its spread (one
    standard deviation over random subsets), the classifier's confidence, the rarest
    and commonest predicted class, and the share of near copies of training images. With ``real=True`` a last row gives the real-digit
    yardstick.
    """
    rows = [(name, f"{q['fd_ratio']:.2f} ± {q['fd_ratio_std']:.2f}", f"{q['c2st']:.3f} ± {q['c2st_std']:.3f}",
             f"{q['confidence']:.3f}", f"{q['class_min_share']:.3f} / {q['class_max_share']:.3f}",
             f"{q['copy_share']:.1%}")
            for name, q in results.items()]
    if real and results:
        q = next(iter(results.values()))
        rows.append(("real digits (validation)", "1 (the yardstick)",
                     f"{q['c2st_real']:.3f} ± {q['c2st_real_std']:.3f}", f"{q['confidence_real']:.3f}", "",
                     f"{q['copy_share_real']:.1%}"))
    table(rows, headers=["samples", "Frechet distance, x real", "two-sample accuracy",
                         "classifier confidence", "rarest / commonest class", "near copies"])
