"""Chapter 3, generative adversarial networks: one round of the game with its two losses and
where their gradients go; the gradient field of the Dirac GAN, the smallest game that shows
why gradient steps circle an equilibrium or run away from it; and why a packed
discriminator sees a collapsed generator that an ordinary one cannot.

The Dirac GAN's field and trajectories are computed here, in numpy, from the chapter's game
V(D, G) and its R1 penalty; the toy points sit on the chapter's eight modes (a circle of
radius 2).
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Circle

from diagrams import Diagram
from diagrams.style import (DECODER, GREY, INDIGO, INK, LOSS, NETWORK, NOISE, PAPER, ROSE, TEAL,
                            WINE, arrow, box, canvas, digit_image, first_digit, gradient,
                            image, node, text, trapezoid)


def batch(ax, xy, indices, size: float = 0.42, gap: float = 0.06, noise: float = 0.0):
    """A few digits side by side, centred at ``xy``: a batch. With ``noise`` they stand for
    generated digits (the right shapes, rougher strokes)."""
    rng = np.random.default_rng(7)
    n = len(indices)
    for k, i in enumerate(indices):
        pixels = digit_image(i)
        if noise:
            pixels = np.clip(0.85 * pixels + noise * rng.standard_normal(pixels.shape), 0, 1)
        image(ax, (xy[0] + (k - (n - 1) / 2) * (size + gap), xy[1]), size, pixels)
    return n * size + (n - 1) * gap


# ---------------------------------------------------------------- 1. the two players

def two_players():
    fig, ax = canvas(8.6, 3.8)
    yr, yf, yd = 2.9, 1.0, 1.95  # real row, generated row, the discriminator
    # the generator's side
    node(ax, (0.4, yf), 0.26, r"$\mathbf{z}$", NOISE, dashed=True, size=11)
    text(ax, (0.4, yf - 0.46), r"$\mathcal{N}(\mathbf{0}, I)$", size=9)
    trapezoid(ax, (1.3, yf), 0.85, 0.45, 0.95, r"$G$", DECODER, size=12)
    arrow(ax, (0.68, yf), (0.87, yf))
    xg = 2.6
    wb = batch(ax, (xg, yf), [first_digit(d) for d in (5, 0, 3)], noise=0.12)
    arrow(ax, (1.74, yf), (xg - wb / 2 - 0.02, yf))
    text(ax, (xg, yf - 0.3), r"generated $G(\mathbf{z})$", size=9, va="top")
    # the data
    batch(ax, (xg, yr), [first_digit(d) for d in (7, 1, 2)])
    text(ax, (xg, yr + 0.3), r"real $\mathbf{x}\sim p_{\mathrm{data}}$", size=9, va="bottom")
    # the discriminator: a logit, then a probability of real
    xd, wd = 4.3, 1.05
    box(ax, (xd, yd), wd, 1.2, "", NETWORK)
    text(ax, (xd, yd + 0.22), r"$D$", size=13)
    text(ax, (xd, yd - 0.2), r"$\mathrm{sigmoid}(\ell)$", size=9)
    arrow(ax, (xg + wb / 2 + 0.05, yr - 0.1), (xd - wd / 2 - 0.02, yd + 0.33))
    arrow(ax, (xg + wb / 2 + 0.05, yf + 0.1), (xd - wd / 2 - 0.02, yd - 0.33))
    # the two losses, one per player, in the order adversarial_step takes them
    xl, wl = 7.35, 2.2
    box(ax, (xl, yr), wl, 0.86, "", LOSS)
    text(ax, (xl, yr + 0.25), r"1. $D$'s loss", size=9)
    text(ax, (xl, yr), r"$-\log D(\mathbf{x}) - \log(1 - D(G(\mathbf{z})))$", size=9)
    text(ax, (xl, yr - 0.25),
         r"+ R1 on real digits, $(\gamma/2)\Vert\nabla_{\mathbf{x}}\ell\Vert^2$", size=8.5,
         color=GREY)
    box(ax, (xl, yf), wl, 0.62, "", LOSS)
    text(ax, (xl, yf + 0.13), r"2. $G$'s loss (non-saturating)", size=9)
    text(ax, (xl, yf - 0.13), r"$-\log D(G(\mathbf{z}))$", size=9)
    arrow(ax, (xd + wd / 2 + 0.02, yd + 0.33), (xl - wl / 2 - 0.02, yr - 0.15))
    arrow(ax, (xd + wd / 2 + 0.02, yd - 0.33), (xl - wl / 2 - 0.02, yf + 0.05))
    text(ax, (5.78, 2.2), r"$D(\mathbf{x})$, $D(G(\mathbf{z}))$", size=9)
    text(ax, (5.55, 1.2), r"$D(G(\mathbf{z}))$", size=9, ha="right")
    # gradients: D's loss trains D only; G's loss flows back through D into G
    gradient(ax, (xl - 0.6, yr + 0.45), (xd + 0.15, yd + 0.62), rad=0.35)
    text(ax, (5.4, 3.62), r"trains $D$ only ($G(\mathbf{z})$ is detached)", size=8.5,
         color=WINE)
    gradient(ax, (xl - 0.6, yf - 0.33), (xd + 0.1, yd - 0.62), rad=-0.3)
    gradient(ax, (xd - 0.25, yd - 0.62), (xg + 0.3, yf - 0.55), rad=-0.2)
    gradient(ax, (xg - 0.75, yf - 0.45), (1.35, yf - 0.45), rad=-0.4)
    text(ax, (4.6, 0.16), r"flows back through $D$ into $G$; only $G$'s optimiser steps",
         size=8.5, color=WINE)
    return fig


# ---------------------------------------------------------------- 2. the Dirac GAN

def sigmoid(u):
    return 1.0 / (1.0 + np.exp(-u))


def field(theta, omega, gamma: float = 0.0):
    """The directions of gradient steps on V for G (theta, descent) and D (omega, ascent),
    with data at 0, G's samples at theta and D's logit l(x) = omega x; R1 adds -gamma omega."""
    s = sigmoid(omega * theta)
    return s * omega, -s * theta - gamma * omega


def steps(start, h: float, n: int, gamma: float = 0.0, simultaneous: bool = True):
    """n gradient steps of size h: both players at once, or D first and then G (in turns)."""
    theta, omega = start
    path = [(theta, omega)]
    for _ in range(n):
        d_theta, d_omega = field(theta, omega, gamma)
        omega = omega + h * d_omega
        if not simultaneous:
            d_theta, _ = field(theta, omega, gamma)  # G answers D's new slope
        theta = theta + h * d_theta
        path.append((theta, omega))
    return np.array(path)


def phase_plane(fig, rect, gamma, paths, title):
    """One panel: the field as streamlines, and trajectories of gradient steps over it."""
    ax = fig.add_axes(rect)
    g = np.linspace(-2.2, 2.2, 40)
    T, P = np.meshgrid(g, g)
    U, W = field(T, P, gamma)
    ax.streamplot(T, P, U, W, color="#C8C8C8", density=0.7, linewidth=0.8, arrowsize=0.8)
    for path, color, label, at in paths:
        ax.plot(path[:, 0], path[:, 1], color=color, lw=1.4)
        ax.plot(*path[0], "o", ms=4.5, mfc=PAPER, mec=color, mew=1.3)
        ax.text(*at, label, color=color, fontsize=8.5, ha="center", va="center",
                bbox=dict(facecolor=PAPER, edgecolor="none", pad=1.0), zorder=4)
    ax.plot(0, 0, "*", ms=9, color=INK, zorder=5)
    ax.set_xlim(-2.2, 2.2)
    ax.set_ylim(-2.2, 2.2)
    ax.set_aspect("equal")
    ax.set_xticks([-2, -1, 0, 1, 2])
    ax.set_yticks([-2, -1, 0, 1, 2])
    ax.tick_params(labelsize=8, length=2.5, color=GREY, labelcolor=GREY)
    for spine in ax.spines.values():
        spine.set_color("#BBBBBB")
    ax.set_xlabel(r"$\theta$ (where $G$ puts its samples)", fontsize=8.5, color=INK, labelpad=2)
    ax.set_ylabel(r"$\omega$ (slope of $D$'s logit)", fontsize=8.5, color=INK, labelpad=1)
    ax.set_title(title, fontsize=9, color=INK, pad=4)
    return ax


def dirac():
    fig, ax = canvas(8.6, 3.4)
    # left: the game in one dimension
    y0, x0, xt = 1.35, 0.8, 1.6  # the x axis, and where 0 and theta are on it
    ax.plot([0.15, 2.15], [y0, y0], color=GREY, lw=0.9)
    text(ax, (2.2, y0), r"$x$", size=9, color=GREY, ha="left")
    omega = 0.55
    xl = np.array([0.2, 2.1])
    ax.plot(xl, y0 + omega * (xl - x0), color=NETWORK[1], lw=1.6)
    text(ax, (1.95, y0 + omega * (1.95 - x0) + 0.22), r"$\ell(x) = \omega x$", size=9,
         color=NETWORK[1])
    ax.plot([x0], [y0], "o", ms=7, color=INK, zorder=4)
    text(ax, (x0, y0 - 0.3), "data\nat 0", size=8.5, va="top")
    ax.plot([xt], [y0], "o", ms=7, color=INDIGO, zorder=4)
    text(ax, (xt, y0 - 0.3), r"$G$ at $\theta$", size=8.5, va="top", color=INDIGO)
    arrow(ax, (xt - 0.05, y0 + 0.16), (xt + 0.35, y0 + 0.16), color=INDIGO, lw=1.1, shrink=0)
    text(ax, (1.15, 3.12), "the Dirac GAN", size=9.5)
    ax.plot([0.3], [0.35], "*", ms=9, color=INK)
    text(ax, (0.45, 0.35), r"equilibrium $\theta = \omega = 0$:" "\n" r"$G$ on the data, $D$ flat",
         size=8.5, ha="left")
    text(ax, (1.15, 2.7), r"$G$ moves uphill on $\ell$;" "\n" r"$D$ tilts $\ell$ down at $\theta$",
         size=8.5, color=GREY, va="top")
    # middle and right: the field of gradient steps, without and with R1
    h, start = 0.3, (1.0, 0.0)
    sim = steps(start, h, 85, simultaneous=True)
    alt = steps(start, h, 75, simultaneous=False)
    r1 = steps(start, h, 60, gamma=1.0, simultaneous=False)
    w, hgt, bottom = 2.45 / 8.6, 2.45 / 3.4, 0.55 / 3.4
    phase_plane(fig, (3.05 / 8.6, bottom, w, hgt), 0.0,
                [(sim, ROSE, "both at once", (0.0, -1.95)),
                 (alt, TEAL, "in turns", (0.0, 0.55))],
                "the bare game")
    phase_plane(fig, (6.05 / 8.6, bottom, w, hgt), 1.0,
                [(r1, TEAL, "in turns", (1.25, 0.45))],
                r"with the R1 penalty, $\gamma = 1$")
    return fig


# ---------------------------------------------------------------- 3. packing

MODES = 2.0 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)


def ring(ax, xy, points, color, r: float = 0.4):
    """The toy data's eight modes on a circle (faint), with some points drawn on it."""
    scale = r / 2.0
    for m in MODES:
        ax.add_patch(Circle((xy[0] + scale * m[0], xy[1] + scale * m[1]), 0.055,
                            facecolor="#E4E4E4", edgecolor="#BBBBBB", lw=0.6, zorder=1))
    for p in points:
        ax.plot(xy[0] + scale * p[0], xy[1] + scale * p[1], "o", ms=4.2, color=color, zorder=3)


