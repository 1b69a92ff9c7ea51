"""One honest bound: every path fills stats.upper_bound_* and gap_percent (solver/bounds.py), never below the
schedule, and the solve summary, the HTML report and `explain` show the same figure in meeting value."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

import pytest
from helpers import assert_no_traceback, invoke, make_scenario, solve_and_check

from matchmaker.instance.candidates import build_instance
from matchmaker.io.generate import generate_scenario
from matchmaker.pipeline import SolveOptions, reschedule, solve
from matchmaker.relax.pricing import pooled_instance, value_bound_over_pool
from matchmaker.relax.selection import lp_bounds, select_days
from matchmaker.solver import bounds
from matchmaker.spec.scenario import load_scenario, parse_scenario
from matchmaker.spec.schedule import (
    SCHEDULE_FORMAT,
    Schedule,
    Stats,
    bound_text,
    load_schedule,
)

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo-small.json"
FAST = {"time_limit": 5, "workers": 1}


def assert_bounded(schedule: Schedule, weights=None) -> None:
    """Every bound filled, at least the schedule's own figure, and the gap its one definition."""
    weights = weights or load_scenario(DEMO).weights
    stats = schedule.stats
    assert stats.upper_bound_meetings is not None and stats.upper_bound_meetings >= stats.meetings
    assert stats.upper_bound_value is not None and stats.upper_bound_value >= stats.value
    part = bounds.objective_part(weights, stats.value, stats.min_meetings_shortfall)
    assert stats.upper_bound_objective is not None and part <= stats.upper_bound_objective <= stats.upper_bound_value
    assert stats.gap_percent == bounds.gap_percent(stats.upper_bound_value, stats.value)
    assert stats.gap_percent >= 0
    if part >= 0:
        assert stats.objective_gap_percent == bounds.gap_percent(stats.upper_bound_objective, part) >= 0
    else:  # a negative score has no meaningful percentage
        assert stats.objective_gap_percent is None


# ---------------------------------------------------------------------------
# The definitions
# ---------------------------------------------------------------------------


def test_gap_and_objective_are_defined_once():
    weights = load_scenario(DEMO).weights
    assert bounds.gap_percent(None, 10) is None
    assert bounds.gap_percent(200, 150) == 25.0
    assert bounds.gap_percent(0, 0) == 0.0
    assert bounds.objective_part(weights, 300, 2) == 300 - 2 * weights.min_shortfall
    assert bounds.scaled_objective(weights, 300, 2, 3) == weights.value_scale() * (300 - 2 * weights.min_shortfall) - 3 * weights.idle_gap


def test_merged_bounds_keep_the_smallest_and_the_part_that_holds_whatever_is_pinned():
    flow = bounds.Bounds(10, 100, None, "flow", any_pins=True)
    lp = bounds.Bounds(None, 90, 80, "selection LP")
    caps = bounds.Bounds(12, 95, None, "caps", any_pins=True)
    merged = flow.merge(lp).merge(caps)
    assert (merged.meetings, merged.value, merged.objective, merged.any_pins) == (10, 90, 80, False)
    robust = merged.robust()
    assert (robust.meetings, robust.value, robust.objective, robust.any_pins) == (10, 95, None, True)


def test_a_bound_below_the_schedule_is_logged_and_raised_to_it(caplog):
    stats = Stats(meetings=5, value=100)
    with caplog.at_level(logging.WARNING, logger="matchmaker.solver.bounds"):
        bounds.fill(stats, load_scenario(DEMO).weights, bounds.Bounds(meetings=4, value=90, source="test"))
    assert (stats.upper_bound_meetings, stats.upper_bound_value, stats.gap_percent) == (5, 100, 0.0)
    assert "below the schedule" in caplog.text


def test_without_a_bound_every_field_is_null_and_displays_say_no_bound():
    schedule = solve_and_check(load_scenario(DEMO), bound=False)
    stats = schedule.stats
    assert (stats.upper_bound_meetings, stats.upper_bound_value, stats.upper_bound_objective, stats.gap_percent) == (None,) * 4
    assert bound_text(stats) == f"meeting value {stats.value:,} (no bound)"


