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
  ``torch.load(..., weights_only=True)``, which cannot run code hidden in a file;
* they carry a fingerprint of everything that determines the run (model, optimiser,
  training arguments and the chapter's settings): a reader who changes a setting and
  reruns a cell gets a new run, with one printed line saying why the old one was not
  resumed, never a silently reused one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from .files import atomic_write
from .timing import synchronize

LossFn = Callable[[nn.Module, Any], torch.Tensor]


@dataclass(frozen=True)
class WarmupCosine:
    """A learning-rate multiplier: a linear warm-up, then a cosine decay to ``final``.

    Called with the fraction of training done (0 to 1). Short runs on small data profit
    from both halves: the warm-up keeps Adam's first, poorly estimated steps small, and
    the decay lets the last epochs settle instead of bouncing around the minimum. It is a
    frozen dataclass so that its ``repr`` names it exactly in a checkpoint's fingerprint.
    """

    warmup: float = 0.05
    final: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.warmup < 1 or not 0 <= self.final <= 1:
            raise ValueError(f"need 0 <= warmup < 1 and 0 <= final <= 1, got {self}")

    def __call__(self, done: float) -> float:
        if done < self.warmup:
            return (done + 1e-3) / (self.warmup + 1e-3)
        progress = (done - self.warmup) / (1 - self.warmup)
        return self.final + (1 - self.final) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def progress(iterable: Iterable | None = None, **kwargs: Any):
    """A tqdm progress bar: a widget in Jupyter and Colab (with ipywidgets), text otherwise.

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
    """Whether code runs under a Jupyter kernel, which can show tqdm's widget.

    Jupyter's kernels run ipykernel's ``ZMQInteractiveShell``; Colab runs a subclass of it
    (``google.colab._shell.Shell``), so any class in the shell's MRO with that name counts.
    IPython in a terminal (``TerminalInteractiveShell``) and plain Python get text bars.
    The check reads class names only, so it imports neither IPython nor ipykernel.
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:  # pragma: no cover - a broken or half-imported IPython
        return False
    if shell is None:
        return False
    return any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)


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
    """Write ``state`` with ``torch.save`` atomically (see :func:`gentext.files.atomic_write`).

    A crash in the middle of the write leaves the previous checkpoint intact and no
    temporary file behind.
    """
    atomic_write(path, lambda fh: torch.save(state, fh))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) onto the CPU."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


# ------------------------------------------------------------------ fingerprints

