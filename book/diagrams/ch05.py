"""Chapter 5, autoregressive models: MADE's degrees and masks, the PixelCNN's masked kernels,
and the gated PixelCNN's two stacks."""

from __future__ import annotations

import numpy as np

from diagrams import Diagram
from diagrams.style import (CYAN, GREY, INDIGO, INK, LIGHT, NETWORK, PAPER, ROSE, SAND, TEAL, WINE,
                            arrow, box, canvas, grid, node, op, text)

PAST = "#9CCFE6"  # pixels the prediction may use
CENTRE = ROSE  # the pixel being predicted
HIDDEN = "#F3EBC7"


def made():
    """A MADE on d = 4 inputs with one hidden layer of 6 units, as made_masks builds it."""
    fig, ax = canvas(8.6, 3.4)
    d, hidden = 4, 6
    deg_in = np.arange(1, d + 1)
    deg_h = np.arange(hidden) % (d - 1) + 1  # made_masks: 1..d-1 spread over the units
    xs_in = 0.9 + np.arange(d) * 0.9
    xs_h = 0.45 + np.arange(hidden) * 0.6
    xs_out = xs_in
    y_in, y_h, y_out = 0.55, 1.65, 2.75
    for j, xh in enumerate(xs_h):  # input -> hidden: degree(hidden) >= degree(input)
        for i, xi in enumerate(xs_in):
            if deg_h[j] >= deg_in[i]:
                ax.plot([xi, xh], [y_in + 0.17, y_h - 0.17], color=GREY, lw=0.9, zorder=1)
    for i, xo in enumerate(xs_out):  # hidden -> output: degree(output) > degree(hidden)
        for j, xh in enumerate(xs_h):
            if deg_in[i] > deg_h[j]:
                ax.plot([xh, xo], [y_h + 0.17, y_out - 0.17], color=GREY, lw=0.9, zorder=1)
    for i, x in enumerate(xs_in):
        node(ax, (x, y_in), 0.17, f"$x_{i + 1}$", (PAPER, INK), size=9)
        text(ax, (x, y_in - 0.33), f"{deg_in[i]}", size=8, color=GREY)
    for j, x in enumerate(xs_h):
        node(ax, (x, y_h), 0.17, f"{deg_h[j]}", (HIDDEN, "#A8922F"), size=9)
    for i, x in enumerate(xs_out):
        node(ax, (x, y_out), 0.17, "", (NETWORK[0], NETWORK[1]))
        text(ax, (x, y_out), rf"$p_{i + 1}$", size=8)
    text(ax, (0.45 + 0.6 * hidden + 0.25, y_h), "hidden units:\ntheir degree m", size=8.5,
         color=GREY, ha="left")
    text(ax, (xs_in[-1] + 0.35, y_in - 0.33), "degree = position", size=8, color=GREY, ha="left")
    text(ax, (xs_out[-1] + 0.3, y_out + 0.05), r"$p(x_i\mid \mathbf{x}_{<i})$", size=9, ha="left")
    text(ax, (2.25, 3.2), r"$p_1$ has no inputs (its bias alone: $p(x_1)$); $x_4$ feeds nothing",
         size=8.5, color=GREY)
    # the two masks as grids
    def mask_grid(xy, rows, cols, allowed, title, axes):
        colors = [[INK if allowed(r, c) else PAPER for c in range(cols)] for r in range(rows)]
        grid(ax, xy, rows, cols, 0.17, colors, edge=GREY, lw=0.5)
        text(ax, (xy[0], xy[1] + rows * 0.17 / 2 + 0.22), title, size=8.5)
        text(ax, (xy[0], xy[1] - rows * 0.17 / 2 - 0.2), axes, size=7.5, color=GREY)

    mask_grid((6.45, 1.2), hidden, d, lambda r, c: deg_h[r] >= deg_in[c],
              "input to hidden\n" r"$m \geq j$", "rows: hidden $m$\ncolumns: input $j$")
    mask_grid((7.85, 1.35), d, hidden, lambda r, c: deg_in[r] > deg_h[c],
              "hidden to output\n" r"$i > m$", "rows: output $i$\ncolumns: hidden $m$")
    text(ax, (7.15, 0.12), "masks: black = weight kept", size=8, color=GREY)
    return fig


