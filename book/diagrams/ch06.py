"""Chapter 6, Transformers: attention as a weighted average, multi-head attention, the
pre-LN GPT, and the causal mask with the key-value cache.

Keys, queries and values are drawn as strips of small cells (one cell per coordinate),
shaded by their values; characters of the corpus are tokens in thin grey frames, the
book's glyph for data. Every attention weight shown is computed here, in numpy, from the
vectors the drawing states (illustrative ones, not the trained model's).
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from matplotlib.patches import FancyBboxPatch, Rectangle

from diagrams import Diagram
from diagrams.style import (GREY, INK, LIGHT, LOSS, NETWORK, PAPER, PURPLE, TEAL, arrow, box,
                            canvas, grid, op, text)

VALUES = "RdBu"  # the colour map of the chapter's own plot of position vectors
HEADS = (NETWORK[1], TEAL, "#C4A93C", PURPLE)  # one colour per head
NEUTRAL_BOX = (PAPER, GREY)  # a LayerNorm: a small white box
MASKED = "#BBBBBB"  # a masked score: -inf before the softmax, weight 0


def softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def tint(color: str, amount: float) -> tuple:
    """``color`` mixed with white: amount 0 is white, 1 the colour itself."""
    c = np.array(to_rgb(color))
    return tuple(1 - amount * (1 - c))


def char(ax, xy, ch: str, s: float = 0.36, size: float = 11, edge: str = GREY, lw: float = 1.0):
    """A token of the text: one character in a thin grey frame (a space drawn as an open box)."""
    ax.add_patch(Rectangle((xy[0] - s / 2, xy[1] - s / 2), s, s, facecolor=PAPER,
                           edgecolor=edge, lw=lw, zorder=3))
    text(ax, xy, {" ": "\u2423", "\n": "\u21b5"}.get(ch, ch), size=size, family="monospace",
         zorder=4)


def strip(ax, xy, values, cell: float = 0.13, vmax: float = 1.0, edge: str = GREY,
          numbers: bool = False, lw: float = 0.7):
    """A vector as a strip of cells shaded by value (red negative, blue positive), centred at xy."""
    cmap = colormaps[VALUES]
    n = len(values)
    for i, v in enumerate(values):
        x, y = xy[0] - n * cell / 2 + i * cell, xy[1] - cell / 2
        face = cmap(0.5 + 0.5 * np.clip(v / vmax, -1, 1) * 0.8)
        ax.add_patch(Rectangle((x, y), cell, cell, facecolor=face, edgecolor=edge, lw=lw,
                               zorder=3))
        if numbers:
            text(ax, (x + cell / 2, y + cell / 2), f"{v:g}", size=8,
                 color=PAPER if abs(v) / vmax > 0.6 else INK, zorder=4)


def frame(ax, x0, y0, x1, y1, color=GREY, dashed=True, lw=1.0, radius=0.1):
    """A thin rounded outline around a group of shapes."""
    ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0,
                                boxstyle=f"round,pad=0,rounding_size={radius}", fill=False,
                                edgecolor=color, lw=lw,
                                linestyle=(0, (4, 3)) if dashed else "-", zorder=1))


# ---------------------------------------------------------------- 1. attention, one query

PHRASE = "my lord"


def key_of(ch: str) -> np.ndarray:
    """An illustrative key: which of the four kinds of character this is (one-hot, d = 4)."""
    kind = 0 if ch == " " else 1 if ch in "aeiou" else 2 if ch.isalpha() else 3
    return np.eye(4)[kind]


QUERY = np.array([4.0, 1.0, 0.0, 0.0])  # asks for a space, a little for a vowel


def one_query():
    fig, ax = canvas(8.6, 3.9)
    keys = np.stack([key_of(c) for c in PHRASE])
    scores = keys @ QUERY / np.sqrt(4)
    weights = softmax(scores)
    values = np.random.default_rng(6).uniform(-1, 1, (len(PHRASE), 4))
    out = weights @ values
    xs = 1.8 + 0.78 * np.arange(len(PHRASE))
    y_tok, y_key, y_score, y_bar, y_val = 0.32, 1.06, 1.4, 1.62, 2.85
    bar_scale = 0.78 / weights.max()
    # the rows, named at the left
    for y, name in ((y_tok, "characters"), (y_key + 0.06, r"keys $\mathbf{k}_j$ ($d = 4$)"),
                    (y_score, "scores"), (y_bar + 0.3, r"weights $a_{ij}$"),
                    (y_val, r"values $\mathbf{v}_j$")):
        text(ax, (0.12, y), name, size=9, ha="left")
    text(ax, (0.12, y_key - 0.14), "(space, vowel,\nconsonant, other)", size=8, color=GREY,
         ha="left", va="top")
    for j, (x, c) in enumerate(zip(xs, PHRASE)):
        last = j == len(PHRASE) - 1
        char(ax, (x, y_tok), c, edge=INK if last else GREY, lw=1.6 if last else 1.0)
        strip(ax, (x, y_key), keys[j], cell=0.15, numbers=True)
        text(ax, (x, y_score), f"{scores[j]:.1f}", size=8.5, color=GREY)
        h = weights[j] * bar_scale
        ax.add_patch(Rectangle((x - 0.17, y_bar), 0.34, h, facecolor=NETWORK[0],
                               edgecolor=NETWORK[1], lw=1.0, zorder=2))
        text(ax, (x, y_bar + h + 0.12), f"{weights[j]:.2f}", size=8.5)
        strip(ax, (x, y_val), values[j], cell=0.15)
    ax.plot([xs[0] - 0.3, xs[-1] + 0.3], [y_bar, y_bar], color=GREY, lw=0.8)
    # the weighted sum: arrows as wide as the weights
    s = (xs.mean(), 3.58)
    op(ax, s, r"$\Sigma$", r=0.16)
    for x, a in zip(xs, weights):
        arrow(ax, (x, y_val + 0.09), (s[0] + (x - s[0]) * 0.06, s[1] - 0.15), color=NETWORK[1],
              lw=0.6 + 9 * a, style="-", shrink=0)
    text(ax, (0.12, s[1] + 0.05), r"each value weighted by $a_{ij}$" "\n(arrow widths)", size=9,
         ha="left", color=GREY)
    x_out = s[0] + 1.0
    strip(ax, (x_out, s[1]), out, cell=0.15, edge=INK)
    arrow(ax, (s[0] + 0.17, s[1]), (x_out - 0.33, s[1]))
    text(ax, (x_out + 0.42, s[1]),
         r"$\operatorname{attn}(\mathbf{q}_i) = \sum_j a_{ij}\,\mathbf{v}_j$", size=10,
         ha="left")
    # the query of the last character, on the right
    xq = 7.85
    strip(ax, (xq, y_key), QUERY, cell=0.15, vmax=4, numbers=True, edge=INK)
    text(ax, (xq + 0.22, y_key - 0.16), "query $\\mathbf{q}_i$\nof the last\ncharacter", size=9,
         va="top")
    arrow(ax, (xs[-1] + 0.2, y_tok - 0.05), (xq - 0.33, y_key - 0.02), rad=0.3)
    arrow(ax, (xq - 0.3, y_key + 0.1), (xs[-1] + 0.35, y_score), color=GREY)
    text(ax, (xq + 0.05, y_score + 0.1), r"$\mathbf{q}_i^\top\mathbf{k}_j/\sqrt{d}$", size=9.5,
         color=GREY)
    text(ax, (xq, y_bar + 0.45), "softmax over $j$:\nthe weights\nsum to 1", size=9)
    return fig


# ---------------------------------------------------------------- 2. multi-head attention

def multi_head():
    fig, ax = canvas(8.6, 3.6)
    T = 6
    rng = np.random.default_rng(2)
    lane_y = [2.65, 1.92, 1.19, 0.46]
    mh = 0.5  # the height of a matrix of T rows
    yc = float(np.mean(lane_y))
    # the input, T x C, and one projection to the queries, keys and values of all heads
    ax.add_patch(Rectangle((0.3, yc - mh / 2), 0.56, mh, facecolor=LIGHT, edgecolor=GREY, lw=1))
    text(ax, (0.58, yc + mh / 2 + 0.2), r"$\mathrm{LN}(\mathbf{h})$", size=10)
    text(ax, (0.58, yc - mh / 2 - 0.17), r"$T \times C$", size=9, color=GREY)
    box(ax, (1.45, yc), 0.68, 0.9, "linear\n$C \\to 3C$", NETWORK, size=9)
    arrow(ax, (0.9, yc), (1.1, yc))
    text(ax, (1.45, yc - 0.6), "queries, keys,\nvalues", size=8.5, color=GREY, va="top")
    x_qkv = [2.5, 2.71, 2.92]
    x_grid, x_out, x_cat = 4.05, 5.4, 6.2
    cell = mh / T
    y_head = lane_y[0] + mh / 2 + 0.16
    for h, (y, color) in enumerate(zip(lane_y, HEADS)):
        arrow(ax, (1.8, yc + (y - yc) * 0.25), (2.4, y), shrink=1)
        for x, name in zip(x_qkv, "QKV"):
            ax.add_patch(Rectangle((x - 0.07, y - mh / 2), 0.14, mh, facecolor=tint(color, 0.6),
                                   edgecolor=GREY, lw=0.8))
            if h == 0:
                text(ax, (x, y_head), f"${name}_h$", size=9.5)
        text(ax, (x_qkv[1], y - mh / 2 - 0.1), f"head {h + 1}", size=8, color=GREY)
        # this head's causal attention weights, from its own (random) queries and keys
        q, k = rng.standard_normal((2, T, 8))
        sc = q @ k.T / np.sqrt(8)
        sc[np.triu_indices(T, 1)] = -np.inf
        a = softmax(sc)
        colors = [[MASKED if j > i else tint(color, 0.08 + 0.92 * a[i, j] / a[i].max())
                   for j in range(T)] for i in range(T)]
        arrow(ax, (3.03, y), (x_grid - mh / 2 - 0.04, y), shrink=1)
        grid(ax, (x_grid, y), T, T, cell, colors, edge=PAPER, lw=0.5)
        ax.add_patch(Rectangle((x_grid - mh / 2, y - mh / 2), mh, mh, fill=False,
                               edgecolor=GREY, lw=0.8))
        arrow(ax, (x_grid + mh / 2 + 0.04, y), (x_out - 0.1, y), shrink=1)
        ax.add_patch(Rectangle((x_out - 0.07, y - mh / 2), 0.14, mh, facecolor=tint(color, 0.6),
                               edgecolor=GREY, lw=0.8))
        # into its own d columns of the concatenation
        xc = x_cat + (h - 1.5) * 0.14
        arrow(ax, (x_out + 0.09, y), (xc, yc + mh / 2 if y > yc else yc - mh / 2),
              shrink=2, color=GREY, lw=1.0)
    text(ax, (x_grid, y_head), r"$\mathrm{softmax}(Q_h K_h^\top/\sqrt{d}$ + mask)", size=9.5)
    text(ax, (x_out, y_head), r"$\cdot\, V_h$", size=9.5)
    text(ax, (x_grid, lane_y[-1] - mh / 2 - 0.1), "grey: $j > i$, masked", size=8, color=GREY)
    # concatenated: T x C again, d columns per head; then the output projection
    for h, color in enumerate(HEADS):
        ax.add_patch(Rectangle((x_cat + (h - 2) * 0.14, yc - mh / 2), 0.14, mh,
                               facecolor=tint(color, 0.6), edgecolor=GREY, lw=0.8))
    box(ax, (7.15, yc), 0.64, 0.9, "linear\n$C \\to C$", NETWORK, size=9)
    text(ax, (x_cat + 0.45, yc - 0.62), "concatenated,\n$T \\times C$", size=8.5, color=GREY,
         va="top")
    arrow(ax, (x_cat + 0.3, yc), (6.82, yc))
    arrow(ax, (7.48, yc), (7.72, yc))
    text(ax, (7.76, yc), "added to\nthe residual\nstream $\\mathbf{h}$", size=9, ha="left")
    text(ax, (1.3, 3.35), r"one linear layer, then the width $C$ is split into $H$ heads of "
         r"$d = C/H$ columns (here $H = 4$)", size=9, ha="left")
    return fig


# ---------------------------------------------------------------- 3. the GPT, pre-LN blocks

def gpt():
    fig, ax = canvas(8.6, 3.5)
    y = 1.2  # the residual stream
    yb = 2.2  # the sub-layers above it
    # a window of characters, and the token embedding
    for n, c in enumerate("ROMEO"):
        char(ax, (0.42, y + 0.52 - 0.26 * n), c, s=0.24, size=9)
    text(ax, (0.42, y + 0.98), "a window,\n$T$ characters", size=8.5, color=GREY)
    box(ax, (1.08, y), 0.8, 0.62, "token\nembedding", NETWORK, size=8.5)
    arrow(ax, (0.56, y), (0.68, y), shrink=0)
    # the stream: an unbroken identity path from the embedding to the final LayerNorm
    ax.plot([1.42, 6.35], [y, y], color=INK, lw=2.2, solid_capstyle="butt", zorder=1)
    text(ax, (1.62, y - 0.2), r"$\mathbf{h}$", size=10)
    frame(ax, 1.85, 0.62, 6.05, 3.05)
    text(ax, (3.95, 3.28), r"pre-LN block, repeated $L$ times ($L = 2$ in the quick profile)",
         size=9)

    def branch(x0, x_net, w_net, label, x_add):
        """Read the stream at x0, normalize, transform, add back at x_add."""
        ax.plot([x0, x0], [y, yb - 0.22], color=INK, lw=1.2, zorder=1)
        arrow(ax, (x0, yb - 0.35), (x0, yb - 0.2), shrink=0)
        box(ax, (x0, yb), 0.42, 0.4, "LN", NEUTRAL_BOX, size=9)
        arrow(ax, (x0 + 0.21, yb), (x_net - w_net / 2, yb), shrink=1)
        box(ax, (x_net, yb), w_net, 0.9, label, NETWORK, size=8.5)
        ax.plot([x_net + w_net / 2, x_add, x_add], [yb, yb, y + 0.35], color=INK, lw=1.2,
                zorder=1)
        arrow(ax, (x_add, y + 0.4), (x_add, y + 0.13), shrink=0)
        op(ax, (x_add, y), "+")

    branch(2.15, 3.2, 1.3, "causal\nmulti-head\nattention", 4.05)
    text(ax, (3.2, yb - 0.6), "rotary positions\nrotate $\\mathbf{q}$ and $\\mathbf{k}$",
         size=8, color=GREY, va="top")
    branch(4.4, 5.15, 0.85, "MLP\n$C \\to 4C \\to C$\nGELU", 5.8)
    text(ax, (3.95, 0.82), "the residual stream: an identity path through every block",
         size=8.5, color=GREY)
    # after the last block: final LayerNorm, the head (tied to the embedding), the loss
    box(ax, (6.55, y), 0.42, 0.4, "LN", NEUTRAL_BOX, size=9)
    box(ax, (7.42, y), 0.8, 0.62, "linear\nhead", NETWORK, size=8.5)
    arrow(ax, (6.77, y), (7.0, y))
    arrow(ax, (7.42, y + 0.33), (7.42, yb - 0.32))
    text(ax, (7.42, yb), "softmax of the logits:\n" r"$p_\theta(x_t \mid x_{<t})$ at every $t$",
         size=8.5)
    box(ax, (7.42, 3.02), 1.75, 0.56,
        "loss: the mean over $t$ of\n" r"$-\log p_\theta(x_t \mid x_{<t})$", LOSS, size=9)
    arrow(ax, (7.42, yb + 0.3), (7.42, 2.72))
    # weight tying: the head's weight matrix is the embedding's
    ax.plot([1.08, 1.08], [y - 0.32, 0.3], color=GREY, lw=1.0, ls=(0, (3, 2)))
    ax.plot([7.42, 7.42], [y - 0.32, 0.3], color=GREY, lw=1.0, ls=(0, (3, 2)))
    ax.plot([1.08, 7.42], [0.3, 0.3], color=GREY, lw=1.0, ls=(0, (3, 2)))
    text(ax, (4.25, 0.3), " one weight matrix, shared (weight tying) ", size=8.5, color=GREY,
         backgroundcolor=PAPER)
    return fig


# ---------------------------------------------------------------- 4. the mask and the cache

WORD = "ROMEO:"


def mask_and_cache():
    fig, ax = canvas(8.6, 3.6)
    T = len(WORD)
    q, k = np.random.default_rng(0).standard_normal((2, T, 8))
    sc = q @ k.T / np.sqrt(8)
    sc[np.triu_indices(T, 1)] = -np.inf
    a = softmax(sc)
    # left: training, all T rows of the masked T x T weights at once
    cell, gx, gy = 0.34, 1.75, 1.55
    colors = [[MASKED if j > i else tint(NETWORK[1], 0.08 + 0.92 * a[i, j]) for j in range(T)]
              for i in range(T)]
    x0, y0 = grid(ax, (gx, gy), T, T, cell, colors, edge=PAPER, lw=1.0)
    for n, c in enumerate(WORD):
        char(ax, (x0 + (n + 0.5) * cell, y0 + 0.2), c, s=0.24, size=9, edge=LIGHT)
        char(ax, (x0 - 0.2, y0 - (n + 0.5) * cell), c, s=0.24, size=9, edge=LIGHT)
    text(ax, (gx, y0 + 0.48), r"keys $\mathbf{k}_j$", size=9.5)
    text(ax, (x0 - 0.5, gy), r"queries $\mathbf{q}_i$", size=9.5, rotation=90)
    text(ax, (gx, 3.35), "training: all $T$ rows at once", size=10)
    text(ax, (gx, y0 - T * cell - 0.22), r"grey: $j > i$, $-\infty$ before the softmax",
         size=8.5, color=GREY)
    row = 4  # the row of step t = 5
    ax.add_patch(Rectangle((x0, y0 - (row + 1) * cell), T * cell, cell, fill=False,
                           edgecolor=INK, lw=1.8, zorder=4))
    # right: generation, one new token per step; its key and value join the cache
    steps = (4, 5, 6)
    ys = (2.58, 1.68, 0.78)
    c0, cw = 5.75, 0.34  # the cache's first column, and the width of a column
    text(ax, (6.05, 3.35), "generation with the key-value cache", size=10)
    for t, y in zip(steps, ys):
        text(ax, (3.75, y), f"$t = {t}$", size=9.5)
        char(ax, (4.35, y), WORD[t - 1], s=0.32, edge=INK, lw=1.4)
        arrow(ax, (4.53, y + 0.1), (c0 - 0.04, y + 0.17), shrink=0)
        text(ax, (5.05, y + 0.3), r"$\mathbf{q}_t$", size=9.5)
        for j in range(t):
            new = j == t - 1
            face = tint(NETWORK[1], 0.45) if new else LIGHT
            for dy, name in ((0.17, "k"), (-0.17, "v")):
                ax.add_patch(Rectangle((c0 + j * cw, y + dy - 0.15), cw - 0.04, 0.3,
                                       facecolor=face, edgecolor=INK if new else GREY,
                                       lw=1.3 if new else 0.8))
                text(ax, (c0 + j * cw + cw / 2 - 0.02, y + dy),
                     rf"$\mathbf{{{name}}}_{{{j + 1}}}$", size=8.5)
        text(ax, (c0 + t * cw + 0.1, y), f"{t} keys,\n{t} values", size=8.5, color=GREY,
             ha="left")
    text(ax, (c0 + 1.5 * cw, ys[0] + 0.47), "stored", size=8.5, color=GREY)
    text(ax, (c0 + 3.5 * cw, ys[0] + 0.47), "new", size=8.5)
    # step t computes row t of the grid, over the cache alone: nothing to mask
    arrow(ax, (x0 + T * cell + 0.08, y0 - (row + 0.5) * cell), (3.5, ys[1] - 0.05),
          color=GREY, rad=0.15)
    text(ax, (6.1, 0.2), "step $t$ computes row $t$ of the grid; every cached key lies in "
         "its past: no mask", size=8.5, color=GREY)
    return fig


DIAGRAMS = [
    Diagram(
        name="ch06_attention",
        draw=one_query,
        alt="The seven characters of my lord, each with a key and a value vector; the query of "
            "the last character is compared with every key, the softmax turns the scores into "
            "weights drawn as bars (0.53 on the space), and the output is the sum of the values "
            "weighted by them",
        caption="Attention as a soft dictionary lookup, with illustrative vectors ($d = 4$): "
                "each key says what kind of character its position holds, and the query of "
                "the last character asks for a space. The softmax of the scaled scores gives "
                "weights that sum to 1, and the output is the values' average under those "
                "weights, pulled towards the value of the space.",
        after="matching key.",
    ),
    Diagram(
        name="ch06_multihead",
        draw=multi_head,
        alt="Multi-head attention: the normalized input of T positions by C numbers is "
            "projected to queries, keys and values, split into four heads of width d = C/H, "
            "each head computes its own causally masked T by T attention weights and its "
            "output, and the four outputs are concatenated and projected back to width C",
        caption="Multi-head attention as the chapter's model computes it (quick profile: "
                "$C = 128$, $H = 4$, $d = 32$): one linear layer makes every head's queries, "
                "keys and values, and each head averages its own way, with its own "
                "$T \\times T$ weights (drawn here from random queries and keys) whose upper "
                "triangle the causal mask sets to 0. The heads' outputs are concatenated and "
                "projected back to width $C$.",
        after="which the model uses.",
    ),
    Diagram(
        name="ch06_gpt",
        draw=gpt,
        alt="The GPT: characters pass through the token embedding into the residual stream; "
            "each block reads the stream through a LayerNorm into causal multi-head attention "
            "and adds the result back, then through a second LayerNorm into the MLP and adds "
            "that back; a final LayerNorm and a linear head, which shares its weights with "
            "the embedding, give next-character probabilities and the loss",
        caption="The chapter's GPT. Each block reads a normalized copy of the residual stream "
                "and adds its result back (pre-LN), so the stream itself passes from the "
                "embedding to the final LayerNorm untouched by any normalization; positions "
                "enter only inside attention, by rotating queries and keys. The head reuses "
                "the embedding's matrix, and all $T$ next-character predictions of a window "
                "come out of one pass.",
        after="one parallel forward pass.",
    ),
    Diagram(
        name="ch06_cache",
        draw=mask_and_cache,
        alt="Left: the six by six attention weights of the characters ROMEO colon, with the "
            "upper triangle, the future, greyed out by the causal mask. Right: generation "
            "steps 4, 5 and 6, where the new character's query meets a cache of keys and "
            "values that grows by one column per step; step 5 computes row 5 of the grid",
        caption="The causal mask and the key-value cache (weights from random queries and "
                "keys). In training, one pass computes all $T$ rows of the masked weights; in "
                "generation, each step runs only the new token, whose key and value are "
                "appended to the cache (in every layer) and whose query attends to all of "
                "it: the same weights as row $t$ of the masked grid, without recomputing the "
                "earlier tokens.",
        after="used for fast generation later.",
    ),
]