def test_selection_duals_bound_the_value_and_pricing_over_the_pool():
    """The objective LP's duals re-used with W_min = 0 bound the value LP's optimum (weak duality)."""
    scenario = generate_scenario("tiny", 2)
    every = build_instance(scenario, candidates_per_meeting=None)
    selection = select_days(every, method="highs")
    value_lp = lp_bounds(every, method="highs").value
    assert selection.program.dual_bound("value") >= value_lp - 1e-6
    assert selection.program.dual_bound("objective") == pytest.approx(selection.bound, abs=1e-3)
    pooled = pooled_instance(scenario, 1)
    priced = value_bound_over_pool(pooled, select_days(pooled, method="highs").program)
    assert priced >= value_lp - 1e-6


# ---------------------------------------------------------------------------
# Every path
# ---------------------------------------------------------------------------


def test_monolithic_and_decomposed_are_bounded():
    scenario = load_scenario(DEMO)
    monolithic = solve_and_check(scenario, strategy="monolithic")
    assert monolithic.solver.strategy == "monolithic"
    assert_bounded(monolithic)
    decomposed = solve_and_check(scenario, strategy="decompose")
    assert decomposed.solver.strategy == "decompose"
    assert_bounded(decomposed)


def test_decomposed_without_the_flow_bound_is_bounded_by_the_selection_lp(monkeypatch):
    """Fairs above FLOW_MAX_PAIRS (e.g. `large`): value from the LP's duals, meetings from the capacities."""
    monkeypatch.setattr(bounds, "FLOW_MAX_PAIRS", 0)
    scenario = load_scenario(DEMO)
    schedule = solve_and_check(scenario, strategy="decompose")
    assert_bounded(schedule)
    assert schedule.solver.best_bound is not None  # the LP solved: its bound is what the stats show


def test_pair_table_path_is_bounded(monkeypatch):
    """The xl path (pairs as a pair table, column generation) on a small fair: bounds priced over every pair."""
    from matchmaker.solver import engine

    monkeypatch.setattr(engine, "STREAMING_PAIRS", 0)
    scenario = generate_scenario("tiny", 2)
    schedule = solve_and_check(scenario)
    assert schedule.solver.strategy == "decompose" and schedule.solver.best_bound is not None
    assert_bounded(schedule, scenario.weights)


def test_decomposed_generated_fair_is_bounded():
    scenario = generate_scenario("tiny", 3)
    assert_bounded(solve_and_check(scenario, strategy="decompose"), scenario.weights)


def test_brokerage_bounds_are_the_fixed_meetings():
    data = make_scenario([], [], slots=3, lounge_tables=4, requests=[
        {"buyer": "A", "exhibitor": "B", "level": "must"}, {"buyer": "A", "exhibitor": "C", "level": "must"},
        {"buyer": "D", "exhibitor": "E", "level": "must"},
    ])
    data["participants"] = [{"id": p, "name": p} for p in "ABCDE"]
    data["objective"] = "breaks"
    scenario = parse_scenario(data)
    schedule = solve_and_check(scenario)
    assert_bounded(schedule, scenario.weights)
    stats = schedule.stats
    assert (stats.upper_bound_meetings, stats.upper_bound_value, stats.gap_percent) == (3, stats.value, 0.0)


def _interest_changed() -> tuple[Schedule, object]:
    """demo-small v1, then B1 drops its welded-mesh interest and the organizer's B1-E1 request: the published
    B1-E1 meeting stays valid (kept) although the pair no longer matches (a forced pair)."""
    scenario = load_scenario(DEMO)
    v1 = solve(scenario, SolveOptions(**FAST))
    assert ("B1", "E1") in {(m.buyer, m.exhibitor) for m in v1.meetings}
    data = scenario.model_dump(mode="json", by_alias=True)
    data["buyers"][0]["interests"] = {"gabion": 5}
    data["requests"] = [r for r in data["requests"] if (r["buyer"], r["exhibitor"]) != ("B1", "E1")]
    return v1, parse_scenario(data)


@pytest.mark.parametrize("flow", [True, False])
@pytest.mark.parametrize("policy", ["keep", "minimal", "full"])
def test_replan_bound_includes_kept_meetings(policy, flow, monkeypatch, caplog):
    """With the flow bound (small fairs) and without (selection LP over an unpruned instance, and counting)."""
    v1, v2 = _interest_changed()
    options = SolveOptions(**FAST)
    if not flow:
        monkeypatch.setattr(bounds, "FLOW_MAX_PAIRS", 0)
        options = SolveOptions(**FAST, strategy="decompose", candidates_per_meeting=None)
    result = reschedule(v2, v1, options, policy=policy)
    schedule = result.schedule
    if policy == "keep":
        assert ("B1", "E1") in {(m.buyer, m.exhibitor) for m in schedule.meetings}
    assert_bounded(schedule, v2.weights)  # was: meeting value 221 of at most 218 (a negative gap)
    assert "below the schedule" not in caplog.text  # bounded by construction, not by the last-resort clamp


