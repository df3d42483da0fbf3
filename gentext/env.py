"""Seeds, device and profile: the three facts every chapter fixes in its first code cell.

A chapter calls :func:`setup` once. It seeds every random number generator the book uses,
chooses where tensors live, reads which profile (``quick`` or ``full``) to run, and prints
one line that says all three, so a reader always knows what produced the numbers below it.

In Colab, :func:`use_drive` keeps results, data and caches on Google Drive, so they
outlive the runtime.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
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
    chapter: str | None = None

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
          verbose: bool = True, style: bool = True, chapter: str | None = None) -> Setup:
    """Seed everything, choose the device and the profile, and print one line saying so.

    The line ends with what a reader types in a notebook cell to switch profile, such as
    ``%env GENTEXT_PROFILE=quick``, to be run before this call (or before running it again).
    With ``style=True`` (the default) it also applies the book's matplotlib style, so every
    figure in the chapter looks alike. Importing gentext alone changes no global setting.
    ``chapter`` (e.g. ``"02_vae"``) names the chapter calling it; it is kept on the returned
    :class:`Setup` and changes nothing else.
    """
    global _ACTIVE
    chosen = Setup(seed=seed, device=get_device(device), profile=get_profile(profile),
                   chapter=chapter)
    seed_everything(seed)
    _ACTIVE = chosen
    if style:
        from .plot import use_style

        use_style()
    if verbose:
        other = "full" if chosen.profile == "quick" else "quick"
        print(f"gentext: profile={chosen.profile} device={chosen.device} seed={seed} "
              f"(to switch profile, run %env {PROFILE_VARIABLE}={other} before this cell)")
        from .budget import describe

        line = describe(chapter, chosen.device, chosen.profile)
        if line:
            print(line)
    return chosen


_FULL: dict[str, Any] | None = None


def full_settings() -> dict[str, Any]:
    """The full profile's settings of the chapter's last :func:`settings` call, whatever runs.

    A chapter's cost section counts what its *full* run costs (see :mod:`gentext.budget`)
    even while the quick profile runs, so it reads the full table here.
    """
    if _FULL is None:
        raise RuntimeError("call gt.settings(...) first: it records the full settings")
    return dict(_FULL)


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
    global _FULL
    _FULL = dict(full)
    if profile == "quick":
        return dict(quick)
    if smoke is not None and smoke_requested():
        if verbose:
            print(f"smoke run ({SMOKE_VARIABLE} is set): the full profile's code with "
                  f"{', '.join(f'{k}={v}' for k, v in smoke.items())}")
        return {**full, **smoke}
    return dict(full)


COLAB_DRIVE = "/content/drive"
"""Where :func:`use_drive` mounts Google Drive in Colab (Colab's usual place)."""

DRIVE_FOLDERS = (("GENTEXT_RESULTS", "results"), ("GENTEXT_DATA", "data"), ("GENTEXT_CACHE", "cache"))
"""The variables :func:`use_drive` sets, and their sub-folders of ``MyDrive/<folder>/``."""


def use_drive(folder: str = "gentext", *, verbose: bool = True) -> Path:
    """In Google Colab, keep results, data and caches on your Google Drive.

    A Colab runtime forgets its files when it is recycled. One line before a chapter's
    set-up cell, ``import gentext as gt; gt.use_drive()``, mounts your Drive at
    ``/content/drive`` (Colab asks you to allow it) and points ``GENTEXT_RESULTS``,
    ``GENTEXT_DATA`` and ``GENTEXT_CACHE`` at ``results/``, ``data/`` and ``cache/`` in
    ``MyDrive/<folder>/``, creating them. Checkpoints, saved results, MNIST and the
    classifier cache then outlive the runtime: an interrupted training resumes in a new
    runtime, and the comparison chapter finds the results of chapters run earlier.
    It prints what it set and returns ``MyDrive/<folder>``.

    Outside Colab it raises an error: there, set those three variables yourself if you
    want the files somewhere other than their defaults.
    """
    try:
        from google.colab import drive
    except ImportError as err:
        raise RuntimeError(
            "gt.use_drive() is for Google Colab, and this is not Colab (google.colab cannot "
            "be imported). Elsewhere your files stay where they are; to keep them in another "
            "folder, set " + ", ".join(name for name, _ in DRIVE_FOLDERS)
            + " to folders of your choice (in a notebook: %env GENTEXT_RESULTS=/path/to/results)."
        ) from err
    parts = Path(folder).parts
    if not folder or Path(folder).is_absolute() or ".." in parts:
        raise ValueError(f"folder must be a folder name inside MyDrive, like 'gentext'; got {folder!r}")
    drive.mount(COLAB_DRIVE)
    base = Path(COLAB_DRIVE) / "MyDrive" / folder
    for name, sub in DRIVE_FOLDERS:
        path = base / sub
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(path)
        if verbose:
            print(f"gentext: {name}={path}")
    return base
