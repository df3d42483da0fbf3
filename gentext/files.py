"""Writing files so that nothing is ever half-written: one helper for every file gentext saves.

Checkpoints, results and the cached classifier all go through :func:`atomic_write`. It
writes to a temporary file with a unique name in the target's folder (so two notebooks
saving at once never share a temporary file), flushes it to disk, and renames it over the
target. ``os.replace`` is atomic on POSIX and Windows: a reader sees the old file or the
new one, never a torn one. If writing fails, the temporary file is removed and the old
file, if any, is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(fh)`` on a fresh binary file and move it to ``path`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write` for a UTF-8 text file."""
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
