"""The Chinese edition: gettext catalogues of the English text, and the Chinese book made from them.

One source of truth. The English notebooks and pages are the book; the Chinese edition is
*generated* from them and from one translation catalogue per source file
(``locale/zh_CN/LC_MESSAGES/<source>.po``, standard gettext, editable in any PO editor). Code
cells, their outputs and the figures are copied from the English notebooks, never by hand, so
the two editions always show the same results.

A message is one markdown block of prose (a paragraph, a heading, a list item, a table, an
admonition; split at blank lines, never inside a fence or a display formula) or the alt text
of an image. Blocks with no words (formulas, code, labels, comments) are copied as they are.
Why blocks and not Sphinx's own gettext messages: one catalogue then serves both the website
*and* the Chinese notebooks that readers open in Colab, which Sphinx's per-node messages
cannot rebuild.

When the English changes, ``update`` merges the catalogues the way ``msgmerge`` does: a new
block is untranslated, an edited one is marked fuzzy with its old translation and the previous
English kept beside it (``#| msgid``), a removed one is dropped. ``check`` (and the tests)
fail while any message is untranslated or fuzzy, while a translation breaks the markup (its
formulas, code, links, citations, emphasis and numbers must be those of the English), while a
translation misses a glossary term, or while the generated Chinese book is not what the
catalogues give now.

Commands (from the repository root)::

    python book/i18n.py update [SRC...]  # after editing the English: merge it into the catalogues
    python book/i18n.py status      # untranslated / fuzzy counts per catalogue
    python book/i18n.py export SRC FILE.json   # messages to translate, for a translator or a tool
    python book/i18n.py import FILE.json       # translations back into SRC's catalogue (checked)
    python book/i18n.py build       # write the Chinese book (locale/zh_CN/{book,notebooks}, configs)
    python book/i18n.py check       # everything above is complete and in sync (exit 1 if not)
"""

from __future__ import annotations

import copy
import io
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LANG = "zh_CN"
LOCALE = ROOT / "locale" / LANG          # the Chinese book's root (its own _config.yml, _toc.yml)
CATALOGUES = LOCALE / "LC_MESSAGES"
GLOSSARY = LOCALE / "glossary.yml"
CONFIG_SOURCE = "_book"                   # the catalogue of the book's title and part captions

# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


