import threading

import pytest

import gentext as gt
from gentext.files import atomic_write, atomic_write_text


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    atomic_write_text(path, "old")

    def broken(fh):
        fh.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_failed_first_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        atomic_write(tmp_path / "new" / "x.pt", lambda fh: (_ for _ in ()).throw(ValueError("bad")))
    assert list((tmp_path / "new").iterdir()) == []


def test_concurrent_writers_never_share_a_temporary_file(tmp_path):
    path = tmp_path / "shared.txt"
    barrier = threading.Barrier(8)
    errors = []

    def write(i):
        def slow(fh):
            fh.write(f"writer {i} ".encode() * 1000)
            barrier.wait(timeout=10)  # all eight are mid-write at once
        try:
            atomic_write(path, slow)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    text = path.read_text()
    assert len(set(text.split())) == 2 and len(text) == len("writer 0 ") * 1000  # one writer's whole file
    assert [p.name for p in tmp_path.iterdir()] == ["shared.txt"]


def test_checkpoints_and_results_use_the_atomic_writer(tmp_path, monkeypatch):
    calls = []
    import gentext.results as results
    import gentext.train as train

    real = atomic_write
    for module in (train, results):
        monkeypatch.setattr(module, "atomic_write", lambda p, w: (calls.append(p.name), real(p, w))[1])
    gt.save_checkpoint(tmp_path / "c.pt", {"a": 1})
    monkeypatch.setenv("GENTEXT_RESULTS", str(tmp_path))
    import torch
    gt.save_results("99_x", {"train_seconds": 1, "n_params": 1, "sample_seconds": 1}, torch.rand(800, 1, 8, 8))
    assert calls == ["c.pt", "samples.npz"]
