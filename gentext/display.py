"""Showing code and tables inside a chapter.

Chapters teach every piece of code they use. When a piece lives in ``gentext`` because
later chapters reuse it, the chapter shows its source with :func:`show_source`, so the
reader still sees exactly the code that runs.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any, Sequence


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