def packing():
    fig, ax = canvas(8.6, 3.7)
    rng = np.random.default_rng(3)
    clump = MODES[0] + np.array([[-0.2, 0.16], [0.18, 0.2], [-0.16, -0.2], [0.22, -0.14]])
    rows = [
        (2.55, "standard $D$: one point at a time", [MODES[2]], MODES[:1], "2 numbers in",
         "each point alone could be real:\na collapsed $G$ fools $D$"),
        (0.85, "packed $D$ (PacGAN): a pack of four points at a time", MODES[[1, 3, 4, 6]], clump,
         "8 numbers in", "four points in one spot never\noccur in real data: caught"),
    ]
    xr, xf, xd, r = 0.75, 2.35, 4.45, 0.5
    for y, title, real, fake, inputs, verdict in rows:
        text(ax, (0.1, y + 0.85), title, size=9.5, ha="left")
        ring(ax, (xr, y), real + 0.02 * rng.standard_normal(np.shape(real)), INK, r=r)
        ring(ax, (xf, y), fake, INDIGO, r=r)
        text(ax, (xr, y - 0.68), "real", size=8.5)
        text(ax, (xf, y - 0.68), "generated", size=8.5, color=INDIGO)
        box(ax, (xd, y), 1.05, 0.62, "", NETWORK)
        text(ax, (xd, y + 0.11), "$D$", size=11)
        text(ax, (xd, y - 0.15), inputs, size=8.5)
        arrow(ax, (xr + 0.2, y + 0.58), (xd - 0.55, y + 0.18), rad=-0.2)
        arrow(ax, (xf + 0.65, y - 0.05), (xd - 0.55, y - 0.08))
        arrow(ax, (xd + 0.55, y), (xd + 0.9, y))
        text(ax, (xd + 1.0, y), verdict, size=9, ha="left")
    return fig


