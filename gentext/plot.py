"""Figures in one style for the whole book.

Digits are drawn in greys (black ink on white paper), categories in Paul Tol's "muted"
palette, which stays distinguishable under the common colour-vision deficiencies, and every
axis carries a label. Each function draws into ``ax`` when one is given and returns it;
without ``ax`` it makes its own figure and shows it, so a chapter cell reads as one call.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

# Paul Tol's muted palette (9 colours) plus a dark grey for a tenth category.
PALETTE = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933",
           "#DDCC77", "#CC6677", "#882255", "#AA4499", "#555555"]
IMAGE_CMAP = "gray_r"


STYLE = {
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "figure.figsize": (6.0, 4.0),
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.size": 10,
        "axes.titlesize": 11,
        "legend.frameon": False,
        "image.cmap": IMAGE_CMAP,
}


def use_style() -> None:
    """Apply the book's matplotlib style (:func:`gentext.setup` calls it; importing gentext does not)."""
    mpl.rcParams.update(STYLE)


def _numpy_images(x: torch.Tensor | np.ndarray) -> np.ndarray:
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"images must have shape N x 1 x H x W (or N x H x W), got {x.shape}")
    return x[:, 0]


def _finish(fig, ax, own: bool):
    if own:
        fig.tight_layout()
        plt.show()
        return None
    return ax


def images(x: torch.Tensor | np.ndarray, ncols: int = 10, *, title: str | None = None,
           row_labels: Sequence[str] | None = None, scale: float = 0.6, ax=None):
    """Draw images (``N x 1 x H x W`` in [0, 1]) as a grid with ``ncols`` columns."""
    imgs = _numpy_images(x)
    n, h, w = imgs.shape
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    pad = 1
    canvas = np.ones((nrows * (h + pad) - pad, ncols * (w + pad) - pad)) * np.nan
    for i, img in enumerate(imgs):
        r, c = divmod(i, ncols)
        canvas[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(max(2.0, scale * ncols * w / 8), max(1.0, scale * nrows * h / 8)))
    else:
        fig = ax.figure
    cmap = mpl.colormaps[IMAGE_CMAP].with_extremes(bad="white")
    ax.imshow(canvas, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.grid(False)
    ax.set_xticks([])
    if row_labels is not None:
        if len(row_labels) != nrows:
            raise ValueError(f"got {len(row_labels)} row labels for {nrows} rows")
        ax.set_yticks([r * (h + pad) + h / 2 - 0.5 for r in range(nrows)], list(row_labels))
        ax.tick_params(length=0)
    else:
        ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    return _finish(fig, ax, own)


def interpolation(rows: torch.Tensor | np.ndarray, *, title: str | None = None,
                  row_labels: Sequence[str] | None = None, ax=None):
    """Draw interpolation strips: ``rows`` is ``R x S x 1 x H x W`` (R strips of S steps)."""
    rows = rows.detach().cpu() if isinstance(rows, torch.Tensor) else torch.as_tensor(np.asarray(rows))
    if rows.dim() != 5:
        raise ValueError(f"interpolation strips must be R x S x 1 x H x W, got {tuple(rows.shape)}")
    return images(rows.flatten(0, 1), ncols=rows.shape[1], title=title, row_labels=row_labels, ax=ax)


def losses(curves: Mapping[str, Sequence[float]], *, xlabel: str = "epoch", ylabel: str = "loss",
           title: str | None = None, logy: bool = False, ax=None):
    """Draw one line per named curve, e.g. ``{"train": h.train_loss, "validation": h.val_loss}``."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    for name, values in curves.items():
        values = list(values)
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    return _finish(fig, ax, own)


def latent(z: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, *,
           title: str | None = None, xlabel: str = "$z_1$", ylabel: str = "$z_2$", ax=None):
    """Scatter 2-D latent codes coloured by their digit label."""
    z = z.detach().cpu().numpy() if isinstance(z, torch.Tensor) else np.asarray(z)
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"latent codes must be N x 2 to draw, got {z.shape}")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    else:
        fig = ax.figure
    for k in np.unique(y):
        pts = z[y == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=8, color=PALETTE[int(k) % len(PALETTE)], label=str(k), alpha=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(title="digit", markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        ax.set_title(title)
    return _finish(fig, ax, own)


def scatter2d(points: torch.Tensor | np.ndarray, *, title: str | None = None, ax=None,
              lim: float = 3.0, color: str | None = None, label: str | None = None, s: float = 3):
    """Scatter 2-D points on a square frame of half-width ``lim``."""
    pts = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must be N x 2, got {pts.shape}")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(4, 4))
    else:
        fig = ax.figure
    ax.scatter(pts[:, 0], pts[:, 1], s=s, alpha=0.6, color=color or PALETTE[0], label=label)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return _finish(fig, ax, own)


def density2d(log_density, *, lim: float = 3.0, resolution: int = 200, title: str | None = None,
              ax=None):
    """Draw ``exp(log_density(points))`` on a grid; ``log_density`` maps an ``M x 2`` tensor to ``M``."""
    grid = torch.linspace(-lim, lim, resolution)
    xx, yy = torch.meshgrid(grid, grid, indexing="xy")
    pts = torch.stack([xx.flatten(), yy.flatten()], 1)
    with torch.no_grad():
        values = torch.as_tensor(log_density(pts)).detach().cpu().reshape(resolution, resolution)
    if not torch.isfinite(values).any():
        raise ValueError("log_density returned no finite values on the grid")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(4, 4))
    else:
        fig = ax.figure
    ax.imshow(values.exp().numpy(), origin="lower", extent=(-lim, lim, -lim, lim), cmap="viridis")
    ax.grid(False)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return _finish(fig, ax, own)
