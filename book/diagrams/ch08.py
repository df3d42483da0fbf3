"""Chapter 8, diffusion: the forward and reverse chains, one training step of L_simple, and the
U-Net denoiser as the quick profile builds it."""

from __future__ import annotations

import math

import numpy as np

from diagrams import Diagram
from diagrams.style import (DECODER, GREY, INK, LOSS, NETWORK, NEUTRAL, TEAL, WINE, arrow, box,
                            canvas, digit_image, first_digit, image, node, tag, text)

# the chapter's quick profile: T = 1000, cosine schedule cut to log-SNR 7 ... -10
T, LOGSNR_MAX, LOGSNR_MIN = 1000, 7.0, -10.0


def alpha_bar(t: int) -> float:
    """The chapter's cosine schedule (cosine_schedule + alpha_bars), in closed form."""
    if t == 0:
        return 1.0
    u_lo = 2 / math.pi * math.atan(math.exp(-LOGSNR_MAX / 2))
    u_hi = 2 / math.pi * math.atan(math.exp(-LOGSNR_MIN / 2))
    u = u_lo + (u_hi - u_lo) * (t - 1) / (T - 1)
    return math.cos(math.pi * u / 2) ** 2


def noisy(x0: np.ndarray, t: int, eps: np.ndarray) -> np.ndarray:
    """x_t in the chapter's [-1, 1] pixel scale, mapped back to [0, 1] to draw."""
    ab = alpha_bar(t)
    xt = math.sqrt(ab) * (2 * x0 - 1) + math.sqrt(1 - ab) * eps
    return (np.clip(xt, -1, 1) + 1) / 2


def chains():
    fig, ax = canvas(8.6, 2.9)
    x0 = digit_image(first_digit(5))
    eps = np.random.default_rng(0).standard_normal(x0.shape)
    steps = [0, 80, 180, 320, 550, 1000]
    xs = [0.6 + 1.45 * k for k in range(len(steps))]
    y = 1.45
    for x, t in zip(xs, steps):
        image(ax, (x, y), 0.72, noisy(x0, t, eps))
        label = r"$\mathbf{x}_0$" if t == 0 else (r"$\mathbf{x}_T$" if t == T else rf"$\mathbf{{x}}_{{{t}}}$")
        text(ax, (x, y - 0.55), label, size=9.5)
    for a, b in zip(xs[:-1], xs[1:]):
        arrow(ax, (a + 0.25, y + 0.45), (b - 0.25, y + 0.45), color=GREY, rad=-0.35)
        arrow(ax, (b - 0.25, y - 0.42), (a + 0.25, y - 0.42), color=TEAL, rad=-0.35, lw=1.6)
    text(ax, (4.2, 2.62), r"forward, fixed: $q(\mathbf{x}_t\mid\mathbf{x}_{t-1}) = "
         r"\mathcal{N}(\sqrt{\alpha_t}\,\mathbf{x}_{t-1},\ \beta_t I)$, a little noise at a time",
         size=9, color=GREY)
    text(ax, (4.2, 0.3), r"reverse, learned: $p_\theta(\mathbf{x}_{t-1}\mid\mathbf{x}_t)$, "
         r"from $\mathbf{x}_T \sim \mathcal{N}(\mathbf{0}, I)$ back to a digit", size=9, color=TEAL)
    return fig


