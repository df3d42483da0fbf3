"""The full-profile budget: FLOPs counted on meta tensors, minutes checked against 10 on a T4.

Each chapter's cost cell (run by nbval in CI) counts its full run and calls
``Budget.report()``, which fails over budget or when the committed estimate is stale.
These tests check the counting itself, that an over-long schedule fails, and that the
committed estimates cover every chapter and fit the budget.
"""

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import gentext as gt
from gentext import budget

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def linear_step(batch=128, width=512):
    model = nn.Sequential(nn.Linear(784, width), nn.ReLU(), nn.Linear(width, 10)).to("meta")
    opt = torch.optim.Adam(model.parameters())
    x = torch.zeros(batch, 784, device="meta")

    def step():
        loss = model(x).logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def test_counts_the_flops_of_a_training_step_without_computing():
    forward = 2 * 128 * (784 * 512 + 512 * 10)  # two matrix products
    flops, kernels = budget.count(linear_step())
    # backward: weight gradients of both layers, the input gradient of the second only
    assert 1.9 * forward <= flops <= 2.2 * forward
    assert kernels > 10
    # nothing was computed: a huge step counts in a blink
    big_flops, _ = budget.count(linear_step(batch=1_000_000, width=4096))
    assert big_flops > 1e13  # 13 TFLOP, about an hour of this CPU


def test_an_over_long_schedule_fails_the_budget():
    cost = gt.budget.Budget("99_test")
    cost.add("a sensible run", linear_step(), 20_000, training=True)
    cost.check()  # within 10 minutes
    assert cost.minutes(budget.T4) < budget.LIMIT_MINUTES
    cost.add("a schedule 1000 times too long", linear_step(), 20_000_000, training=True)
    with pytest.raises(budget.BudgetExceeded, match="a schedule 1000 times too long"):
        cost.check()


def test_report_refuses_a_stale_committed_estimate(tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "ESTIMATES_FILE", tmp_path / "budget.json")
    cost = gt.budget.Budget("99_test")
    cost.add("training", linear_step(), 1000, training=True)
    with pytest.raises(budget.BudgetExceeded, match="GENTEXT_UPDATE_BUDGET"):
        cost.report()  # nothing committed yet
    monkeypatch.setenv("GENTEXT_UPDATE_BUDGET", "1")
    estimate = cost.report()
    monkeypatch.delenv("GENTEXT_UPDATE_BUDGET")
    assert json.loads((tmp_path / "budget.json").read_text())["99_test"] == estimate
    assert cost.report() == estimate  # fresh: passes
    cost.add("more training", linear_step(), 1000, training=True)
    with pytest.raises(budget.BudgetExceeded, match="not this run's"):
        cost.report()


def test_every_chapter_has_a_committed_estimate_within_budget():
    estimates = budget.load_estimates()
    missing = [c for c in CHAPTERS if c not in estimates]
    assert not missing, f"chapters without an estimate in gentext/budget.json: {missing}"
    over = {c: e["T4"] for c, e in estimates.items() if e["T4"] > budget.LIMIT_MINUTES}
    assert not over, f"over {budget.LIMIT_MINUTES} min on a T4: {over}"
    for chapter in CHAPTERS:
        assert estimates[chapter]["H100"] <= estimates[chapter]["T4"]


def test_every_chapter_counts_its_cost_and_names_itself():
    for chapter in CHAPTERS:
        text = (ROOT / "notebooks" / f"{chapter}.ipynb").read_text()
        assert f'gt.budget.Budget(\\"{chapter}\\")' in text, f"{chapter} has no cost cell"
        assert re.search(rf'gt.setup\(seed=0, chapter=\\"{chapter}\\"\)', text), chapter


def test_setup_prints_the_chapters_estimate(capsys):
    chapter = next(iter(budget.load_estimates()), None)
    if chapter is None:
        pytest.skip("no committed estimates yet")
    gt.setup(seed=0, profile="quick", device="cpu", chapter=chapter, style=False)
    out = capsys.readouterr().out
    assert "%env GENTEXT_PROFILE=full" in out
    assert "min on a T4" in out and "(estimates)" in out
    line = budget.describe(chapter, torch.device("cuda"), "full")
    assert "T4-class GPU" in line or "H100-class GPU" in line


def test_the_books_table_of_estimates_is_current():
    text = (ROOT / "book" / "how_to_use.md").read_text()
    start = text.index("<!-- budget table")
    block = text[text.index("\n", start) + 1:text.index("<!-- end of budget table -->")]
    assert block.strip() == budget.markdown_table().strip(), (
        "book/how_to_use.md's table differs from gentext/budget.json: paste the output of "
        "python -m gentext.budget between the two comments")
