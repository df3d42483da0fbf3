"""The schematic diagrams of chapters 1-8 (book/diagrams/): each draws, each is in its
chapter as a self-contained picture with alt text and a caption, and the picture in the
chapter is the one the code draws now (same size), so an edited drawing cannot be
forgotten. How they look in a browser is tests/test_browser.py's part."""

import base64
import io
import struct
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))

from diagrams import CHAPTERS, chapter_diagrams  # noqa: E402
from diagrams.embed import KEY, cell_source  # noqa: E402
from diagrams.style import DPI, png  # noqa: E402

PREFIX = "![", "](data:image/png;base64,"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def embedded(cell) -> tuple[str, bytes, str]:
    """(alt text, image bytes, caption) of a diagram cell."""
    source = cell.source
    assert source.startswith(PREFIX[0]) and PREFIX[1] in source, "not a data-URI image"
    alt, rest = source[2:].split(PREFIX[1], 1)
    data, caption = rest.split(")", 1)
    return alt, base64.b64decode(data), caption.strip()


@pytest.fixture(scope="module", params=list(CHAPTERS))
def chapter(request):
    nb = nbformat.read(ROOT / "notebooks" / f"{request.param}.ipynb", as_version=4)
    return request.param, nb, chapter_diagrams(request.param)


def test_every_chapter_has_two_diagrams_or_more(chapter):
    name, _, diagrams = chapter
    assert len(diagrams) >= 2, f"{name}: {len(diagrams)} diagrams"
    names = [d.name for d in diagrams]
    assert len(set(names)) == len(names)
    assert all(n.startswith(CHAPTERS[name] + "_") for n in names), names


def test_each_diagram_is_in_its_chapter_as_drawn_now(chapter):
    name, nb, diagrams = chapter
    cells = {c.metadata.get(KEY): c for c in nb.cells if c.metadata.get(KEY)}
    assert set(cells) == {d.name for d in diagrams}, f"{name}: run book/diagrams/embed.py"
    for diagram in diagrams:
        cell = cells[diagram.name]
        assert cell.cell_type == "markdown", "a diagram is markdown: it never touches results"
        alt, data, caption = embedded(cell)
        assert alt == diagram.alt and len(alt) > 40, f"{diagram.name}: alt text"
        assert caption == f"*{diagram.caption}*", f"{diagram.name}: caption"
        fresh = png(diagram.draw())
        assert png_size(data) == png_size(fresh), (
            f"{diagram.name}: the chapter holds an older drawing; run book/diagrams/embed.py")


def test_diagrams_fit_the_page_and_are_readable(chapter):
    _, _, diagrams = chapter
    for diagram in diagrams:
        width, height = png_size(png(diagram.draw()))
        assert 5 * DPI <= width <= 8.6 * DPI, f"{diagram.name}: {width} px wide"
        assert 1.5 * DPI <= height <= 5 * DPI, f"{diagram.name}: {height} px tall"


def test_diagrams_are_placed_after_their_paragraph(chapter):
    name, nb, diagrams = chapter
    for diagram in diagrams:
        i = next(i for i, c in enumerate(nb.cells) if c.metadata.get(KEY) == diagram.name)
        before = [c for c in nb.cells[:i] if c.cell_type == "markdown" and not c.metadata.get(KEY)]
        assert before and diagram.after in before[-1].source, (
            f"{diagram.name} is not right after the paragraph ending {diagram.after!r}")


def test_cell_source_rejects_alt_text_that_would_break_the_markdown():
    from diagrams import Diagram

    for alt in ("a [bracket]", 'a "quote"', "two\nlines"):
        with pytest.raises(ValueError, match="alt text"):
            cell_source(Diagram("ch01_x", lambda: None, alt, "caption", "after"), b"")
    good = Diagram("ch01_x", lambda: None, "a picture", "A caption.", "after")
    assert cell_source(good, b"\x89PNG") == "![a picture](data:image/png;base64,iVBORw==)\n\n*A caption.*"


def test_drawing_is_deterministic():
    diagram = chapter_diagrams("01_autoencoder")[0]
    assert png(diagram.draw()) == png(diagram.draw())
    assert io.BytesIO(png(diagram.draw())).getbuffer().nbytes < 400_000
