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


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The website, built once per test session with warnings as errors."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
           "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return out / "_build" / "html"