def sources() -> list[str]:
    """The English sources in reading order, as paths relative to the root ('book/preface.md')."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    out = []
    for f in files:
        for suffix in (".ipynb", ".md"):
            if (ROOT / f"{f}{suffix}").exists():
                out.append(f"{f}{suffix}")
                break
        else:
            raise FileNotFoundError(f"{f} in _toc.yml has no .ipynb or .md file")
    return out


def markdown_units(source: str) -> list[str]:
    """The markdown texts of a source: each markdown cell of a notebook, or the whole page."""
    path = ROOT / source
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    return [path.read_text()]


# ---------------------------------------------------------------------------------------------
# Blocks and messages
# ---------------------------------------------------------------------------------------------

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,}|:{3,})(.*)$")
DATA_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>data:[^)\s]+)\)(?P<rest>\s*)$", re.S)
WORDLESS = [re.compile(p, re.S) for p in (
    r"\$\$.*?\$\$", r"\$[^$\n]+\$", r"`[^`\n]*`", r"^\(\S+\)=\s*$", r"<!--.*?-->", r"\]\([^)]*\)",
    r"\{[\w:.-]+\}", r"\\begin\{\w+\*?\}.*?\\end\{\w+\*?\}")]


def split_blocks(text: str) -> list[tuple[str, str]]:
    """Split markdown into ('block', text) and ('sep', blank lines) pieces whose concatenation is
    the text again. Blank lines inside a fence or a $$ display formula do not split."""
    pieces: list[tuple[str, str]] = []
    current: list[str] = []
    fence: str | None = None
    in_math = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if fence is not None:
            current.append(line)
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                fence = None
            continue
        if in_math:
            current.append(line)
            if stripped.endswith("$$"):
                in_math = False
            continue
        if not stripped:
            if current:
                pieces.append(("block", "".join(current)))
                current = []
            pieces.append(("sep", line))
            continue
        m = FENCE.match(line)
        if m:
            fence = m.group(1)
        elif stripped.startswith("$$") and not (len(stripped) > 2 and stripped.endswith("$$")):
            in_math = True
        current.append(line)
    if current:
        pieces.append(("block", "".join(current)))
    return pieces


def _body(block: str) -> tuple[str, str]:
    """A block without its trailing newlines, and those newlines."""
    body = block.rstrip("\n")
    return body, block[len(body):]


def message_of(block: str) -> str | None:
    """The translatable text of a block, or None when it is copied as it is."""
    body, _ = _body(block)
    m = DATA_IMAGE.match(body)
    if m:
        return m.group("alt") or None
    first = body.lstrip().splitlines()[0] if body.strip() else ""
    fm = FENCE.match(first)
    if fm and not fm.group(2).strip().startswith("{"):
        return None  # a code block (```python): code is shared, not translated
    if fm:
        lines = body.strip().splitlines()
        inner = [ln for ln in lines[1:-1] if not ln.startswith(":")]
        if not fm.group(2).strip().split("}", 1)[1].strip() and not "".join(inner).strip():
            return None  # a directive with no title and no body ({bibliography})
    rest = body
    for pattern in WORDLESS:
        rest = pattern.sub(" ", rest)
    if not re.search(r"[A-Za-z]{2,}", rest):
        return None
    return body


def translate_block(block: str, translations: dict[str, str]) -> str:
    """The block in Chinese (still in English while its message has no translation: the check
    and the tests refuse that, but a half-translated book can still be built and looked at)."""
    body, tail = _body(block)
    msg = message_of(block)
    if msg is None:
        return block
    m = DATA_IMAGE.match(body)
    if m:
        alt = translations.get(msg, msg).replace("]", "\\]").replace("\n", " ")
        return f"![{alt}]({m.group('src')}){m.group('rest')}{tail}"
    return translations.get(msg, msg) + tail


def translate_text(text: str, translations: dict[str, str]) -> str:
    return "".join(piece if kind == "sep" else translate_block(piece, translations)
                   for kind, piece in split_blocks(text))


def messages(source: str) -> list[tuple[str, int]]:
    """The source's messages with the number of the markdown unit (cell) each comes from."""
    out = []
    for unit, text in enumerate(markdown_units(source)):
        for kind, piece in split_blocks(text):
            if kind == "block":
                msg = message_of(piece)
                if msg is not None:
                    out.append((msg, unit))
    return out


