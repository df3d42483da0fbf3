"""Draw the schematic diagrams and write them into the chapters (see ``__init__.py``).

    python book/diagrams/embed.py                 # every chapter 1-8
    python book/diagrams/embed.py 03_gan          # one chapter
    python book/diagrams/embed.py --out DIR       # also save each drawing as DIR/<name>.png
    python book/diagrams/embed.py --out DIR --draw-only 03_gan   # draw, leave the chapter alone

Only markdown cells change: the chapters' code, outputs and saved results are untouched.
"""

from __future__ import annotations

import argparse
import base64
import nbformat
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

from diagrams import CHAPTERS, Diagram, chapter_diagrams  # noqa: E402
from diagrams.style import png  # noqa: E402

KEY = "gentext_diagram"


def cell_source(diagram: Diagram, image: bytes) -> str:
    """The markdown of a diagram cell: the picture with its alt text, then its caption."""
    if any(ch in diagram.alt for ch in "[]\"\n"):
        raise ValueError(f"{diagram.name}: alt text must be one line without brackets or double quotes")
    data = base64.b64encode(image).decode("ascii")
    return f"![{diagram.alt}](data:image/png;base64,{data})\n\n*{diagram.caption}*"


def place(cells: list, diagram: Diagram, source: str, chapter: str) -> None:
    """Insert a new diagram cell after the paragraph that holds ``diagram.after``; when that
    paragraph is not the end of its cell, the cell is split there (markdown only)."""
    anchors = [i for i, c in enumerate(cells) if c.cell_type == "markdown"
               and not c.metadata.get(KEY) and diagram.after in c.source]
    if len(anchors) != 1:
        raise ValueError(f"{diagram.name}: the anchor {diagram.after!r} is in {len(anchors)} "
                         f"markdown cells of {chapter}, expected one")
    i = anchors[0]
    text = cells[i].source
    end = text.find("\n\n", text.index(diagram.after) + len(diagram.after))
    if end != -1 and text[end:].strip():
        cells[i].source = text[:end]
        rest = nbformat.v4.new_markdown_cell(text[end + 2:])
        rest.id = f"{cells[i].id}-{diagram.name}"[:64]
        cells.insert(i + 1, rest)
    i += 1
    while i < len(cells) and cells[i].metadata.get(KEY):
        i += 1  # after the diagrams already placed behind the same paragraph
    cell = nbformat.v4.new_markdown_cell(source, metadata={KEY: diagram.name})
    cell.id = f"diagram-{diagram.name}"[:64]
    cells.insert(i, cell)


def draw_only(chapter: str, out: Path) -> list[str]:
    """Save the chapter's drawings as PNG files in ``out`` without touching the notebook
    (checking each alt text, and each anchor against the notebook as it is)."""
    out.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    for diagram in chapter_diagrams(chapter):
        cell_source(diagram, b"")
        if not any(c.metadata.get(KEY) == diagram.name for c in nb.cells):
            place(nb.cells, diagram, "", chapter)  # on the copy in memory: raises if unclear
        (out / f"{diagram.name}.png").write_bytes(png(diagram.draw()))
    return [d.name for d in chapter_diagrams(chapter)]


def embed(chapter: str, out: Path | None = None) -> list[str]:
    """Draw the chapter's diagrams and put each after its anchor cell (or replace it)."""
    path = ROOT / "notebooks" / f"{chapter}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    done = []
    for diagram in chapter_diagrams(chapter):
        image = png(diagram.draw())
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{diagram.name}.png").write_bytes(image)
        source = cell_source(diagram, image)
        existing = [c for c in cells if c.get("metadata", {}).get(KEY) == diagram.name]
        if existing:
            existing[0]["source"] = source
        else:
            place(cells, diagram, source, chapter)
        done.append(diagram.name)
    nbformat.write(nb, path)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", default=list(CHAPTERS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--draw-only", action="store_true")
    args = parser.parse_args()
    if args.draw_only and args.out is None:
        parser.error("--draw-only needs --out DIR")
    for chapter in args.chapters:
        names = draw_only(chapter, args.out) if args.draw_only else embed(chapter, args.out)
        print(chapter, ", ".join(names))


if __name__ == "__main__":
    main()