def _kernel(ax, xy, k, mask, cell, title):
    colors = [[PAST if mask[r][c] else PAPER for c in range(k)] for r in range(k)]
    colors[k // 2][k // 2] = CENTRE if not mask[k // 2][k // 2] else "#7FB8D6"
    grid(ax, xy, k, k, cell, colors, edge=GREY, lw=0.6)
    text(ax, (xy[0], xy[1] - k * cell / 2 - 0.2), title, size=8.5)


def pixelcnn():
    fig, ax = canvas(8.6, 3.5)
    # masks A and B, 5x5 and 3x3
    a = np.ones((5, 5), bool)
    a[3:] = False
    a[2, 2:] = False
    b = np.ones((3, 3), bool)
    b[2:] = False
    b[1, 2:] = False
    text(ax, (1.25, 3.25), "masked kernels (raster order)", size=9.5)
    _kernel(ax, (0.65, 2.2), 5, a, 0.17, "type A, first layer:\nhides the centre")
    _kernel(ax, (1.9, 2.2), 3, b, 0.17, "type B, later:\nlets it through")
    # the blind spot, computed: the input offsets that can reach the prediction through the
    # chapter's PixelCNN (a 5x5 type A layer, then 5 layers of 3x3 type B), at pixel (6, 1)
    size, r0, c0 = 8, 6, 1
    offsets = {(r - 2, c - 2) for r in range(5) for c in range(5) if a[r, c]}
    step_b = [(r - 1, c - 1) for r in range(3) for c in range(3) if b[r, c]]
    for _ in range(5):
        offsets = {(u + du, v + dv) for u, v in offsets for du, dv in step_b}
    seen = np.zeros((size, size), bool)
    for du, dv in offsets:
        if 0 <= r0 + du < size and 0 <= c0 + dv < size:
            seen[r0 + du, c0 + dv] = True
    past = np.array([[r < r0 or (r == r0 and c < c0) for c in range(size)] for r in range(size)])
    assert not (seen & ~past).any() and int((past & ~seen).sum()) == 10  # as the chapter measures
    colors = [[PAST if seen[r, c] else ("#D0D0D0" if past[r, c] else PAPER)
               for c in range(size)] for r in range(size)]
    colors[r0][c0] = CENTRE
    grid(ax, (4.0, 1.85), size, size, 0.24, colors, edge=GREY, lw=0.5)
    text(ax, (4.0, 3.25), "PixelCNN: what one prediction sees", size=9.5)
    text(ax, (4.0, 0.45), "5x5 type A, then five 3x3 type B layers\nred: predicted; blue: seen; "
         "grey: past, never seen\n(blind spot); white: future", size=8.5)
    # the gated PixelCNN: two stacks
    text(ax, (7.15, 3.25), "gated PixelCNN: two stacks", size=9.5)
    vx, hx, y = 6.4, 7.95, 2.4
    box(ax, (vx, y), 1.15, 0.6, "vertical stack:\nrows above", (PAST, "#4A9CC0"), size=8.5)
    box(ax, (hx, y), 1.2, 0.6, "horizontal stack:\nrow, to the left", ("#C7E8E1", TEAL), size=8.5)
    arrow(ax, (vx + 0.58, y), (hx - 0.6, y))
    text(ax, ((vx + hx) / 2 + 0.02, y + 0.45), "1x1 conv", size=8, color=GREY)
    for x in (vx, hx):
        op(ax, (x, y - 0.8), r"$\odot$")
        arrow(ax, (x, y - 0.31), (x, y - 0.66))
    text(ax, (7.15, 1.05), "a gated unit in each layer:\n"
         r"$\tanh(\mathbf{W}_f * \mathbf{h}) \odot \mathrm{sigmoid}(\mathbf{W}_g * \mathbf{h})$",
         size=8.5, color=WINE)
    text(ax, (7.15, 0.35), "together: every past pixel in reach,\nno blind spot", size=8.5)
    return fig


DIAGRAMS = [
    Diagram(
        name="ch05_made",
        draw=made,
        alt="A MADE on four inputs with one hidden layer of six units: inputs carry degrees 1 "
            "to 4, hidden units degrees 1 to 3, an input connects to a hidden unit when the "
            "unit's degree is at least the input's, and output i connects to hidden units of "
            "degree below i; beside it the two masks as black and white grids",
        caption="MADE's masks on four pixels. Every path from input j to output i climbs "
                "through degrees j, m, ... below i, so output i can only depend on the pixels "
                "before it, and one pass of the network gives all the conditionals at once.",
        after="which share the pixel's degree.",
    ),
    Diagram(
        name="ch05_pixelcnn",
        draw=pixelcnn,
        alt="Left: a 5 by 5 type A kernel mask and a 3 by 3 type B mask, keeping the rows "
            "above the centre and the centre row to its left. Middle: on an 8 by 8 grid, the "
            "past pixels a stacked PixelCNN uses for one prediction and the past pixels above "
            "and to its right that it never sees, the blind spot. Right: the gated "
            "PixelCNN's vertical stack, which sees the rows above, feeding the horizontal "
            "stack, which sees the row to the left, through a 1 by 1 convolution; each stack "
            "ends every layer in a gated unit",
        caption="Masked convolutions and the blind spot. A stack of masked kernels reaches "
                "one column further right for every row it goes up, so part of the past "
                "stays hidden; the gated PixelCNN's vertical stack reads whole rows above "
                "and passes them to the horizontal stack, which closes the gap. The "
                "measured maps below show the same for the chapter's networks.",
        after="the multiplicative interaction that the PixelRNN's LSTMs had and plain convolutions lack.",
    ),
]