def config_messages() -> list[str]:
    """The book's title and the table of contents' part captions."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [config["title"], config["author"]] + [p["caption"] for p in toc.get("parts", [])]


# ---------------------------------------------------------------------------------------------
# Catalogues
# ---------------------------------------------------------------------------------------------


def catalogue_path(source: str) -> Path:
    return CATALOGUES / f"{Path(source).with_suffix('')}.po"


def all_sources() -> list[str]:
    return sources() + [CONFIG_SOURCE]


def template(source: str) -> Catalog:
    """The messages the English has now (what xgettext would extract)."""
    cat = Catalog(locale=LANG, project="gentext", domain=Path(source).stem, fuzzy=False)
    if source == CONFIG_SOURCE:
        for msg in config_messages():
            cat.add(msg, locations=[("_config.yml/_toc.yml", 0)])
    else:
        for msg, unit in messages(source):
            cat.add(msg, locations=[(source, unit)])
    return cat


def load(source: str) -> Catalog:
    path = catalogue_path(source)
    if not path.exists():
        return Catalog(locale=LANG, project="gentext", fuzzy=False)
    with path.open("rb") as f:
        return read_po(f, locale=LANG)


def save(source: str, cat: Catalog) -> None:
    path = catalogue_path(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    cat.fuzzy = False  # the header's own fuzzy flag: babel marks new catalogues so
    # a fixed header, so that a catalogue changes only when its messages do
    cat.project, cat.version = "gentext", "1"
    cat.copyright_holder = "The gentext authors"
    cat.msgid_bugs_address = "https://github.com/gentext-book/gentext/issues"
    cat.last_translator = cat.language_team = "The gentext authors"
    cat.creation_date = cat.revision_date = datetime(2026, 12, 5, tzinfo=timezone.utc)
    cat.header_comment = ("# Chinese translation of the gentext book's "
                          f"{source if source != CONFIG_SOURCE else 'title and parts'}.\n"
                          "# Made and merged by book/i18n.py; edit the msgstr lines only.")
    write_po(buf, cat, width=100, ignore_obsolete=True, include_previous=True, sort_output=False)
    tmp = path.with_suffix(".po.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def update(source: str) -> Catalog:
    """Merge the English's messages into the source's catalogue (msgmerge's rules)."""
    cat = load(source)
    tmpl = template(source)
    if not len(cat):
        cat = Catalog(locale=LANG, project="gentext", fuzzy=False)
    cat.update(tmpl, no_fuzzy_matching=False, update_header_comment=False)
    # babel keeps the merged order of the old file; reorder as in the English
    order = {m.id: i for i, m in enumerate(tmpl) if m.id}
    ordered = Catalog(locale=LANG, project="gentext", fuzzy=False)
    for m in sorted((m for m in cat if m.id), key=lambda m: order[m.id]):
        ordered[m.id] = m
    save(source, ordered)
    return ordered


def translations(source: str) -> dict[str, str]:
    return {m.id: m.string for m in load(source) if m.id and m.string and not m.fuzzy}


@dataclass
class Status:
    source: str
    total: int
    untranslated: list[str]
    fuzzy: list[str]
    missing: list[str]     # in the English, not in the catalogue: run `update`
    stale: list[str]       # in the catalogue, no longer in the English: run `update`


def status(source: str) -> Status:
    cat = load(source)
    current = {m.id for m in template(source) if m.id}
    known = {m.id for m in cat if m.id}
    return Status(source, len(current),
                  [m.id for m in cat if m.id in current and not m.string],
                  [m.id for m in cat if m.id in current and m.string and m.fuzzy],
                  sorted(current - known), sorted(known - current))


# ---------------------------------------------------------------------------------------------
# Checking a translation
# ---------------------------------------------------------------------------------------------

_MD = None


def _parser():
    global _MD
    if _MD is None:
        from markdown_it import MarkdownIt
        from mdit_py_plugins.amsmath import amsmath_plugin
        from mdit_py_plugins.colon_fence import colon_fence_plugin
        from mdit_py_plugins.deflist import deflist_plugin
        from mdit_py_plugins.dollarmath import dollarmath_plugin
        from mdit_py_plugins.myst_blocks import myst_block_plugin
        from mdit_py_plugins.myst_role import myst_role_plugin
        _MD = (MarkdownIt("commonmark").enable("table").use(dollarmath_plugin).use(amsmath_plugin)
               .use(colon_fence_plugin).use(deflist_plugin).use(myst_role_plugin)
               .use(myst_block_plugin))
    return _MD


def _walk(tokens):
    for t in tokens:
        yield t
        if t.children:
            yield from _walk(t.children)


# Token types whose count may differ: emphasis (Chinese rarely uses italics), line breaks.
_FREE = {"text", "softbreak", "hardbreak", "em_open", "em_close", "inline"}
# a number, with the word that scales it if any ("103 million" is "1.03 亿")
NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)(?:\s*(million|billion|万|亿)(?![A-Za-z]))?")
SCALES = {"": 1, "million": 10**6, "billion": 10**9, "万": 10**4, "亿": 10**8}


