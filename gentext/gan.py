"""Adversarial training, shared by the GAN (chapter 3) and conditional GAN (chapter 4) chapters.

Chapter 3 derives every line of this file and shows its source. The recipe:

* the discriminator's logistic loss and the generator's *non-saturating* loss;
* an R1 penalty, ``gamma / 2 * E ||grad_x D(x)||^2`` on real data (Mescheder et al.,
  2018), which keeps the discriminator from growing cliffs that the generator cannot
  climb;
* Adam with ``betas = (0, 0.99)`` and an exponential moving average (EMA) of the
  generator's weights, which smooths out the game's oscillations in what we sample;
* optional packing (PacGAN, Lin et al., 2018): the discriminator judges ``pack`` samples
  at once, so a generator that repeats itself is easy to catch;
* atomic per-epoch checkpoints that resume, like :func:`gentext.fit`.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .train import load_checkpoint, progress, save_checkpoint


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss: ``-log D(x) - log(1 - D(G(z)))`` with ``D = sigmoid(logit)``."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss ``-log D(G(z))``."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``E ||grad_x D(x)||^2`` over real data (``real`` must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


@dataclass
class GANHistory:
    """Per-epoch means of the losses and of D's probabilities for real and generated data."""

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    d_real: list[float] = field(default_factory=list)
    d_fake: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.d_loss)


@dataclass
class GANRun:
    """What :func:`train_gan` returns: the EMA generator, the history and the snapshots."""

    generator: nn.Module
    history: GANHistory
    snapshots: dict[int, dict[str, torch.Tensor]]


def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), model.parameters()):
            pe.lerp_(p, 1 - decay)
        for be, b in zip(ema.buffers(), model.buffers()):
            be.copy_(b)


def train_gan(generator: nn.Module, discriminator: nn.Module, data: torch.Tensor, *,
              z_dim: int, epochs: int, labels: torch.Tensor | None = None,
              batch_size: int = 64, lr: float = 1e-3, betas: tuple[float, float] = (0.0, 0.99),
              r1_gamma: float = 1.0, ema_decay: float = 0.99, g_steps: int = 1, pack: int = 1,
              checkpoint: str | os.PathLike | None = None, seed: int = 0,
              snapshot: Callable[[nn.Module, nn.Module], dict[str, torch.Tensor]] | None = None,
              snapshot_epochs: tuple[int, ...] = (), desc: str = "GAN",
              verbose: bool = True) -> GANRun:
    """Train a GAN on ``data`` (and ``labels`` for a conditional GAN) for ``epochs`` epochs.

    The generator is called as ``G(z)`` or ``G(z, y)``, the discriminator as ``D(x)`` or
    ``D(x, y)``; with ``pack > 1``, ``D`` receives ``pack`` samples stacked along a new
    axis 1. ``snapshot(G_ema, D)`` runs after each epoch in ``snapshot_epochs`` (1-based);
    what it returns is kept in the checkpoint, so a resumed run still has it.
    """
    if data.dim() < 2:
        raise ValueError(f"data must be N x ... with at least 2 dimensions, got {tuple(data.shape)}")
    if labels is not None and len(labels) != len(data):
        raise ValueError(f"labels ({len(labels)}) and data ({len(data)}) must have the same length")
    n_batches = len(data) // (batch_size * pack)
    if n_batches < 1:
        raise ValueError(f"batch_size * pack = {batch_size * pack} is larger than the data ({len(data)})")
    device = next(generator.parameters()).device
    ema = copy.deepcopy(generator).eval()
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    order_rng = torch.Generator().manual_seed(seed)
    history, snapshots = GANHistory(), {}
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = load_checkpoint(path)
        for module, key in ((generator, "G"), (discriminator, "D"), (ema, "G_ema"),
                            (opt_g, "opt_g"), (opt_d, "opt_d")):
            module.load_state_dict(state[key])
        history = GANHistory(**state["history"])
        snapshots = {int(k): v for k, v in state["snapshots"].items()}
        torch.set_rng_state(state["rng"])
        order_rng.set_state(state["order_rng"])
        if verbose:
            print(f"resuming {desc} from {path.name}: {history.epochs} of {epochs} epochs done")

    def condition(idx: torch.Tensor) -> tuple:
        return () if labels is None else (labels[idx].to(device),)

    bar = progress(total=epochs, initial=history.epochs, desc=desc, disable=not verbose)
    try:
        for epoch in range(history.epochs, epochs):
            start = time.perf_counter()
            sums = torch.zeros(4)
            perm = torch.randperm(len(data), generator=order_rng)
            for b in range(n_batches):
                idx = perm[b * batch_size * pack:(b + 1) * batch_size * pack]
                real = data[idx].to(device)
                cond = condition(idx)
                z = torch.randn(len(idx), z_dim, device=device)
                fake = generator(z, *cond)
                packed = (lambda t: t.view(batch_size, pack, *t.shape[1:])) if pack > 1 else (lambda t: t)
                real.requires_grad_(r1_gamma > 0)
                real_logits = discriminator(packed(real), *cond)
                fake_logits = discriminator(packed(fake.detach()), *cond)
                loss_d = d_loss(real_logits, fake_logits)
                if r1_gamma > 0:
                    loss_d = loss_d + r1_gamma / 2 * r1_penalty(real_logits, real)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                for step in range(g_steps):
                    if step > 0:
                        fake = generator(torch.randn(len(idx), z_dim, device=device), *cond)
                    fake_logits_g = discriminator(packed(fake), *cond)
                    loss_g = g_loss(fake_logits_g)
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_g.step()
                    _ema_update(ema, generator, ema_decay)
                if not (torch.isfinite(loss_d) and torch.isfinite(loss_g)):
                    where = f"last good checkpoint: {path}" if path is not None else "no checkpoint was set"
                    raise FloatingPointError(
                        f"{desc}: a loss became non-finite (D {float(loss_d.detach())}, G {float(loss_g.detach())}) "
                        f"at epoch {epoch + 1}; training stopped ({where}). Try a lower learning rate.")
                sums += torch.tensor([float(loss_d.detach()), float(loss_g.detach()),
                                      float(torch.sigmoid(real_logits.detach()).mean()),
                                      float(torch.sigmoid(fake_logits.detach()).mean())])
            means = (sums / n_batches).tolist()
            for key, value in zip(("d_loss", "g_loss", "d_real", "d_fake"), means):
                getattr(history, key).append(value)
            if snapshot is not None and epoch + 1 in snapshot_epochs:
                with torch.no_grad():
                    snapshots[epoch + 1] = {k: v.detach().cpu() for k, v in snapshot(ema, discriminator).items()}
            history.seconds += time.perf_counter() - start
            if path is not None:
                save_checkpoint(path, {
                    "G": generator.state_dict(), "D": discriminator.state_dict(), "G_ema": ema.state_dict(),
                    "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "history": asdict(history),
                    "snapshots": {str(k): v for k, v in snapshots.items()},
                    "rng": torch.get_rng_state(), "order_rng": order_rng.get_state(),
                })
            bar.set_postfix({"D(x)": f"{means[2]:.2f}", "D(G(z))": f"{means[3]:.2f}"}, refresh=False)
            bar.update(1)
    finally:
        bar.close()
    return GANRun(ema, history, snapshots)
