"""Re-planning against a published schedule: policies keep / minimal / full, freeze, change reports, CLI.

Properties, never exact schedules (solver results depend on timing):

- validity is re-derived here from the new scenario alone (``still_valid``), not
  taken from ``carry_over``, so the tests check the library's validity reasons
  against an independent reading of the scenario;
- ``keep`` moves or cancels only meetings the new scenario makes invalid, each
  with a validity reason (never the generic policy reason);
- ``minimal`` (given twice keep's time limit, see its test) places at least as
  many new meetings as ``keep`` and makes at most ``max_changes_per_participant``
  policy changes per participant;
- ``freeze_before`` leaves every still-valid earlier meeting identical and puts
  nothing new before the moment, under every policy.

The Anping part solves v1 once (module fixture, 20 s on 2 workers) and
re-plans it after ``late_changes`` (12 late buyers, 3 removed, 5 shortened).
Budget: about 2 minutes on 2 cores. Set MATCHMAKER_REPLAN_FIGURES=path to get
the measured figures (seconds, counts) as JSON; docs/replanning.md quotes them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from helpers import (
    DAY,
    as_scenario,
    assert_no_traceback,
    invoke,
    make_scenario,
    must,
    pin,
    session,
    slot_start,
    want,
    window,
)

from matchmaker import bundled_scenario_path, check_schedule, load_scenario
from matchmaker.analysis.diff import CSV_COLUMNS, ChangeReport
from matchmaker.errors import DifferentEventError, InfeasibleError, MatchmakerError
from matchmaker.io.generate import late_changes
from matchmaker.pipeline import Replan, SolveOptions, solve
from matchmaker.pipeline import reschedule as replan
from matchmaker.solver.replan import Moment, check_same_event
from matchmaker.spec.scenario import Scenario, hhmm, minutes
from matchmaker.spec.schedule import Meeting, ScenarioRef, Schedule, load_schedule

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "scenarios" / "demo-small.json"

KEEP_REASONS = set()  # keep has no policy reason: everything it changes is forced by validity
MINIMAL_REASONS = {"moved to let new meetings in (minimal policy)", "cancelled to let new meetings in (minimal policy)"}
FULL_REASONS = {"re-optimized (full policy)"}
POLICY_REASONS = {"keep": KEEP_REASONS, "minimal": MINIMAL_REASONS, "full": FULL_REASONS}
DIFF_DEFAULTS = {"new meeting", "no longer in the schedule", "time or place changed"}
POLICIES = ("keep", "minimal", "full")

# ---------------------------------------------------------------------------
# Independent validity: a previous meeting is still valid in a scenario when
# both participants are still there and free at its time, its (date, start,
# end) is still a slot, the exhibitor still meets at its location, and the pair
# is not blocked. Interpreters, tables and caps are not re-derived: only the
# tiny test that shrinks a table count changes them, and it checks that case itself.
# ---------------------------------------------------------------------------


def slots_of(scenario: Scenario) -> dict[tuple[date, str], str]:
    """(date, start) -> end of every meeting slot."""
    out = {}
    step = scenario.slot_minutes + scenario.changeover_minutes
    for day in scenario.days:
        for s in day.sessions:
            start = minutes(s.start)
            while start + scenario.slot_minutes <= minutes(s.end):
                out[(day.date, hhmm(start))] = hhmm(start + scenario.slot_minutes)
                start += step
    return out


def free_at(person, day: date, start: str, end: str) -> bool:
    if person.availability is None:
        return True
    return any(w.date == day and w.start <= start and end <= w.end for w in person.availability)


def still_valid(scenario: Scenario, m: Meeting) -> bool:
    buyers = {b.id: b for b in scenario.buyers}
    exhibitors = {e.id: e for e in scenario.exhibitors}
    if m.buyer not in buyers or m.exhibitor not in exhibitors:
        return False
    if slots_of(scenario).get((m.date, m.start)) != m.end:
        return False
    if scenario.meeting_location(exhibitors[m.exhibitor]) != m.location:
        return False
    if (m.buyer, m.exhibitor) in {(b.buyer, b.exhibitor) for b in scenario.blocked}:
        return False
    return free_at(buyers[m.buyer], m.date, m.start, m.end) and free_at(exhibitors[m.exhibitor], m.date, m.start, m.end)


def where(m: Meeting) -> tuple:
    return (m.buyer, m.exhibitor, m.date, m.start, m.location)


def pairs(schedule: Schedule) -> set[tuple[str, str]]:
    return {(m.buyer, m.exhibitor) for m in schedule.meetings}


def new_meetings(previous: Schedule, schedule: Schedule) -> int:
    """Meetings of pairs that were not in the previous schedule."""
    return len(pairs(schedule) - pairs(previous))


def before(moment: Moment, m: Meeting) -> bool:
    return not moment.after(m.date, minutes(m.start))


def assert_clean(scenario: Scenario, schedule: Schedule) -> None:
    report = check_schedule(scenario, schedule)
    assert report.ok, report.lines()[:10]
    assert not report.warnings, report.warnings


def assert_report_consistent(previous: Schedule, result: Replan) -> None:
    """The change report adds up, and describes the two schedules."""
    report, schedule = result.changes, result.schedule
    assert (report.old_version, report.new_version) == (previous.version, schedule.version)
    assert report.kept + report.moved + report.cancelled == len(previous.meetings)
    assert report.kept + report.moved + report.added == len(schedule.meetings)
    kinds = Counter(c.change for c in report.changes)
    assert (kinds["added"], kinds["moved"], kinds["cancelled"]) == (report.added, report.moved, report.cancelled)
    assert all(c.reason for c in report.changes)


def assert_validity_reasons(previous: Schedule, new_scenario: Scenario, result: Replan, policy: str) -> None:
    """Every invalid previous meeting is listed with a validity reason; policy reasons only on valid ones."""
    changes = {(c.buyer, c.exhibitor): c for c in result.changes.changes}
    for m in previous.meetings:
        change = changes.get((m.buyer, m.exhibitor))
        if not still_valid(new_scenario, m):
            assert change is not None and change.change in ("moved", "cancelled"), f"invalid {where(m)} not listed"
            assert change.reason not in POLICY_REASONS[policy] | DIFF_DEFAULTS, (where(m), change.reason)
        elif change is not None:
            assert change.reason in POLICY_REASONS[policy], (
                f"{where(m)} is still valid but {change.change} with reason {change.reason!r}"
            )


def assert_freeze_respected(previous: Schedule, new_scenario: Scenario, schedule: Schedule, moment: Moment) -> None:
    """Every still-valid meeting before the moment is identical; nothing else lies before it."""
    frozen = {where(m) for m in previous.meetings if before(moment, m) and still_valid(new_scenario, m)}
    now_before = {where(m) for m in schedule.meetings if before(moment, m)}
    assert frozen <= now_before, f"frozen meetings changed: {sorted(frozen - now_before)[:5]}"
    # Scenario pins before the moment are the organizer's own decision; none are new here.
    new_pins = {(p.buyer, p.exhibitor) for p in new_scenario.pinned} - pairs(previous)
    extra = {w for w in now_before - frozen if (w[0], w[1]) not in new_pins}
    assert not extra, f"placed before the freeze: {sorted(extra)[:5]}"


def changes_per_participant(report: ChangeReport, reasons: set[str] | None = None, kinds=("moved", "cancelled")) -> Counter:
    count: Counter = Counter()
    for c in report.changes:
        if c.change in kinds and (reasons is None or c.reason in reasons):
            count[c.buyer] += 1
            count[c.exhibitor] += 1
    return count


# ---------------------------------------------------------------------------
# Measured figures (for docs/replanning.md and the final report)
# ---------------------------------------------------------------------------

FIGURES: dict = {}


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield FIGURES
    if FIGURES:
        print("\nre-planning figures:", json.dumps(FIGURES, indent=1, default=str))
        target = os.environ.get("MATCHMAKER_REPLAN_FIGURES")
        if target:
            Path(target).write_text(json.dumps(FIGURES, indent=1, default=str) + "\n", encoding="utf-8")


def record(name: str, previous: Schedule, result: Replan) -> None:
    report = result.changes
    late = Counter(m.buyer for m in result.schedule.meetings if m.buyer.startswith("L"))
    FIGURES[name] = {
        "seconds": result.schedule.solver.seconds,
        "meetings": len(result.schedule.meetings),
        "kept": report.kept,
        "added": report.added,
        "moved": report.moved,
        "cancelled": report.cancelled,
        "participants_to_notify": report.participants_to_notify,
        "new_pairs": new_meetings(previous, result.schedule),
        "late_buyer_meetings": sum(late.values()),
        "late_buyers_with_meetings": len(late),
        "max_changes_per_participant": max(changes_per_participant(report).values(), default=0),
        "max_changes_per_participant_incl_added": max(
            changes_per_participant(report, kinds=("added", "moved", "cancelled")).values(), default=0
        ),
        "max_policy_changes_per_participant": max(
            changes_per_participant(report, POLICY_REASONS[result.schedule.solver.policy]).values(), default=0
        ),
        "reasons": dict(Counter(_reason_kind(c.reason) for c in report.changes if c.change != "added")),
    }


def _reason_kind(reason: str) -> str:
    for pattern, kind in (
        (r"^buyer \S+ is no longer at the event$", "buyer removed"),
        (r" is no longer available at ", "no longer available"),
        (r"\(minimal policy\)$", "minimal policy"),
        (r"\(full policy\)$", "full policy"),
    ):
        if re.search(pattern, reason):
            return kind
    return reason


# ---------------------------------------------------------------------------
# Tiny scenarios: validity reasons, the change cap, freeze under every policy
# ---------------------------------------------------------------------------

TINY_OPTIONS = SolveOptions(time_limit=5, workers=1, seed=0)


def tiny_schedule(data: dict, *meetings: tuple[str, str, int]) -> Schedule:
    """A hand-made published schedule (version 1) of the tiny scenario ``data``: (buyer, exhibitor, slot)."""
    scenario = as_scenario(data)
    exhibitors = {e.id: e for e in scenario.exhibitors}
    slot_list = sorted(slots_of(scenario).items())
    out = []
    for buyer, exhibitor, k in meetings:
        (d, start), end = slot_list[k]
        out.append(Meeting(buyer=buyer, exhibitor=exhibitor, date=d, start=start, end=end,
                           location=scenario.meeting_location(exhibitors[exhibitor])))
    schedule = Schedule(scenario=ScenarioRef(name=scenario.name, sha256=scenario.fingerprint()), meetings=out)
    assert_clean(scenario, schedule)  # the published schedule itself is valid
    return schedule


def test_every_kind_of_invalidity_is_dropped_with_its_reason_under_every_policy():
    exhibitors = ["E1", "E2", "E3", "E4", "E5", "E6", {"id": "E7", "location": None}, {"id": "E8", "location": None}]
    buyers = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8"]
    requests = [want(f"B{i}", f"E{i}") for i in range(1, 9)]
    v1_data = make_scenario(buyers, exhibitors, slots=4, lounge_tables=2, requests=requests)
    previous = tiny_schedule(v1_data, *[(f"B{i}", f"E{i}", 0 if i < 7 else 3) for i in range(1, 9)],
                             ("B1", "E2", 1))  # B1-E2: still valid, must stay (keep)

    v2_data = make_scenario(
        [b for b in buyers if b != "B2"] + ["N1"],                       # B2 leaves
        [e for e in exhibitors if e != "E3"],                            # E3 leaves
        slots=4, lounge_tables=1,                                        # B7-E7, B8-E8 share the lounge at slot 3
        # (a blocked pair cannot be requested: B4-E4's request goes too)
        requests=[r for r in requests if r["buyer"] != "B2" and r["exhibitor"] not in ("E3", "E4")] + [want("N1", "E1")],
        blocked=[{"buyer": "B4", "exhibitor": "E4"}],                    # B4-E4 now blocked
    )
    v2_data["buyers"][3]["availability"] = [window(slot_start(1), slot_start(4))]  # B5 not at slot 0 any more
    v2_data["exhibitors"][4]["location"] = "L-E1"                                   # E6 moves into E1's booth
    new = as_scenario(v2_data)
    expected = {
        ("B2", "E2"): r"^buyer B2 is no longer at the event$",
        ("B3", "E3"): r"^exhibitor E3 is no longer at the event$",
        ("B4", "E4"): r"^B4 and E4 are now a blocked pair$",
        ("B5", "E5"): r"^B5 is no longer available at 2024-05-14 09:00$",
        ("B6", "E6"): r"^E6 now meets at L-E1, not L-E6$",
    }
    lounge = {("B7", "E7"), ("B8", "E8")}  # one of them: "LOUNGE has fewer tables now"
    for policy in POLICIES:
        result = replan(new, previous, TINY_OPTIONS, policy=policy)
        assert_clean(new, result.schedule)
        assert_report_consistent(previous, result)
        reasons = {(c.buyer, c.exhibitor): c.reason for c in result.changes.changes if c.change != "added"}
        for pair, pattern in expected.items():
            assert re.search(pattern, reasons.get(pair, "")), (policy, pair, reasons.get(pair))
        tables = [p for p in lounge if reasons.get(p) == "LOUNGE has fewer tables now"]
        if policy == "full":
            # full may put the dropped one back in its old place and move the other one instead.
            assert len(tables) == 1 or [p for p in lounge if reasons.get(p) in FULL_REASONS], sorted(reasons.items())
        else:
            assert len(tables) == 1, (policy, sorted(reasons.items()))
        # Everything else that changed was still valid: only the policy may have touched it.
        for pair, reason in reasons.items():
            if pair not in expected and pair not in tables:
                assert reason in POLICY_REASONS[policy], (policy, pair, reason)
        if policy == "keep":
            assert ("B1", "E1", date.fromisoformat(DAY), "09:00", "L-E1") in {where(m) for m in result.schedule.meetings}
            assert ("B1", "E2") not in reasons
            assert set(reasons) == set(expected) | (set(reasons) & lounge) and len(set(reasons) & lounge) == 1


def test_version_and_previous_reference():
    data = make_scenario(["B1"], ["E1", "E2"], slots=3, requests=[want("B1", "E1"), want("B1", "E2")])
    previous = tiny_schedule(data, ("B1", "E1", 0))
    previous.version = 4
    result = replan(as_scenario(data), previous, TINY_OPTIONS, previous_sha256="ab" * 32, previous_file="pub/schedule.json")
    assert result.schedule.version == 5
    assert result.schedule.previous.model_dump() == {"file": "pub/schedule.json", "sha256": "ab" * 32, "version": 4}
    assert result.schedule.solver.policy == "keep"
    assert (result.changes.old_version, result.changes.new_version) == (4, 5)
    assert [(c.change, c.exhibitor) for c in result.changes.changes] == [("added", "E2")]


def cap_scenario() -> tuple[dict, Schedule]:
    """E1 is booked in slots 0-2; late buyer N (priority 5, both asked) is free only then.

    Keep cannot place N-E1. Minimal can, by moving one of E1's meetings to slot 3:
    one change for E1 and one for the moved buyer.
    """
    v1 = make_scenario(["B1", "B2", "B3"], ["E1"], slots=4, requests=[want(b, "E1") for b in ("B1", "B2", "B3")])
    previous = tiny_schedule(v1, ("B1", "E1", 0), ("B2", "E1", 1), ("B3", "E1", 2))
    v2 = make_scenario(
        ["B1", "B2", "B3", {"id": "N", "priority": 5, "availability": [window(slot_start(0), slot_start(3))]}],
        ["E1"], slots=4, requests=[*(want(b, "E1") for b in ("B1", "B2", "B3")), want("N", "E1", by="both")],
    )
    return v2, previous


@pytest.mark.parametrize("cap", [0, 1, None])
def test_minimal_moves_a_published_meeting_only_within_the_cap(cap):
    v2, previous = cap_scenario()
    new = as_scenario(v2)
    keep = replan(new, previous, TINY_OPTIONS, policy="keep")
    assert ("N", "E1") not in pairs(keep.schedule)
    assert keep.changes.moved == keep.changes.cancelled == 0

    result = replan(new, previous, TINY_OPTIONS, policy="minimal", max_changes_per_participant=cap)
    assert_clean(new, result.schedule)
    assert_report_consistent(previous, result)
    assert_validity_reasons(previous, new, result, "minimal")
    assert new_meetings(previous, result.schedule) >= new_meetings(previous, keep.schedule)
    per_participant = changes_per_participant(result.changes, MINIMAL_REASONS)
    if cap == 0:
        assert result.changes.changes == [] and pairs(result.schedule) == pairs(previous)
    else:
        assert ("N", "E1") in pairs(result.schedule)
        assert (result.changes.moved, result.changes.cancelled) == (1, 0)  # one move is all it takes
        assert per_participant["E1"] == 1
    assert max(per_participant.values(), default=0) <= (cap if cap is not None else 99)


def freeze_scenario() -> tuple[dict, Schedule, Moment]:
    """Morning (4 slots from 09:00) and afternoon (4 slots from 14:00); freeze at 12:00.

    Published: B1-E1 09:00, B1-E2 09:20 (valid, frozen), B2-E3 09:00 (B2 now only
    comes in the afternoon: invalid), B3-E1 14:00 and B2-E4 14:20 (after the freeze).
    New: N1 (only free in the morning) wants E3 and E4, which are free then; N2
    (priority 5, all day) wants E1 and E2.
    """
    sessions = [session(4), session(4, first="14:00")]
    exhibitors = ["E1", "E2", "E3", "E4"]
    v1_requests = [want("B1", "E1"), want("B1", "E2"), want("B2", "E3"), want("B3", "E1"), want("B2", "E4")]
    v1 = make_scenario(["B1", "B2", "B3"], exhibitors, sessions=sessions, requests=v1_requests)
    previous = tiny_schedule(v1, ("B1", "E1", 0), ("B1", "E2", 1), ("B2", "E3", 0), ("B3", "E1", 4), ("B2", "E4", 5))
    v2 = make_scenario(
        [
            "B1",
            {"id": "B2", "availability": [window("14:00", "15:20")]},
            "B3",
            {"id": "N1", "availability": [window("09:00", "10:20")]},
            {"id": "N2", "priority": 5},
        ],
        exhibitors,
        sessions=sessions,
        requests=[*v1_requests, want("N1", "E3", by="both"), want("N1", "E4", by="both"),
                  want("N2", "E1", by="both"), want("N2", "E2", by="both")],
    )
    return v2, previous, Moment.parse(f"{DAY} 12:00")


@pytest.mark.parametrize("policy", POLICIES)
def test_freeze_keeps_earlier_meetings_and_places_nothing_before_it(policy):
    v2, previous, moment = freeze_scenario()
    new = as_scenario(v2)
    result = replan(new, previous, TINY_OPTIONS, policy=policy, max_changes_per_participant=2, freeze_before=moment)
    assert_clean(new, result.schedule)
    assert_report_consistent(previous, result)
    assert_validity_reasons(previous, new, result, policy)
    assert_freeze_respected(previous, new, result.schedule, moment)
    assert ("N1", "E3") not in pairs(result.schedule) and ("N1", "E4") not in pairs(result.schedule)
    b2e3 = next(c for c in result.changes.changes if (c.buyer, c.exhibitor) == ("B2", "E3"))
    assert b2e3.reason == f"B2 is no longer available at {DAY} 09:00"
    if b2e3.change == "moved":
        assert moment.after(b2e3.new_date, minutes(b2e3.new_start)), b2e3


@pytest.mark.parametrize("policy", POLICIES)
def test_without_freeze_the_morning_is_used(policy):
    """Control for the freeze test: without it, N1 does get a morning meeting, so the freeze is what stops it."""
    v2, previous, moment = freeze_scenario()
    new = as_scenario(v2)
    result = replan(new, previous, TINY_OPTIONS, policy=policy)
    assert_clean(new, result.schedule)
    assert pairs(result.schedule) & {("N1", "E3"), ("N1", "E4")}
    assert any(before(moment, m) for m in result.schedule.meetings if m.buyer == "N1")


def test_freeze_with_a_must_possible_only_before_it():
    sessions = [session(3), session(3, first="14:00")]
    v1 = make_scenario(["B1", "B2"], ["E1", "E2"], sessions=sessions, requests=[must("B1", "E1"), want("B2", "E2")])
    previous = tiny_schedule(v1, ("B1", "E1", 3), ("B2", "E2", 3))  # both at 14:00
    v2 = make_scenario(
        [{"id": "B1", "availability": [window("09:00", "10:00")]}, "B2"], ["E1", "E2"],  # B1 now leaves at 10:00
        sessions=sessions, requests=[must("B1", "E1"), want("B2", "E2")],
    )
    new = as_scenario(v2)
    # Without the freeze the must simply moves to the morning.
    moved = replan(new, previous, TINY_OPTIONS)
    assert [(c.change, c.buyer) for c in moved.changes.changes] == [("moved", "B1")]
    try:
        result = replan(new, previous, TINY_OPTIONS, freeze_before=Moment.parse(f"{DAY} 12:00"))
    except InfeasibleError as error:
        assert "freeze" in str(error), f"the error does not say the freeze is the cause: {error}"
        return
    assert ("B2", "E2") in pairs(result.schedule)
    b1 = next(c for c in result.changes.changes if c.buyer == "B1")
    assert b1.change == "cancelled" and b1.reason == f"B1 is no longer available at {DAY} 14:00"
    assert [u.exhibitor for u in result.schedule.unscheduled_requests if u.buyer == "B1"] == ["E1"]


def test_freeze_moment_parsing():
    moment = Moment.parse("2023-10-23 12:00")
    assert (moment.date, moment.minute) == (date(2023, 10, 23), 720)
    assert moment.after(date(2023, 10, 23), 720) and not moment.after(date(2023, 10, 23), 719)
    assert moment.after(date(2023, 10, 24), 0) and not moment.after(date(2023, 10, 22), 23 * 60)
    assert Moment.parse("  2023-10-23 09:05 ") == Moment(date(2023, 10, 23), 545)
    for bad in ("2023-10-23", "23.10.2023 12:00", "2023-10-23T12:00", "2023-10-23 25:00", ""):
        with pytest.raises(MatchmakerError, match=r"expected 'YYYY-MM-DD HH:MM'"):
            Moment.parse(bad)


def test_check_same_event():
    data = make_scenario(["B1"], ["E1"], slots=2, requests=[want("B1", "E1")])
    previous = tiny_schedule(data, ("B1", "E1", 0))
    check_same_event(as_scenario(data), previous)  # no exception
    with pytest.raises(DifferentEventError, match=r"is for 'tiny test fair', not 'other fair'"):
        check_same_event(as_scenario({**data, "name": "other fair"}), previous)
    moved_day = {**data, "days": [{**data["days"][0], "date": "2024-05-20"}]}
    with pytest.raises(DifferentEventError, match=r"has meetings on 2024-05-14, which are not days of"):
        check_same_event(as_scenario(moved_day), previous)


def test_a_meeting_that_now_ends_later_is_reported():
    v1 = make_scenario(["B1"], ["E1"], slots=3, pinned=[pin("B1", "E1", "09:00")])
    previous = solve(as_scenario(v1), TINY_OPTIONS)
    v2 = make_scenario(["B1"], ["E1"], slots=3, requests=[want("B1", "E1")])
    v2["slot_minutes"] = 25
    v2["days"][0]["sessions"] = [{"start": "09:00", "end": "10:15"}]
    result = replan(as_scenario(v2), previous, TINY_OPTIONS)
    [old], [new] = previous.meetings, result.schedule.meetings
    assert (old.start, old.end, new.start, new.end) == ("09:00", "09:20", "09:00", "09:25")
    assert result.changes.changes != [], "the meeting's end changed but the report says 'kept'"


# ---------------------------------------------------------------------------
# Anping: v1 once, then late changes re-planned under each policy
# ---------------------------------------------------------------------------

LATE_SEED = 1
V1_OPTIONS = SolveOptions(time_limit=20, workers=2, seed=0)
REPLAN_OPTIONS = SolveOptions(time_limit=15, workers=2, seed=0)
# minimal spends budget.SHARES["replan_keep_of_minimal"] of its limit on a keep baseline, its floor for new meetings.
# Twice keep's limit gives that baseline the same budget as the keep run it is compared with
# (at equal limits the baseline is a weaker keep; see test docstring).
MINIMAL_OPTIONS = SolveOptions(time_limit=30, workers=2, seed=0)
FREEZE = "2023-10-23 12:00"


@pytest.fixture(scope="module")
def anping() -> tuple[Scenario, Schedule, Scenario]:
    scenario = load_scenario(bundled_scenario_path())
    v1 = solve(scenario, V1_OPTIONS)
    assert_clean(scenario, v1)
    FIGURES["v1"] = {"seconds": v1.solver.seconds, "meetings": len(v1.meetings), "status": v1.solver.status}
    new = late_changes(scenario, LATE_SEED)
    old_ids, new_ids = {b.id for b in scenario.buyers}, {b.id for b in new.buyers}
    assert len(old_ids - new_ids) == 3 and len([b for b in new_ids - old_ids if b.startswith("L")]) == 12
    return scenario, v1, new


def _replanned(anping, policy: str, options, **kwargs) -> Replan:
    """Re-plan the late-changed Anping fair against v1 with ``policy`` and record its figures."""
    _, v1, new = anping
    result = replan(new, v1, options, policy=policy, **kwargs)
    record(policy, v1, result)
    return result


@pytest.fixture(scope="module")
def anping_keep(anping) -> Replan:
    return _replanned(anping, "keep", REPLAN_OPTIONS)


@pytest.fixture(scope="module")
def anping_minimal(anping) -> Replan:
    return _replanned(anping, "minimal", MINIMAL_OPTIONS, max_changes_per_participant=2)


@pytest.fixture(scope="module")
def anping_full(anping) -> Replan:
    return _replanned(anping, "full", REPLAN_OPTIONS)


def test_anping_late_changes_make_some_meetings_invalid(anping):
    """The premise of the keep test: the late changes invalidate some published meetings, not all."""
    scenario, v1, new = anping
    invalid = [m for m in v1.meetings if not still_valid(new, m)]
    assert 10 <= len(invalid) < len(v1.meetings) // 10
    removed = {b.id for b in scenario.buyers} - {b.id for b in new.buyers}
    assert {m.buyer for m in invalid} & removed


def test_anping_keep_moves_no_still_valid_meeting(anping, anping_keep):
    _, v1, new = anping
    result = anping_keep
    schedule, report = result.schedule, result.changes
    assert_clean(new, schedule)
    assert_report_consistent(v1, result)
    assert schedule.version == 2 and schedule.previous.version == 1

    # Zero still-valid meetings moved: each one is in v2 exactly as published.
    now = {where(m) for m in schedule.meetings}
    valid = [m for m in v1.meetings if still_valid(new, m)]
    assert [where(m) for m in valid if where(m) not in now] == []
    assert report.kept == len(valid)

    # Every moved or cancelled meeting is one the new scenario makes invalid, with the reason why.
    buyers_now = {b.id for b in new.buyers}
    old = {(m.buyer, m.exhibitor): m for m in v1.meetings}
    dropped = [c for c in report.changes if c.change in ("moved", "cancelled")]
    assert dropped
    for c in dropped:
        m = old[(c.buyer, c.exhibitor)]
        assert not still_valid(new, m), (where(m), c.reason)
        if m.buyer not in buyers_now:
            assert c.reason == f"buyer {m.buyer} is no longer at the event" and c.change == "cancelled"
        else:
            assert re.fullmatch(rf"({m.buyer}|{m.exhibitor}) is no longer available at {m.date} {m.start}", c.reason), c.reason
    assert len(dropped) == len(v1.meetings) - len(valid)  # every dropped meeting is listed


def test_anping_keep_gives_late_buyers_meetings(anping, anping_keep):
    _, _, new = anping
    late = {b.id for b in new.buyers if b.id.startswith("L")}
    got = Counter(m.buyer for m in anping_keep.schedule.meetings if m.buyer in late)
    assert set(got) == late, f"late buyers without a meeting: {sorted(late - set(got))}"
    assert sum(got.values()) >= 3 * len(late)
    added = {(c.buyer, c.exhibitor) for c in anping_keep.changes.changes if c.change == "added"}
    assert {(m.buyer, m.exhibitor) for m in anping_keep.schedule.meetings if m.buyer in late} <= added


def test_anping_keep_keeps_the_published_meetings(anping, anping_keep):
    """keep changes no published meeting that is still valid (how long it takes: benchmarks/, not unit tests)."""
    _, v1, _ = anping
    assert anping_keep.schedule.solver.policy == "keep"
    cancelled_or_moved = [c for c in anping_keep.changes.changes if c.change in ("moved", "cancelled")]
    assert all(c.reason for c in cancelled_or_moved), cancelled_or_moved[:3]
    assert anping_keep.changes.kept + len(cancelled_or_moved) <= len(v1.meetings)


def test_anping_minimal_within_the_change_cap(anping, anping_keep, anping_minimal):
    """minimal (cap 2): at least as many new meetings as keep; at most 2 policy changes per participant.

    At *equal* time limits this comparison is not guaranteed: minimal's floor is its own keep baseline,
    solved with half the limit, and when that overruns the minimal stage can end without a solution and
    return the weaker baseline (observed 115 new pairs against keep's 117 in 1 of 5 runs at 15 s).
    Hence MINIMAL_OPTIONS gives minimal twice keep's limit.
    """
    _, v1, new = anping
    result = anping_minimal
    assert_clean(new, result.schedule)
    assert_report_consistent(v1, result)
    assert_validity_reasons(v1, new, result, "minimal")
    assert result.schedule.version == 2 and result.schedule.solver.policy == "minimal"
    assert new_meetings(v1, result.schedule) >= new_meetings(v1, anping_keep.schedule)

    policy_changes = changes_per_participant(result.changes, MINIMAL_REASONS)
    assert max(policy_changes.values(), default=0) <= 2, policy_changes.most_common(3)
    # Policy moves stay within their day.
    for c in result.changes.changes:
        if c.change == "moved" and c.reason in MINIMAL_REASONS:
            assert c.old_date == c.new_date, c
    # Invalid meetings are handled as under keep: same set, same reasons.
    forced = {(c.buyer, c.exhibitor): c.reason for c in result.changes.changes if c.reason not in MINIMAL_REASONS and c.change != "added"}
    forced_keep = {(c.buyer, c.exhibitor): c.reason for c in anping_keep.changes.changes if c.change != "added"}
    assert forced == forced_keep


def test_anping_full(anping, anping_full):
    _, v1, new = anping
    result = anping_full
    assert_clean(new, result.schedule)
    assert_report_consistent(v1, result)
    assert_validity_reasons(v1, new, result, "full")
    assert result.schedule.version == 2 and result.schedule.solver.policy == "full"
    assert {m.buyer for m in result.schedule.meetings if m.buyer.startswith("L")} == {b.id for b in new.buyers if b.id.startswith("L")}


def musts_possible_only_before(scenario: Scenario, previous: Schedule, moment: Moment) -> set[tuple[str, str]]:
    """Must requests that are not a still-valid frozen meeting and have no common free slot after the moment."""
    frozen = {(m.buyer, m.exhibitor) for m in previous.meetings if before(moment, m) and still_valid(scenario, m)}
    buyers = {b.id: b for b in scenario.buyers}
    exhibitors = {e.id: e for e in scenario.exhibitors}
    later = [(d, start, end) for (d, start), end in slots_of(scenario).items() if moment.after(d, minutes(start))]
    out = set()
    for r in scenario.requests:
        if r.level == "must" and (r.buyer, r.exhibitor) not in frozen:
            b, e = buyers[r.buyer], exhibitors[r.exhibitor]
            if not any(free_at(b, *slot) and free_at(e, *slot) for slot in later):
                out.add((r.buyer, r.exhibitor))
    return out


def test_anping_keep_with_freeze(anping):
    """keep with a freeze at the second day's noon.

    A must request whose meeting the late changes invalidated and that can only be re-placed before
    the freeze makes the re-plan raise InfeasibleError (see test_freeze_with_a_must_possible_only_before_it,
    xfail); such musts are turned into wants here so that the freeze itself can be checked on Anping.
    """
    _, v1, new = anping
    moment = Moment.parse(FREEZE)
    impossible = musts_possible_only_before(new, v1, moment)
    FIGURES["keep_freeze_musts_downgraded"] = sorted("-".join(p) for p in impossible)
    if impossible:
        data = new.model_dump(mode="json", by_alias=True)
        for r in data["requests"]:
            if (r["buyer"], r["exhibitor"]) in impossible:
                r["level"] = "want"
        new = as_scenario(data)
    result = replan(new, v1, REPLAN_OPTIONS, policy="keep", freeze_before=moment)
    record("keep_freeze", v1, result)
    assert_clean(new, result.schedule)
    assert_report_consistent(v1, result)
    assert_validity_reasons(v1, new, result, "keep")
    assert_freeze_respected(v1, new, result.schedule, moment)
    # Nothing moved into the frozen period: moved meetings now start after the moment.
    for c in result.changes.changes:
        if c.new_date is not None and c.change != "added":
            assert moment.after(c.new_date, minutes(c.new_start)), c
    late = [m for m in result.schedule.meetings if m.buyer.startswith("L")]
    assert late and all(not before(moment, m) for m in late)


# ---------------------------------------------------------------------------
# CLI on the demo scenario
# ---------------------------------------------------------------------------

FAST = ["--time-limit", "5", "--workers", "1"]






def demo_v2_data() -> dict:
    """demo-small a few days later: B3 cancels, B1 leaves at 15:00, B5 registers late."""
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    data["buyers"] = [b for b in data["buyers"] if b["id"] != "B3"]
    data["requests"] = [r for r in data["requests"] if r["buyer"] != "B3"]
    b1 = next(b for b in data["buyers"] if b["id"] == "B1")
    b1["availability"] = [{"date": "2023-10-22", "start": "09:30", "end": "11:10"},
                          {"date": "2023-10-22", "start": "14:00", "end": "15:00"}]
    data["buyers"].append({"id": "B5", "name": "Late Buyer Ltda.", "country": "Brazil", "languages": ["en"],
                           "interests": {"steel-grating": 5}, "sectors": ["petrochemical"]})
    data["requests"].append({"buyer": "B5", "exhibitor": "E5", "by": "buyer", "level": "want"})
    return data


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, Path]:
    """demo-small solved once as the published v1, and the v2 scenario file."""
    root = tmp_path_factory.mktemp("demo")
    result = invoke("solve", DEMO, "-o", root / "v1", *FAST)
    assert result.exit_code == 0, result.output
    return {"root": root, "v1": root / "v1" / "schedule.json", "v2": write_json(root / "demo-v2.json", demo_v2_data())}


def test_cli_solve_previous_writes_schedule_and_change_report(demo, tmp_path):
    before_bytes = demo["v1"].read_bytes()
    out = tmp_path / "v2"
    result = invoke("solve", demo["v2"], "--previous", demo["v1"], "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    assert sorted(p.name for p in out.iterdir()) == ["changes.csv", "changes.json", "schedule.json"]
    assert demo["v1"].read_bytes() == before_bytes  # the published schedule is untouched

    schedule = load_schedule(out / "schedule.json")
    v1 = load_schedule(demo["v1"])
    new = load_scenario(demo["v2"])
    assert_clean(new, schedule)
    assert schedule.version == 2
    assert schedule.previous.version == 1 and schedule.previous.file == str(demo["v1"])
    assert schedule.previous.sha256 == hashlib.sha256(before_bytes).hexdigest()

    report = ChangeReport.model_validate_json((out / "changes.json").read_text(encoding="utf-8"))
    line = (f"  changes from version 1: {report.kept} kept, {report.added} added, {report.moved} moved, "
            f"{report.cancelled} cancelled; {report.participants_to_notify} participants to notify")
    assert line in result.stdout.splitlines()
    assert f"wrote {out / 'schedule.json'}, {out / 'changes.json'}, {out / 'changes.csv'}" in result.stdout
    # B3 left: its meeting is cancelled with that reason; B5 got a meeting.
    reasons = {(c.buyer, c.exhibitor): (c.change, c.reason) for c in report.changes}
    b3 = [pair for pair in pairs(v1) if pair[0] == "B3"]
    assert b3 and all(reasons[p] == ("cancelled", "buyer B3 is no longer at the event") for p in b3)
    assert ("B5", "E5") in pairs(schedule) and reasons[("B5", "E5")][0] == "added"
    for m in v1.meetings:
        if m.buyer == "B1" and not still_valid(new, m):
            assert reasons[(m.buyer, m.exhibitor)][1].startswith("B1 is no longer available at ")

    rows = list(csv.reader((out / "changes.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) - 1 == 2 * len(report.changes)

    check = invoke("check", demo["v2"], out / "schedule.json")
    assert check.exit_code == 0, check.output


def test_cli_refuses_previous_schedule_of_another_event_unless_allowed(demo, tmp_path):
    other = write_json(tmp_path / "other.json", {**demo_v2_data(), "name": "Another fair"})
    out = tmp_path / "v2"
    for extra in ([], ["--force"]):  # --force overwrites outputs; it never accepts another fair's schedule
        result = invoke("solve", other, "--previous", demo["v1"], "-o", out, *extra, *FAST)
        assert result.exit_code == 2
        assert_no_traceback(result)
        assert result.stderr.splitlines() == [
            (
                f"error: {demo['v1']}: the previous schedule is for 'Demo: small wire mesh matchmaking day', "
                "not 'Another fair'; to use it anyway, add --allow-other-event"
            )
        ]
        assert not out.exists()

    allowed = invoke("solve", other, "--previous", demo["v1"], "-o", out, "--allow-other-event", *FAST)
    assert allowed.exit_code == 0, allowed.output
    assert (out / "schedule.json").exists() and (out / "changes.json").exists()


def test_cli_refuses_to_write_over_the_previous_schedule_even_with_force(demo, tmp_path):
    published = tmp_path / "published"
    published.mkdir()
    previous = published / "schedule.json"
    previous.write_bytes(demo["v1"].read_bytes())
    before_bytes = previous.read_bytes()
    # Same folder spelled differently: the check compares resolved paths.
    for outdir in (published, tmp_path / "published" / ".." / "published"):
        for extra in ([], ["--force"]):
            result = invoke("solve", demo["v2"], "--previous", previous, "-o", outdir, *extra, *FAST)
            assert result.exit_code == 2, result.output
            assert_no_traceback(result)
            assert "is the previous schedule; write the re-plan to another folder" in result.stderr
    assert previous.read_bytes() == before_bytes
    assert sorted(p.name for p in published.iterdir()) == ["schedule.json"]


def test_cli_reschedule_alias(demo, tmp_path):
    out = tmp_path / "v2"
    result = invoke("reschedule", demo["v2"], "--previous", demo["v1"], "-o", out, "--policy", "minimal",
                    "--max-changes-per-participant", "1", *FAST)
    assert result.exit_code == 0, result.output
    assert "changes from version 1:" in result.stdout
    schedule = load_schedule(out / "schedule.json")
    assert schedule.version == 2 and schedule.solver.policy == "minimal"
    assert (out / "changes.json").exists() and (out / "changes.csv").exists()
    # --previous is required by the alias.
    missing = invoke("reschedule", demo["v2"], "-o", tmp_path / "v3", *FAST)
    assert missing.exit_code == 2 and "--previous" in missing.stderr
    assert_no_traceback(missing)


def test_cli_freeze_before(demo, tmp_path):
    out = tmp_path / "v2"
    result = invoke("solve", demo["v2"], "--previous", demo["v1"], "-o", out, "--freeze-before", "2023-10-22 12:00", *FAST)
    assert result.exit_code == 0, result.output
    v1, v2 = load_schedule(demo["v1"]), load_schedule(out / "schedule.json")
    assert_freeze_respected(v1, load_scenario(demo["v2"]), v2, Moment.parse("2023-10-22 12:00"))


@pytest.mark.parametrize("bad", ["tomorrow noon", "2023-10-22", "22.10.2023 12:00", "2023-10-22 24:00"])
def test_cli_freeze_before_bad_format(demo, tmp_path, bad):
    out = tmp_path / "v2"
    result = invoke("solve", demo["v2"], "--previous", demo["v1"], "-o", out, "--freeze-before", bad, *FAST)
    assert_no_traceback(result)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for --freeze-before: {bad!r}: expected 'YYYY-MM-DD HH:MM'" in result.stderr
    assert not out.exists()


def test_cli_replanning_options_need_previous(demo, tmp_path):
    result = invoke("solve", demo["v2"], "-o", tmp_path / "v2", "--policy", "minimal", *FAST)
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert "need --previous" in result.stderr


def test_cli_diff(demo, tmp_path):
    out = tmp_path / "v2"
    assert invoke("solve", demo["v2"], "--previous", demo["v1"], "-o", out, *FAST).exit_code == 0
    report = ChangeReport.model_validate_json((out / "changes.json").read_text(encoding="utf-8"))
    result = invoke("diff", demo["v1"], out / "schedule.json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(report.changes) + 1
    for c, line in zip(report.changes, lines, strict=False):
        assert line.startswith(f"{c.change:9} {c.buyer}-{c.exhibitor}: ")
        before_text = f"{c.old_date} {c.old_start} {c.old_location}" if c.old_date else "-"
        after_text = f"{c.new_date} {c.new_start} {c.new_location}" if c.new_date else "-"
        assert line.endswith(f": {before_text} -> {after_text}")
    assert lines[-1] == (f"changes from version 1: {report.kept} kept, {report.added} added, {report.moved} moved, "
                         f"{report.cancelled} cancelled; {report.participants_to_notify} participants to notify")

    as_csv = invoke("diff", demo["v1"], out / "schedule.json", "--csv")
    assert as_csv.exit_code == 0
    rows = as_csv.stdout.splitlines()
    assert rows[0] == ",".join(CSV_COLUMNS) and len(rows) == 1 + 2 * len(report.changes)

    same = invoke("diff", demo["v1"], demo["v1"])
    assert same.exit_code == 0
    kept = len(load_schedule(demo["v1"]).meetings)
    assert same.stdout.splitlines() == [
        f"changes from version 1: {kept} kept, 0 added, 0 moved, 0 cancelled; 0 participants to notify"
    ]

    missing = invoke("diff", demo["v1"], tmp_path / "nope.json")
    assert missing.exit_code == 2
    assert_no_traceback(missing)
