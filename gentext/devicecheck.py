"""Find device bugs without a GPU: run CPU code as if the chosen device were CUDA.

A chapter that trains on a GPU breaks on the first tensor it makes without ``device=``: a
causal mask from ``torch.ones(T, T)``, an ``eye``, an ``arange``, noise from
``torch.randn(n, d)``. On a CPU-only machine such code runs, because everything is on the
CPU, so tests pass and the bug waits for the first reader with a GPU.

:class:`VirtualCuda` closes that gap. Inside it, tensors that the code puts on ``cuda``
(through ``device=``, ``.to``, ``.cuda()`` or ``Module.to``) are really computed on the CPU
but *marked*: they report ``device == cuda:0`` and everything computed from them is
marked too. Every torch call is checked the way CUDA checks it, and fails with
:class:`DeviceMismatchError` where CUDA would fail:

- an operation that mixes a marked tensor with an unmarked CPU tensor of one or more
  dimensions (CUDA accepts a zero-dimensional CPU tensor, and so does this check);
- ``numpy()`` (or ``np.asarray``) of a marked tensor, which needs ``.cpu()`` first;
- a CPU random generator used to draw on the device, or the reverse.

The numbers are the CPU's, so a notebook runs to the end with its real control flow
(``.item()``, early stopping, plotting after ``.cpu()``), which fake or meta tensors
cannot do. What it cannot see: kernels that exist on the CPU only, CUDA memory limits, and
speed; those need a real GPU. ``python -m gentext.devicecheck NOTEBOOK`` runs a chapter
under the check; CI runs every chapter's full-profile smoke run this way.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

_MARK = "_gentext_on_device"
_DEVICE = torch.device("cuda", 0)
# calls that compare or describe tensors without computing with them: never checked
_NEUTRAL = {"_has_compatible_shallow_copy_type", "is_same_size", "is_set_to", "__repr__",
            "__format__", "__len__", "__hash__", "size", "dim", "numel", "data_ptr",
            "untyped_storage", "is_floating_point", "is_complex", "element_size",
            "stride", "is_contiguous", "get_device", "__reduce_ex__",
            "_is_view", "is_leaf", "register_hook", "retain_grad", "__setstate__"}


class DeviceMismatchError(RuntimeError):
    """Raised where real CUDA would refuse to mix a GPU tensor with a CPU one."""


def on_device(t: Any) -> bool:
    """Whether ``t`` is a tensor that the check treats as living on the GPU."""
    return isinstance(t, torch.Tensor) and t.__dict__.get(_MARK, False)


def _mark(obj: Any, value: bool = True) -> Any:
    for t in tree_flatten(obj)[0]:
        if isinstance(t, torch.Tensor):
            t.__dict__[_MARK] = value
    return obj


def _is_cuda(device: Any) -> bool:
    if device is None:
        return False
    if isinstance(device, int):
        return True  # a bare index means a CUDA device
    try:
        return torch.device(device).type == "cuda"
    except (RuntimeError, TypeError):
        return False


def _describe(t: torch.Tensor) -> str:
    where = "cuda:0" if on_device(t) else "cpu"
    return f"{where} {tuple(t.shape)} {str(t.dtype).replace('torch.', '')}"


def _descriptor_call(func: Any) -> tuple[str, str] | None:
    """('get'|'set', attribute) for a tensor property access, else None."""
    name = getattr(func, "__name__", "")
    owner = getattr(func, "__self__", None)
    if name in ("__get__", "__set__") and type(owner).__name__ == "getset_descriptor":
        return name[2:-2], owner.__name__
    return None


class VirtualCuda(TorchFunctionMode):
    """A torch function mode that makes ``cuda`` tensors on the CPU and checks every call.

    Use :func:`virtual_cuda` (a context manager that also stands in for the few
    ``torch.cuda`` functions the book calls) rather than this class directly.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        self.calls += 1
        prop = _descriptor_call(func)
        if prop is not None:
            return self._property(func, prop, args)
        name = getattr(func, "__name__", "")
        if name in ("to", "cuda", "cpu") and args and isinstance(args[0], torch.Tensor):
            return self._move(func, name, args, kwargs)
        if name in ("numpy", "__array__") and args and on_device(args[0]):
            raise DeviceMismatchError(
                f"can't convert a cuda:0 tensor {_describe(args[0])} to numpy: "
                "call .cpu() first (this is what CUDA would raise)")
        if name == "pin_memory" or name in _NEUTRAL:
            return func(*args, **kwargs)
        if name == "__deepcopy__":  # a copy lives where the original does
            return _mark(func(*args, **kwargs), on_device(args[0]))
        if name in ("view_as", "expand_as", "reshape_as"):  # other's shape only
            return _mark(func(*args, **kwargs), on_device(args[0]))
        if name == "type_as":  # self converted to other's type, device included
            return self._move(torch.Tensor.to, "to", (args[0], args[1]), {})

        target = kwargs.get("device")
        to_device = _is_cuda(target)
        if to_device:
            kwargs["device"] = "cpu"
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        marked = [t for t in tensors if on_device(t)]
        self._check_generator(func, kwargs, bool(marked) or to_device)
        if marked and name not in ("copy_", "__setitem__"):
            unmarked = [t for t in tensors if not on_device(t) and t.dim() > 0]
            if name == "__getitem__":
                # CUDA accepts CPU indices into a GPU tensor, not GPU indices into a CPU one
                unmarked = [t for t in unmarked if t is args[0]]
            if unmarked:
                raise DeviceMismatchError(
                    f"{getattr(func, '__qualname__', name)} mixes devices: "
                    f"{_describe(marked[0])} with {_describe(unmarked[0])}. Create the "
                    "CPU tensor with device=... (for example device=x.device) or move it "
                    "with .to(device); CUDA refuses this call.")
        out = func(*args, **kwargs)
        if marked or to_device:
            _mark(out)
        return out

    # -- helpers -------------------------------------------------------------------------
    def _property(self, func, prop, args):
        kind, attr = prop
        self_ = args[0]
        if kind == "set":
            out = func(*args)
            if attr == "data":  # param.data = other: the parameter now lives where other does
                _mark(self_, on_device(args[1]))
            return out
        if attr == "device":
            return _DEVICE if on_device(self_) else func(*args)
        if attr == "is_cuda":
            return on_device(self_)
        if attr == "is_cpu":
            return not on_device(self_)
        out = func(*args)
        if on_device(self_) and isinstance(out, torch.Tensor):
            _mark(out)  # .data, .grad, .T, .real ... of a device tensor
        return out

    def _move(self, func, name, args, kwargs):
        t = args[0]
        if name == "cpu":
            return _mark(t.to(copy=True), False) if on_device(t) else func(*args, **kwargs)
        if name == "cuda":
            target: Any = _DEVICE
            rest_args: tuple = ()
            rest_kwargs = {k: v for k, v in kwargs.items() if k in ("non_blocking", "memory_format")}
        else:
            if args[1:] and isinstance(args[1], torch.Tensor):
                other = args[1]
                target = _DEVICE if on_device(other) else torch.device("cpu")
                rest_args, rest_kwargs = (), {"dtype": other.dtype}
                rest_kwargs.update({k: v for k, v in kwargs.items() if k != "other"})
            else:
                device, dtype, non_blocking, memory_format = torch._C._nn._parse_to(
                    *args[1:], **kwargs)
                target = device
                rest_args = ()
                rest_kwargs = {"dtype": dtype, "non_blocking": non_blocking}
                if memory_format is not None:
                    rest_kwargs["memory_format"] = memory_format
                if kwargs.get("copy"):
                    rest_kwargs["copy"] = True
                rest_kwargs = {k: v for k, v in rest_kwargs.items() if v is not None}
        if target is None:  # a dtype change only: stays where it is
            return _mark(t.to(*rest_args, **rest_kwargs), on_device(t))
        goes_to_device = _is_cuda(target)
        if not goes_to_device and torch.device(target).type != "cpu":  # meta, mps: for real
            return _mark(t.to(target, *rest_args, **rest_kwargs), False)
        if goes_to_device == on_device(t):
            out = t.to(*rest_args, **rest_kwargs)
            return _mark(out, goes_to_device) if out is not t else t
        return _mark(t.to(*rest_args, copy=True, **{k: v for k, v in rest_kwargs.items()
                                                    if k != "copy"}), goes_to_device)

    @staticmethod
    def _check_generator(func, kwargs, device_call: bool) -> None:
        gen = kwargs.get("generator")
        if gen is None:
            return
        gen_on_device = getattr(gen, "virtual_cuda", False)
        if device_call != gen_on_device:
            want, got = ("cuda", "cpu") if device_call else ("cpu", "cuda")
            raise DeviceMismatchError(
                f"{getattr(func, '__qualname__', func)} draws on {want} with a {got} "
                f"generator; CUDA refuses this. Make the generator with "
                f"torch.Generator(device=...) on the device the draw happens on.")


