"""The Chinese edition (book/i18n.py): complete, in sync with the English, and well formed.

The completeness test here is the one that keeps the edition from falling behind: it fails
while any message is untranslated or out of date (fuzzy), while a catalogue misses English
text, while a translation breaks the markup or misses a glossary term, or while the generated
Chinese book under locale/zh_CN is not what the catalogues give."""

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import i18n  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_chinese_edition_is_complete_and_in_sync():
    problems = i18n.problems()
    assert not problems, ("the Chinese edition is behind the English (see book/i18n.py):\n"
                          + "\n".join(problems[:30]))


@pytest.mark.parametrize("source", i18n.sources())
def test_splitting_into_blocks_loses_nothing(source):
    for text in i18n.markdown_units(source):
        assert "".join(piece for _, piece in i18n.split_blocks(text)) == text
        identity = {m: m for m, _ in i18n.messages(source)}
        assert i18n.translate_text(text, identity) == text


def test_fences_and_display_formulas_are_never_split():
    text = ("Intro line.\n\n$$\na = b\n\nc = d\n$$\n\n```{admonition} Exercise 1\n:class: tip\n\n"
            "Body text here.\n```\n\n```python\nx = 1\n\ny = 2\n```\n")
    blocks = [p for kind, p in i18n.split_blocks(text) if kind == "block"]
    assert len(blocks) == 4
    assert blocks[1].startswith("$$") and "c = d" in blocks[1]
    assert "Body text here." in blocks[2]
    assert "y = 2" in blocks[3]


def test_what_is_a_message():
    assert i18n.message_of("$$\n\\mathcal{L} = x\n$$\n") is None
    assert i18n.message_of("```python\nprint('hello world')\n```") is None
    assert i18n.message_of("```{bibliography}\n:all:\n```") is None
    assert i18n.message_of("(sec-label)=") is None
    assert i18n.message_of("![A digit and its code](data:image/png;base64,AAAA)\n") == "A digit and its code"
    assert i18n.message_of("## The evidence lower bound\n") == "## The evidence lower bound"
    image = "![A digit](data:image/png;base64,AAAA)\n"
    assert i18n.translate_block(image, {"A digit": "一个数字"}) == "![一个数字](data:image/png;base64,AAAA)\n"


TERMS = [{"en": "autoencoder", "zh": "自编码器", "en_match": r"\bautoencoders?\b"}]
EN = "The **autoencoder** maps $\\mathbf{x}$ to `z` with 3 layers {cite:p}`hinton2006`."


def test_a_good_translation_passes():
    zh = "**自编码器**用 3 层把 $\\mathbf{x}$ 映射为 `z` {cite:p}`hinton2006`。"
    assert i18n.lint(EN, zh, TERMS) == []


@pytest.mark.parametrize("zh, complaint", [
    ("**自编码器**用 3 层把 $\\mathbf{y}$ 映射为 `z` {cite:p}`hinton2006`。", "formulas"),
    ("**自编码器**用 3 层把 $\\mathbf{x}$ 映射为 z {cite:p}`hinton2006`。", "markup"),
    ("自编码器用 3 层把 $\\mathbf{x}$ 映射为 `z` {cite:p}`hinton2006`。", "markup"),
    ("**“自编码器”**用 3 层把 $\\mathbf{x}$ 映射为 `z` {cite:p}`hinton2006`。", "markup"),
    ("**自编码器**用 4 层把 $\\mathbf{x}$ 映射为 `z` {cite:p}`hinton2006`。", "numbers"),
    ("**自编码器**用 3 层把 $\\mathbf{x}$ 映射为 `z`。", "markup"),
    ("**编码器**用 3 层把 $\\mathbf{x}$ 映射为 `z` {cite:p}`hinton2006`。", "glossary"),
    ("", "empty"),
])
def test_a_broken_translation_is_refused(zh, complaint):
    problems = i18n.lint(EN, zh, TERMS)
    assert any(complaint in p for p in problems), problems


def test_headings_lists_and_tables_keep_their_shape():
    assert i18n.lint("## Training the model", "# 训练模型", []) != []
    assert i18n.lint("- one item\n- two items", "- 一项和两项", []) != []
    table = "| a | b |\n| --- | --- |\n| x | y |"
    assert i18n.lint(table, "| 甲 | 乙 |\n| --- | --- |\n| 丙 | 丁 |", []) == []
    assert i18n.lint(table, "| 甲 | 乙 |\n| --- | --- |", []) != []


