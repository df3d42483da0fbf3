"""Check the built website's HTML (the ``site`` fixture in conftest.py builds it with warnings
as errors); tests/test_browser.py then loads it in a real browser."""

from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


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
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    repo = url.removeprefix("https://github.com/")
    for file in toc_files():
        if file.startswith("notebooks/"):
            html = (site / f"{file}.html").read_text()
            assert f"https://colab.research.google.com/github/{repo}/blob/main/{file}.ipynb" in html


def test_citations_resolve(site):
    html = (site / "notebooks" / "01_autoencoder.html").read_text()
    assert "Rumelhart" in html and "references.html#id" in html
