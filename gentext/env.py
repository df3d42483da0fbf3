"""Seeds, device and profile: the three facts every chapter fixes in its first code cell.

A chapter calls :func:`setup` once. It seeds every random number generator the book uses,
chooses where tensors live, reads which profile (``quick`` or ``full``) to run, and prints
one line that says all three, so a reader always knows what produced the numbers below it.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

PROFILES = ("quick", "full")
PROFILE_VARIABLE = "GENTEXT_PROFILE"
DEVICE_VARIABLE = "GENTEXT_DEVICE"
SMOKE_VARIABLE = "GENTEXT_SMOKE"


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` chose. Chapters keep it as ``cfg`` and read ``cfg.device`` etc."""

    seed: int
    device: torch.device
    profile: str

    def __str__(self) -> str:
        return f"profile={self.profile} device={self.device} seed={self.seed}"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so a rerun repeats every number."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _cuda_available() -> bool:
    return torch.cuda.is_available()


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(requested: str | None = None) -> torch.device:
    """The device to train on: ``requested``, else ``$GENTEXT_DEVICE``, else cuda, mps, cpu.

    An explicit request for an accelerator that is not there is an error rather than a
    silent fall-back to the CPU: a reader who asked for the GPU should not wait an hour
    for a CPU run without knowing it.
    """
    name = requested or os.environ.get(DEVICE_VARIABLE, "").strip()
    if not name:
        if _cuda_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(
            f"unknown device {name!r} (from {DEVICE_VARIABLE} or the device argument); "
            "expected 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from err
    if device.type == "cuda" and not _cuda_available():
        raise RuntimeError(f"device {name!r} was requested but CUDA is not available here")
    if device.type == "mps" and not _mps_available():
        raise RuntimeError(f"device {name!r} was requested but MPS is not available here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device type {device.type!r}; expected cpu, cuda or mps")
    return device


def get_profile(requested: str | None = None) -> str:
    """``requested``, else ``$GENTEXT_PROFILE``, else ``full`` with a CUDA GPU and ``quick`` without."""
    name = requested if requested is not None else os.environ.get(PROFILE_VARIABLE, "")
    name = name.strip().lower()
    if not name:
        return "full" if _cuda_available() else "quick"
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} (from {PROFILE_VARIABLE} or the profile argument); "
            f"expected one of {', '.join(PROFILES)}"
        )
    return name


_ACTIVE: Setup | None = None


def active_profile() -> str:
    """The profile chosen by the last :func:`setup` call, else the one :func:`get_profile` gives."""
    return _ACTIVE.profile if _ACTIVE is not None else get_profile()


def setup(seed: int = 0, *, profile: str | None = None, device: str | None = None,
          verbose: bool = True, style: bool = True) -> Setup:
    """Seed everything, choose the device and the profile, and print one line saying so.

    With ``style=True`` (the default) it also applies the book's matplotlib style, so every
    figure in the chapter looks alike. Importing gentext alone changes no global setting.
    """
    global _ACTIVE
    chosen = Setup(seed=seed, device=get_device(device), profile=get_profile(profile))
    seed_everything(seed)
    _ACTIVE = chosen
    if style:
        from .plot import use_style

        use_style()
    if verbose:
        other = "full" if chosen.profile == "quick" else "quick"
        print(f"gentext: profile={chosen.profile} device={chosen.device} seed={seed} "
              f"(set {PROFILE_VARIABLE}={other} to switch profile)")
    return chosen


def smoke_requested() -> bool:
    """Whether ``$GENTEXT_SMOKE`` asks for a smoke run (``1``, ``true`` or ``yes``)."""
    return os.environ.get(SMOKE_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def settings(profile: str, *, quick: dict[str, Any], full: dict[str, Any],
             smoke: dict[str, Any] | None = None, verbose: bool = True) -> dict[str, Any]:
    """Pick a chapter's settings from its profile table.

    Every chapter keeps its numbers (steps, widths, data) in one table at its top and reads
    them through this function: ``quick`` (8x8 digits on a CPU) and ``full`` (MNIST on a
    GPU) name the same keys. ``smoke`` overrides a few of the full settings (epochs,
    sample counts) so that CI can run the full profile's code end to end at 28x28 in
    seconds, on the offline MNIST digits; it applies only when ``$GENTEXT_SMOKE`` is set
    and the profile is ``full``. A smoke run is a test of the code path, not of results.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if full is None:
        raise ValueError("every chapter has full-profile settings: pass full=dict(...)")
    differing = sorted(set(quick) ^ set(full))
    if differing:
        raise ValueError(f"quick and full settings must have the same keys; differing: {differing}")
    unknown = sorted(set(smoke or {}) - set(full))
    if unknown:
        raise ValueError(f"smoke settings may only override full settings; unknown keys: {unknown}")
    if profile == "quick":
        return dict(quick)
    if smoke is not None and smoke_requested():
        if verbose:
            print(f"smoke run ({SMOKE_VARIABLE} is set): the full profile's code with "
                  f"{', '.join(f'{k}={v}' for k, v in smoke.items())}")
        return {**full, **smoke}
    return dict(full)
