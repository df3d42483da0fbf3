"""What a chapter's full profile costs, counted without a GPU.

The full profile is for readers with a GPU (a free Colab T4 at least), and each chapter
must finish there in ten minutes. This module turns that promise into arithmetic a CPU can
check. A chapter lists the phases of its full run (training a model, sampling, an
evaluation), and for each one a function that performs *one* step of it, at full size,
on PyTorch's ``meta`` device: tensors with shapes and no data, so nothing is computed and
no memory is used. :func:`count` runs that step and counts its
floating-point operations (with the formulas of :mod:`torch.utils.flop_counter`) and the
kernels it launches; :class:`Budget` multiplies them by how often the full run
repeats the step and converts the total into minutes on a machine:

    minutes = (FLOPs / (peak FLOP/s x utilisation) + kernels x launch cost
               + training steps x step overhead) / 60

The machines' numbers (:data:`T4`, :data:`H100`) are assumptions, stated where they are
defined: the times are **estimates until a real GPU run measures them**. Tests fail when a
chapter's estimate exceeds :data:`LIMIT_MINUTES` on a T4, and the chapters' set-up cells
print the estimate for the reader's device from ``budget.json`` beside this file.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from .files import atomic_write

LIMIT_MINUTES = 10.0
"""A chapter's full profile must fit in this many minutes on a free Colab T4."""

ESTIMATES_FILE = Path(__file__).with_name("budget.json")
UPDATE_VARIABLE = "GENTEXT_UPDATE_BUDGET"


@dataclass(frozen=True)
class Machine:
    """How fast a GPU runs the book's small models, as assumptions to be measured.

    ``peak_tflops`` is the fp32 peak of the data sheet; ``utilisation`` the share of it
    that small convolutional and Transformer models reach (they are too small to fill a
    GPU); ``launch_us`` the cost of one kernel launch including PyTorch's own overhead;
    ``step_ms`` what each optimiser step costs beyond its kernels (Python, data loading).
    """

    name: str
    peak_tflops: float
    utilisation: float
    launch_us: float
    step_ms: float

    def seconds(self, flops: float, kernels: float, steps: float) -> float:
        return (flops / (self.peak_tflops * 1e12 * self.utilisation)
                + kernels * self.launch_us * 1e-6 + steps * self.step_ms * 1e-3)


T4 = Machine("T4", peak_tflops=8.1, utilisation=0.35, launch_us=10.0, step_ms=2.0)
"""NVIDIA T4 (Colab's free GPU): 8.1 TFLOP/s fp32 peak, 15 GB."""

H100 = Machine("H100", peak_tflops=67.0, utilisation=0.25, launch_us=6.0, step_ms=1.0)
"""NVIDIA H100 SXM: 67 TFLOP/s fp32 peak (no TF32), 80 GB; small models fill less of it."""

MACHINES = (T4, H100)


class _Counter(TorchDispatchMode):
    """Counts FLOPs (PyTorch's own formulas, those of ``FlopCounterMode``) and the ATen
    operations a step runs, about one kernel launch each on a GPU.

    ``FlopCounterMode`` itself tracks modules with autograd hooks, which refuse the
    ``autograd.grad`` of a gradient penalty; counting in a plain dispatch mode does not.
    """

    _FREE = {"detach", "view", "_unsafe_view", "t", "transpose", "permute", "expand",
             "unsqueeze", "squeeze", "select", "slice", "alias", "as_strided", "reshape",
             "unbind", "split", "split_with_sizes", "chunk", "empty", "empty_like",
             "empty_strided", "lift_fresh", "_to_copy", "to", "zero_", "fill_", "clone"}

    def __init__(self) -> None:
        super().__init__()
        self.kernels = 0
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        if packet in flop_registry:
            self.flops += int(flop_registry[packet](*args, **kwargs, out_val=out))
        if func.__name__.split(".")[0] not in self._FREE:
            self.kernels += 1
        return out


def count(step: Callable[[], Any]) -> tuple[int, int]:
    """The FLOPs and kernel launches of one call of ``step`` (run it on ``meta`` tensors)."""
    counter = _Counter()
    with counter:
        step()
    return counter.flops, counter.kernels


@dataclass
class Phase:
    name: str
    flops: int  # per repetition
    kernels: int
    repeats: float
    training: bool

    def seconds(self, machine: Machine) -> float:
        return machine.seconds(self.flops * self.repeats, self.kernels * self.repeats,
                               self.repeats if self.training else 0)


class BudgetExceeded(AssertionError):
    """A chapter's full profile would take longer than its budget."""


