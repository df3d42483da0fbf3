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
* atomic per-epoch checkpoints that resume, like :func:`gentext.fit`, and are not
  resumed when anything that determines the run has changed.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from .timing import synchronize
from .train import (ema_update, fingerprint, open_checkpoint, progress, rng_state, save_checkpoint,
                    set_rng_state, smoke_batches)


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


Step = Callable[..., dict[str, torch.Tensor]]


def adversarial_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
                     opt_d: torch.optim.Optimizer, real: torch.Tensor, cond: tuple = (), *,
                     z_dim: int, r1_gamma: float = 1.0, g_steps: int = 1, pack: int = 1,
                     after_g_step: Callable[[], None] | None = None) -> dict[str, torch.Tensor]:
    """One round of the game: one discriminator step, then ``g_steps`` generator steps.

    ``real`` is a batch on the training device (``pack`` times the batch size when packing);
    ``cond`` holds the labels for a conditional GAN. Returns the detached losses and D's
    mean probabilities of "real" for real and generated data, for the history.
    """
    def packed(t: torch.Tensor) -> torch.Tensor:  # pack samples side by side for PacGAN
        return t.unflatten(0, (-1, pack)) if pack > 1 else t

    z = torch.randn(len(real), z_dim, device=real.device)
    fake = G(z, *cond)
    real = real.detach().requires_grad_(r1_gamma > 0)
    real_logits = D(packed(real), *cond)
    fake_logits = D(packed(fake.detach()), *cond)
    loss_d = d_loss(real_logits, fake_logits)
    if r1_gamma > 0:
        loss_d = loss_d + r1_gamma / 2 * r1_penalty(real_logits, real)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    for step in range(g_steps):
        if step > 0:
            fake = G(torch.randn(len(real), z_dim, device=real.device), *cond)
        loss_g = g_loss(D(packed(fake), *cond))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if after_g_step is not None:
            after_g_step()
    return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean()}


