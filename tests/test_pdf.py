"""The printed book: a PDF of each edition (book/build.py prints the single-page site with
Chromium once MathJax has typeset it). Each PDF must open, hold every chapter in order, its
formulas typeset and its figures loaded, and its pages must look like pages of a book: a few are
rendered as images, checked, and kept in ``_build/screenshots/pdf/`` for a person to look at."""

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "_build" / "screenshots" / "pdf"
pdfium = pytest.importorskip("pypdfium2", reason="pip install -r requirements.txt")
sys.path.insert(0, str(ROOT / "book"))


def chapter_titles(edition: str) -> list[str]:
    """The title (first heading) of every page in the edition's table of contents."""
    import i18n

    book = ROOT if edition == "en" else i18n.LOCALE
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]
    titles = []
    for f in files:
        path = book / f"{f}.md"
        if path.exists():
            text = path.read_text()
        else:
            cells = json.loads((book / f"{f}.ipynb").read_text())["cells"]
            text = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
        titles.append(next(ln for ln in text.splitlines() if ln.startswith("# "))[2:].strip())
    return titles


def page_texts(path: Path) -> list[str]:
    pdf = pdfium.PdfDocument(str(path))
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_the_pdf_holds_every_chapter_in_order(pdfs, edition):
    path = pdfs[edition]
    report = json.loads(path.with_name(path.name + ".json").read_text())
    titles = chapter_titles(edition)
    assert report["chapters"] == titles, "the printed page's chapters are not the book's"
    texts = page_texts(path)
    assert len(texts) > 300, f"{path.name}: only {len(texts)} pages"
    # the chapters follow one another in the book's order, each starting a page (its title
    # is the first line of a page); titles may also appear earlier, in the contents and links
    page = 0
    for title in titles:
        later = [i for i, t in enumerate(texts) if i >= page and title[:20] in t[:400]]
        assert later, f"{path.name}: no page after page {page + 1} begins with {title!r}"
        page = later[0] + 1


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_formulas_were_typeset_and_figures_loaded(pdfs, edition):
    path = pdfs[edition]
    report = json.loads(path.with_name(path.name + ".json").read_text())
    assert report["formulas"] > 1000 and report["untypeset"] == 0, report
    assert report["images"] > 90 and report["broken_images"] == 0, report
    text = "\n".join(page_texts(path))
    # (the code cells' own TeX strings, such as plot titles, are printed as code)
    for raw in ("$$", "\\begin{aligned}", "\\begin{align}"):
        assert raw not in text, f"{path.name}: raw TeX {raw!r} printed"
    # the figures are in the PDF as images
    pdf = pdfium.PdfDocument(str(path))
    images = sum(1 for i in range(len(pdf)) for obj in pdf[i].get_objects(max_depth=2)
                 if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)
    assert images >= report["images"] * 0.9, f"{path.name}: {images} images for {report['images']} figures"


def test_the_chinese_pdf_embeds_a_chinese_font(pdfs):
    from pypdf import PdfReader

    reader = PdfReader(str(pdfs["zh"]))
    families = set()
    for page in reader.pages[:40]:
        for font in (page.get("/Resources", {}).get("/Font", {}) or {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            for f in [font] + [d.get_object() for d in font.get("/DescendantFonts", [])]:
                descriptor = f.get("/FontDescriptor")
                if descriptor is not None:
                    families.add(str(descriptor.get_object().get("/FontFamily", "")))
            families.add(str(font.get("/BaseFont", "")))
    assert any("CJK" in f or " SC" in f for f in families), f"no Chinese font embedded: {families}"
    text = "\n".join(page_texts(pdfs["zh"])[:60])
    assert "自编码器" in text and "目录" in text


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_pages_look_like_a_book(pdfs, edition):
    """The cover, the contents and a page with a formula and a figure, as images: not blank,
    with text on them, and the figure page with a picture on it."""
    import numpy as np

    path = pdfs[edition]
    pdf = pdfium.PdfDocument(str(path))
    texts = page_texts(path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    # the page where chapter 2 first shows its loss curves and the ELBO's derivation
    figure_page = next(i for i in range(len(pdf)) if any(
        obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE for obj in pdf[i].get_objects(max_depth=2))
        and i > 20)
    elbo = "ELBO"
    elbo_page = next(i for i, t in enumerate(texts) if elbo in t and i > 10)
    for name, index in [("cover", 0), ("contents", 1), ("figure", figure_page), ("elbo", elbo_page)]:
        image = pdf[index].render(scale=1.5).to_pil().convert("L")
        image.save(SHOTS / f"{edition}-{name}-p{index + 1}.png")
        ink = (np.asarray(image) < 200).mean()
        assert ink > 0.002, f"{path.name} page {index + 1} ({name}) is blank"
    assert texts[0].strip(), "the cover has no title"
