"""Chapter 4, conditional models: where the label enters the cVAE and the cGAN, and the
projection discriminator's logit."""

from __future__ import annotations

import numpy as np

from diagrams import Diagram
from diagrams.style import (CONDITION, DECODER, ENCODER, GREY, INK, LATENT, LOSS, NETWORK, NOISE,
                            OLIVE, PAPER, WINE, arrow, box, canvas, digit, first_digit, grid,
                            node, op, tag, text, trapezoid)


def onehot(ax, xy, k: int = 7, cell: float = 0.12, vertical: bool = True):
    """A one-hot label vector (10 cells, the k-th filled) in the condition's olive."""
    colors = [[CONDITION[1] if i == k else CONDITION[0]] for i in range(10)]
    if vertical:
        grid(ax, xy, 10, 1, cell, colors, edge=OLIVE, lw=0.5)
    else:
        grid(ax, xy, 1, 10, cell, [[c[0] for c in colors]], edge=OLIVE, lw=0.5)


def label_in(ax, xy):
    """The one-hot label y above a concatenation: its own arrow down into the join."""
    x, y = xy
    op(ax, (x, y), r"$\oplus$", r=0.12)
    onehot(ax, (x - 0.15, y + 0.5), cell=0.07, vertical=False)
    text(ax, (x - 0.67, y + 0.5), r"$\mathbf{y}$", size=9, color=OLIVE)
    arrow(ax, (x, y + 0.43), (x, y + 0.13), color=OLIVE)
    text(ax, (x, y - 0.24), "concatenate", size=7, color=GREY)


def where_the_label_enters():
    fig, ax = canvas(8.6, 3.6)
    seven = first_digit(7)
    # cVAE, top row
    y = 2.6
    text(ax, (0.1, 3.4), "cVAE", size=10, ha="left", weight="bold")
    digit(ax, (0.5, y), 0.6, seven)
    text(ax, (0.5, y - 0.43), r"$\mathbf{x}$", size=9)
    label_in(ax, (1.38, y))
    arrow(ax, (0.82, y), (1.25, y))
    trapezoid(ax, (2.3, y), 1.2, 1.0, 0.45, r"$q_\phi(\mathbf{z}\mid\mathbf{x},\mathbf{y})$", ENCODER, size=8.5)
    arrow(ax, (1.5, y), (1.7, y))
    node(ax, (3.35, y), 0.2, r"$\mathbf{z}$", LATENT)
    arrow(ax, (2.9, y), (3.15, y))
    label_in(ax, (4.23, y))
    arrow(ax, (3.55, y), (4.1, y))
    trapezoid(ax, (5.2, y), 1.2, 0.45, 1.0, r"$p_\theta(\mathbf{x}\mid\mathbf{z},\mathbf{y})$", DECODER, size=8.5)
    arrow(ax, (4.35, y), (4.6, y))
    box(ax, (6.85, y), 1.6, 0.55, "beta-binomial\nparameters a, b", NEUTRAL_BOX, size=8.5)
    arrow(ax, (5.8, y), (6.05, y))
    text(ax, (4.3, 1.95), "the one-hot label is appended to the input of both networks; "
         r"the prior stays $\mathcal{N}(\mathbf{0}, I)$", size=8.5, color=GREY)
    # cGAN, bottom row
    y = 0.95
    ax.plot([0.1, 8.5], [1.7, 1.7], color="#DDDDDD", lw=0.8)
    text(ax, (0.1, 1.5), "cGAN", size=10, ha="left", weight="bold")
    node(ax, (0.5, y), 0.2, r"$\mathbf{z}$", NOISE, dashed=True)
    label_in(ax, (1.38, y))
    arrow(ax, (0.7, y), (1.25, y))
    trapezoid(ax, (2.3, y), 1.2, 0.45, 1.0, r"$G(\mathbf{z},\mathbf{y})$", DECODER, size=9)
    arrow(ax, (1.5, y), (1.7, y))
    digit(ax, (3.4, y), 0.55, seven, noise=0.15, seed=1)
    arrow(ax, (2.9, y), (3.1, y))
    box(ax, (5.2, y), 1.7, 0.7, "projection\ndiscriminator", NETWORK, size=9)
    arrow(ax, (3.7, y), (4.35, y))
    tag(ax, (5.2, y - 0.6), r"the same $\mathbf{y}$", w=1.1, h=0.28, size=8.5)
    arrow(ax, (5.2, y - 0.46), (5.2, y - 0.36))
    box(ax, (7.35, y), 1.5, 0.55, r"$D(\mathbf{x},\mathbf{y})$: a real" "\n" r"image of class $\mathbf{y}$?", LOSS, size=8.5)
    arrow(ax, (6.05, y), (6.6, y))
    return fig


