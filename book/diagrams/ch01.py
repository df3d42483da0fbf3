"""Chapter 1, autoencoders: the bottleneck, and the data's surface with denoising."""

from __future__ import annotations

import numpy as np

from diagrams import Diagram
from diagrams.style import (DECODER, ENCODER, GREY, INK, LATENT, LOSS, NOISE, TEAL, WINE,
                            arrow, box, canvas, digit, digit_image, first_digit, gradient, grid,
                            image, node, op, text, trapezoid)


def bottleneck():
    fig, ax = canvas(8.4, 2.8)
    i = first_digit(3)
    y = 1.45
    digit(ax, (0.6, y), 0.9, i)
    text(ax, (0.75, y - 0.7), "data $\\mathbf{x}$\n($d$ = 64 pixels)", size=9, va="top")
    trapezoid(ax, (2.05, y), 1.3, 1.5, 0.5, r"encoder $f_\phi$", ENCODER)
    # the code: K numbers in a narrow column
    cells = [[LATENT[0]] for _ in range(4)]
    grid(ax, (3.35, y), 4, 1, 0.2, cells, edge=LATENT[1])
    text(ax, (3.35, y + 0.62), r"code $\mathbf{z}$", size=9.5)
    text(ax, (3.35, y - 0.62), r"$K \ll d$ numbers", size=9)
    trapezoid(ax, (4.65, y), 1.3, 0.5, 1.5, r"decoder $g_\theta$", DECODER)
    # the reconstruction: the digit seen through a slight blur, as a decoder returns it
    x = digit_image(i)
    blurred = 0.5 * x + 0.125 * (np.roll(x, 1, 0) + np.roll(x, -1, 0) + np.roll(x, 1, 1) + np.roll(x, -1, 1))
    image(ax, (6.1, y), 0.9, blurred)
    text(ax, (6.1, y - 0.7), r"reconstruction $\hat{\mathbf{x}}$", size=9, va="top")
    for a, b in [((1.08, y), (1.38, y)), ((2.72, y), (3.22, y)), ((3.48, y), (3.98, y)),
                 ((5.32, y), (5.62, y))]:
        arrow(ax, a, b)
    box(ax, (7.55, y), 1.35, 0.66, "loss\n" r"$\Vert\mathbf{x} - \hat{\mathbf{x}}\Vert^2$", LOSS, size=10)
    arrow(ax, (6.58, y), (6.85, y))
    arrow(ax, (0.6, y + 0.48), (7.55, y + 0.32), rad=-0.18, color=GREY)
    text(ax, (4.0, 2.62), r"the input $\mathbf{x}$ itself is the target", size=8.5, color=GREY)
    # the loss's gradients flow back under the decoder to the encoder: one loss trains both
    gradient(ax, (7.85, y - 0.34), (2.2, y - 0.8), rad=-0.13)
    text(ax, (4.2, 0.1), r"gradients train $\phi$ and $\theta$ together", size=8.5, color=WINE)
    return fig