@dataclass
class Budget:
    """The phases of one chapter's full run and what they cost.

    ``add(name, step, repeats)`` counts one call of ``step`` (see :func:`count`) and
    records that the full run repeats it ``repeats`` times; ``training=True`` marks an
    optimiser step, which also pays the machine's per-step overhead.
    """

    chapter: str
    phases: list[Phase] = field(default_factory=list)

    def add(self, name: str, step: Callable[[], Any], repeats: float, *,
            training: bool = False) -> Phase:
        if repeats < 0 or not math.isfinite(repeats):
            raise ValueError(f"repeats must be a finite number >= 0, got {repeats!r}")
        flops, kernels = count(step)
        phase = Phase(name, flops, kernels, float(repeats), training)
        self.phases.append(phase)
        return phase

    def add_counted(self, name: str, flops: float, kernels: float, repeats: float, *,
                    training: bool = False) -> Phase:
        """Record a phase whose cost per repetition is already known (e.g. by arithmetic)."""
        phase = Phase(name, int(flops), int(kernels), float(repeats), training)
        self.phases.append(phase)
        return phase

    def minutes(self, machine: Machine = T4) -> float:
        return sum(p.seconds(machine) for p in self.phases) / 60

    @property
    def tflops(self) -> float:
        return sum(p.flops * p.repeats for p in self.phases) / 1e12

    def rows(self) -> list[dict[str, Any]]:
        rows = [{"phase": p.name, "GFLOP per step": p.flops / 1e9, "steps": int(p.repeats),
                 "TFLOP": p.flops * p.repeats / 1e12,
                 **{f"{m.name} min": p.seconds(m) / 60 for m in MACHINES}} for p in self.phases]
        rows.append({"phase": "whole chapter", "GFLOP per step": "", "steps": "",
                     "TFLOP": self.tflops, **{f"{m.name} min": self.minutes(m) for m in MACHINES}})
        return rows

    def check(self, limit: float = LIMIT_MINUTES, machine: Machine = T4) -> None:
        """Raise :class:`BudgetExceeded` when the estimate exceeds ``limit`` minutes."""
        minutes = self.minutes(machine)
        if minutes > limit:
            worst = max(self.phases, key=lambda p: p.seconds(machine))
            raise BudgetExceeded(
                f"{self.chapter}: the full profile is estimated at {minutes:.1f} min on a "
                f"{machine.name}, over its budget of {limit:g} min; the costliest phase is "
                f"{worst.name!r} ({worst.seconds(machine) / 60:.1f} min). Shrink its steps, "
                "width or sample count in the chapter's full settings.")

    def estimate(self) -> dict[str, float]:
        return {"tflops": round(self.tflops, 3),
                **{m.name: round(self.minutes(m), 2) for m in MACHINES}}

    def report(self, *, check: bool = True) -> dict[str, float]:
        """Print the table, check the budget, and compare with the committed estimate.

        With ``$GENTEXT_UPDATE_BUDGET=1`` the estimate is written to ``budget.json``
        instead (what an author does after changing the full settings); otherwise a
        committed estimate that differs by more than 5% fails, so the set-up cells never
        print a stale number.
        """
        from .display import table

        rows = self.rows()
        table([list(r.values()) for r in rows], list(rows[0]), floatfmt=".3g")
        if check:
            self.check()
        estimate = self.estimate()
        if os.environ.get(UPDATE_VARIABLE, "").strip() == "1":
            save_estimate(self.chapter, estimate)
            return estimate
        stored = load_estimates().get(self.chapter)
        if stored is None or abs(stored["T4"] - estimate["T4"]) > 0.05 * max(estimate["T4"], 0.1):
            raise BudgetExceeded(
                f"{self.chapter}: the committed estimate {stored} is not this run's "
                f"{estimate}; rerun the chapter with {UPDATE_VARIABLE}=1 to update "
                f"{ESTIMATES_FILE.name}")
        return estimate


def load_estimates(path: Path | None = None) -> dict[str, dict[str, float]]:
    """Every chapter's committed estimate: ``{chapter: {"tflops", "T4", "H100"}}``."""
    path = path if path is not None else ESTIMATES_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def save_estimate(chapter: str, estimate: dict[str, float], path: Path | None = None) -> None:
    path = path if path is not None else ESTIMATES_FILE
    data = load_estimates(path)
    data[chapter] = estimate
    text = json.dumps(dict(sorted(data.items())), indent=1) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode()))


def machine_for(device: torch.device) -> Machine | None:
    """The estimate that fits ``device``: a T4 or slower GPU gets T4's, faster ones H100's."""
    if device.type != "cuda":
        return None
    try:
        name = torch.cuda.get_device_name(device)
    except Exception:  # noqa: BLE001 - no driver, a virtual device in the device check
        return T4
    fast = ("H100", "H200", "A100", "L40", "L4", "A10", "4090", "3090")
    return H100 if any(tag in name for tag in fast) else T4


def describe(chapter: str | None, device: torch.device, profile: str) -> str | None:
    """One line for the set-up cell: this chapter's estimated full-profile time."""
    if chapter is None:
        return None
    estimate = load_estimates().get(chapter)
    if estimate is None:
        return None
    machine = machine_for(device)
    if profile == "full" and machine is not None:
        return (f"gentext: the full profile of this chapter takes about "
                f"{estimate[machine.name]:.0f} min on a {machine.name}-class GPU (an estimate)")
    return (f"gentext: the full profile of this chapter needs a GPU: about "
            f"{estimate['T4']:.0f} min on a T4, {estimate['H100']:.1f} on an H100 (estimates)")


def markdown_table(estimates: dict[str, dict[str, float]] | None = None) -> str:
    """The estimates as the Markdown table of ``book/how_to_use.md`` (kept equal by a test)."""
    estimates = load_estimates() if estimates is None else estimates
    lines = ["| chapter | compute (TFLOP) | T4, estimated (min) | H100, estimated (min) |",
             "| --- | ---: | ---: | ---: |"]
    for chapter, e in sorted(estimates.items()):
        lines.append(f"| {chapter} | {e['tflops']:,.0f} | {e['T4']:.1f} | {e['H100']:.1f} |")
    total_t4 = sum(e["T4"] for e in estimates.values())
    total_h100 = sum(e["H100"] for e in estimates.values())
    total_tflops = sum(e["tflops"] for e in estimates.values())
    lines.append(f"| the whole book | {total_tflops:,.0f} | {total_t4:.0f} | {total_h100:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m gentext.budget: print the table for book/how_to_use.md
    print(markdown_table())
