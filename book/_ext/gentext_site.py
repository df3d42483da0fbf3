"""A small Sphinx extension for the book's website: every script is included once, the
book's own style sheet (``static/gentext.css``: code lines wrap within the page) is added, and
every page links to itself in the other edition (English <-> Chinese) and to its edition's PDF.

The English site is the root of the published site and the Chinese one lives in ``zh/``
(``book/build.py`` puts it there), with the same page names, so the other edition's page is
found by its name alone. The edition is the build's ``language`` setting (``zh_CN`` in the
Chinese book's ``_config.yml``, which ``book/i18n.py`` writes).

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
TEMPLATES = Path(__file__).resolve().parent / "templates"

# Where each edition lives in the published site, its switch label and its PDF (inside it).
EDITIONS = {
    "en": {"root": "", "lang": "en", "label": "English", "title": "Read this page in English",
           "pdf": "pdf/gentext.pdf", "pdf_title": "The whole book as one PDF"},
    "zh_CN": {"root": "zh/", "lang": "zh-CN", "label": "中文", "title": "阅读本页的中文版",
              "pdf": "pdf/gentext-zh.pdf", "pdf_title": "全书 PDF"},
}
# Pages that only one edition has: the other edition's switch leads to its front page.
ONLY_IN = {"zh_CN": {"book/glossary"}, "en": set()}


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


def edition_of(language: str | None) -> str:
    return "zh_CN" if (language or "en").startswith("zh") else "en"


def editions_context(pagename: str, language: str | None) -> dict[str, str]:
    """The links of a page's edition switch and PDF button, relative to the page."""
    here = edition_of(language)
    other = "en" if here == "zh_CN" else "zh_CN"
    to_root = "../" * pagename.count("/")
    # from this edition's root to the published site's root, then into the other edition
    to_site = "../" * EDITIONS[here]["root"].count("/")
    target = "index" if pagename in ONLY_IN[here] else pagename
    return {
        "gentext_other_url": f"{to_root}{to_site}{EDITIONS[other]['root']}{target}.html",
        "gentext_other_lang": EDITIONS[other]["lang"],
        "gentext_other_label": EDITIONS[other]["label"],
        "gentext_other_title": EDITIONS[other]["title"],
        "gentext_pdf_url": f"{to_root}{EDITIONS[here]['pdf']}",
        "gentext_pdf_title": EDITIONS[here]["pdf_title"],
    }


def add_editions(app, pagename, templatename, context, doctree) -> None:
    links = editions_context(pagename, app.config.language)
    context.update(links)
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{links["gentext_other_lang"]}" '
        f'href="{links["gentext_other_url"]}" />')


def chinese_search_terms(app, config) -> None:
    """Teach the Chinese search the book's terms.

    Sphinx cuts Chinese text into words with jieba, whose dictionary lacks the field's terms
    (扩散模型 becomes 扩散 + 模型), while the search box looks a query up as one word: a reader
    searching for 扩散模型 would find nothing. The glossary's terms (``glossary.yml`` beside
    the Chinese book's ``_config.yml``) become a jieba user dictionary for the index."""
    if edition_of(config.language) != "zh_CN":
        return
    glossary = Path(app.confdir) / "glossary.yml"
    if not glossary.exists():
        return
    import re

    import yaml

    words = set()
    for term in yaml.safe_load(glossary.read_text())["terms"]:
        for word in re.split(r"[、，,（）() ]+", term["zh"]) + term.get("also", []):
            if len(word) > 1 and re.search(r"[\u4e00-\u9fff]", word):
                words.add(word)
    path = Path(app.doctreedir) / "gentext-search-terms.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{w} 100000 n\n" for w in sorted(words)), encoding="utf-8")
    options = dict(config.html_search_options or {})
    options["dict"] = str(path)
    config.html_search_options = options


def add_static(app, config) -> None:
    config.html_static_path.append(str(STATIC))
    config.templates_path.append(str(TEMPLATES))
    # the edition switch and the PDF button go first in every page's header buttons
    options = config.html_theme_options
    end = list(options.get("article_header_end") or ["article-header-buttons.html"])
    if "gentext-editions.html" not in end:
        options["article_header_end"] = ["gentext-editions.html"] + end


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", add_editions)
    app.connect("config-inited", add_static)
    app.connect("config-inited", chinese_search_terms)
    app.add_css_file("gentext.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}