DIAGRAMS = [
    Diagram(
        name="ch03_two_players",
        draw=two_players,
        alt="Noise z goes through the generator G to a batch of generated digits; real digits "
            "and generated digits both enter the discriminator D, whose logit gives the "
            "probability of real. Two loss boxes follow: D's loss, whose dashed gradient goes "
            "back into D only, and G's non-saturating loss, whose dashed gradient runs back "
            "through D and the generated digits into G",
        caption="One round of the game, as `adversarial_step` plays it. The discriminator's loss "
                "trains $D$ alone, on real digits and on generated ones with the generator "
                "detached; the generator's loss is backpropagated through $D$ into $G$, but "
                "only $G$'s optimiser takes a step.",
        after="refuses to resume when a setting changed).",
    ),
    Diagram(
        name="ch03_dirac_gan",
        draw=dirac,
        alt="Left: a one-dimensional game with the data at 0, the generator's samples all at "
            "theta and a discriminator logit that is a line of slope omega. Middle: the gradient "
            "field of this game in the theta-omega plane circles the equilibrium at the origin; "
            "steps taken by both players at once spiral outwards, steps taken in turns circle "
            "it. Right: with the R1 penalty the field spirals inwards and steps taken in turns "
            "reach the equilibrium",
        caption="The Dirac GAN, the smallest example of the R1 paper: data at 0, a generator that "
                "puts all its samples at $\\theta$, a discriminator logit "
                "$\\ell(x) = \\omega x$, and gradient steps (size 0.3) on the game $V(D, G)$. "
                "Without help the field circles the equilibrium $(0, 0)$: steps taken in turns "
                "circle it and steps taken at once run away from it. The R1 penalty, here "
                "$(\\gamma/2)\\,\\omega^2$, bends the field into the equilibrium, and the same "
                "steps converge.",
        after="over the remaining oscillation.",
    ),
    Diagram(
        name="ch03_packing",
        draw=packing,
        alt="Two rows on the eight-Gaussian toy data. Top: a standard discriminator judges one "
            "point at a time, and a generated point sitting on a mode looks as real as a data "
            "point. Bottom: a packed discriminator judges four points at once, eight numbers; "
            "four real points fall on different modes while four generated points sit in one "
            "spot, which real data never produce",
        caption="Why packing counters mode collapse. One point from a generator that has "
                "collapsed onto a single spot can look as real as a data point; four of them "
                "together, concatenated into one input of $D$, cannot, because four real points "
                "are almost never in the same place.",
        after="no R1 penalty, to show the bare game.",
    ),
]