def training_step():
    fig, ax = canvas(8.6, 2.7)
    i = first_digit(3)
    x0 = digit_image(i)
    eps = np.random.default_rng(4).standard_normal(x0.shape)
    y = 1.35
    image(ax, (0.55, y + 0.55), 0.62, x0)
    text(ax, (0.55, y + 1.02), r"$\mathbf{x}_0$ (a digit)", size=9)
    image(ax, (0.55, y - 0.6), 0.62, (np.clip(eps, -2, 2) + 2) / 4)
    text(ax, (0.55, y - 1.07), r"$\boldsymbol{\epsilon}\sim\mathcal{N}(\mathbf{0}, I)$", size=9)
    tag(ax, (1.55, y + 1.0), r"$t \sim \mathcal{U}\{1..T\}$", w=1.05, h=0.3, size=8.5)
    box(ax, (2.3, y), 1.3, 0.75, r"$\sqrt{\bar\alpha_t}\,\mathbf{x}_0$" "\n"
        r"$+\sqrt{1-\bar\alpha_t}\,\boldsymbol{\epsilon}$", NEUTRAL, size=9)
    arrow(ax, (0.9, y + 0.45), (1.62, y + 0.2))
    arrow(ax, (0.9, y - 0.5), (1.62, y - 0.2))
    arrow(ax, (1.75, y + 0.85), (2.05, y + 0.4))
    # the step t goes to the denoiser as well (it must know how noisy x_t is)
    arrow(ax, (2.08, y + 1.0), (4.6, y + 0.42), color=INK, rad=-0.15)
    image(ax, (3.55, y), 0.62, noisy(x0, 500, eps))
    text(ax, (3.55, y - 0.5), r"$\mathbf{x}_t$", size=9.5)
    arrow(ax, (2.97, y), (3.22, y))
    box(ax, (5.05, y), 1.5, 0.8, "denoiser\n" r"$\boldsymbol{\epsilon}_\theta(\mathbf{x}_t, t, \mathbf{y})$",
        NETWORK, size=9)
    arrow(ax, (3.88, y), (4.28, y))
    tag(ax, (5.4, y + 0.8), r"label $\mathbf{y}$ (or none)", w=1.45, h=0.3, size=8.5)
    arrow(ax, (5.4, y + 0.64), (5.4, y + 0.42))
    box(ax, (7.45, y), 1.7, 0.6, r"$\Vert\boldsymbol{\epsilon} - \boldsymbol{\epsilon}_\theta\Vert^2$", LOSS, size=10)
    arrow(ax, (5.82, y), (6.58, y))
    text(ax, (7.45, y + 0.5), r"$L_{\mathrm{simple}}$: regression on the noise", size=8.5)
    arrow(ax, (0.9, y - 0.75), (6.9, y - 0.32), color=GREY, rad=0.12)
    text(ax, (4.3, 0.15), r"the same $\boldsymbol{\epsilon}$ is the target", size=8.5, color=GREY)
    return fig


