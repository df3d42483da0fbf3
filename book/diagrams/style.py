"""The book's visual language for schematic diagrams, and the few shapes every diagram uses.

One object, one glyph, in every chapter:

* data (an image) ........ a real 8x8 digit from the book's data, in a thin grey frame
* a latent code z ........ a sand-coloured circle (``LATENT``)
* noise (epsilon, z ~ N) . a light-blue dashed circle (``NOISE``)
* a condition y .......... an olive tag (``CONDITION``)
* an encoder / analysis .. a teal trapezoid narrowing to the right (``ENCODER``)
* a decoder / generator .. an indigo trapezoid widening to the right (``DECODER``)
* any other network ...... a rounded box in light blue (``NETWORK``)
* a loss or objective .... a rose rounded box (``LOSS``)
* an operation ........... a small white circle with its symbol (+, x, ...)
* the flow of values ..... a dark grey arrow; gradients are dashed wine arrows

Colours are Paul Tol's muted palette, the palette of every result figure
(``gentext.plot.PALETTE``), written out here so that drawing a diagram needs neither torch
nor gentext. Coordinates are in inches: ``canvas(8, 3)`` gives an 8 x 3 inch drawing whose
points (x, y) run from (0, 0) at the lower left to (8, 3).
"""

from __future__ import annotations

import io
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Polygon, Rectangle  # noqa: E402

INDIGO, CYAN, TEAL, GREEN, OLIVE, SAND, ROSE, WINE, PURPLE, GREY = (
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933",
    "#DDCC77", "#CC6677", "#882255", "#AA4499", "#555555")
INK = "#222222"
PAPER = "#FFFFFF"
LIGHT = "#EEEEEE"

# (fill, edge) of each kind of object
LATENT = ("#F3EBC7", "#A8922F")
NOISE = ("#DDF1FA", "#4A9CC0")
CONDITION = ("#E6E6C2", OLIVE)
ENCODER = ("#C7E8E1", TEAL)
DECODER = ("#CFCAE8", INDIGO)
NETWORK = ("#DDF1FA", "#4A9CC0")
LOSS = ("#F2D5DA", ROSE)
NEUTRAL = (LIGHT, GREY)

DPI = 110
FONT = 10


def canvas(width: float, height: float):
    """A blank drawing of ``width`` x ``height`` inches, coordinates in inches, no axes."""
    fig = plt.figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def text(ax, xy, s: str, size: float = FONT, color: str = INK, **kw):
    """Centred text (mathtext allowed: ``r"$\\mathbf{z}$"``)."""
    kw.setdefault("ha", "center")
    kw.setdefault("va", "center")
    return ax.text(xy[0], xy[1], s, fontsize=size, color=color, **kw)


def box(ax, xy, w: float, h: float, label: str = "", kind=NETWORK, size: float = FONT,
        radius: float = 0.08, lw: float = 1.3, **kw):
    """A rounded box centred at ``xy``; ``kind`` is a (fill, edge) pair from above."""
    fill, edge = kind
    ax.add_patch(FancyBboxPatch((xy[0] - w / 2, xy[1] - h / 2), w, h,
                                boxstyle=f"round,pad=0,rounding_size={radius}",
                                facecolor=fill, edgecolor=edge, lw=lw, **kw))
    if label:
        text(ax, xy, label, size=size)
    return (xy[0] - w / 2, xy[1] - h / 2, w, h)


def trapezoid(ax, xy, w: float, h_in: float, h_out: float, label: str = "", kind=ENCODER,
              size: float = FONT):
    """A network drawn as a trapezoid: ``h_in`` tall on its left edge, ``h_out`` on its right
    (narrowing for an encoder, widening for a decoder or generator)."""
    fill, edge = kind
    x, y = xy
    pts = [(x - w / 2, y - h_in / 2), (x + w / 2, y - h_out / 2),
           (x + w / 2, y + h_out / 2), (x - w / 2, y + h_in / 2)]
    ax.add_patch(Polygon(pts, closed=True, facecolor=fill, edgecolor=edge, lw=1.3))
    if label:
        text(ax, xy, label, size=size)