@pytest.fixture
def tiny_book(tmp_path, monkeypatch):
    """A one-page English book with its own catalogues, to watch the merge rules work."""
    (tmp_path / "book").mkdir()
    page = tmp_path / "book" / "page.md"
    page.write_text("# A page\n\nThe first paragraph says one thing.\n\n"
                    "The second paragraph says another thing.\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/page\n")
    (tmp_path / "_config.yml").write_text("title: T\nauthor: A\n")
    monkeypatch.setattr(i18n, "ROOT", tmp_path)
    monkeypatch.setattr(i18n, "LOCALE", tmp_path / "locale" / "zh_CN")
    monkeypatch.setattr(i18n, "CATALOGUES", tmp_path / "locale" / "zh_CN" / "LC_MESSAGES")
    monkeypatch.setattr(i18n, "GLOSSARY", tmp_path / "none.yml")
    return page


def test_an_edited_paragraph_is_marked_out_of_date(tiny_book):
    source = "book/page.md"
    assert i18n.sources() == [source]
    i18n.update(source)
    assert len(i18n.status(source).untranslated) == 3
    cat = i18n.load(source)
    for msg, zh in [("# A page", "# 一页"), ("The first paragraph says one thing.", "第一段说一件事。"),
                    ("The second paragraph says another thing.", "第二段说另一件事。")]:
        cat[msg].string = zh
    i18n.save(source, cat)
    assert i18n.status(source).untranslated == [] and i18n.status(source).fuzzy == []
    assert "第一段说一件事。" in i18n.zh_text(source)

    # the English changes: a paragraph edited, one added
    tiny_book.write_text("# A page\n\nThe first paragraph says one new thing.\n\n"
                         "The second paragraph says another thing.\n\nA third paragraph.\n")
    assert i18n.status(source).missing  # the catalogue no longer matches the English
    i18n.update(source)
    s = i18n.status(source)
    assert s.fuzzy == ["The first paragraph says one new thing."]
    assert s.untranslated == ["A third paragraph."]
    assert not s.missing and not s.stale
    # the fuzzy translation is not used: the English shows until it is checked again
    text = i18n.zh_text(source)
    assert "The first paragraph says one new thing." in text and "第二段说另一件事。" in text
    po = i18n.catalogue_path(source).read_text()
    assert "#, fuzzy" in po and '#| msgid "The first paragraph says one thing."' in po


def test_chinese_notebooks_share_code_and_outputs_with_the_english():
    for english in CHAPTERS:
        zh = i18n.LOCALE / "notebooks" / english.name
        assert zh.exists(), f"{zh} is missing: run `python book/i18n.py build`"
        en_nb, zh_nb = json.loads(english.read_text()), json.loads(zh.read_text())
        assert len(en_nb["cells"]) == len(zh_nb["cells"])
        for a, b in zip(en_nb["cells"], zh_nb["cells"]):
            assert a["cell_type"] == b["cell_type"]
            if a["cell_type"] == "code":
                assert a == b, f"{english.name}: a code cell differs"
            else:
                assert a["metadata"] == b["metadata"]
        assert zh_nb["metadata"]["gentext_translation"] == {"language": "zh_CN",
                                                            "source": f"notebooks/{english.name}"}


def test_diagrams_keep_their_pictures_in_chinese():
    for english in CHAPTERS:
        zh_nb = json.loads((i18n.LOCALE / "notebooks" / english.name).read_text())
        en_nb = json.loads(english.read_text())
        for a, b in zip(en_nb["cells"], zh_nb["cells"]):
            if "gentext_diagram" in a["metadata"]:
                src_a = "".join(a["source"])
                src_b = "".join(b["source"])
                uri = src_a[src_a.index("(data:"):src_a.index(")", src_a.index("(data:")) + 1]
                assert uri in src_b


def test_the_chinese_book_config():
    config = yaml.safe_load((i18n.LOCALE / "_config.yml").read_text())
    toc = yaml.safe_load((i18n.LOCALE / "_toc.yml").read_text())
    assert config["sphinx"]["config"]["language"] == "zh_CN"
    assert config["repository"]["path_to_book"] == "locale/zh_CN"
    assert (i18n.LOCALE / config["bibtex_bibfiles"][0]).resolve() == ROOT / "book" / "references.bib"
    files = [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]
    assert "book/glossary" in files
    english = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert [f for f in files if f != "book/glossary"] == (
        [english["root"]] + [c["file"] for p in english["parts"] for c in p["chapters"]])


def test_the_glossary_page_lists_every_term():
    page = (i18n.LOCALE / "book" / "glossary.md").read_text()
    terms = i18n.glossary()
    assert len(terms) >= 60
    for term in terms:
        assert f"| {term['en']} | {term['zh']} |" in page
    for required in ["生成对抗网络", "变分自编码器", "自回归模型", "归一化流", "扩散模型", "证据下界", "重参数化"]:
        assert required in page
