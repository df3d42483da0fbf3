"""`.ci/gpu-check`, the check of the full profile on a real GPU: its log reading and its
refusals, tested here without a GPU (running the chapters needs one)."""

import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gpu_check():
    loader = importlib.machinery.SourceFileLoader("gpu_check", str(ROOT / ".ci" / "gpu-check"))
    spec = importlib.util.spec_from_loader("gpu_check", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def write_log(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_summary_reads_finished_failed_stopped_and_missing_runs(gpu_check, tmp_path):
    cells = [{"cell": 1, "seconds": 0.5, "elapsed": 1.0, "text": ""},
             {"cell": 3, "seconds": 2.0, "elapsed": 3.5, "text": "hi"}]
    ok = write_log(tmp_path / "ok.jsonl", cells + [{"status": "ok", "seconds": 4.0}])
    assert gpu_check.summary(ok) == ("ok", 4.0, 2)
    failed = write_log(tmp_path / "failed.jsonl",
                       cells[:1] + [{"cell": 3, "seconds": 0.1, "elapsed": 1.2, "text": "",
                                     "error": "ZeroDivisionError"},
                                    {"status": "failed: CellExecutionError", "seconds": 1.3}])
    assert gpu_check.summary(failed) == ("failed: CellExecutionError", 1.3, 2)
    stopped = write_log(tmp_path / "stopped.jsonl", cells)  # killed before its last line
    assert gpu_check.summary(stopped) == ("stopped (time limit)", 3.5, 2)
    assert gpu_check.summary(tmp_path / "absent.jsonl") == ("not run", 0.0, 0)


def test_unknown_chapter_is_refused_with_the_known_ones(gpu_check, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["gpu-check", "--chapters", "99_nothing"])
    with pytest.raises(SystemExit) as stop:
        gpu_check.main()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "99_nothing" in err and "01_autoencoder" in err
