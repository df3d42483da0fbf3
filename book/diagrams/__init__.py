"""Schematic diagrams of chapters 1-8, drawn by code in one visual language (``style.py``).

Each chapter module (``ch01.py`` ... ``ch08.py``) lists its diagrams as :class:`Diagram`
records. ``python book/diagrams/embed.py`` draws them all and writes each into its chapter
as a markdown cell holding the picture as a data URI, so that it shows wherever the
notebook is opened: on the website, in JupyterLab, and in Colab opened from GitHub (which
renders neither cell attachments nor links to files beside the notebook). The cells carry
``{"gentext_diagram": name}`` in their metadata; embedding again replaces them in place.
Markdown cells are not part of a chapter's code, so drawing a diagram anew never makes the
chapter's saved results stale.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

CHAPTERS = {
    "01_autoencoder": "ch01", "02_vae": "ch02", "03_gan": "ch03", "04_conditional": "ch04",
    "05_autoregressive": "ch05", "06_transformer": "ch06", "07_flows": "ch07",
    "08_diffusion": "ch08",
}


@dataclass(frozen=True)
class Diagram:
    """One schematic: ``draw()`` returns a matplotlib figure; ``after`` is a piece of text
    found in exactly one markdown cell of the chapter, the cell the diagram follows."""

    name: str
    draw: Callable
    alt: str
    caption: str
    after: str


def chapter_diagrams(chapter: str) -> list[Diagram]:
    """The diagrams of one chapter (``"03_gan"``), in reading order."""
    module = importlib.import_module(f"diagrams.{CHAPTERS[chapter]}")
    return list(module.DIAGRAMS)


def all_diagrams() -> dict[str, list[Diagram]]:
    return {chapter: chapter_diagrams(chapter) for chapter in CHAPTERS}
