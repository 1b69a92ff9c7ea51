"""The time budget's table and the Run's arithmetic (no wall-clock assertions: see benchmarks/budget.py)."""

from __future__ import annotations

import time

import pytest

from matchmaker.solver import budget
from matchmaker.solver.run import Run, SolveOptions


def test_every_share_is_a_fraction():
    assert budget.SHARES
    for stage, share in budget.SHARES.items():
        assert 0 < share <= 1, stage


def test_reserves_grow_with_size():
    assert budget.after_engine_seconds(558, 1_350) < budget.after_engine_seconds(1_800, 10_000) < budget.after_engine_seconds(7_000, 50_000)
    assert budget.merge_seconds(30_000) < budget.merge_seconds(400_000) < budget.merge_seconds(400_000, 4_850_000)
    # A slow greedy start (busy machine) makes the merge's reserve larger, never smaller.
    assert budget.merge_seconds(30_000, 0, 10.0) > budget.merge_seconds(30_000)


def test_deterministic_budgets_are_shares_of_the_limit():
    run = Run(SolveOptions(time_limit=40, deterministic=True))
    run.reserve = 5.0  # wall-clock reserves never change deterministic budgets
    assert run.budget(budget.share("commitments"), 1.0) == pytest.approx(0.2 * 40)


def test_wall_clock_budgets_keep_the_reserve_and_never_go_negative():
    run = Run(SolveOptions(time_limit=10, started=time.monotonic() - 8))  # 8 s already spent (start-up, loading)
    run.reserve = 1.5
    assert run.remaining() <= 10 - 8 - 1.5 + 0.1
    run.reserve = 5.0
    assert run.remaining() == 0.0
    assert run.budget(0.5, 0.5) == budget.MIN_STAGE_SECONDS
