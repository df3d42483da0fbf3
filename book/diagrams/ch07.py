"""Chapter 7, normalizing flows: the affine coupling layer and its triangular Jacobian, and the
digit flow's squeezes (the architecture the chapter trains)."""

from __future__ import annotations

from matplotlib.patches import Rectangle

from diagrams import Diagram
from diagrams.style import (CYAN, GREY, INDIGO, INK, NETWORK, NEUTRAL, PAPER, ROSE, SAND, TEAL,
                            WINE, arrow, box, canvas, grid, op, text)

PASS = "#C7E8E1"  # the passed-through half (teal, light)
CHANGE = "#CFCAE8"  # the transformed half (indigo, light)


def coupling():
    fig, ax = canvas(8.6, 3.6)
    # left: the layer as a data flow
    y_top, y_bot = 2.55, 1.05
    box(ax, (0.55, y_top), 0.8, 0.5, r"$\mathbf{m}\odot\mathbf{x}$", (PASS, TEAL), size=9.5)
    box(ax, (0.55, y_bot), 0.8, 0.5, r"$(1-\mathbf{m})\odot\mathbf{x}$", (CHANGE, INDIGO), size=8.5)
    text(ax, (0.15, 3.25), r"$\mathbf{x}$, split by the mask $\mathbf{m}$", size=9, ha="left")
    box(ax, (2.15, 1.8), 1.1, 0.7, "any network\n" r"$\mathbf{s}, \mathbf{t}$", NETWORK, size=9)
    arrow(ax, (0.95, y_top), (4.25, y_top))
    arrow(ax, (0.75, y_top - 0.27), (1.7, 2.05), rad=0.15)
    op(ax, (2.95, y_bot), r"$\times$")
    op(ax, (3.65, y_bot), "+")
    arrow(ax, (0.97, y_bot), (2.8, y_bot))
    arrow(ax, (3.1, y_bot), (3.5, y_bot))
    arrow(ax, (3.8, y_bot), (4.25, y_bot))
    arrow(ax, (2.5, 1.45), (2.9, 1.2))
    arrow(ax, (2.62, 1.62), (3.55, 1.2))
    text(ax, (2.45, 1.22), r"$e^{\mathbf{s}}$", size=9)
    text(ax, (3.35, 1.52), r"$\mathbf{t}$", size=9)
    box(ax, (4.7, y_top), 0.8, 0.5, r"$\mathbf{m}\odot\mathbf{x}$", (PASS, TEAL), size=9.5)
    box(ax, (4.7, y_bot), 0.8, 0.5, "scaled and\nshifted", (CHANGE, INDIGO), size=8.5)
    text(ax, (4.7, 3.25), r"$\mathbf{y}$", size=10)
    text(ax, (2.5, 0.35), "inverse: read the unchanged half, recompute s and t,\n"
         r"then $\mathbf{x} = (\mathbf{y} - \mathbf{t})\odot e^{-\mathbf{s}}$ on the other half",
         size=8.5, color=GREY)
    # right: the Jacobian, ordered with the passed-through half first
    n, cell = 6, 0.33
    colors = []
    labels = []
    for r in range(n):
        row, lab = [], []
        for c in range(n):
            if r < 3:
                row.append(PASS if r == c else PAPER)
                lab.append("1" if r == c else "0")
            else:
                if c < 3:
                    row.append("#E4E4E4")
                    lab.append("*")
                else:
                    row.append(CHANGE if r == c else PAPER)
                    lab.append(f"$e^{{s_{r + 1}}}$" if r == c else "0")
        colors.append(row)
        labels.append(lab)
    cx, cy = 7.15, 1.95
    grid(ax, (cx, cy), n, n, cell, colors, labels=labels, size=8)
    text(ax, (cx, cy + n * cell / 2 + 0.3), r"the Jacobian $\partial\mathbf{y}/\partial\mathbf{x}$", size=9.5)
    text(ax, (cx - n * cell / 2 - 0.3, cy + 0.5), "kept", size=8, color=TEAL, rotation=90)
    text(ax, (cx - n * cell / 2 - 0.3, cy - 0.5), "changed", size=8, color=INDIGO, rotation=90)
    text(ax, (cx, cy - n * cell / 2 - 0.3),
         r"triangular: $\log|\det J| = \sum_i (1-m_i)\,s_i$", size=9, color=WINE)
    text(ax, (cx, cy - n * cell / 2 - 0.62), "(*: from the network, never needed)",
         size=8, color=GREY)
    return fig