def unet():
    fig, ax = canvas(8.6, 3.5)
    top, bottom = 2.3, 1.2
    xt = digit_image(first_digit(2))
    eps = np.random.default_rng(2).standard_normal(xt.shape)
    image(ax, (0.45, top), 0.6, noisy(xt, 150, eps))
    text(ax, (0.45, top - 0.47), r"$\mathbf{x}_t$, $1\times8\times8$", size=8.5)
    blocks = [
        (1.65, top, "conv 3x3\n+ ResBlock", r"$16\times8\times8$"),
        (3.05, bottom, "ResBlock", r"$32\times4\times4$"),
        (4.35, bottom, "ResBlock\n(middle)", r"$32\times4\times4$"),
        (5.65, bottom, "ResBlock", r"$32\times4\times4$"),
        (7.05, top, "ResBlock\n+ out conv", r"$16\times8\times8$"),
    ]
    for x, y, label, shape in blocks:
        box(ax, (x, y), 1.0, 0.62, label, NETWORK, size=8.5)
        # (the last block's shape sits right of the skip connection coming down into it)
        label_x = x + 0.12 if x > 6 else x
        text(ax, (label_x, y + 0.46) if y == top else (x, y - 0.46), shape, size=8)
        node(ax, (x + 0.5, y + 0.31), 0.09, kind=("#F2D5DA", WINE))
        text(ax, (x + 0.5, y + 0.31), r"$\mathbf{c}$", size=7.5, color=WINE)
    arrow(ax, (0.77, top), (1.14, top))
    arrow(ax, (1.75, top - 0.33), (2.85, bottom + 0.33))
    text(ax, (2.1, 1.6), "stride-2\nconv", size=8, color=GREY, ha="right")
    arrow(ax, (3.56, bottom), (3.84, bottom))
    arrow(ax, (4.86, bottom), (5.14, bottom))
    arrow(ax, (5.85, bottom + 0.33), (6.95, top - 0.33))
    text(ax, (6.55, 1.6), "upsample\n+ conv", size=8, color=GREY, ha="left")
    # skip connections, concatenated on the way up
    ax.plot([1.3, 1.3, 6.64], [top + 0.32, 3.1, 3.1], color=INK, lw=1.0)
    arrow(ax, (6.64, 3.1), (6.64, top + 0.34), lw=1.0, shrink=0)
    text(ax, (4.0, 3.25), "skip connection: concatenated with the upsampled features", size=8, color=GREY)
    arrow(ax, (3.05, bottom - 0.66), (5.65, bottom - 0.66), color=INK, lw=1.0, rad=0.12)
    text(ax, (4.35, 0.1), "skip at 4x4", size=8, color=GREY)
    # output
    box(ax, (8.2, top), 0.62, 0.9, "logits\nover the\nL levels", DECODER, size=8)
    arrow(ax, (7.56, top), (7.88, top))
    # the exact Gaussian term of each level is added before the softmax (the chapter's parameterization)
    text(ax, (8.56, top - 0.56), r"$+\log\mathcal{N}(\mathbf{x}_t\mid\mathrm{level})$" "\n"
         r"softmax, mean $\to\hat{\mathbf{x}}_0$" "\n" r"$\to\boldsymbol{\epsilon}_\theta$",
         size=8, ha="right", va="top")
    # conditioning
    text(ax, (0.1, 1.0), r"$\mathbf{c}$ = MLP(sinusoids of $t$)" "\n" r"+ embedding of $\mathbf{y}$:" "\n"
         "a shift per channel in\nevery ResBlock", size=8, color=WINE, ha="left")
    return fig


DIAGRAMS = [
    Diagram(
        name="ch08_chains",
        draw=chains,
        alt="A real digit at steps 0, 80, 180, 320, 550 and 1000 of the chapter's cosine "
            "schedule, fading into Gaussian noise; grey arrows above run the fixed forward "
            "process to the right and teal arrows below run the learned reverse process to "
            "the left",
        caption="The two chains. The forward process q adds a little noise per step until "
                "nothing of the digit is left; the model learns the reverse steps and "
                "generates by running them from pure noise; each arrow stands for many steps. "
                "The images are the chapter's "
                "cosine schedule applied to a training digit.",
        after="along the falling SNR.",
    ),
    Diagram(
        name="ch08_training_step",
        draw=training_step,
        alt="One training step: a digit x_0 and Gaussian noise epsilon are mixed at a random "
            "step t into x_t, the denoiser sees x_t, t and the label and predicts the noise, "
            "and the loss is the squared error against the same epsilon",
        caption="One step of L_simple. Pick a digit, a step and a noise, make the noisy image in "
                "closed form, and ask the network for the noise; the label is hidden a "
                "fraction of the time, which classifier-free guidance needs later.",
        after="The bound is still what we *report*, term by term.",
    ),
    Diagram(
        name="ch08_unet",
        draw=unet,
        alt="The quick profile's U-Net: the noisy 8 by 8 image goes through a convolution and "
            "a residual block with 16 channels, down to 4 by 4 with 32 channels, a middle "
            "block, back up to 8 by 8, with skip connections concatenated at each "
            "resolution; it outputs logits over the grey levels per pixel, from which the "
            "clean-image guess and the noise prediction follow; a conditioning vector from "
            "the step and the label shifts every residual block",
        caption="The U-Net denoiser of the quick profile (channels 16 and 32; the full profile "
                "adds a third resolution). Skip connections carry the fine detail past the "
                "coarse middle, and the step and the label reach every block through one "
                "conditioning vector.",
        after="which one is the better model is measured later, on the validation digits.",
    ),
]