def _number(digits: str, scale: str) -> str:
    """A number as the checks compare it: commas dropped, a scale word multiplied out."""
    from decimal import Decimal

    digits = digits.replace(",", "")
    if not scale:
        return digits
    value = Decimal(digits) * SCALES[scale]
    return str(int(value)) if value == int(value) else str(value.normalize())
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]
MONTHS = re.compile(r"\b(" + "|".join(MONTH_NAMES[:4] + MONTH_NAMES[5:]) + r")\b")


def _fingerprint(md: str) -> tuple[Counter, Counter, Counter]:
    """Markup token types; the literal contents that must survive translation (formulas, code,
    link targets, roles, fences); and the numbers in the prose."""
    kinds, literal, numbers = Counter(), Counter(), Counter()
    for t in _walk(_parser().parse(md)):
        if t.type in _FREE:
            if t.type == "text":
                for n, scale in NUMBER.findall(t.content):
                    numbers[_number(n, scale)] += 1
                for month in MONTHS.findall(t.content):  # "5 December" is "12 月 5 日"
                    numbers[str(MONTH_NAMES.index(month) + 1)] += 1
            continue
        kinds[t.type] += 1
        if t.type in ("fence", "colon_fence") and t.info.strip().startswith("{"):
            # a directive: its name and options are literal, its title and body are prose
            literal[("directive", t.info.split()[0], "")] += 1
            body = t.content.splitlines()
            while body and body[0].startswith(":"):
                literal[("option", body.pop(0).strip(), "")] += 1
            k, lit, num = _fingerprint("\n".join(body))
            kinds.update(k), literal.update(lit), numbers.update(num)
            for n, scale in NUMBER.findall(t.info):
                numbers[_number(n, scale)] += 1
            continue
        if t.type in ("math_inline", "math_block", "math_block_label", "amsmath", "code_inline",
                      "fence", "colon_fence", "code_block", "myst_role", "myst_target",
                      "html_block", "html_inline"):
            literal[(t.type, t.info, t.content.strip())] += 1
        if t.type == "myst_role":
            literal[("role", t.meta.get("name", ""), t.content)] += 1
        if t.type == "link_open":
            literal[("link", t.attrs.get("href", ""), "")] += 1
        if t.type == "heading_open":
            literal[("heading", t.tag, "")] += 1
    return kinds, literal, numbers


CJK = re.compile(r"[\u4e00-\u9fff]")


def glossary() -> list[dict]:
    return yaml.safe_load(GLOSSARY.read_text())["terms"] if GLOSSARY.exists() else []


def lint(en: str, zh: str, terms: list[dict] | None = None, alt_text: bool = False) -> list[str]:
    """What is wrong with a translation (empty when nothing is)."""
    problems = []
    if not zh.strip():
        return ["empty translation"]
    if not CJK.search(zh) and len(re.findall(r"[A-Za-z]{2,}", en)) > 3:
        problems.append("no Chinese in the translation")
    if alt_text:
        if "\n" in zh or "](" in zh:
            problems.append("alt text must be one line of plain text")
    else:
        k_en, l_en, n_en = _fingerprint(en)
        k_zh, l_zh, n_zh = _fingerprint(zh)
        if k_en != k_zh:
            diff = {k: (k_en[k], k_zh[k]) for k in set(k_en) | set(k_zh) if k_en[k] != k_zh[k]}
            problems.append(f"markup differs (English, Chinese counts): {diff}")
        if l_en != l_zh:
            problems.append("formulas/code/links/roles differ: missing "
                            f"{list((l_en - l_zh).elements())[:4]}, added {list((l_zh - l_en).elements())[:4]}")
        if set(n_en) != set(n_zh):
            problems.append(f"numbers differ: missing {sorted(set(n_en) - set(n_zh))}, "
                            f"added {sorted(set(n_zh) - set(n_en))}")
    for term in terms if terms is not None else glossary():
        if re.search(term["en_match"], en, flags=re.I):
            accepted = [term["zh"]] + term.get("also", [])
            if not any(a in zh for a in accepted):
                problems.append(f"glossary: '{term['en']}' must be '{term['zh']}'")
    return problems