def surface():
    fig, ax = canvas(8.4, 2.95)
    # left: digits near a curved surface (drawn as a curve in a 2-D slice of pixel space)
    s = np.linspace(0, 1, 200)
    cx, cy = 0.45 + 3.0 * s, 1.35 + 0.9 * np.sin(2.6 * s + 0.4) - 0.3 * s

    def curve(u):
        return 0.45 + 3.0 * u, 1.35 + 0.9 * np.sin(2.6 * u + 0.4) - 0.3 * u

    ax.plot(cx, cy, color=TEAL, lw=2.2, zorder=1)
    rng = np.random.default_rng(1)
    for u in rng.uniform(0.03, 0.97, 26):
        px, py = curve(u)
        ax.plot(px + rng.normal(0, 0.05), py + rng.normal(0, 0.05), "o", ms=3.5, color=INK, zorder=2)
    text(ax, (2.0, 2.75), r"pixel space $\mathbb{R}^d$: digits lie near a thin surface", size=9)
    # the code is a coordinate along the surface
    u0 = 0.3
    px, py = curve(u0)
    node(ax, (px, py), 0.07, kind=LATENT)
    text(ax, (px - 0.05, py + 0.33), r"$\mathbf{z} = f_\phi(\mathbf{x})$: where on the surface", size=8.5)
    qx, qy = curve(0.04)
    text(ax, (qx + 0.35, qy - 0.3), "the surface", size=8.5, color=TEAL)
    # a noisy point off the surface is pulled back by the denoiser
    u1 = 0.72
    qx, qy = curve(u1)
    nx, ny = qx + 0.32, qy - 0.62
    node(ax, (nx, ny), 0.07, kind=NOISE)
    text(ax, (nx - 0.25, ny - 0.3), r"$\tilde{\mathbf{x}} = \mathbf{x} + \sigma\boldsymbol{\epsilon}$", size=9)
    arrow(ax, (nx, ny), (qx + 0.03, qy - 0.06), color=WINE, lw=1.6)
    text(ax, (nx + 0.95, ny + 0.32), r"$g(f(\tilde{\mathbf{x}})) - \tilde{\mathbf{x}}$" "\n"
         r"$\approx \sigma^2 \nabla \log p(\tilde{\mathbf{x}})$", size=8.5, color=WINE)
    # right: the denoising autoencoder as a pipeline
    y = 1.4
    x0 = 5.25
    i = first_digit(7)
    top, bottom = y + 0.75, y - 0.6
    digit(ax, (x0, top), 0.55, i)
    text(ax, (x0 - 0.5, top), r"$\mathbf{x}$", size=10)
    digit(ax, (x0, bottom), 0.55, i, noise=0.35, seed=3)
    text(ax, (x0 - 0.5, bottom), r"$\tilde{\mathbf{x}}$", size=10)
    op(ax, (x0, y + 0.08), "+")
    text(ax, (x0 + 0.45, y + 0.08), r"$\sigma\boldsymbol{\epsilon}$", size=9)
    arrow(ax, (x0, top - 0.29), (x0, y + 0.22))
    arrow(ax, (x0, y - 0.06), (x0, bottom + 0.29))
    trapezoid(ax, (x0 + 1.0, bottom), 0.8, 0.8, 0.3, r"$f_\phi$", ENCODER, size=9)
    trapezoid(ax, (x0 + 2.15, bottom), 0.8, 0.3, 0.8, r"$g_\theta$", DECODER, size=9)
    arrow(ax, (x0 + 0.3, bottom), (x0 + 0.58, bottom))
    arrow(ax, (x0 + 1.42, bottom), (x0 + 1.73, bottom))
    box(ax, (x0 + 2.15, top), 1.45, 0.45, r"$\Vert\mathbf{x} - g_\theta(f_\phi(\tilde{\mathbf{x}}))\Vert^2$",
        LOSS, size=8.5)
    arrow(ax, (x0 + 2.15, bottom + 0.42), (x0 + 2.15, top - 0.24))
    arrow(ax, (x0 + 0.3, top), (x0 + 1.4, top), color=GREY)
    text(ax, (x0 + 1.1, 0.2), "denoising: corrupt the input,\nask for the clean digit", size=8.5)
    return fig


DIAGRAMS = [
    Diagram(
        name="ch01_bottleneck",
        draw=bottleneck,
        alt="An autoencoder: a digit enters an encoder that narrows to a code of K numbers, a "
            "decoder widens it back to a reconstruction, and the squared error between digit "
            "and reconstruction is the loss whose gradients train both networks",
        caption="The autoencoder. Everything the decoder knows about the digit passes through "
                "the K numbers of the code, so encoder and decoder must agree on a short "
                "description; the loss compares the reconstruction with the input itself.",
        after="where the data live.",
    ),
    Diagram(
        name="ch01_surface",
        draw=surface,
        alt="Left: dots near a curved line stand for digits near a thin surface in pixel space; "
            "the code is a position along the line, and a noisy point off the line is pulled "
            "back towards it. Right: the denoising autoencoder adds noise to a digit, encodes "
            "and decodes it, and compares the output with the clean digit",
        caption="Left: the code is a coordinate on the surface near which the digits lie. "
                "Right: the denoising autoencoder corrupts its input and is asked for the "
                "clean digit, so its output minus its input points from a noisy point back towards the "
                "surface, up the slope of the data density (the idea chapter 8 builds on).",
        after="used exactly this way.",
    ),
]
