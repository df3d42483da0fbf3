"""Chapter 2, variational autoencoders: the latent-variable model with its encoder, the gap
between the ELBO and the log-likelihood, and the reparameterization trick.

The densities of the first two drawings are computed here, in numpy: an illustrative
posterior over a two-dimensional code, and the chapter's own one-dimensional toy model
(prior N(0, 1), x | z ~ N(z, 0.5^2), observed at x = 1.5), whose ELBO and KL are exact.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import FancyBboxPatch, Rectangle

from diagrams import Diagram
from diagrams.style import (DECODER, ENCODER, GREY, INDIGO, INK, LATENT, LOSS, NOISE, PAPER,
                            TEAL, WINE, arrow, box, canvas, digit, first_digit, gradient,
                            node, op, text, trapezoid)

POSTERIOR = INK  # the true posterior p_theta(z | x): solid dark contours


def dot(ax, xy, label: str, side: str = "left", size: float = 10):
    """A parameter of the model (theta, phi) as a small filled dot with its name beside it."""
    ax.plot(*xy, "o", ms=5, color=INK, zorder=4)
    dx = -0.13 if side == "left" else 0.13
    text(ax, (xy[0] + dx, xy[1]), label, size=size, ha="right" if side == "left" else "left")


def plate(ax, x0, y0, x1, y1, label: str):
    """A plate: what it holds is repeated once per data point."""
    ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0,
                                boxstyle="round,pad=0,rounding_size=0.1", fill=False,
                                edgecolor=GREY, lw=1.1, zorder=1))
    text(ax, (x1 - 0.1, y0 + 0.17), label, size=8.5, color=GREY, ha="right")


# ---------------------------------------------------------------- 1. the model and its encoder

def banana(z1, z2):
    """An illustrative true posterior over a 2-D code: curved, so no Gaussian fits it exactly."""
    u, v = z1 - 0.9, z2 - 0.55
    return np.exp(-0.5 * (u / 0.42) ** 2 - 0.5 * ((v + 0.9 * u ** 2 - 0.08) / 0.17) ** 2)


def latent_model():
    fig, ax = canvas(8.6, 3.2)
    # left: the graphical model, with a plate over the data set
    yz = yx = 1.45
    xz, xx = 1.45, 3.05
    plate(ax, 0.85, 0.3, 3.75, 2.55, r"one pair per digit of $\mathcal{D}$")
    node(ax, (xz, yz), 0.3, r"$\mathbf{z}$", LATENT, size=12)
    text(ax, (xz, yz + 0.55), r"$p(\mathbf{z}) = \mathcal{N}(\mathbf{0}, I)$", size=9)
    digit(ax, (xx, yx), 0.62, first_digit(2))
    text(ax, (xx + 0.5, yx), r"$\mathbf{x}$", size=12)
    arrow(ax, (xz + 0.32, yz + 0.08), (xx - 0.35, yx + 0.08), lw=1.5)
    text(ax, ((xz + xx) / 2, yz + 0.27), r"$p_\theta(\mathbf{x}\mid\mathbf{z})$", size=9.5,
         color=INDIGO)
    arrow(ax, (xx - 0.35, yx - 0.22), (xz + 0.24, yz - 0.22), color=TEAL, dashed=True, rad=-0.35)
    text(ax, ((xz + xx) / 2, yz - 0.73), r"$q_\phi(\mathbf{z}\mid\mathbf{x})$", size=9.5,
         color=TEAL)
    # the global parameters, outside the plate
    dot(ax, (xx, 2.95), r"$\theta$", side="right")
    arrow(ax, (xx, 2.9), (xx, yx + 0.35), color=INDIGO)
    dot(ax, (0.45, 0.75), r"$\phi$", side="left")
    arrow(ax, (0.5, 0.78), (xz - 0.27, yz - 0.15), color=TEAL, dashed=True)
    text(ax, (0.15, 3.0), "generation (solid)\ninference (dashed)", size=8.5, color=GREY,
         ha="left", va="top")

    # right: the code space for one digit x
    c, s = (5.75, 1.55), 0.5  # centre of the code plane (inches), inches per unit of z
    g = np.linspace(-2.6, 2.6, 301)
    z1, z2 = np.meshgrid(g, g)
    X, Y = c[0] + s * z1, c[1] + s * z2
    ax.plot([c[0] - 2.55 * s, c[0] + 2.55 * s], [c[1], c[1]], color="#BBBBBB", lw=0.7, zorder=0)
    ax.plot([c[0], c[0]], [c[1] - 2.55 * s, c[1] + 2.55 * s], color="#BBBBBB", lw=0.7, zorder=0)
    text(ax, (c[0] + 2.55 * s + 0.12, c[1]), r"$z_1$", size=9, color=GREY, ha="left")
    text(ax, (c[0] + 0.1, c[1] + 2.55 * s), r"$z_2$", size=9, color=GREY, ha="left")
    prior = np.exp(-0.5 * (z1 ** 2 + z2 ** 2))
    ax.contour(X, Y, prior, levels=[np.exp(-2.0), np.exp(-0.5)], colors=[LATENT[1]],
               linewidths=1.0, linestyles="-", zorder=1)
    post = banana(z1, z2)
    ax.contourf(X, Y, post, levels=[0.12, 1.01], colors=["#D9D9D9"], zorder=1)
    ax.contour(X, Y, post, levels=[0.12, 0.55], colors=[POSTERIOR], linewidths=1.1, zorder=2)
    # the encoder's guess: a Gaussian with a diagonal covariance, matched to the posterior
    w = post / post.sum()
    m1, m2 = (w * z1).sum(), (w * z2).sum()
    v1, v2 = (w * (z1 - m1) ** 2).sum(), (w * (z2 - m2) ** 2).sum()
    q = np.exp(-0.5 * ((z1 - m1) ** 2 / v1 + (z2 - m2) ** 2 / v2))
    ax.contour(X, Y, q, levels=[0.12, 0.55], colors=[TEAL], linewidths=1.4,
               linestyles=[(0, (4, 2))], zorder=3)
    # labels, with leader lines
    text(ax, (c[0] - 2.6 * s, c[1] + 2.45 * s), r"prior $p(\mathbf{z})$", size=9,
         color=LATENT[1], ha="left")
    px, py = c[0] + s * (m1 + 0.55), c[1] + s * (m2 + 0.55)
    ax.plot([px, 7.3], [py, 2.55], color=GREY, lw=0.7)
    text(ax, (7.35, 2.55), "true posterior\n" r"$p_\theta(\mathbf{z}\mid\mathbf{x})$" "\n(unknown)",
         size=8.5, ha="left", va="center")
    qx, qy = c[0] + s * (m1 + 0.35), c[1] + s * (m2 - 0.75)
    ax.plot([qx, 7.3], [qy, 0.7], color=GREY, lw=0.7)
    text(ax, (7.35, 0.7), "encoder's\nguess\n" r"$q_\phi(\mathbf{z}\mid\mathbf{x})$", size=8.5,
         ha="left", va="center", color=TEAL)
    text(ax, (c[0], 0.1), r"code space, for the one digit $\mathbf{x}$ on the left", size=8.5,
         color=GREY)
    return fig


# ---------------------------------------------------------------- 2. the gap

X_OBS, NOISE_SD = 1.5, 0.5
POST_MEAN = X_OBS / (1 + NOISE_SD ** 2)
POST_SD = NOISE_SD / np.sqrt(1 + NOISE_SD ** 2)
LOG_PX = -0.5 * np.log(2 * np.pi * (1 + NOISE_SD ** 2)) - X_OBS ** 2 / (2 * (1 + NOISE_SD ** 2))


def kl_gauss(m1, s1, m2, s2):
    """KL(N(m1, s1^2) || N(m2, s2^2))."""
    return np.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5


def gauss(z, m, s):
    return np.exp(-0.5 * ((z - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))


def elbo_gap():
    fig, ax = canvas(8.6, 3.6)
    guesses = [(0.4, 0.8, r"a poor guess $q$"), (0.9, 0.6, r"a closer $q$"),
               (POST_MEAN, POST_SD, r"$q$ = the posterior")]
    xs = [2.25, 4.35, 6.45]
    top, scale, floor = 2.2, 0.55, -4.9  # log p(x) in inches, inches per nat, axis bottom
    level = lambda nats: top + scale * (nats - LOG_PX)  # noqa: E731
    minus = lambda v: f"{v:.2f}".replace("-", "\u2212")  # noqa: E731
    # the nats axis on the left
    ax.plot([0.95, 0.95], [level(floor), level(-1.6)], color=GREY, lw=0.9)
    for v in (-2, -3, -4):
        ax.plot([0.9, 0.95], [level(v)] * 2, color=GREY, lw=0.9)
        text(ax, (0.85, level(v)), minus(v)[:-3], size=8.5, color=GREY, ha="right")
    text(ax, (0.35, level(-3.3)), "nats", size=8.5, color=GREY, rotation=90)
    # log p(x): the same for every q
    ax.plot([1.05, 7.55], [top, top], color=INK, lw=1.3, ls=(0, (5, 3)), zorder=3)
    text(ax, (7.62, top), r"$\log p_\theta(\mathbf{x})$" f"\n= {minus(LOG_PX)}", size=9,
         ha="left")
    zs = np.linspace(-1.8, 3.4, 300)
    bw = 0.62
    for x, (m, s, name) in zip(xs, guesses):
        gap = kl_gauss(m, s, POST_MEAN, POST_SD)
        elbo = LOG_PX - gap
        # above: the posterior (solid) and the guess q (dashed), over z
        base, w = 2.62, 1.55
        zx = x + (zs - 0.8) / 5.2 * w
        ax.plot([zx[0], zx[-1]], [base, base], color="#BBBBBB", lw=0.7)
        ax.plot(zx, base + 0.55 * gauss(zs, POST_MEAN, POST_SD), color=POSTERIOR, lw=1.4)
        ax.plot(zx, base + 0.55 * gauss(zs, m, s), color=TEAL, lw=1.4, ls=(0, (4, 2)))
        text(ax, (x, 3.42), name, size=9)
        # below: the ELBO as a bar reaching up to its value, the gap hatched above it
        ax.add_patch(Rectangle((x - bw / 2, level(floor)), bw, level(elbo) - level(floor),
                               facecolor=LOSS[0], edgecolor=LOSS[1], lw=1.2, zorder=2))
        text(ax, (x, level(elbo) - 0.06), f"ELBO\n{minus(elbo)}", size=8.5, va="top")
        if gap > 0.05:
            ax.add_patch(Rectangle((x - bw / 2, level(elbo)), bw, level(LOG_PX) - level(elbo),
                                   facecolor=PAPER, edgecolor=WINE, hatch="////", lw=1.0,
                                   zorder=2))
            xb = x + bw / 2
            ax.plot([xb + 0.05, xb + 0.12, xb + 0.12, xb + 0.05],
                    [level(elbo), level(elbo), top, top], color=WINE, lw=0.9)
            yl = min((level(elbo) + top) / 2, top - 0.3)
            text(ax, (xb + 0.2, yl), r"$\mathrm{KL}(q\,\Vert\,p_\theta(\mathbf{z}\mid\mathbf{x}))$"
                 f"\n= {gap:.2f}", size=8.5, color=WINE, ha="left")
        else:
            text(ax, (x + bw / 2 + 0.12, top - 0.3), "gap 0:\nthe bound\nis tight", size=8.5,
                 color=WINE, ha="left")
    # the legend of the small plots
    text(ax, (0.1, 3.0), "posterior", size=8.5, color=POSTERIOR, ha="left")
    text(ax, (0.1, 2.77), r"guess $q_\phi$", size=8.5, color=TEAL, ha="left")
    ax.plot([0.98, 1.28], [3.0, 3.0], color=POSTERIOR, lw=1.4)
    ax.plot([0.98, 1.28], [2.77, 2.77], color=TEAL, lw=1.4, ls=(0, (4, 2)))
    arrow(ax, (3.0, 0.14), (5.7, 0.14), color=TEAL)
    text(ax, (4.35, 0.34), r"maximising $\mathcal{L}$ over $\phi$ moves $q$ towards the posterior",
         size=8.5, color=TEAL)
    return fig


# ---------------------------------------------------------------- 3. reparameterization

XZ = 4.75  # where z sits in both rows


def pipeline(ax, y, i):
    """What both rows share: the digit, the encoder and its two outputs, the code z, the
    decoder and the reconstruction term."""
    digit(ax, (0.45, y), 0.55, i)
    text(ax, (0.45, y - 0.45), r"$\mathbf{x}$", size=10)
    trapezoid(ax, (1.5, y), 1.1, 0.85, 0.5, r"encoder $\phi$", ENCODER, size=9)
    arrow(ax, (0.75, y), (0.93, y))
    box(ax, (2.7, y + 0.2), 0.36, 0.3, r"$\boldsymbol{\mu}$", (PAPER, TEAL), size=10)
    box(ax, (2.7, y - 0.2), 0.36, 0.3, r"$\boldsymbol{\sigma}$", (PAPER, TEAL), size=10)
    arrow(ax, (2.07, y + 0.12), (2.51, y + 0.2), shrink=1)
    arrow(ax, (2.07, y - 0.12), (2.51, y - 0.2), shrink=1)
    node(ax, (XZ, y), 0.25, r"$\mathbf{z}$", LATENT, size=11)
    trapezoid(ax, (5.85, y), 1.1, 0.5, 0.85, r"decoder $\theta$", DECODER, size=9)
    arrow(ax, (XZ + 0.27, y), (5.28, y))
    box(ax, (7.55, y), 1.5, 0.5, r"$\log p_\theta(\mathbf{x}\mid\mathbf{z})$", LOSS, size=10)
    arrow(ax, (6.42, y), (6.78, y))
    # the gradient reaches the decoder in both rows (below the top row, above the bottom one)
    side = 1 if y < 2 else -1
    gradient(ax, (7.05, y + 0.3 * side), (XZ + 0.17, y + 0.22 * side), rad=0.3 * side)


def reparameterization():
    fig, ax = canvas(8.6, 4.0)
    i = first_digit(4)
    # top row: z drawn from q inside the graph
    ya = 3.0
    text(ax, (0.1, 3.8), r"sampling inside the graph: $\mathbf{z}\sim\mathcal{N}(\boldsymbol{\mu},"
         r"\mathrm{diag}(\boldsymbol{\sigma}^2))$", size=9.5, ha="left")
    pipeline(ax, ya, i)
    arrow(ax, (2.9, ya + 0.2), (XZ - 0.26, ya + 0.04))
    arrow(ax, (2.9, ya - 0.2), (XZ - 0.26, ya - 0.04))
    text(ax, (3.7, ya + 0.3), "a random draw", size=8.5, color=GREY)
    gradient(ax, (XZ - 0.2, ya - 0.2), (3.75, ya - 0.42))
    text(ax, (3.65, ya - 0.44), r"$\times$", size=14, color=WINE, ha="right")
    text(ax, (2.3, ya - 0.75), r"the gradient stops at the random draw: nothing reaches $\phi$",
         size=8.5, color=WINE, ha="left")
    ax.plot([0.1, 8.5], [2.05, 2.05], color="#CCCCCC", lw=0.8)
    # bottom row: the noise moved aside
    yb = 1.25
    text(ax, (0.1, 1.85), r"reparameterized: $\mathbf{z} = \boldsymbol{\mu} + \boldsymbol{\sigma}"
         r"\odot\boldsymbol{\epsilon}$", size=9.5, ha="left")
    pipeline(ax, yb, i)
    xp, xm, ym = 4.1, 3.45, yb - 0.5
    op(ax, (xp, yb), "+")
    op(ax, (xm, ym), r"$\odot$")
    node(ax, (xm, yb - 1.02), 0.2, r"$\boldsymbol{\epsilon}$", NOISE, dashed=True, size=10)
    text(ax, (xm + 0.3, yb - 1.02),
         r"$\sim\mathcal{N}(\mathbf{0}, I)$: a plain input, no parameters", size=8.5, ha="left")
    arrow(ax, (2.9, yb + 0.2), (xp - 0.13, yb + 0.03))
    arrow(ax, (2.9, yb - 0.22), (xm - 0.13, ym + 0.04))
    arrow(ax, (xm, yb - 0.82), (xm, ym - 0.13))
    arrow(ax, (xm + 0.1, ym + 0.09), (xp - 0.1, yb - 0.09))
    arrow(ax, (xp + 0.13, yb), (XZ - 0.25, yb))
    # the gradient path, backwards along every link that leads to phi
    gradient(ax, (XZ - 0.18, yb + 0.2), (2.92, yb + 0.36), rad=0.25)
    gradient(ax, (XZ - 0.1, yb - 0.24), (xm + 0.14, ym - 0.06), rad=-0.3)
    gradient(ax, (xm - 0.12, ym - 0.1), (2.72, yb - 0.37), rad=-0.3)
    gradient(ax, (2.5, yb + 0.32), (2.0, yb + 0.3), rad=0.4)
    gradient(ax, (2.5, yb - 0.32), (2.0, yb - 0.3), rad=-0.4)
    text(ax, (6.1, yb + 0.72), r"$\nabla_\theta$ and $\nabla_\phi$ of one sample flow back through "
         r"$\mathbf{z}$, $\boldsymbol{\mu}$ and $\boldsymbol{\sigma}$", size=8.5, color=WINE)
    return fig


DIAGRAMS = [
    Diagram(
        name="ch02_latent_model",
        draw=latent_model,
        alt="Left: a graphical model inside a plate over the data set, with a latent code z "
            "generating a digit x through p theta of x given z, and a dashed inference arrow "
            "from x back to z labelled q phi of z given x. Right: the code space of one digit, "
            "where the prior is a broad circle, the true posterior a small curved region, and "
            "the encoder's Gaussian guess an ellipse laid over it",
        caption="The model and its encoder. Generation follows the solid arrows, a code from "
                "the prior and then a digit from the decoder; the encoder runs the other way "
                "and guesses, with a Gaussian, the small region of codes that the true "
                "posterior favours for this one digit.",
        after="a lower bound on $\\log p_\\theta(\\mathbf{x})$.",
    ),
    Diagram(
        name="ch02_elbo_gap",
        draw=elbo_gap,
        alt="Three guesses q, from poor to exact, drawn over the true posterior of the chapter's "
            "toy model; under each, a bar for the ELBO reaching up towards the fixed level of "
            "log p of x, with the hatched gap between them labelled as the KL divergence from q "
            "to the posterior, 2.12, 0.33 and 0 nats",
        caption="For a fixed decoder, $\\log p_\\theta(\\mathbf{x})$ is one number and the ELBO "
                "falls short of it by exactly the KL divergence from $q$ to the true posterior "
                "(here the chapter's toy model, at $x = 1.5$). Maximising the ELBO over $\\phi$ "
                "closes the gap; maximising it over $\\theta$ raises "
                "$\\log p_\\theta(\\mathbf{x})$ itself.",
        after="the prior produce sensible images.",
    ),
    Diagram(
        name="ch02_reparameterization",
        draw=reparameterization,
        alt="Two computation graphs of the VAE. Top: the code z is drawn at random from a "
            "Gaussian with the encoder's mean and standard deviation, and the gradient of the "
            "reconstruction term stops at that draw. Bottom: noise epsilon enters from the side, "
            "z is mu plus sigma times epsilon, and dashed gradient arrows run back through z, mu "
            "and sigma into the encoder",
        caption="Drawing $\\mathbf{z}$ from $q_\\phi$ leaves no path for the gradient to reach "
                "the encoder. Reparameterized, the randomness enters as a parameter-free input "
                "$\\boldsymbol{\\epsilon}$, and $\\mathbf{z}$ becomes a differentiable function of "
                "$\\boldsymbol{\\mu}$ and $\\boldsymbol{\\sigma}$, so backpropagation trains the "
                "encoder from one sample.",
        after="with and without the usual remedy, a baseline.",
    ),
]
