"""Check the built website's HTML (the ``site`` fixture in conftest.py builds it with warnings
as errors); tests/test_browser.py then loads it in a real browser."""

from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]


def toc_files(book: Path = ROOT) -> list[str]:
    """The files of a book's table of contents (the English one, or the Chinese one's folder)."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


def repo_slug() -> str:
    """owner/name of the repository the launch buttons point at (from _config.yml)."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].removeprefix(
        "https://github.com/")


def test_every_toc_entry_became_a_page(site):
    for file in toc_files():
        page = site / f"{Path(file).with_suffix('')}.html"
        assert page.exists(), f"{file} has no page"
    assert (site / "index.html").exists()


def test_no_page_shows_an_error(site):
    for page in site.rglob("*.html"):
        soup = BeautifulSoup(page.read_text(), "html.parser")
        body = soup.find("main") or soup
        text = body.get_text()
        assert "Traceback (most recent call last)" not in text, page.name
        assert not body.select(".output.traceback, .output.stderr, .cell_output .stderr"), page.name


def test_chapter_pages_carry_the_colab_link(site):
    repo = repo_slug()
    for file in toc_files():
        if file.startswith("notebooks/"):
            html = (site / f"{file}.html").read_text()
            assert f"https://colab.research.google.com/github/{repo}/blob/main/{file}.ipynb" in html


def test_citations_resolve(site):
    html = (site / "notebooks" / "01_autoencoder.html").read_text()
    assert "Rumelhart" in html and "references.html#id" in html


# --- the Chinese edition (locale/zh_CN, built into the site's zh/ folder) -------------------

ZH = ROOT / "locale" / "zh_CN"


def test_every_chinese_toc_entry_became_a_page(site_zh):
    for file in toc_files(ZH):
        assert (site_zh / f"{file}.html").exists(), f"{file} has no Chinese page"
    html = (site_zh / "notebooks" / "08_diffusion.html").read_text()
    assert 'lang="zh-CN"' in html and "扩散模型" in html


def test_chinese_chapter_pages_launch_the_chinese_notebooks(site_zh):
    repo = repo_slug()
    for file in toc_files(ZH):
        if file.startswith("notebooks/"):
            html = (site_zh / f"{file}.html").read_text()
            link = f"https://colab.research.google.com/github/{repo}/blob/main/locale/zh_CN/{file}.ipynb"
            assert link in html, f"{file}: no Colab link to the Chinese notebook"
            assert (ZH / f"{file}.ipynb").exists()


def edition_links(page: Path) -> tuple[str, str]:
    soup = BeautifulSoup(page.read_text(), "html.parser")
    switch = soup.select("a.gentext-language")
    pdf = soup.select("a.gentext-pdf")
    assert len(switch) == 1 and len(pdf) == 1, f"{page}: no edition switch / PDF button"
    return switch[0]["href"], pdf[0]["href"]


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_every_page_links_to_the_other_edition_and_its_pdf(site, edition):
    root = site if edition == "en" else site / "zh"
    files = toc_files() if edition == "en" else toc_files(ZH)
    pages = [root / f"{f}.html" for f in files] + [root / "search.html", root / "genindex.html"]
    for page in pages:
        switch, pdf = edition_links(page)
        target = (page.parent / switch).resolve()
        assert target.exists(), f"{page.relative_to(site)}: the edition switch leads to {switch}, missing"
        other_root = (site / "zh") if edition == "en" else site
        assert other_root.resolve() in target.parents, f"{page}: {switch} is not in the other edition"
        expected_pdf = (site / "pdf" / "gentext.pdf") if edition == "en" else (site / "zh" / "pdf" / "gentext-zh.pdf")
        assert (page.parent / pdf).resolve() == expected_pdf.resolve(), f"{page}: PDF button {pdf}"


def test_pages_mirror_each_other(site):
    """A page's switch leads to the same page in the other edition (the glossary, which only
    the Chinese edition has, leads to the English front page)."""
    for file in toc_files():
        switch, _ = edition_links(site / f"{file}.html")
        assert switch.endswith(f"zh/{file}.html")
        back, _ = edition_links(site / "zh" / f"{file}.html")
        assert (site / "zh" / Path(file).parent / back).resolve() == (site / f"{file}.html").resolve()


def test_the_chinese_search_index_holds_chinese_words(site_zh):
    import json

    text = (site_zh / "searchindex.js").read_text()
    terms = json.loads(text[text.index("(") + 1:text.rindex(")")])["terms"]
    for word in ["扩散", "自编码器", "生成对抗网络"]:
        assert word in terms, f"the Chinese search index has no {word!r} (is jieba installed?)"
