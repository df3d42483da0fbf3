"""One small training loop that every chapter shares.

Chapters write their model and its loss; :func:`fit` does the bookkeeping around them:
a progress bar, the loss history, validation after each epoch, early stopping on the
validation loss, and checkpoints that survive an interrupted run.

Why checkpoints look the way they do:

* they are written to a temporary file and then renamed over the old one, so a crash
  while writing never leaves a half-written checkpoint behind;
* they hold the model, the optimiser, the best weights so far, the history and the state
  of every random number generator the loop draws from, so a resumed run continues
  exactly where the interrupted one stopped and ends with the same weights;
* they hold only tensors and plain Python values, so they load with
  ``torch.load(..., weights_only=True)``, which cannot run code hidden in a file.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

LossFn = Callable[[nn.Module, Any], torch.Tensor]


def progress(iterable: Iterable | None = None, **kwargs: Any):
    """A tqdm progress bar: a widget in Jupyter when ipywidgets is installed, text otherwise.

    Text bars go to stdout rather than stderr so that executed notebooks hold no stderr
    output; ``GENTEXT_PLAIN_PROGRESS=1`` forces text bars (the notebook executor sets it).
    """
    kwargs.setdefault("dynamic_ncols", True)
    if os.environ.get("GENTEXT_PLAIN_PROGRESS") != "1" and _in_notebook():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm(iterable, **kwargs)
        except ImportError:
            pass
    from tqdm.std import tqdm as text_tqdm

    kwargs.setdefault("file", sys.stdout)
    kwargs.setdefault("mininterval", 1.0)
    return text_tqdm(iterable, **kwargs)


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


@dataclass
class History:
    """What happened during :func:`fit`: per-epoch losses and where the best model was."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1
    best_val: float = math.inf
    stopped_early: bool = False
    finished: bool = False
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` to a temporary file, then rename it over ``path``.

    ``os.replace`` is atomic on POSIX and Windows: a reader sees the old file or the new
    one, never a torn one, even if the process dies in the middle of the write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) onto the CPU."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def _fingerprint(model: nn.Module, optimizer: torch.optim.Optimizer) -> str:
    """A description of the model and optimiser, so a checkpoint of another model is not resumed."""
    groups = [{k: v for k, v in g.items() if k != "params" and isinstance(v, (int, float, str, bool))}
              for g in optimizer.param_groups]
    return f"{model!r}|{type(optimizer).__name__}|{groups!r}"


def _mean_loss(model: nn.Module, loss_fn: LossFn, loader: Iterable, device: torch.device) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            batch = _to_device(batch, device)
            n = _batch_size(batch)
            total += float(loss_fn(model, batch)) * n
            count += n
    return total / max(count, 1)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch


def _batch_size(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return len(batch)
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    return 1


def fit(model: nn.Module, loss_fn: LossFn, train_loader: Iterable, *,
        epochs: int,
        optimizer: torch.optim.Optimizer | None = None,
        lr: float = 1e-3,
        val_loader: Iterable | None = None,
        patience: int | None = None,
        checkpoint: str | os.PathLike | None = None,
        device: torch.device | str | None = None,
        grad_clip: float | None = None,
        desc: str = "train",
        verbose: bool = True,
        after_step: Callable[[nn.Module], None] | None = None) -> History:
    """Train ``model`` by minimising ``loss_fn(model, batch)`` over ``train_loader``.

    * ``val_loader``: after every epoch the mean validation loss is computed; the best
      weights are kept and restored at the end.
    * ``patience``: stop when the validation loss has not improved for that many epochs.
    * ``checkpoint``: a file path. After every epoch the full training state is written
      there atomically; if the file exists when ``fit`` starts (and was made by the same
      model and optimiser), training resumes from it, and a finished run returns at once.
    * A loss that is NaN or infinite stops training with a :class:`FloatingPointError`;
      the checkpoint on disk still holds the last good epoch.

    Returns the :class:`History`; the model ends on its best weights (or its last ones
    when there is no validation data).
    """
    if epochs <= 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    if patience is not None and val_loader is None:
        raise ValueError("early stopping (patience) needs a val_loader")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = getattr(train_loader, "generator", None)
    history = History()
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0
    path = Path(checkpoint) if checkpoint is not None else None
    fingerprint = _fingerprint(model, optimizer)

    if path is not None and path.exists():
        state = load_checkpoint(path)
        if state.get("fingerprint") != fingerprint:
            if verbose:
                print(f"note: {path} was made by a different model or optimiser; training from scratch")
        else:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            history = History(**state["history"])
            best_state = state["best_model"]
            bad_epochs = state["bad_epochs"]
            torch.set_rng_state(state["rng"])
            if generator is not None and state.get("loader_rng") is not None:
                generator.set_state(state["loader_rng"])
            if verbose:
                done = "finished" if history.finished else "interrupted"
                print(f"resuming {desc} from {path.name}: {history.epochs} epochs done ({done})")

    def finish() -> History:
        if best_state is not None:
            model.load_state_dict(best_state)
        return history

    if history.finished:
        return finish()

    bar = progress(total=epochs, initial=history.epochs, desc=desc, disable=not verbose)
    try:
        for epoch in range(history.epochs, epochs):
            start = time.perf_counter()
            model.train()
            total, count = 0.0, 0
            for step, batch in enumerate(train_loader):
                batch = _to_device(batch, device)
                loss = loss_fn(model, batch)
                if not torch.isfinite(loss):
                    where = f"last good checkpoint: {path}" if path is not None else "no checkpoint was set"
                    raise FloatingPointError(
                        f"{desc}: the loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}; "
                        f"training stopped ({where}, after epoch {history.epochs}). "
                        "Try a lower learning rate or gradient clipping.")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
                if after_step is not None:
                    after_step(model)
                n = _batch_size(batch)
                total += float(loss.detach()) * n
                count += n
            history.train_loss.append(total / max(count, 1))
            postfix = {"loss": f"{history.train_loss[-1]:.4g}"}
            if val_loader is not None:
                val = _mean_loss(model, loss_fn, val_loader, device)
                history.val_loss.append(val)
                postfix["val"] = f"{val:.4g}"
                if val < history.best_val:
                    history.best_val, history.best_epoch, bad_epochs = val, epoch, 0
                    best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                else:
                    bad_epochs += 1
                if patience is not None and bad_epochs >= patience:
                    history.stopped_early = True
                    postfix["stopped"] = f"early, best epoch {history.best_epoch + 1}"
            history.seconds += time.perf_counter() - start
            history.finished = history.stopped_early or epoch + 1 == epochs
            if path is not None:
                save_checkpoint(path, {
                    "fingerprint": fingerprint,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "history": asdict(history),
                    "best_model": best_state,
                    "bad_epochs": bad_epochs,
                    "rng": torch.get_rng_state(),
                    "loader_rng": generator.get_state() if generator is not None else None,
                })
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
            if history.stopped_early:
                break
    finally:
        bar.close()
    return finish()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


