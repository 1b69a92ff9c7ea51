"""The flow upper bound (matchmaker/relax/flow_bound.py) and its exact LP form (matchmaker/analysis/bottlenecks.py).

Tiny fairs whose optimum is computed by hand: the bound is never below it, and
it is exactly it where the relaxation loses nothing (one day, everyone free in
every slot: a bipartite graph of degree at most |slots| can be timetabled in
|slots| slots, König's edge-colouring theorem). Where the relaxation does lose
something (walking), the slack is shown. A property test checks the bound
against solved generated fairs.

Default weights: a requested pair is worth (10 + interest + sector bonus) x priority,
so a request by the buyer with no shared interest is worth 10 x priority (priority 3
unless given).
"""

from __future__ import annotations

import pytest
from helpers import as_scenario, make_scenario, pin, slot_start, solve_and_check, want
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matchmaker.analysis.bottlenecks import find_bottlenecks
from matchmaker.errors import InfeasibleError
from matchmaker.io.generate import generate_scenario
from matchmaker.pipeline import SolveOptions, solve
from matchmaker.relax.flow_bound import upper_bounds


def requests(buyers: list[str], exhibitors: list[str]) -> list[dict]:
    return [want(b, e) for b in buyers for e in exhibitors]


def check(data: dict, meetings: int, value: int, iterations: int = 40) -> None:
    """The bound and the LP equal the hand-computed optimum, which the solver reaches."""
    scenario = as_scenario(data)
    bound = upper_bounds(scenario, iterations=iterations)
    assert (bound.meetings, bound.value) == (meetings, value)
    lp = find_bottlenecks(scenario, top=1)
    assert (lp.bound_meetings, lp.bound_value) == (meetings, value)
    schedule = solve_and_check(scenario)
    assert schedule.stats.value == value


def test_exact_without_side_constraints() -> None:
    """3 buyers x 2 exhibitors, 2 slots: each exhibitor meets at most 2, so 4 meetings;
    the best 4 are B1's (priority 5: 50 each) and B3's (30 each): 160."""
    data = make_scenario(
        [{"id": "B1", "priority": 5}, {"id": "B2", "priority": 1}, "B3"], ["E1", "E2"], requests=requests(["B1", "B2", "B3"], ["E1", "E2"])
    )
    check(data, meetings=4, value=160, iterations=12)


def test_interpreter_multiplier_converges() -> None:
    """All four pairs need the single 'ru' interpreter: 2 meetings (one per slot), B1's two at 50: 100.
    Without the multiplier the flow would take all four (120)."""
    data = make_scenario(
        [{"id": "B1", "languages": ["ru"], "priority": 5}, {"id": "B2", "languages": ["ru"], "priority": 1}],
        [{"id": "E1", "languages": ["zh"]}, {"id": "E2", "languages": ["zh"]}],
        interpreters=[{"language": "ru", "count": 1}],
        requests=requests(["B1", "B2"], ["E1", "E2"]),
    )
    check(data, meetings=2, value=100)
    assert upper_bounds(as_scenario(data), iterations=1).value == 120  # the plain flow, before any multiplier


def test_shared_table_multiplier_converges() -> None:
    """E1 and E2 share the one-table lounge: 2 meetings in 2 slots, 30 each."""
    data = make_scenario(["B1", "B2"], [{"id": "E1", "location": None}, {"id": "E2", "location": None}], requests=requests(["B1", "B2"], ["E1", "E2"]))
    check(data, meetings=2, value=60)


def test_a_pair_meets_once_across_days() -> None:
    data = make_scenario(days=[{"date": "2024-05-14", "sessions": [{"start": "09:00", "end": "09:40"}]}, {"date": "2024-05-15", "sessions": [{"start": "09:00", "end": "09:40"}]}], requests=[want("B1", "E1")])
    check(data, meetings=1, value=30)


def test_max_meetings_per_day() -> None:
    data = make_scenario([{"id": "B1", "max_meetings_per_day": 1}], ["E1", "E2", "E3"], slots=3, requests=requests(["B1"], ["E1", "E2", "E3"]))
    check(data, meetings=1, value=30)


def test_walking_is_relaxed() -> None:
    """B1 meets E1 (hall H1) at the pinned 09:20; E2 (hall H2, 30 minutes away) can only meet at 09:00.
    Only one meeting is possible, the bound (which ignores walking) allows both."""
    data = make_scenario(
        ["B1"],
        [{"id": "E1", "hall": "H1"}, {"id": "E2", "hall": "H2", "availability": [{"date": "2024-05-14", "start": "09:00", "end": "09:20"}]}],
        halls=("H1", "H2"),
        walking={("H1", "H2"): 30},
        pinned=[pin("B1", "E1", slot_start(1))],
        requests=[want("B1", "E2")],
    )
    scenario = as_scenario(data)
    schedule = solve_and_check(scenario)
    assert (schedule.stats.meetings, schedule.stats.value) == (1, 3)  # the pinned pair: no interest, no request, priority 3
    bound = upper_bounds(scenario)
    assert (bound.meetings, bound.value) == (2, 33)


