"""The package's promises about itself: supported Pythons and side-effect-free import."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUPPORTED = ["3.11", "3.12", "3.13"]


def test_supported_pythons_are_stated_consistently():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11", "torch 2.15 needs Python 3.11 or newer"
    classified = [c.rsplit(":: ", 1)[1] for c in project["classifiers"]
                  if c.startswith("Programming Language :: Python :: 3.")]
    assert classified == SUPPORTED
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11-3.13" in readme and "3.10" not in readme
    assert (ROOT / "book" / "how_to_use.md").read_text().count("3.10") == 0


def test_this_python_is_supported():
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED


def test_import_leaves_matplotlib_settings_alone():
    code = ("import matplotlib as mpl; before = dict(mpl.rcParams); import gentext as gt; "
            "changed = sorted(k for k, v in mpl.rcParams.items() if before[k] != v); print(changed); "
            "gt.setup(seed=0, verbose=False); print(mpl.rcParams['axes.spines.top'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"MPLBACKEND": "Agg", "PATH": ""}).stdout.split("\n")
    assert out[0] == "[]", f"import gentext changed matplotlib settings: {out[0]}"
    assert out[1] == "False", "gt.setup() applies the book's style"
