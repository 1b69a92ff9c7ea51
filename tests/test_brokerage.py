"""Symmetric brokerage events: participants, sessions, precedences, breaks objective, break fairness, import-b2bsp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import make_scenario, solve_and_check

from matchmaker.checker import BROKERAGE_LABELS, check_schedule
from matchmaker.errors import InfeasibleError, ScenarioError
from matchmaker.scenario import parse_scenario
from matchmaker.schedule import Meeting
from matchmaker.solver import SolveOptions, solve

B2BSP = Path("/work/shared/external/b2bsp/jair2022_instances")


def brokerage(participants, requests, slots=4, tables=4, **overrides) -> dict:
    data = make_scenario([], [], slots=slots, lounge_tables=tables, requests=requests, **overrides)
    data["participants"] = [p if isinstance(p, dict) else {"id": p, "name": f"Company {p}"} for p in participants]
    data["objective"] = "breaks"
    return data


def must(a, b, **extra):
    return {"buyer": a, "exhibitor": b, "level": "must", **extra}


def starts(schedule):
    return {(m.buyer, m.exhibitor): m.start for m in schedule.meetings}


def test_participants_meet_at_the_shared_location_without_breaks():
    # A triangle cannot be without a break (three meetings, pairwise adjacent): optimum 1.
    data = brokerage(["A", "B", "C"], [must("A", "B"), must("A", "C"), must("B", "C")], slots=4)
    schedule = solve_and_check(data)
    assert {m.location for m in schedule.meetings} == {"LOUNGE"}
    assert schedule.stats.idle_gaps == 1 and schedule.solver.status == "OPTIMAL"
    path = solve_and_check(brokerage(["A", "B", "C"], [must("A", "B"), must("B", "C")], slots=4))
    assert path.stats.idle_gaps == 0


def test_session_restriction_is_honoured_and_checked():
    sessions = [{"start": "09:00", "end": "10:00"}, {"start": "14:00", "end": "15:00"}]
    data = brokerage(["A", "B"], [must("A", "B", session="afternoon")], sessions=sessions)
    schedule = solve_and_check(data)
    assert starts(schedule)[("A", "B")] >= "14:00"
    scenario = parse_scenario(data)
    bad = schedule.model_copy(update={"meetings": [Meeting(buyer="A", exhibitor="B", date=schedule.meetings[0].date, start="09:00", end="09:30", location="LOUNGE")]})
    assert "session" in check_schedule(scenario, bad).labels()


def test_precedence_orders_meetings():
    data = brokerage(
        ["A", "B", "C"], [must("A", "B"), must("A", "C")], slots=3,
        precedences=[{"before": {"buyer": "A", "exhibitor": "C"}, "after": {"buyer": "A", "exhibitor": "B"}}],
    )
    schedule = solve_and_check(data)
    assert starts(schedule)[("A", "C")] < starts(schedule)[("A", "B")]
    swapped = [m.model_copy(update={"start": s, "end": e}) for m, (s, e) in zip(
        sorted(schedule.meetings, key=lambda m: m.start), [("09:30", "10:00"), ("09:00", "09:30")])]
    # whatever the swap produced, an A-B meeting before A-C is a violation
    bad = schedule.model_copy(update={"meetings": swapped})
    ab, ac = (next(m for m in swapped if m.exhibitor == x) for x in ("B", "C"))
    if ab.start < ac.start:
        assert "precedence" in check_schedule(parse_scenario(data), bad).labels()


def test_precedence_cycle_is_a_validation_error():
    data = brokerage(
        ["A", "B", "C"], [must("A", "B"), must("A", "C")],
        precedences=[
            {"before": {"buyer": "A", "exhibitor": "C"}, "after": {"buyer": "A", "exhibitor": "B"}},
            {"before": {"buyer": "A", "exhibitor": "B"}, "after": {"buyer": "A", "exhibitor": "C"}},
        ],
    )
    with pytest.raises(ScenarioError, match="cycle"):
        parse_scenario(data)


def test_unknown_participant_and_both_orders_are_rejected():
    with pytest.raises(ScenarioError, match="unknown"):
        parse_scenario(brokerage(["A", "B"], [must("A", "Z")]))
    with pytest.raises(ScenarioError, match="other way round"):
        parse_scenario(brokerage(["A", "B"], [must("A", "B"), must("B", "A")]))


def _forced_break() -> dict:
    # A meets B and C; B is free only in slot 0 and C only in slot 2: A has one break, D has none.
    data = brokerage(["A", {"id": "B", "name": "B"}, {"id": "C", "name": "C"}, "D", "E"],
                     [must("A", "B"), must("A", "C"), must("D", "E")], slots=3)
    day = data["days"][0]["date"]
    data["participants"][1]["availability"] = [{"date": day, "start": "09:00", "end": "09:20"}]
    data["participants"][2]["availability"] = [{"date": day, "start": "09:40", "end": "10:00"}]
    return data


def test_break_fairness_is_hard_and_proves_infeasibility():
    data = _forced_break()
    data["fairness"] = {"max_break_spread": 1}
    schedule = solve_and_check(data)
    assert schedule.stats.idle_gaps == 1
    data["fairness"] = {"max_break_spread": 0}
    with pytest.raises(InfeasibleError):
        solve(parse_scenario(data), SolveOptions(time_limit=5, workers=1))
    scenario = parse_scenario(data)
    assert "break-fairness" in check_schedule(scenario, schedule).labels()


def test_brokerage_labels_are_distinct():
    assert len(set(BROKERAGE_LABELS)) == 3


@pytest.mark.skipif(not B2BSP.is_dir(), reason=f"B2BSP data not found at {B2BSP} (not part of the repository)")
def test_import_b2bsp_cli_and_solve(tmp_path):
    from matchmaker.cli import main
    from matchmaker.cli_b2bsp import register

    if "import-b2bsp" not in main.commands:
        register(main)
    out = tmp_path / "tic-12.json"
    result = CliRunner().invoke(main, ["import-b2bsp", str(B2BSP / "tic-12.original.dzn"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert len(data["participants"]) == 42 and len(data["requests"]) == 125
    assert data["fairness"]["max_break_spread"] == 2
    again = CliRunner().invoke(main, ["import-b2bsp", str(B2BSP / "tic-12.original.dzn"), "-o", str(out)])
    assert again.exit_code == 2  # never over an existing file without --force
    scenario = parse_scenario(data)
    schedule = solve(scenario, SolveOptions(time_limit=30, workers=2))
    assert check_schedule(scenario, schedule).ok
    assert schedule.stats.idle_gaps == 0 and len(schedule.meetings) == 125
