"""A small Sphinx extension for the book's website: every script is included once, and the
book's own style sheet (``static/gentext.css``: code lines wrap within the page) is added.

With the pinned Jupyter Book 1 stack, some extensions (sphinx-thebe, sphinx-togglebutton)
register their inline scripts twice, and the second copy of sphinx-thebe's
``const THEBE_JS_URL = ...`` is a JavaScript error on every page ("Identifier has already
been declared"); tests/test_browser.py caught it. This drops exact duplicates from each
page's list of scripts, keeping the first, so the page runs as the extensions intended.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"


def _script_key(script: Any) -> tuple[str, str]:
    attributes = dict(getattr(script, "attributes", {}) or {})
    attributes.pop("priority", None)  # the same script registered twice may differ only here
    filename = getattr(script, "filename", script) or ""  # an inline script: None or ""
    return str(filename), repr(sorted(attributes.items()))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def add_static(app, config) -> None:
    config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("config-inited", add_static)
    app.add_css_file("gentext.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}