def test_replan_of_late_changes_is_bounded():
    from matchmaker.io.generate import late_changes

    scenario = generate_scenario("tiny", 1)
    v1 = solve(scenario, SolveOptions(**FAST))
    v2 = late_changes(scenario, seed=1, add_buyers=2, remove_buyers=1, shorten=1)
    for policy in ("keep", "minimal", "full"):
        assert_bounded(reschedule(v2, v1, SolveOptions(**FAST), policy=policy).schedule, v2.weights)


# ---------------------------------------------------------------------------
# One figure on every display
# ---------------------------------------------------------------------------


def test_summary_html_and_explain_show_the_same_bound(tmp_path):
    out = tmp_path / "out"
    solved = invoke("solve", DEMO, "-o", out, "--time-limit", "5", "--workers", "1")
    assert solved.exit_code == 0, solved.output
    schedule = load_schedule(out / "schedule.json")
    assert schedule.format == SCHEDULE_FORMAT
    assert_bounded(schedule)
    figure = bound_text(schedule.stats)
    stats = schedule.stats
    assert figure == f"meeting value {stats.value:,} of at most {stats.upper_bound_value:,} (within {stats.gap_percent:.2f}%)"
    assert figure in solved.stdout.splitlines()[1]
    assert "objective" not in solved.stdout and "bound " not in solved.stdout  # the solver's own units stay in the file

    exported = invoke("export", out / "schedule.json", "--scenario", DEMO, "--format", "html", "-o", tmp_path / "export")
    assert exported.exit_code == 0, exported.output
    page = html.unescape((tmp_path / "export" / "report.html").read_text(encoding="utf-8"))
    assert figure in page
    assert "Best bound" not in page

    explained = invoke("explain", out / "schedule.json", "--scenario", DEMO)
    assert explained.exit_code == 0, explained.output
    assert explained.stdout.splitlines()[0] == f"schedule: {stats.meetings} meetings; {figure}"


def test_summary_is_capped_for_many_buyers():
    from matchmaker.cli.main import SUMMARY_MAX_ROWS, summary
    from matchmaker.spec.schedule import ScenarioRef

    counts = {f"B{i:05d}": i % 13 for i in range(5000)}
    schedule = Schedule(scenario=ScenarioRef(name="xl", sha256="0"), stats=Stats(meetings=30000, buyers=5000, meetings_per_buyer=counts))
    text = summary(schedule)
    assert len(text.splitlines()) <= 8 + SUMMARY_MAX_ROWS
    assert "buyers per number of meetings (5,000 buyers" in text
    assert "(no bound)" in text.splitlines()[1]
    quiet = summary(schedule, quiet=True)
    assert "buyers per number of meetings" not in quiet and len(quiet.splitlines()) <= 6


# ---------------------------------------------------------------------------
# Older schedule files
# ---------------------------------------------------------------------------


def test_format_1_schedule_still_loads_for_check_and_diff(tmp_path):
    out = tmp_path / "out"
    assert invoke("solve", DEMO, "-o", out, "--time-limit", "5", "--workers", "1").exit_code == 0
    data = json.loads((out / "schedule.json").read_text(encoding="utf-8"))
    data["format"] = 1  # as written before the bounds were unified
    data["stats"].update(upper_bound_meetings=None, upper_bound_value=None, gap_percent=None,
                         upper_bound_objective=50, objective_gap_percent=0.199)
    for key in ("gap_percent",):
        data["solver"].pop(key, None)
    data["solver"]["best_bound"] = 152031.0
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data), encoding="utf-8")

    loaded = load_schedule(old)
    assert loaded.format == 1 and loaded.stats.objective_gap_percent == 0.199
    assert bound_text(loaded.stats).endswith("(no bound)")
    checked = invoke("check", DEMO, old)
    assert checked.exit_code == 0, checked.output
    diffed = invoke("diff", old, out / "schedule.json")
    assert_no_traceback(diffed)
    assert diffed.exit_code == 0, diffed.output
    assert "0 added, 0 moved, 0 cancelled" in diffed.stdout
    explained = invoke("explain", old, "--scenario", DEMO)
    assert explained.exit_code == 0 and "(no bound)" in explained.stdout.splitlines()[0]