def train_gan(generator: nn.Module, discriminator: nn.Module, data: torch.Tensor, *,
              z_dim: int, epochs: int, labels: torch.Tensor | None = None,
              batch_size: int = 64, lr: float = 1e-3, betas: tuple[float, float] = (0.0, 0.99),
              r1_gamma: float = 1.0, ema_decay: float = 0.99, g_steps: int = 1, pack: int = 1,
              checkpoint: str | os.PathLike | None = None, seed: int = 0,
              snapshot: Callable[[nn.Module, nn.Module], dict[str, torch.Tensor]] | None = None,
              snapshot_epochs: tuple[int, ...] = (), desc: str = "GAN",
              device: torch.device | str | None = None, step: Step = adversarial_step,
              config: Mapping[str, Any] | None = None, verbose: bool = True) -> GANRun:
    """Train a GAN on ``data`` (and ``labels`` for a conditional GAN) for ``epochs`` epochs.

    The generator is called as ``G(z)`` or ``G(z, y)``, the discriminator as ``D(x)`` or
    ``D(x, y)``; with ``pack > 1``, ``D`` receives ``pack`` samples stacked along a new
    axis 1. Each batch is one call of ``step`` (by default :func:`adversarial_step`;
    chapter 3 passes the one it writes out). ``snapshot(G_ema, D)`` runs after each epoch in
    ``snapshot_epochs`` (1-based); what it returns is kept in the checkpoint, so a resumed
    run still has it.

    * ``device``: where both networks and every batch live (default: where ``generator``
      is). ``data`` and ``labels`` may stay on the CPU; batches are moved as they are used.
    * ``checkpoint``: written atomically after every epoch; resumed only when it was made
      by the same networks, data, hyperparameters and ``config`` (the chapter's settings),
      otherwise one printed line says what changed and training starts from scratch. A
      resumed run equals an uninterrupted one on the same kind of device (the CPU's and the
      accelerator's random states are saved; on a GPU up to nondeterministic kernels).

    Returns the EMA generator (on ``device``), the history and the snapshots (on the CPU).
    """
    if data.dim() < 2:
        raise ValueError(f"data must be N x ... with at least 2 dimensions, got {tuple(data.shape)}")
    if labels is not None and len(labels) != len(data):
        raise ValueError(f"labels ({len(labels)}) and data ({len(data)}) must have the same length")
    n_batches = len(data) // (batch_size * pack)
    if n_batches < 1:
        raise ValueError(f"batch_size * pack = {batch_size * pack} is larger than the data ({len(data)})")
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    generator.to(device)
    discriminator.to(device)
    ema = copy.deepcopy(generator).eval()
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    order_rng = torch.Generator().manual_seed(seed)
    history, snapshots = GANHistory(), {}
    path = Path(checkpoint) if checkpoint is not None else None
    stamp = fingerprint(
        generator=generator, discriminator=discriminator, optimizer=opt_g,
        training={"epochs": epochs, "batch_size": batch_size, "r1_gamma": r1_gamma,
                  "ema_decay": ema_decay, "g_steps": g_steps, "pack": pack, "seed": seed,
                  "z_dim": z_dim},
        data={"x": data, "labels": labels}, settings=dict(config or {}))
    state = open_checkpoint(path, stamp, desc, verbose)
    if state is not None:
        for module, key in ((generator, "G"), (discriminator, "D"), (ema, "G_ema"),
                            (opt_g, "opt_g"), (opt_d, "opt_d")):
            module.load_state_dict(state[key])
        history = GANHistory(**state["history"])
        snapshots = {int(k): v for k, v in state["snapshots"].items()}
        set_rng_state(state["rng"])
        order_rng.set_state(state["order_rng"])
        if verbose:
            print(f"resuming {desc} from {path.name}: {history.epochs} of {epochs} epochs done")

    limit = smoke_batches()  # a smoke run cuts every epoch short
    epoch_batches = n_batches if limit is None else min(n_batches, limit)
    bar = progress(total=epochs, initial=history.epochs, desc=desc, disable=not verbose)
    try:
        for epoch in range(history.epochs, epochs):
            synchronize(device)
            start = time.perf_counter()
            sums = {key: 0.0 for key in ("d_loss", "g_loss", "d_real", "d_fake")}
            perm = torch.randperm(len(data), generator=order_rng)
            for b in range(epoch_batches):
                idx = perm[b * batch_size * pack:(b + 1) * batch_size * pack]
                cond = () if labels is None else (labels[idx].to(device),)
                stats = step(generator, discriminator, opt_g, opt_d, data[idx].to(device), cond,
                             z_dim=z_dim, r1_gamma=r1_gamma, g_steps=g_steps, pack=pack,
                             after_g_step=lambda: ema_update(ema, generator, ema_decay))
                values = {key: float(stats[key]) for key in sums}
                if not (math.isfinite(values["d_loss"]) and math.isfinite(values["g_loss"])):
                    where = f"last good checkpoint: {path}" if path is not None else "no checkpoint was set"
                    raise FloatingPointError(
                        f"{desc}: a loss became non-finite (D {values['d_loss']}, G {values['g_loss']}) "
                        f"at epoch {epoch + 1}; training stopped ({where}). Try a lower learning rate.")
                for key in sums:
                    sums[key] += values[key]
            for key, total in sums.items():
                getattr(history, key).append(total / epoch_batches)
            if snapshot is not None and epoch + 1 in snapshot_epochs:
                with torch.no_grad():
                    snapshots[epoch + 1] = {k: v.detach().cpu() for k, v in snapshot(ema, discriminator).items()}
            synchronize(device)
            history.seconds += time.perf_counter() - start
            if path is not None:
                save_checkpoint(path, {
                    "fingerprint": stamp,
                    "G": generator.state_dict(), "D": discriminator.state_dict(), "G_ema": ema.state_dict(),
                    "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "history": asdict(history),
                    "snapshots": {str(k): v for k, v in snapshots.items()},
                    "rng": rng_state(), "order_rng": order_rng.get_state(),
                })
            bar.set_postfix({"D(x)": f"{history.d_real[-1]:.2f}", "D(G(z))": f"{history.d_fake[-1]:.2f}"},
                            refresh=False)
            bar.update(1)
    finally:
        bar.close()
    return GANRun(ema, history, snapshots)
