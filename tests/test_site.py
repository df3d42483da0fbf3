"""Build the website with warnings as errors and check what a reader will see."""

import subprocess
import sys
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


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
           "build", str(ROOT), "--path-output", str(out),
           "-W", "-n", "--keep-going"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return out / "_build" / "html"


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
