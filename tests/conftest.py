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
def built(tmp_path_factory) -> Path:
    """Where the book was built for this test session: the output root holding ``_build/html``
    (English), ``_build/html/zh`` (Chinese) and the single-page builds.

    By default both websites are built here, once, with warnings as errors (book/build.py).
    ``GENTEXT_BUILT=<dir>`` names an output root that ``python book/build.py`` has already
    filled with the same commands (CI builds the book once, then tests what it built)."""
    import sys

    given = os.environ.get("GENTEXT_BUILT")
    if given:
        root = Path(given).resolve()
        assert (root / "_build" / "html" / "zh" / "index.html").exists(), (
            f"GENTEXT_BUILT={given} holds no built book: run `python book/build.py` there first")
        return root
    sys.path.insert(0, str(ROOT / "book"))
    import build

    out = tmp_path_factory.mktemp("book")
    build.build_en(out)
    build.build_zh(out)
    return out


@pytest.fixture(scope="session")
def site(built) -> Path:
    """The English website (its folder ``zh/`` is the Chinese one)."""
    return built / "_build" / "html"


@pytest.fixture(scope="session")
def site_zh(site) -> Path:
    return site / "zh"


@pytest.fixture(scope="session")
def pdfs(built) -> dict[str, Path]:
    """Each edition's PDF: the built one, or printed here (needs Chromium and a CJK font)."""
    import sys

    sys.path.insert(0, str(ROOT / "book"))
    import build

    paths = {edition: built / "_build" / "html" / rel for edition, rel in build.PDFS.items()}
    if all(p.exists() for p in paths.values()):
        return paths
    if build.find_chromium() is None:
        pytest.skip("no Chromium to print the PDFs: apt-get install chromium fonts-noto-cjk")
    return build.build_pdfs(["en", "zh"], built)