NEUTRAL_BOX = ("#EEEEEE", GREY)


def projection():
    fig, ax = canvas(8.6, 3.2)
    y = 1.75
    digit(ax, (0.5, y), 0.7, first_digit(4))
    text(ax, (0.5, y - 0.52), r"$\mathbf{x}$", size=9.5)
    box(ax, (1.75, y), 1.2, 0.6, r"features $\psi$", NETWORK, size=9)
    arrow(ax, (0.87, y), (1.15, y))
    rng = np.random.default_rng(3)
    h = rng.uniform(0.15, 0.95, 8)
    cmap = [[(0.27 + 0.6 * (1 - v), 0.6 + 0.3 * (1 - v), 0.85) for v in [hv]] for hv in h]
    grid(ax, (2.75, y), 8, 1, 0.16, cmap, edge=GREY, lw=0.5)
    text(ax, (2.75, y - 0.82), r"$\mathbf{h}=\psi(\mathbf{x})$", size=9)
    arrow(ax, (2.35, y), (2.65, y))
    # two paths from h
    op(ax, (4.15, 2.55), r"$\cdot$")
    op(ax, (4.15, 0.95), r"$\cdot$")
    arrow(ax, (2.85, y + 0.3), (4.02, 2.55), rad=-0.15)
    arrow(ax, (2.85, y - 0.3), (4.02, 0.95), rad=0.15)
    box(ax, (4.15, 3.0), 1.3, 0.32, r"$\mathbf{w}$ (one vector)", NEUTRAL_BOX, size=8.5)
    arrow(ax, (4.15, 2.84), (4.15, 2.68))
    text(ax, (5.0, 2.95), r"$\mathbf{w}^\top\mathbf{h}$: is it a digit at all?", size=8.5, ha="left")
    # the embedding table, row y highlighted
    # one row per class, as long as h (8 numbers)
    rows = [[CONDITION[1] if r == 4 else CONDITION[0]] * 8 for r in range(10)]
    grid(ax, (5.45, 0.62), 10, 8, 0.085, rows, edge=OLIVE, lw=0.4)
    text(ax, (5.45, 0.06), r"embeddings $\mathbf{e}_0 \ldots \mathbf{e}_9$", size=8.5, color=OLIVE)
    tag(ax, (6.6, 0.62), r"$\mathbf{y} = 4$", w=0.6, h=0.28, size=8.5)
    arrow(ax, (6.3, 0.62), (5.84, 0.62), color=OLIVE)
    arrow(ax, (5.08, 0.65), (4.28, 0.92))
    text(ax, (3.3, 0.45), r"$\mathbf{e}_\mathbf{y}^\top\mathbf{h}$: a digit of class $\mathbf{y}$?",
         size=8.5)
    # the sum
    op(ax, (7.0, y), "+")
    arrow(ax, (4.28, 2.55), (6.88, y + 0.08), rad=-0.1)
    arrow(ax, (4.28, 0.95), (6.88, y - 0.08), rad=0.1)
    box(ax, (7.95, y), 1.0, 0.55, r"logit $\ell(\mathbf{x},\mathbf{y})$", LOSS, size=8.5)
    arrow(ax, (7.13, y), (7.43, y))
    text(ax, (7.95, y - 0.5), r"$D = \mathrm{sigmoid}(\ell)$", size=8.5, color=WINE)
    return fig


DIAGRAMS = [
    Diagram(
        name="ch04_label",
        draw=where_the_label_enters,
        alt="Top: the cVAE concatenates a one-hot label with the digit at the encoder's input and with "
            "the code at the decoder's input, and the decoder outputs beta-binomial "
            "parameters. Bottom: the cGAN concatenates the one-hot label with the noise at the "
            "generator's input, and the projection discriminator receives the image and the "
            "same label and says whether it is a real image of that class",
        caption="Where the label enters. Both cVAE networks and the cGAN's generator read the "
                "one-hot label next to their usual input; the cGAN's discriminator judges the "
                "pair (image, label), so a sharp digit of the wrong class counts as a fake.",
        after="whether the model is forced to use\nit.",
    ),
    Diagram(
        name="ch04_projection",
        draw=projection,
        alt="The projection discriminator: a digit goes through the feature network psi to a "
            "feature vector h; one path takes the inner product of h with a single weight "
            "vector w, the other picks the row of an embedding table for the label y and takes "
            "its inner product with h; the two numbers are added into the logit",
        caption="The projection discriminator. One inner product asks whether the features "
                "look like any real digit, the other whether they look like a digit of class "
                "y; the label's role is built into the architecture rather than left to be "
                "discovered.",
        after="rather than left to be discovered.",
    ),
]
