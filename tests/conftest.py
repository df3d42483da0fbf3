"""Test-wide settings. They are set at import, before nbval starts any notebook kernel,
so the kernels inherit them: the quick profile, text progress bars, a headless plotting
backend, and results, checkpoints and the classifier cache in fresh temporary folders (a
stale checkpoint or cached classifier from an earlier local run must never stand in for
training under test)."""

import os
import tempfile

os.environ["GENTEXT_PROFILE"] = "quick"
os.environ["GENTEXT_PLAIN_PROGRESS"] = "1"
os.environ["MPLBACKEND"] = "Agg"
os.environ["GENTEXT_RESULTS"] = tempfile.mkdtemp(prefix="gentext-test-results-")
# A cache of their own, so the tests and the notebooks under nbval train the digit
# classifier from cold (the path a new reader takes) instead of loading a developer's file.
os.environ["GENTEXT_CACHE"] = tempfile.mkdtemp(prefix="gentext-test-cache-")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root() -> Path:
    return ROOT
