"""Explanations (matchmaker/explain.py): one tiny fair per category, participant summaries, the CLI.

Each scenario is built so that exactly one rule stands in the way of the
requested meeting; the test asserts the explanation names that category and the
facts behind it (ids, dates, times).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    DAY,
    as_scenario,
    make_scenario,
    must,
    only_slot,
    pin,
    slot_start,
    solve_and_check,
    want,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchmaker.analysis.checker import check_schedule
from matchmaker.analysis.explain import (
    CATEGORIES,
    CATEGORY_DESCRIPTIONS,
    Explanation,
    explain_pair,
    explain_participant,
    explain_schedule,
)
from matchmaker.cli.main import main
from matchmaker.errors import ScheduleFileError
from matchmaker.instance.candidates import build_instance, needs_interpreter
from matchmaker.instance.slots import build_slot_grid
from matchmaker.io.generate import generate_scenario
from matchmaker.solver.greedy import greedy_schedule
from matchmaker.solver.solution import build_schedule
from matchmaker.spec.scenario import Scenario, hhmm, parse_scenario
from matchmaker.spec.schedule import Meeting, ScenarioRef, Schedule, SolverInfo

if "explain" not in main.commands:  # until cli.py registers them itself
    from matchmaker.cli.explain import register

    register(main)


def solved(data: dict) -> tuple[Scenario, Schedule]:
    scenario = as_scenario(data)
    return scenario, solve_and_check(scenario)


def empty_schedule(scenario: Scenario, meetings: list[Meeting] = ()) -> Schedule:
    """A hand-built schedule (no solver)."""
    return Schedule(scenario=ScenarioRef(name=scenario.name, sha256=scenario.fingerprint()), meetings=list(meetings))


def meeting(buyer: str, exhibitor: str, k: int, location: str | None = None) -> Meeting:
    return Meeting(
        buyer=buyer,
        exhibitor=exhibitor,
        date=DAY,
        start=slot_start(k),
        end=slot_start(k + 1),
        location=location or f"L-{exhibitor}",
    )


def only(explanations: list[Explanation], subject: str) -> Explanation:
    found = [x for x in explanations if x.subject == subject]
    assert len(found) == 1, [x.model_dump() for x in explanations]
    return found[0]


# ---------------------------------------------------------------------------
# One scenario per category
# ---------------------------------------------------------------------------


def test_no_common_slot() -> None:
    scenario, schedule = solved(
        make_scenario(
            [{"id": "B1", "availability": only_slot(0)}],
            [{"id": "E1", "availability": only_slot(1)}],
            requests=[want("B1", "E1")],
        )
    )
    x = only(explain_schedule(scenario, schedule), "B1-E1")
    assert (x.kind, x.category) == ("request", "no_common_slot")
    assert f"B1 is available {DAY} 09:00-09:20 and E1 {DAY} 09:20-09:40" in x.message


def test_no_interpreter_without_a_pool() -> None:
    scenario, schedule = solved(
        make_scenario([{"id": "B1", "languages": ["ru"]}], [{"id": "E1", "languages": ["zh"]}], requests=[want("B1", "E1")])
    )
    x = only(explain_schedule(scenario, schedule), "B1-E1")
    assert x.category == "no_interpreter"
    assert "needs a 'ru' interpreter (B1 speaks ru, E1 speaks zh)" in x.message
    assert "no 'ru' interpreters" in x.message


def test_no_interpreter_on_duty_when_both_are_free() -> None:
    pool = {"language": "ru", "count": 1, "availability": only_slot(1)}
    scenario, schedule = solved(
        make_scenario(
            [{"id": "B1", "languages": ["ru"], "availability": only_slot(0)}],
            [{"id": "E1", "languages": ["zh"]}],
            interpreters=[pool],
            requests=[want("B1", "E1")],
        )
    )
    x = only(explain_schedule(scenario, schedule), "B1-E1")
    assert x.category == "no_interpreter"
    assert f"none is on duty when both are free ({DAY} 09:00-09:20)" in x.message
    assert f"work {DAY} 09:20-09:40" in x.message


def test_counterpart_booked_names_the_side_and_the_meetings() -> None:
    scenario, schedule = solved(make_scenario(["B1", "B2"], ["E1", "E2"], slots=1, requests=[must("B1", "E1"), want("B1", "E2"), want("B2", "E1")]))
    explanations = explain_schedule(scenario, schedule)
    buyer_side = only(explanations, "B1-E2")
    assert buyer_side.category == "counterpart_booked"
    assert buyer_side.details["side"] == "buyer"
    assert f"at every one B1 is in another meeting (with E1 at {DAY} 09:00)" in buyer_side.message
    exhibitor_side = only(explanations, "B2-E1")
    assert exhibitor_side.category == "counterpart_booked"
    assert exhibitor_side.details["side"] == "exhibitor"
    assert "E1 is in another meeting (with B1 at" in exhibitor_side.message


def test_interpreter_full() -> None:
    scenario, schedule = solved(
        make_scenario(
            [{"id": "B1", "languages": ["ru"]}, {"id": "B2", "languages": ["ru"]}],
            [{"id": "E1", "languages": ["zh"]}, {"id": "E2", "languages": ["zh"]}],
            slots=1,
            interpreters=[{"language": "ru", "count": 1}],
            requests=[must("B1", "E1"), want("B2", "E2")],
        )
    )
    x = only(explain_schedule(scenario, schedule), "B2-E2")
    assert x.category == "interpreter_full"
    assert "the only 'ru' interpreter is busy (with B1-E1)" in x.message
    assert f"{DAY} 09:00" in x.message


def test_table_full() -> None:
    scenario, schedule = solved(
        make_scenario(
            ["B1", "B2"],
            [{"id": "E1", "location": None}, {"id": "E2", "location": None}],
            slots=1,
            requests=[must("B1", "E1"), want("B2", "E2")],
        )
    )
    x = only(explain_schedule(scenario, schedule), "B2-E2")
    assert x.category == "table_full"
    assert "the only table at LOUNGE is taken (by B1-E1)" in x.message


def test_walking_time() -> None:
    scenario, schedule = solved(
        make_scenario(
            ["B1"],
            [{"id": "E1", "hall": "H1"}, {"id": "E2", "hall": "H2", "availability": only_slot(0)}],
            halls=("H1", "H2"),
            walking={("H1", "H2"): 30},
            pinned=[pin("B1", "E1", slot_start(1))],
            requests=[want("B1", "E2")],
        )
    )
    x = only(explain_schedule(scenario, schedule), "B1-E2")
    assert x.category == "walking_time"
    assert f"B1 has a meeting with E1 in hall H1 at {DAY} 09:20" in x.message
    assert "the walk from E2's hall H2 takes 30 minutes and there are 0 between the meetings" in x.message


def test_cap_reached_max_meetings() -> None:
    scenario, schedule = solved(
        make_scenario([{"id": "B1", "max_meetings": 1}], ["E1", "E2"], requests=[must("B1", "E1"), want("B1", "E2")])
    )
    x = only(explain_schedule(scenario, schedule), "B1-E2")
    assert x.category == "cap_reached"
    assert x.details["limit"] == "max_meetings"
    assert "B1 already has 1 meeting, its max_meetings" in x.message


def test_cap_reached_max_meetings_per_day() -> None:
    scenario, schedule = solved(
        make_scenario([{"id": "B1", "max_meetings_per_day": 1}], ["E1", "E2"], requests=[must("B1", "E1"), want("B1", "E2")])
    )
    x = only(explain_schedule(scenario, schedule), "B1-E2")
    assert x.category == "cap_reached"
    assert x.details["limit"] == "max_meetings_per_day"
    assert f"B1 already has its max_meetings_per_day 1 on {DAY}" in x.message


def test_blocked() -> None:
    scenario, schedule = solved(
        make_scenario(requests=[want("B1", "E1")], blocked=[{"buyer": "B1", "exhibitor": "E1", "reason": "competitors"}])
    )
    x = only(explain_schedule(scenario, schedule), "B1-E1")
    assert x.category == "blocked"
    assert "(competitors)" in x.message


def _pruning_fair() -> Scenario:
    """Five buyers (max 1 meeting) each keep their 3 best pairs (Y1-Y3); E0 keeps its best 4 buyers: B5-E0 is cut."""
    buyers = [{"id": f"B{i}", "interests": {"y": 5, "x": 1}, "max_meetings": 1} for i in range(1, 6)]
    exhibitors = [{"id": "E0", "offers": ["x"]}] + [{"id": f"Y{i}", "offers": ["y"]} for i in range(1, 4)]
    return as_scenario(make_scenario(buyers, exhibitors, slots=1))


def test_pruned() -> None:
    scenario = _pruning_fair()
    schedule = empty_schedule(scenario)
    x = explain_pair(scenario, schedule, "B5", "E0")
    assert (x.kind, x.category) == ("pair", "pruned")
    assert "not among the candidate pairs given to the optimizer" in x.message
    assert "B5-E0 (worth 3)" in x.message
    assert "B5 kept its best 3 (worth 15 or more)" in x.message
    assert "E0 kept its best 4" in x.message
    # Without pruning the optimizer saw it: then it is a missed opportunity.
    assert explain_pair(scenario, schedule, "B5", "E0", candidates_per_meeting=None).category == "traded_off"
    summary = only(explain_schedule(scenario, schedule), "E0")
    assert summary.kind == "no_meetings"
    assert summary.details["categories"]["pruned"] == 1
    assert summary.details["examples"]["pruned"] == ["B5"]


def test_no_interest_for_an_empty_booth() -> None:
    scenario, schedule = solved(
        make_scenario(
            [{"id": "B1", "interests": {"gabion": 3}}],
            [{"id": "E1", "offers": ["gabion"]}, {"id": "E2", "offers": ["razor-wire"]}],
        )
    )
    x = only(explain_schedule(scenario, schedule), "E2")
    assert (x.kind, x.category) == ("no_meetings", "no_interest")
    assert "E2 offers razor-wire; no buyer is interested in any of it and nobody requested a meeting with E2" in x.message


def test_traded_off_names_the_free_slot() -> None:
    scenario = as_scenario(make_scenario(requests=[want("B1", "E1")]))
    x = only(explain_schedule(scenario, empty_schedule(scenario)), "B1-E1")
    assert x.category == "traded_off"
    assert x.details["free_slot"] == f"{DAY} 09:00"
    assert f"at {DAY} 09:00 both were free and no rule stood in the way" in x.message


def test_every_category_is_documented() -> None:
    assert set(CATEGORY_DESCRIPTIONS) == set(CATEGORIES)
    text = (Path(__file__).resolve().parents[1] / "docs" / "explanations.md").read_text(encoding="utf-8")
    for category in CATEGORIES:
        assert f"`{category}`" in text


# ---------------------------------------------------------------------------
# Participants
# ---------------------------------------------------------------------------


def test_below_min_summarizes_the_counterparts() -> None:
    scenario, schedule = solved(
        make_scenario([{"id": "B1", "min_meetings": 2}], ["E1", "E2"], slots=1, requests=[want("B1", "E1"), want("B1", "E2")])
    )
    x = only(explain_schedule(scenario, schedule), "B1")
    assert x.kind == "below_min"
    assert x.category == "counterpart_booked"
    assert x.message.startswith("B1 has 1 meeting, below its min_meetings 2")
    assert "1 is free only when B1 is already in another meeting" in x.message


def test_empty_booth_whose_buyers_are_booked() -> None:
    """E3 offers gabion; both interested buyers are busy with must meetings at the only slot."""
    buyers = [{"id": b, "interests": {"gabion": 1}} for b in ("B1", "B2")]
    exhibitors = ["E1", "E2", {"id": "E3", "offers": ["gabion"]}]
    scenario, schedule = solved(make_scenario(buyers, exhibitors, slots=1, requests=[must("B1", "E1"), must("B2", "E2")]))
    x = only(explain_schedule(scenario, schedule), "E3")
    assert (x.kind, x.category) == ("no_meetings", "counterpart_booked")
    assert "E3 offers gabion; 2 buyers are interested or asked for a meeting" in x.message
    assert "all 2 are in other meetings at every slot when E3 is free for them (B1, B2)" in x.message


def test_explain_participant_without_a_problem() -> None:
    scenario, schedule = solved(make_scenario(requests=[want("B1", "E1")]))
    explanations = explain_participant(scenario, schedule, "B1")
    assert [x.kind for x in explanations] == ["participant"]
    assert "B1 has 1 meeting" in explanations[0].message
    with pytest.raises(KeyError):
        explain_participant(scenario, schedule, "nobody")


def test_generated_fair_explains_exactly_what_is_missing() -> None:
    scenario = generate_scenario("tiny", 3)
    schedule = solve_and_check(scenario, time_limit=2)
    explanations = explain_schedule(scenario, schedule)
    met = {(m.buyer, m.exhibitor) for m in schedule.meetings}
    expected = {f"{u.buyer}-{u.exhibitor}" for u in schedule.unscheduled_requests}
    assert {x.subject for x in explanations if x.kind == "request"} == expected
    empty = {e.id for e in scenario.exhibitors if not any(e.id == b for _a, b in met)}
    assert {x.subject for x in explanations if x.kind == "no_meetings"} == empty
    for x in explanations:
        assert x.category in CATEGORIES
        json.dumps(x.model_dump(mode="json"))  # details are plain JSON


def test_a_meeting_outside_the_scenario_is_bad_input() -> None:
    scenario = as_scenario(make_scenario())
    bad = empty_schedule(scenario, [meeting("B1", "E1", 0), meeting("B9", "E1", 1)])
    bad.meetings[0].start = "09:05"
    with pytest.raises(ScheduleFileError) as error:
        explain_schedule(scenario, bad)
    text = str(error.value)
    assert "meetings[0].start" in text and "meetings[1].buyer" in text


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    data = make_scenario(["B1", "B2"], ["E1", "E2", {"id": "E3", "offers": ["gabion"]}], slots=1, requests=[must("B1", "E1"), want("B1", "E2")])
    _scenario, schedule = solved(data)
    scenario_file = tmp_path / "fair.json"
    scenario_file.write_text(json.dumps(data), encoding="utf-8")
    schedule_file = tmp_path / "schedule.json"
    schedule_file.write_text(schedule.to_json(), encoding="utf-8")
    return scenario_file, schedule_file


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_explain(files: tuple[Path, Path]) -> None:
    scenario_file, schedule_file = files
    result = run("explain", schedule_file, "--scenario", scenario_file)
    assert result.exit_code == 0, result.output
    assert "B1-E2 (want request): counterpart_booked:" in result.stdout
    assert "E3 (no meetings): no_interest:" in result.stdout
    filtered = run("explain", schedule_file, "--scenario", scenario_file, "--participant", "E2")
    assert filtered.exit_code == 0
    assert "B1-E2" in filtered.stdout and "E3" not in filtered.stdout


def test_cli_explain_bad_input(files: tuple[Path, Path], tmp_path: Path) -> None:
    scenario_file, schedule_file = files
    unknown = run("explain", schedule_file, "--scenario", scenario_file, "--participant", "B99")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("error: ") and "B99" in unknown.stderr
    missing = run("explain", tmp_path / "nope.json", "--scenario", scenario_file)
    assert missing.exit_code == 2
    assert "file not found" in missing.stderr
    assert "Traceback" not in missing.output


def test_cli_bottlenecks(files: tuple[Path, Path]) -> None:
    scenario_file, schedule_file = files
    result = run("bottlenecks", scenario_file, "--schedule", schedule_file, "--top", 2)
    assert result.exit_code == 0, result.output
    assert "upper bound" in result.stdout
    bad = run("bottlenecks", schedule_file)  # a schedule is not a scenario
    assert bad.exit_code == 2


def test_cli_help_has_examples() -> None:
    for command in ("explain", "bottlenecks"):
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.stdout


# ---------------------------------------------------------------------------
# Soundness against the independent checker
# ---------------------------------------------------------------------------


def _greedy_schedule(scenario: Scenario) -> Schedule:
    """A valid schedule without CP-SAT (the solver's own greedy start)."""
    instance = build_instance(scenario)
    greedy = greedy_schedule(instance)
    return build_schedule(instance, greedy.placed, SolverInfo(status="GREEDY", seconds=0, seed=0, workers=1, time_limit=0))


def _with(schedule: Schedule, extra: Meeting) -> Schedule:
    return schedule.model_copy(update={"meetings": [*schedule.meetings, extra]})


def _meeting_at(scenario: Scenario, buyer: str, exhibitor: str, slot) -> Meeting:
    e = next(x for x in scenario.exhibitors if x.id == exhibitor)
    b = next(x for x in scenario.buyers if x.id == buyer)
    return Meeting(
        buyer=buyer,
        exhibitor=exhibitor,
        date=slot.date,
        start=hhmm(slot.start),
        end=hhmm(slot.end),
        location=scenario.meeting_location(e),
        interpreter=needs_interpreter(b.languages, e.languages, b.own_interpreter),
    )


def _stressed(scenario: Scenario, data) -> Scenario:
    """A generated fair with tighter rules drawn at random: booths moved to a small shared lounge,
    long walks between halls, daily and total caps, so that every category can occur."""
    raw = scenario.model_dump(mode="json", by_alias=True)
    for location in raw["locations"]:
        if location["id"] == raw["shared_location"]:
            location["tables"] = data.draw(st.integers(1, 2), label="lounge tables")
    for exhibitor in raw["exhibitors"]:
        if data.draw(st.booleans(), label=f"{exhibitor['id']} in the lounge"):
            exhibitor["location"] = None
    walk = data.draw(st.sampled_from([0, 30, 60]), label="walking minutes")
    halls = [h["id"] for h in raw["halls"]]
    raw["walking_minutes"] = [{"from": a, "to": b, "minutes": walk} for i, a in enumerate(halls) for b in halls[i + 1 :]]
    for buyer in raw["buyers"]:
        buyer["max_meetings_per_day"] = data.draw(st.sampled_from([None, 1, 3]), label=f"{buyer['id']} per day")
        buyer["max_meetings"] = data.draw(st.sampled_from([None, 2, 4]), label=f"{buyer['id']} max")
        buyer["min_meetings"] = 0
    return parse_scenario(raw)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10_000), keep=st.floats(min_value=0.3, max_value=1.0), data=st.data())