FEW = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FEW
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_bound_is_never_below_a_schedule(seed: int) -> None:
    scenario = generate_scenario("tiny", seed)
    try:
        schedule = solve(scenario, SolveOptions(time_limit=1, workers=1, seed=0, candidates_per_meeting=None))
    except InfeasibleError:
        assume(False)
    bound = upper_bounds(scenario)
    assert bound.value >= schedule.stats.value
    assert bound.meetings >= schedule.stats.meetings
    lp = find_bottlenecks(scenario, top=1)
    assert schedule.stats.value <= lp.bound_value <= bound.value
    assert schedule.stats.meetings <= lp.bound_meetings <= bound.meetings


@pytest.mark.parametrize("seed", [0, 1])
def test_stats_carry_the_bound(seed: int) -> None:
    scenario = generate_scenario("tiny", seed)
    schedule = solve(scenario, SolveOptions(time_limit=1, workers=1, seed=0))
    stats = schedule.stats
    assert stats.upper_bound_value >= stats.value and stats.upper_bound_meetings >= stats.meetings
    assert stats.gap_percent == pytest.approx(100 * (stats.upper_bound_value - stats.value) / stats.upper_bound_value, abs=1e-3)


# ---------------------------------------------------------------------------
# Bottlenecks: what one more interpreter, table, hour or allowed meeting adds to the bound
# ---------------------------------------------------------------------------


def _what_if(items, ident: str) -> tuple[int, int]:
    item = next(b for b in items if b.id == ident)
    assert item.what_if is not None
    return item.what_if.meetings, item.what_if.value


def test_bottleneck_one_more_interpreter() -> None:
    """With a second 'ru' interpreter all four meetings fit: B2's two (10 each) are added."""
    data = make_scenario(
        [{"id": "B1", "languages": ["ru"], "priority": 5}, {"id": "B2", "languages": ["ru"], "priority": 1}],
        [{"id": "E1", "languages": ["zh"]}, {"id": "E2", "languages": ["zh"]}],
        interpreters=[{"language": "ru", "count": 1}],
        requests=requests(["B1", "B2"], ["E1", "E2"]),
    )
    report = find_bottlenecks(as_scenario(data))
    assert (report.bound_meetings, report.bound_value) == (2, 100)
    assert _what_if(report.interpreters, "ru") == (2, 20)
    data["interpreters"] = []  # no interpreter at all: one makes B1's two meetings possible
    report = find_bottlenecks(as_scenario(data))
    assert (report.bound_meetings, report.bound_value) == (0, 0)
    assert _what_if(report.interpreters, "ru") == (2, 100)


def test_bottleneck_one_more_table() -> None:
    data = make_scenario(["B1", "B2"], [{"id": "E1", "location": None}, {"id": "E2", "location": None}], requests=requests(["B1", "B2"], ["E1", "E2"]))
    report = find_bottlenecks(as_scenario(data))
    assert _what_if(report.locations, "LOUNGE") == (2, 60)
    assert "one more table at LOUNGE: +2 meetings, +60 value" in "\n".join(report.lines())


def test_bottleneck_one_more_hour_or_meeting_for_a_buyer() -> None:
    """B1 is free for one of three slots: an hour (3 slots) lets it meet all three exhibitors;
    with max_meetings 1 instead, allowing a second meeting adds one."""
    short = make_scenario([{"id": "B1", "availability": [{"date": "2024-05-14", "start": "09:00", "end": "09:20"}]}], ["E1", "E2", "E3"], slots=3, requests=requests(["B1"], ["E1", "E2", "E3"]))
    report = find_bottlenecks(as_scenario(short))
    assert _what_if(report.buyers, "B1") == (2, 60)
    assert report.buyers[0].what_if.change == "one more hour for B1 (+3 slots)"
    capped = make_scenario([{"id": "B1", "max_meetings": 1}], ["E1", "E2", "E3"], slots=3, requests=requests(["B1"], ["E1", "E2", "E3"]))
    report = find_bottlenecks(as_scenario(capped))
    assert _what_if(report.buyers, "B1") == (1, 30)
    assert report.buyers[0].what_if.change == "max_meetings 1 -> 2 for B1"