def plain_messages(source: str) -> set[str]:
    """The messages of a source that are plain text (image alt texts, titles), not markdown."""
    if source == CONFIG_SOURCE:
        return set(config_messages())
    out = set()
    for text in markdown_units(source):
        for kind, piece in split_blocks(text):
            m = DATA_IMAGE.match(_body(piece)[0]) if kind == "block" else None
            if m:
                out.add(m.group("alt"))
    return out


def lint_catalogue(source: str) -> list[str]:
    terms = glossary()
    plain = plain_messages(source)
    out = []
    for m in load(source):
        if m.id and m.string and not m.fuzzy:
            for p in lint(m.id, m.string, terms, alt_text=m.id in plain):
                out.append(f"{source}: {m.id[:70]!r}: {p}")
    return out


# ---------------------------------------------------------------------------------------------
# The Chinese book
# ---------------------------------------------------------------------------------------------


def zh_text(source: str) -> str | dict:
    """The Chinese page (text) or notebook (dict) for an English source."""
    trans = translations(source)
    path = ROOT / source
    if path.suffix == ".md":
        return translate_text(path.read_text(), trans)
    nb = json.loads(path.read_text())
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if cell["cell_type"] == "markdown":
            text = translate_text("".join(cell["source"]), trans)
            cell["source"] = text.splitlines(keepends=True)
    out["metadata"]["language_info"] = out["metadata"].get("language_info", {})
    out["metadata"]["gentext_translation"] = {"language": LANG, "source": source}
    return out


def _dump(content: str | dict) -> str:
    if isinstance(content, str):
        return content
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def glossary_page() -> str:
    lines = ["# 术语表", "",
             "本书中文版统一使用下表中的译名。括号中的英文缩写在正文中保留原样。"
             "表格由 `locale/zh_CN/glossary.yml` 生成，测试会检查每条译文都使用这些译名。", "",
             "| English | 中文 | 说明 |", "| --- | --- | --- |"]
    for t in glossary():
        lines.append(f"| {t['en']} | {t['zh']} | {t.get('note', '')} |")
    return "\n".join(lines) + "\n"


def zh_configs() -> dict[str, str]:
    """The Chinese book's _config.yml and _toc.yml, made from the English ones."""
    trans = translations(CONFIG_SOURCE)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    config["title"] = trans.get(config["title"], config["title"])
    config["author"] = trans.get(config["author"], config["author"])
    config["repository"]["path_to_book"] = "locale/zh_CN"
    config["bibtex_bibfiles"] = ["../../book/references.bib"]
    sphinx = config["sphinx"]
    sphinx["local_extensions"] = {"gentext_site": "../../book/_ext"}
    sphinx["config"]["language"] = LANG
    # MyST-NB's buttons on collapsed cells ("Show code cell source")
    sphinx["config"]["nb_code_prompt_show"] = "显示代码"
    sphinx["config"]["nb_code_prompt_hide"] = "隐藏代码"
    sphinx["config"]["exclude_patterns"] = sphinx["config"]["exclude_patterns"] + ["LC_MESSAGES", "*.yml.tmp"]
    for part in toc["parts"]:
        part["caption"] = trans.get(part["caption"], part["caption"])
    toc["parts"][0]["chapters"].append({"file": "book/glossary"})
    head = "# Generated by book/i18n.py from the English book's file of the same name: do not edit.\n"
    return {"_config.yml": head + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
            "_toc.yml": head + yaml.safe_dump(toc, allow_unicode=True, sort_keys=False)}