def describe(obj: Any) -> Any:
    """A plain, comparable description of what determines a training run.

    Modules are described by their class, their ``repr``, every plain attribute of every
    submodule (so a setting such as ``noise_std`` counts even though ``repr`` omits it) and
    the names, shapes and dtypes of their parameters and buffers. Optimisers by their class
    and every hyperparameter of every parameter group (tuples such as Adam's ``betas``
    included). Tensors by shape, dtype and a hash of their values, so a change of data is
    noticed. Mappings and sequences element by element; anything else by ``repr``.
    """
    if isinstance(obj, nn.Module):
        parts = {"class": type(obj).__qualname__, "repr": repr(obj), "attributes": {}}
        for name, module in obj.named_modules():
            plain = {k: describe(v) for k, v in vars(module).items()
                     if not k.startswith("_") and k != "training" and _is_plain(v)}
            if plain:
                parts["attributes"][name or "."] = plain
        parts["tensors"] = {k: [list(v.shape), str(v.dtype)] for k, v in obj.state_dict().items()}
        return parts
    if isinstance(obj, torch.optim.Optimizer):
        return {"class": type(obj).__qualname__,
                "groups": [{**{k: describe(v) for k, v in sorted(g.items()) if k != "params"},
                            "n_params": len(g["params"])} for g in obj.param_groups]}
    if isinstance(obj, torch.Tensor):
        data = obj.detach().cpu().contiguous()
        digest = hashlib.sha256(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"").hexdigest()
        return {"tensor": list(data.shape), "dtype": str(data.dtype), "sha256": digest[:16]}
    if isinstance(obj, Mapping):
        return {str(k): describe(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [describe(v) for v in obj]
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    if callable(obj):
        return getattr(obj, "__qualname__", type(obj).__qualname__)
    return repr(obj)


def _is_plain(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return False


def fingerprint(**parts: Any) -> dict[str, str]:
    """One short hash per named part (``model=..., optimizer=..., settings=...``).

    A checkpoint stores its fingerprint; a run resumes from it only when every part
    matches, and otherwise :func:`stale_parts` names what changed.
    """
    return {name: hashlib.sha256(json.dumps(describe(value), sort_keys=True, default=str).encode())
            .hexdigest()[:16] for name, value in parts.items()}


def stale_parts(stored: Any, current: dict[str, str]) -> list[str]:
    """The parts of ``current`` that ``stored`` (a checkpoint's fingerprint) does not match."""
    if not isinstance(stored, dict):
        return ["format (written by an older gentext)"]
    return [name for name, value in current.items() if stored.get(name) != value]


def open_checkpoint(path: Path | None, current: dict[str, str], desc: str,
                    verbose: bool) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it can be resumed, else ``None`` and one line saying why."""
    if path is None or not path.exists():
        return None
    try:
        state = load_checkpoint(path)
    except Exception as err:  # a truncated or foreign file: start over, never crash
        if verbose:
            print(f"note: {desc}: {path.name} could not be read ({type(err).__name__}); training from scratch")
        return None
    changed = stale_parts(state.get("fingerprint"), current)
    if changed:
        if verbose:
            print(f"note: {desc}: not resuming {path.name}, it was made with other settings "
                  f"({', '.join(changed)} changed); training from scratch")
        return None
    return state


# ------------------------------------------------------------------ random states

def rng_state() -> dict[str, Any]:
    """The state of every random number generator that training draws from.

    PyTorch keeps one generator for the CPU and one per CUDA device (and one for MPS);
    noise drawn on a GPU comes from the GPU's generator. Saving all of them is what lets
    a resumed run equal an uninterrupted one on any device.
    """
    state: dict[str, Any] = {"cpu": torch.get_rng_state(), "cuda": [], "mps": None}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    mps = getattr(torch, "mps", None)
    backend = getattr(torch.backends, "mps", None)
    if mps is not None and backend is not None and backend.is_available():
        state["mps"] = mps.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any] | torch.Tensor) -> None:
    """Restore what :func:`rng_state` saved (the accelerators' states where present here)."""
    if isinstance(state, torch.Tensor):  # checkpoints of older gentext kept the CPU state alone
        torch.set_rng_state(state)
        return
    torch.set_rng_state(state["cpu"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    if state.get("mps") is not None and getattr(torch.backends, "mps", None) is not None \
            and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


def smoke_batches() -> int | None:
    """How many batches an epoch may use in a smoke run (``$GENTEXT_SMOKE``), else None.

    A smoke run tests the full profile's code path on full-size data in seconds, so the
    training loops (:func:`fit`, :func:`gentext.gan.train_gan`) cut every epoch short.
    """
    from .env import smoke_requested

    return SMOKE_BATCHES if smoke_requested() else None


SMOKE_BATCHES = 6


def _mean_loss(model: nn.Module, loss_fn: LossFn, loader: Iterable, device: torch.device) -> float:
    model.eval()
    total, count = 0.0, 0
    limit = smoke_batches()
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if limit is not None and i >= limit:
                break
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


def batched(fn: Callable[..., Any], *inputs: torch.Tensor, batch_size: int,
            device: torch.device | str | None = None) -> Any:
    """``fn`` applied to ``batch_size`` rows of ``inputs`` at a time; the results on the CPU.

    Evaluating or sampling a whole data set in one call needs memory for all of its
    activations at once: 10,000 MNIST images through a 256-level output layer is tens of
    gigabytes, more than a free GPU has. Each batch is moved to ``device`` (when given),
    ``fn`` runs on it, and its output (a tensor, or a tuple of tensors, each with one row
    per input row) is moved to the CPU before the next batch, so memory stays bounded by
    one batch. Gradients are the caller's choice (wrap the call in ``torch.no_grad()``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not inputs or len(inputs[0]) == 0:
        raise ValueError("batched needs at least one input with at least one row")
    if any(len(t) != len(inputs[0]) for t in inputs):
        raise ValueError(f"inputs must have equal lengths, got {[len(t) for t in inputs]}")
    parts = []
    for start in range(0, len(inputs[0]), batch_size):
        args = [t[start:start + batch_size] for t in inputs]
        out = fn(*(a.to(device) for a in args) if device is not None else args)
        parts.append(tuple(o.cpu() for o in out) if isinstance(out, tuple) else out.cpu())
    if isinstance(parts[0], tuple):
        return tuple(torch.cat(column) for column in zip(*parts))
    return torch.cat(parts)


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
        after_step: Callable[[nn.Module], None] | None = None,
        lr_schedule: Callable[[float], float] | None = None,
        config: Mapping[str, Any] | None = None) -> History:
    """Train ``model`` by minimising ``loss_fn(model, batch)`` over ``train_loader``.

    * ``val_loader``: after every epoch the mean validation loss is computed; the best
      weights are kept and restored at the end.
    * ``patience``: stop when the validation loss has not improved for that many epochs.
    * ``checkpoint``: a file path. After every epoch the full training state is written
      there atomically. If the file exists when ``fit`` starts, training resumes from it
      (a finished run returns at once), but only if it was made by the same run: the same
      model (architecture and attributes), optimiser and hyperparameters, ``epochs``,
      ``patience``, ``grad_clip``, batch size and ``config``. Otherwise one printed line
      names what changed and training starts from scratch.
    * ``lr_schedule``: a multiplier of every parameter group's learning rate, called with
      the fraction of training done before each step (e.g. :class:`WarmupCosine`). Early
      stopping cuts it short; use it for runs whose length is chosen in advance.
    * ``config``: the chapter's settings (its profile table), so that changing any of them
      and rerunning the cell trains anew instead of returning the old run.
    * ``device``: where the model and every batch live (default: where the model is).
      A resumed run repeats an uninterrupted one exactly on the same kind of device
      (the CPU's and the accelerator's random states are saved; on a GPU, equality is up to
      nondeterministic kernels unless ``torch.use_deterministic_algorithms`` is on).
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
    dataset = getattr(train_loader, "dataset", None)
    stamp = fingerprint(
        model=model, optimizer=optimizer,
        training={"epochs": epochs, "patience": patience, "grad_clip": grad_clip,
                  "batch_size": getattr(train_loader, "batch_size", None),
                  "lr_schedule": repr(lr_schedule),
                  "examples": len(dataset) if dataset is not None and hasattr(dataset, "__len__") else None},
        settings=dict(config or {}))

    state = open_checkpoint(path, stamp, desc, verbose)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = History(**state["history"])
        best_state = state["best_model"]
        bad_epochs = state["bad_epochs"]
        set_rng_state(state["rng"])
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
    for group in optimizer.param_groups:  # the schedule scales this; saved with the optimiser
        group.setdefault("base_lr", group["lr"])
    steps_per_epoch = len(train_loader) if lr_schedule is not None else 0

    limit = smoke_batches()
    bar = progress(total=epochs, initial=history.epochs, desc=desc, disable=not verbose)
    try:
        for epoch in range(history.epochs, epochs):
            synchronize(device)  # a GPU runs ahead of Python: time what it has done
            start = time.perf_counter()
            model.train()
            total, count = 0.0, 0
            for step, batch in enumerate(train_loader):
                if limit is not None and step >= limit:
                    break
                batch = _to_device(batch, device)
                if lr_schedule is not None:
                    done = (epoch * steps_per_epoch + step) / (epochs * steps_per_epoch)
                    for group in optimizer.param_groups:
                        group["lr"] = group["base_lr"] * lr_schedule(done)
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
            synchronize(device)
            history.seconds += time.perf_counter() - start
            history.finished = history.stopped_early or epoch + 1 == epochs
            if path is not None:
                save_checkpoint(path, {
                    "fingerprint": stamp,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "history": asdict(history),
                    "best_model": best_state,
                    "bad_epochs": bad_epochs,
                    "rng": rng_state(),
                    "loader_rng": generator.get_state() if generator is not None else None,
                })
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
            if history.stopped_early:
                break
    finally:
        bar.close()
    return finish()


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """Move ``ema``'s parameters a step ``1 - decay`` towards ``model``'s; copy its buffers.

    An exponential moving average of the weights is a better sampler than the weights
    themselves for GANs (chapters 3-4) and diffusion models (chapter 8): it averages away
    the last steps' noise. ``ema`` must be a copy of ``model`` (same architecture).
    """
    if not 0 <= decay <= 1:
        raise ValueError(f"decay must lie in [0, 1], got {decay}")
    ema_params, params = list(ema.parameters()), list(model.parameters())
    if len(ema_params) != len(params) or any(a.shape != b.shape for a, b in zip(ema_params, params)):
        raise ValueError("ema and model must have the same parameters (ema is a copy of model)")
    for pe, p in zip(ema_params, params):
        pe.lerp_(p.detach(), 1 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