class _Generator(torch.Generator):
    """Stands in for ``torch.Generator`` so that ``torch.Generator(device='cuda')`` works.

    The generator is a CPU one that remembers which device it was made for, so that a draw
    on the device with a CPU generator (or the reverse) fails as it would on CUDA.
    """

    def __new__(cls, device: Any = "cpu"):
        gen = super().__new__(cls, "cpu")
        gen.virtual_cuda = _is_cuda(device)
        return gen

    def __init__(self, device: Any = "cpu") -> None:
        pass

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return _DEVICE if self.virtual_cuda else torch.device("cpu")


def _no_op(*args: Any, **kwargs: Any) -> None:
    return None


@contextlib.contextmanager
def virtual_cuda() -> Iterator[VirtualCuda]:
    """Run the body as if ``cuda`` existed; raise :class:`DeviceMismatchError` where CUDA would.

    Also stands in for the ``torch.cuda`` calls that timing and memory code makes
    (``synchronize``, peak-memory counters, random states), and makes
    :func:`gentext.env.get_device` accept ``cuda``.
    """
    from . import env

    import torch._dynamo  # noqa: F401  (optimizers import it lazily; it indexes torch.cuda)

    patches = {
        (torch.cuda, "synchronize"): _no_op,
        (torch.cuda, "reset_peak_memory_stats"): _no_op,
        (torch.cuda, "max_memory_allocated"): lambda *a, **k: 0,
        (torch.cuda, "memory_allocated"): lambda *a, **k: 0,
        (torch.cuda, "empty_cache"): _no_op,
        (torch.cuda, "get_rng_state"): lambda *a, **k: torch.get_rng_state(),
        (torch.cuda, "set_rng_state"): _no_op,
        (torch, "Generator"): _Generator,
        (env, "_cuda_available"): lambda: True,
        # cuDNN's kernels exist on a GPU only (an RNN's .to("cuda") flattens its weights
        # for cuDNN); PyTorch's own kernels compute the same thing without it
        (torch.backends.cudnn, "enabled"): False,
    }
    real_parameter_new = torch.nn.Parameter.__new__

    def parameter_new(cls, data=None, requires_grad=True):
        # nn.Parameter(t) wraps t's storage in a new object: it lives where t does
        return _mark(real_parameter_new(cls, data, requires_grad), on_device(data))

    patches[(torch.nn.Parameter, "__new__")] = parameter_new
    saved = {key: getattr(*key) for key in patches}
    mode = VirtualCuda()
    try:
        for (obj, name), value in patches.items():
            setattr(obj, name, value)
        with mode:
            yield mode
    finally:
        for (obj, name), value in saved.items():
            setattr(obj, name, value)


_ACTIVE: contextlib.ExitStack | None = None


def activate() -> None:
    """Enter :func:`virtual_cuda` for the rest of the process (a notebook kernel)."""
    global _ACTIVE
    if _ACTIVE is None:
        _ACTIVE = contextlib.ExitStack()
        _ACTIVE.enter_context(virtual_cuda())
        os.environ["GENTEXT_DEVICE"] = "cuda"


FIRST_CELL = ("import gentext.devicecheck as _devicecheck\n_devicecheck.activate()\n"
              "print('device check: virtual CUDA is on')")


def run_notebook(path: str, *, timeout: int = 900) -> float:
    """Execute a notebook (a copy) with the check on from its first cell; return seconds."""
    import time
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(FIRST_CELL))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}})
    start = time.perf_counter()
    client.execute(env=dict(os.environ))
    return time.perf_counter() - start


if __name__ == "__main__":  # python -m gentext.devicecheck NOTEBOOK [NOTEBOOK ...]
    if len(sys.argv) < 2:
        sys.exit("usage: python -m gentext.devicecheck NOTEBOOK [NOTEBOOK ...]")
    for nb_path in sys.argv[1:]:
        print(f"{nb_path}: ran under the device check in {run_notebook(nb_path):.0f} s")