def zh_files() -> dict[str, str]:
    """Every generated file of the Chinese book, by path relative to locale/zh_CN."""
    files = {src: _dump(zh_text(src)) for src in sources()}
    files["book/glossary.md"] = glossary_page()
    files.update(zh_configs())
    return files


def build() -> list[str]:
    written = []
    for rel, text in zh_files().items():
        path = LOCALE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            tmp.replace(path)
            written.append(rel)
    return written


def problems() -> list[str]:
    """Everything that keeps the Chinese edition from being complete and in sync."""
    out = []
    for source in all_sources():
        s = status(source)
        if s.missing or s.stale:
            out.append(f"{source}: catalogue out of date with the English ({len(s.missing)} new, "
                       f"{len(s.stale)} removed): run `python book/i18n.py update`")
        if s.untranslated:
            out.append(f"{source}: {len(s.untranslated)} of {s.total} messages untranslated, "
                       f"first: {s.untranslated[0][:80]!r}")
        if s.fuzzy:
            out.append(f"{source}: {len(s.fuzzy)} translations out of date (fuzzy), "
                       f"first: {s.fuzzy[0][:80]!r}")
        out += lint_catalogue(source)
    if not out:
        for rel, text in zh_files().items():
            path = LOCALE / rel
            if not path.exists() or path.read_text() != text:
                out.append(f"locale/zh_CN/{rel} is not what the catalogues give: "
                           "run `python book/i18n.py build`")
    return out


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _export(source: str, out: str) -> None:
    cat = load(source)
    todo = [{"en": m.id, "zh": m.string if m.fuzzy else "",
             "previous_en": " ".join(m.previous_id) if m.fuzzy and m.previous_id else ""}
            for m in cat if m.id and (not m.string or m.fuzzy)]
    Path(out).write_text(json.dumps({"source": source, "messages": todo}, indent=1, ensure_ascii=False))
    print(f"{len(todo)} messages of {source} to translate -> {out}")


def _import(path: str) -> int:
    data = json.loads(Path(path).read_text())
    source = data["source"]
    cat = load(source)
    terms = glossary()
    plain = plain_messages(source)
    bad = 0
    for item in data["messages"]:
        if not item.get("zh", "").strip():
            continue
        msg = cat.get(item["en"])
        if msg is None:
            print(f"not in the catalogue (English changed?): {item['en'][:70]!r}")
            bad += 1
            continue
        issues = lint(item["en"], item["zh"], terms, alt_text=item["en"] in plain)
        if issues:
            bad += 1
            print(f"REJECTED {item['en'][:70]!r}:\n   " + "\n   ".join(issues))
            continue
        msg.string = item["zh"]
        msg.flags.discard("fuzzy")
        msg.previous_id = []
    save(source, cat)
    left = status(source)
    print(f"{source}: {bad} rejected; {len(left.untranslated)} untranslated, {len(left.fuzzy)} fuzzy left")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "update":
        for source in argv[1:] or all_sources():
            s = status(source)
            update(source)
            print(f"{source}: {s.total} messages")
        return 0
    if cmd == "status":
        for source in all_sources():
            s = status(source)
            print(f"{source:45s} {s.total:4d} messages, {len(s.untranslated):4d} untranslated, "
                  f"{len(s.fuzzy):3d} fuzzy, {len(s.missing) + len(s.stale):3d} out of date")
        return 0
    if cmd == "export":
        _export(argv[1], argv[2])
        return 0
    if cmd == "import":
        return _import(argv[1])
    if cmd == "lint":
        out = lint_catalogue(argv[1])
        print("\n".join(out) or "ok")
        return 1 if out else 0
    if cmd == "build":
        written = build()
        print(f"wrote {len(written)} files of the Chinese book" + (f": {written}" if written else ""))
        return 0
    if cmd == "check":
        out = problems()
        print("\n".join(out) if out else "the Chinese edition is complete and in sync")
        return 1 if out else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