def node(ax, xy, r: float, label: str = "", kind=LATENT, dashed: bool = False,
         size: float = FONT):
    """A circle for a variable: a latent (``LATENT``), noise (``NOISE``, dashed) or an operation."""
    fill, edge = kind
    ax.add_patch(Circle(xy, r, facecolor=fill, edgecolor=edge, lw=1.3,
                        linestyle=(0, (3, 2)) if dashed else "-"))
    if label:
        text(ax, xy, label, size=size)


def op(ax, xy, symbol: str, r: float = 0.13):
    """An operation (sum, product, concatenation) as a small white circle with its symbol."""
    node(ax, xy, r, symbol, kind=(PAPER, GREY), size=FONT + 1)


def tag(ax, xy, label: str, w: float = 0.55, h: float = 0.3, size: float = FONT):
    """A condition (a label y): an olive tag."""
    return box(ax, xy, w, h, label, kind=CONDITION, size=size, radius=0.12)


def arrow(ax, start, end, color: str = INK, lw: float = 1.3, style: str = "-|>",
          dashed: bool = False, rad: float = 0.0, shrink: float = 2.0, **kw):
    """An arrow from ``start`` to ``end``; ``rad`` bends it; dashed wine arrows are gradients."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=11, color=color,
                                 lw=lw, linestyle=(0, (4, 2)) if dashed else "-",
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=shrink,
                                 shrinkB=shrink, **kw))


def gradient(ax, start, end, rad: float = 0.0, **kw):
    """A gradient flowing back: a dashed wine arrow."""
    arrow(ax, start, end, color=WINE, dashed=True, rad=rad, **kw)


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download
    d = load_digits()
    return d.images / 16.0, d.target


def digit_image(index: int) -> np.ndarray:
    """The 8x8 image (values in [0, 1]) of the book's digit number ``index`` (training split)."""
    return _digits()[0][index]


def first_digit(label: int) -> int:
    """The index of the first training digit with this label."""
    return int(np.flatnonzero(_digits()[1] == label)[0])


def image(ax, xy, size: float, pixels: np.ndarray, frame: str = GREY, cmap: str = "gray_r",
          vmin: float = 0.0, vmax: float = 1.0, lw: float = 1.0):
    """Draw a small image (a digit, a noisy digit, a mask) as a square of side ``size``."""
    x, y = xy[0] - size / 2, xy[1] - size / 2
    ax.imshow(pixels, cmap=cmap, vmin=vmin, vmax=vmax, extent=(x, x + size, y, y + size),
              interpolation="nearest", zorder=2)
    ax.add_patch(Rectangle((x, y), size, size, fill=False, edgecolor=frame, lw=lw, zorder=3))


def digit(ax, xy, size: float = 0.7, index: int = 0, noise: float = 0.0, seed: int = 0):
    """Data: a real digit of the book's data (``noise`` > 0 adds Gaussian noise of that scale)."""
    pixels = digit_image(index)
    if noise:
        pixels = pixels + noise * np.random.default_rng(seed).standard_normal(pixels.shape)
    image(ax, xy, size, pixels)


def grid(ax, xy, rows: int, cols: int, cell: float, colors, edge: str = GREY, lw: float = 0.6,
         labels=None, size: float = FONT - 2):
    """A grid of coloured cells (masks, attention weights, receptive fields) centred at ``xy``.
    ``colors[r][c]`` is a colour (row 0 at the top); ``labels[r][c]`` optional text."""
    x0 = xy[0] - cols * cell / 2
    y0 = xy[1] + rows * cell / 2
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(Rectangle((x0 + c * cell, y0 - (r + 1) * cell), cell, cell,
                                   facecolor=colors[r][c], edgecolor=edge, lw=lw))
            if labels is not None and labels[r][c]:
                text(ax, (x0 + (c + 0.5) * cell, y0 - (r + 0.5) * cell), labels[r][c], size=size)
    return x0, y0


def brace_label(ax, x0: float, x1: float, y: float, label: str, size: float = FONT - 1,
                color: str = GREY):
    """A thin bracket under a span [x0, x1] at height ``y`` with a label below it."""
    ax.plot([x0, x0, x1, x1], [y + 0.06, y, y, y + 0.06], color=color, lw=0.9)
    text(ax, ((x0 + x1) / 2, y - 0.15), label, size=size, color=color)


def png(fig) -> bytes:
    """The drawing as PNG bytes (fixed metadata, so the same drawing gives the same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor=PAPER, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