def _squeeze_grid(ax, xy, cell, colors4, size=4):
    """A size x size single-channel image whose pixels are coloured by their place in each 2x2 block."""
    cols = [[colors4[(r % 2) * 2 + (c % 2)] for c in range(size)] for r in range(size)]
    grid(ax, xy, size, size, cell, cols, edge=GREY, lw=0.7)
    x0, y0 = xy[0] - size * cell / 2, xy[1] + size * cell / 2
    for r in range(0, size, 2):
        for c in range(0, size, 2):
            ax.add_patch(Rectangle((x0 + c * cell, y0 - (r + 2) * cell), 2 * cell, 2 * cell,
                                   fill=False, edgecolor=INK, lw=1.4))


def squeeze_and_stack():
    fig, ax = canvas(8.6, 2.75)
    four = [TEAL, SAND, ROSE, CYAN]
    # the squeeze on a 4x4 example
    text(ax, (0.15, 2.5), "squeeze: each 2x2 block becomes 4 channels", size=9.5, ha="left")
    _squeeze_grid(ax, (0.75, 1.55), 0.25, four)
    text(ax, (0.75, 0.85), r"$1\times4\times4$", size=9)
    arrow(ax, (1.35, 1.55), (1.75, 1.55))
    for k in range(4):
        x0 = 2.05 + k * 0.16
        y0 = 1.9 - k * 0.16
        grid(ax, (x0 + 0.25, y0 - 0.25), 2, 2, 0.25, [[four[k]] * 2] * 2, edge=GREY, lw=0.7)
    text(ax, (2.65, 0.85), r"$4\times2\times2$", size=9)
    text(ax, (1.55, 0.4), "a reshape: invertible, log-determinant 0", size=8.5, color=GREY)
    # the digit flow of the chapter
    stages = [
        (4.0, "4 x (ActNorm,\ncheckerboard\ncoupling)", r"$1\times8\times8$"),
        (5.85, "4 x (ActNorm,\n1x1 conv,\nchannel\ncoupling)", r"$4\times4\times4$"),
        (7.7, "4 x (ActNorm,\n1x1 conv,\nchannel\ncoupling)", r"$16\times2\times2$"),
    ]
    text(ax, (5.85, 2.5), "the chapter's digit flow (quick profile)", size=9.5)
    for i, (x, label, shape) in enumerate(stages):
        box(ax, (x, 1.7), 1.15, 1.0, label, NETWORK, size=8)
        text(ax, (x, 1.0), shape, size=9)
        if i < 2:  # a squeeze between two stages, with room for its arrows
            box(ax, (x + 0.925, 1.7), 0.34, 0.34, "sq", NEUTRAL, size=8, radius=0.05)
            arrow(ax, (x + 0.58, 1.7), (x + 0.755, 1.7), shrink=0)
            arrow(ax, (x + 1.095, 1.7), (x + 1.27, 1.7), shrink=0)
    text(ax, (5.85, 0.4), "the 3x3 convolutions of a coupling see a wider part of the digit after each\n"
         "squeeze; on the 2x2 grid they see all of it. No dimension is set aside:\n"
         r"$\mathbf{z}$ has all 64 numbers, a standard Gaussian under $p_Z$", size=8.5, color=GREY)
    return fig


DIAGRAMS = [
    Diagram(
        name="ch07_coupling",
        draw=coupling,
        alt="An affine coupling layer: the mask splits x into a half that passes through unchanged "
            "and feeds a network computing s and t, and a half that is multiplied by exp(s) and "
            "shifted by t; beside it the Jacobian, ordered with the kept half first, is "
            "triangular with ones and exp(s_i) on its diagonal",
        caption="An affine coupling layer. The kept half decides how the other half is scaled "
                "and shifted, so the Jacobian is triangular and its log-determinant is the sum "
                "of the log-scales s; the network itself is never inverted.",
        after="Alternating masks let every coordinate be\ntransformed.",
    ),
    Diagram(
        name="ch07_squeeze",
        draw=squeeze_and_stack,
        alt="Left: a 4 by 4 single-channel image whose 2 by 2 blocks are reshaped into 4 channels "
            "of 2 by 2. Right: the chapter's digit flow, four checkerboard couplings on the 8 by 8 "
            "digit, a squeeze, four Glow steps on 4 by 4 by 4, a squeeze, four Glow steps on 16 "
            "by 2 by 2",
        caption="The squeeze and the chapter's digit flow. Squeezing trades resolution for "
                "channels at no cost in likelihood, so the couplings' small convolutions reach "
                "across the whole digit at the third scale; all 64 numbers stay in the flow to "
                "the end.",
        after="which is where the flow can shape its overall\nform.",
    ),
]
