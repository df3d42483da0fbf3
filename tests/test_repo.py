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
        assert "__pycache__" not in path and not path.endswith((".pt", ".npz", ".pyc")), path
        assert (ROOT / path).stat().st_size < 5_000_000 if (ROOT / path).exists() else True, path
