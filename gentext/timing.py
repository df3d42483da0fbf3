"""A stopwatch that gives correct times on a GPU as well as on a CPU.

PyTorch runs GPU work asynchronously: a call such as ``model(x)`` on CUDA (or on Apple's
MPS) only queues the work and returns at once. Timing it with ``time.perf_counter()``
alone measures how long it took to *queue*, not to run. :func:`timer` waits for the
device to finish what was queued before it starts the clock and again before it stops
it, so the time covers the work done inside the ``with`` block::

    with gt.timer(cfg.device) as t:
        samples = model.sample(1000)
    print(f"{t.seconds:.2f} s, {gt.per_thousand(t.seconds, 1000):.3f} s per 1000 samples")

On the CPU it is plain ``time.perf_counter()``. Waiting for the GPU costs a little time
itself, so time whole blocks of work (a batch of samples, an epoch), not single small
operations.
"""

from __future__ import annotations

import time

import torch


def synchronize(device: str | torch.device | None) -> None:
    """Wait until ``device`` has finished all the work queued on it; nothing on the CPU."""
    if device is None:
        return
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class Timer:
    """What :func:`timer` returns: a context manager whose ``seconds`` is the time taken.

    ``seconds`` is known once the ``with`` block has ended; reading it inside the block
    is an error, since the device may still be working.
    """

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._start: float | None = None
        self._seconds: float | None = None

    def __enter__(self) -> Timer:
        synchronize(self.device)
        self._seconds = None
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            # After an error the device may be unusable; waiting on it could hide the error.
            synchronize(self.device)
        self._seconds = time.perf_counter() - self._start
        return False

    @property
    def seconds(self) -> float:
        """Seconds from the start to the end of the ``with`` block, device work included."""
        if self._seconds is None:
            if self._start is None:
                raise RuntimeError("the timer has not run: use it as `with gt.timer(device) as t:`")
            raise RuntimeError("the timer is still running: read t.seconds after the with block")
        return self._seconds

    def __repr__(self) -> str:
        state = f"{self._seconds:.3f} s" if self._seconds is not None else "not finished"
        return f"Timer(device={self.device}, {state})"


def timer(device: str | torch.device | None = None) -> Timer:
    """A stopwatch for a ``with`` block that waits for ``device`` at both ends.

    ``device`` is where the timed work runs, usually ``cfg.device`` from :func:`gentext.setup`;
    ``None`` or a CPU device means no waiting. Read ``t.seconds`` after the block.
    """
    return Timer(device)


def per_thousand(seconds: float, n: int) -> float:
    """Seconds per 1000 items when ``n`` items took ``seconds``: a rate to compare models by."""
    if n <= 0:
        raise ValueError(f"n must be a positive number of items, got {n!r}")
    return 1000.0 * seconds / n