def test_categories_agree_with_the_checker(seed: int, keep: float, data) -> None:
    """Thin a valid schedule at random, then for every pair that does not meet: a free slot named by
    traded_off/pruned takes the meeting without a new violation, and for every rule-based category
    the meeting breaks a rule at every slot when both are available."""
    scenario = _stressed(generate_scenario("tiny", seed), data)
    full = _greedy_schedule(scenario)
    kept = [m for m in full.meetings if data.draw(st.floats(0, 1)) < keep]
    schedule = full.model_copy(update={"meetings": kept})
    baseline = {str(v) for v in check_schedule(scenario, schedule).violations}

    def new_violations(buyer: str, exhibitor: str, slot) -> set[str]:
        report = check_schedule(scenario, _with(schedule, _meeting_at(scenario, buyer, exhibitor, slot)))
        return {str(v) for v in report.violations} - baseline

    grid = build_slot_grid(scenario)
    free = {p.id: set(grid.free_slots(p.availability)) for p in [*scenario.buyers, *scenario.exhibitors]}
    met = {(m.buyer, m.exhibitor) for m in kept}
    for buyer in scenario.buyers:
        for exhibitor in scenario.exhibitors:
            if (buyer.id, exhibitor.id) in met:
                continue
            x = explain_pair(scenario, schedule, buyer.id, exhibitor.id)
            if x.category == "no_interest":
                continue
            if x.category in ("traded_off", "pruned"):
                day, start = x.details["free_slot"].split(" ")
                slot = grid.slots[grid.slot_at(date.fromisoformat(day), start)]
                assert not new_violations(buyer.id, exhibitor.id, slot), x.message
                continue
            # Every slot when both are available, or the first slot when there is none.
            slots = sorted(free[buyer.id] & free[exhibitor.id]) or [0]
            for s in slots:
                assert new_violations(buyer.id, exhibitor.id, grid.slots[s]), (x.category, x.message, grid.slots[s].label)


def test_cli_explain_names_a_schedule_that_does_not_fit(files: tuple[Path, Path]) -> None:
    scenario_file, schedule_file = files
    data = json.loads(schedule_file.read_text(encoding="utf-8"))
    data["meetings"][0]["buyer"] = "B99"
    schedule_file.write_text(json.dumps(data), encoding="utf-8")
    result = run("explain", schedule_file, "--scenario", scenario_file)
    assert result.exit_code == 2
    assert f"error: {schedule_file}: meetings[0].buyer: 'B99' is not a buyer of the scenario" in result.stderr
