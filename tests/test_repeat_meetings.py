"""Repeat meetings (issue 15): a request with ``meetings: k`` asks the pair to meet k times, in different slots.

Covers validation, the checker's counting, the model and the heuristics (through
``solve``), explanations, the spreadsheet column, B2BSP files that list a pair
several times, re-planning and the calendar export, plus a property test.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from helpers import (
    DAY,
    DAY2,
    as_scenario,
    assert_feasible,
    assert_infeasible,
    invoke,
    make_scenario,
    must,
    only_slot,
    pin,
    session,
    slot_start,
    solve_and_check,
    want,
    window,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchmaker.analysis.checker import check_schedule
from matchmaker.analysis.diff import diff_schedules
from matchmaker.analysis.explain import explain_schedule
from matchmaker.errors import InputError, ScenarioError
from matchmaker.instance.candidates import build_instance, interchangeable_copies
from matchmaker.io.b2bsp import b2bsp_scenario, load_b2bsp, parse_dzn
from matchmaker.io.export.ics import meeting_uid
from matchmaker.io.importer import ImportFileError, import_scenario
from matchmaker.pipeline import SolveOptions, reschedule
from matchmaker.spec.scenario import parse_scenario
from matchmaker.spec.schedule import Meeting

DATA = Path(__file__).parent / "data" / "b2bsp"
EXAMPLE = Path(__file__).parent.parent / "scenarios" / "import-example"


def repeat(request: dict, meetings: int) -> dict:
    return {**request, "meetings": meetings}


def count(schedule, buyer: str, exhibitor: str) -> int:
    return sum(1 for m in schedule.meetings if (m.buyer, m.exhibitor) == (buyer, exhibitor))


def starts(schedule, buyer: str, exhibitor: str) -> list[str]:
    return sorted(m.start for m in schedule.meetings if (m.buyer, m.exhibitor) == (buyer, exhibitor))


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def test_meetings_must_be_at_least_one():
    with pytest.raises(ScenarioError, match=r"requests\[0\]\.meetings"):
        parse_scenario(make_scenario(requests=[repeat(want("B1", "E1"), 0)]))


def test_meetings_is_a_request_field_only():
    with pytest.raises(ScenarioError, match=r"pinned\[0\]\.meetings: unknown field"):
        parse_scenario(make_scenario(pinned=[{**pin("B1", "E1", "09:00"), "meetings": 2}]))


def test_a_pair_may_be_pinned_as_often_as_it_is_requested():
    two_pins = [pin("B1", "E1", slot_start(0)), pin("B1", "E1", slot_start(1))]
    parse_scenario(make_scenario(requests=[repeat(want("B1", "E1"), 2)], pinned=two_pins))
    with pytest.raises(ScenarioError, match="pinned twice"):
        parse_scenario(make_scenario(pinned=two_pins))


def test_morning_and_afternoon_requests_are_separate_meetings_but_need_a_session_each():
    morning, afternoon = {**want("B1", "E1"), "session": "morning"}, {**want("B1", "E1"), "session": "afternoon"}
    sessions = [session(2), session(2, first="14:00")]
    scenario = parse_scenario(make_scenario(sessions=sessions, requests=[morning, afternoon]))
    copies = build_instance(scenario, candidates_per_meeting=None).candidates
    assert sorted(c.session for c in copies) == ["afternoon", "morning"]
    with pytest.raises(ScenarioError, match=r"requests\[2\]\.session: .* say which session"):
        parse_scenario(make_scenario(sessions=sessions, requests=[morning, afternoon, want("B1", "E1")]))


# ---------------------------------------------------------------------------
# Solving and checking
# ---------------------------------------------------------------------------


def test_a_must_pair_meets_twice_in_different_slots():
    data = make_scenario(["B1", "B2"], ["E1", "E2"], slots=4, requests=[repeat(must("B1", "E1"), 2), want("B2", "E1"), want("B1", "E2")])
    schedule = solve_and_check(data)
    times = starts(schedule, "B1", "E1")
    assert len(times) == 2 and len(set(times)) == 2
    assert schedule.stats.must_requests.total == schedule.stats.must_requests.met == 2
    # The raw model agrees: two meetings of the pair, never three.
    solved = assert_feasible(data)
    assert sum(1 for b, e, _t in solved.meetings() if (b, e) == ("B1", "E1")) == 2


def test_interchangeable_copies_are_ordered_and_hints_relabelled():
    from matchmaker.solver.model.variables import in_copy_order

    pinned_twice = make_scenario(slots=4, requests=[repeat(want("B1", "E1"), 3)], pinned=[pin("B1", "E1", slot_start(2))])
    instance = build_instance(as_scenario(pinned_twice), candidates_per_meeting=None)
    assert [(c.repeat, c.pinned_slot) for c in instance.candidates] == [(0, 2), (1, None), (2, None)]
    runs = interchangeable_copies(instance)
    assert runs == [[1, 2]]  # the pinned copy differs from its siblings
    assert in_copy_order({2: 0, 0: 2}, runs) == {0: 2, 1: 0}
    assert in_copy_order({2: 3, 1: 1, 0: 2}, runs) == {0: 2, 1: 1, 2: 3}
    # The model orders the copies: copy 2 never meets before copy 1, nor without it.
    solved = assert_feasible(pinned_twice)
    mv = solved.built.vars
    slot_of = {mv.cand_of[v]: mv.slot_of[v] for v, var in enumerate(mv.x) if solved.solver.boolean_value(var)}
    assert slot_of[0] == 2 and slot_of[1] < slot_of[2]


def test_a_must_pair_cannot_meet_twice_in_one_free_slot():
    data = make_scenario(buyers=[{"id": "B1", "availability": only_slot(0)}], slots=3, requests=[repeat(must("B1", "E1"), 2)])
    assert_infeasible(data)


def _meetings(*ks: int, buyer: str = "B1", exhibitor: str = "E1") -> list[Meeting]:
    return [
        Meeting(buyer=buyer, exhibitor=exhibitor, date=DAY, start=slot_start(k), end=slot_start(k + 1), location=f"L-{exhibitor}")
        for k in ks
    ]


def test_check_rejects_a_third_meeting_and_a_second_one_unasked():
    data = make_scenario(slots=4, requests=[repeat(must("B1", "E1"), 2)])
    scenario = as_scenario(data)
    schedule = solve_and_check(data)
    assert len(schedule.meetings) == 2
    schedule.meetings = _meetings(0, 1, 3)
    report = check_schedule(scenario, schedule)
    assert report.labels() == {"pair-repeated"}
    assert "B1-E1 meet 3 times" in report.violations[0].message and "at most 2 requested" in report.violations[0].message

    # A must with meetings=2 and one meeting is must-missing.
    schedule.meetings = _meetings(2)
    report = check_schedule(scenario, schedule)
    assert [v.label for v in report.violations] == ["must-missing"]
    assert "asks for 2 meetings, 1 scheduled" in report.violations[0].message

    # A pair without a repeat request meets at most once.
    once = as_scenario(make_scenario(slots=3, requests=[want("B1", "E1")]))
    schedule.meetings = _meetings(0, 2)
    assert check_schedule(once, schedule).labels() == {"pair-repeated"}


def test_check_counts_morning_and_afternoon_meetings_apart():
    sessions = [session(2), session(2, first="14:00")]
    data = make_scenario(
        sessions=sessions, requests=[{**must("B1", "E1"), "session": "morning"}, {**want("B1", "E1"), "session": "afternoon"}]
    )
    scenario = as_scenario(data)
    schedule = solve_and_check(data)
    assert len(schedule.meetings) == 2
    schedule.meetings = _meetings(0, 1)  # both in the morning
    labels = [v.label for v in check_schedule(scenario, schedule).violations]
    assert labels == ["session"]


@pytest.mark.parametrize("free_slots", [0, 1, 3])
def test_a_want_with_two_meetings_gets_what_fits(free_slots):
    """E1 has 3 slots; B2's must meetings take 3 - free_slots of them."""
    taken = 3 - free_slots
    requests = [repeat(want("B1", "E1"), 2)] + ([repeat(must("B2", "E1"), taken)] if taken else [])
    schedule = solve_and_check(make_scenario(["B1", "B2"], ["E1"], slots=3, requests=requests))
    expected = min(2, free_slots)
    assert count(schedule, "B1", "E1") == expected
    assert schedule.stats.want_requests.total == 2 and schedule.stats.want_requests.met == expected
    unscheduled = [u for u in schedule.unscheduled_requests if u.buyer == "B1"]
    assert len(unscheduled) == (expected < 2)
    if unscheduled:
        assert unscheduled[0].reason.startswith(f"{expected} of 2 meetings are scheduled")


def test_repeat_meetings_are_worth_each_meeting():
    """A pair asked to meet twice beats two other pairs worth less than it each (value per meeting)."""
    data = make_scenario(["B1"], ["E1", "E2"], slots=2, requests=[repeat(want("B1", "E1", by="both"), 2), want("B1", "E2")])
    schedule = solve_and_check(data)
    assert count(schedule, "B1", "E1") == 2


def test_explain_says_one_of_two_meetings():
    data = make_scenario(
        ["B1", "B2"], ["E1"], slots=2, requests=[repeat(want("B1", "E1"), 2), must("B2", "E1")]
    )
    schedule = solve_and_check(data)
    assert count(schedule, "B1", "E1") == 1
    explanation = next(x for x in schedule.explanations if x.subject == "B1-E1")
    assert explanation.message.startswith("1 of 2 meetings of B1-E1 are in the schedule (")
    assert "another one cannot be added" in explanation.message
    assert explanation.details["meetings"] == 2 and explanation.details["met"] == 1
    # Both meetings in: nothing to explain.
    both = make_scenario(slots=2, requests=[repeat(want("B1", "E1"), 2)])
    done = solve_and_check(both)
    assert not [x for x in explain_schedule(as_scenario(both), done) if x.subject == "B1-E1"]


def test_repeated_must_over_two_days_and_sessions():
    data = make_scenario(
        ["B1", "B2"], ["E1", "E2"],
        days=[{"date": DAY, "sessions": [session(2), session(2, first="14:00")]}, {"date": DAY2, "sessions": [session(2)]}],
        requests=[
            {**must("B1", "E1"), "session": "morning", "meetings": 2},
            {**want("B1", "E1"), "session": "afternoon"},
            repeat(must("B2", "E2"), 3),
            want("B2", "E1"),
        ],
    )
    schedule = solve_and_check(data)
    assert count(schedule, "B1", "E1") == 3 and count(schedule, "B2", "E2") == 3


def _two_day_fair() -> dict:
    return make_scenario(
        ["B1", "B2", "B3"], ["E1", "E2"],
        days=[{"date": DAY, "sessions": [session(3)]}, {"date": DAY2, "sessions": [session(3)]}],
        requests=[repeat(must("B1", "E1"), 3), repeat(want("B2", "E2"), 2), want("B3", "E1"), want("B3", "E2")],
    )


def test_decomposed_solve_keeps_repeats():
    """The decomposition (selection LP, day timetables, repair) handles a pair's meetings like any pairs."""
    schedule = solve_and_check(_two_day_fair(), strategy="decompose")
    assert count(schedule, "B1", "E1") == 3 and count(schedule, "B2", "E2") == 2


def test_pair_table_path_keeps_repeats(monkeypatch):
    """The xl path (pair table, column generation): each of a pair's meetings is its own row."""
    from matchmaker.solver import engine

    monkeypatch.setattr(engine, "STREAMING_PAIRS", 0)
    schedule = solve_and_check(_two_day_fair())
    assert schedule.solver.strategy == "decompose"
    assert count(schedule, "B1", "E1") == 3 and count(schedule, "B2", "E2") == 2
    assert schedule.stats.upper_bound_meetings >= len(schedule.meetings)


# ---------------------------------------------------------------------------
# Spreadsheet import
# ---------------------------------------------------------------------------


def _example(tmp_path: Path, requests: str) -> dict:
    for name in ("event.toml", "buyers.csv", "exhibitors.csv"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    (tmp_path / "requests.csv").write_text(requests, encoding="utf-8")
    return {
        "event": tmp_path / "event.toml", "buyers": tmp_path / "buyers.csv",
        "exhibitors": tmp_path / "exhibitors.csv", "requests": tmp_path / "requests.csv",
    }


def test_importer_reads_the_meetings_column(tmp_path):
    files = _example(tmp_path, "buyer,exhibitor,level,meetings\nB001,E002,must,2\nB001,E001,want,\n")
    scenario = import_scenario(**files).scenario
    assert [(r.exhibitor, r.meetings) for r in scenario.requests] == [("E002", 2), ("E001", 1)]


def test_importer_reports_bad_meetings_cells(tmp_path):
    files = _example(tmp_path, "buyer,exhibitor,meetings\nB001,E002,two\nB001,E001,0\n")
    with pytest.raises(ImportFileError) as error:
        import_scenario(**files)
    lines = error.value.lines()
    assert any(line.startswith(str(files["requests"]) + ":2:meetings: expected a whole number") for line in lines), lines
    assert any(line.startswith(str(files["requests"]) + ":3:meetings:") for line in lines), lines


# ---------------------------------------------------------------------------
# B2BSP files that list a pair several times
# ---------------------------------------------------------------------------


def test_b2bsp_repeated_pairs_become_one_request_with_a_count():
    scenario = load_b2bsp(DATA / "repeat.dzn")
    requests = [(r.buyer, r.exhibitor, r.session, r.meetings) for r in scenario.requests]
    assert ("P1", "P2", None, 2) in requests  # "1, 2" and "2, 1"
    assert ("P3", "P4", "morning", 1) in requests and ("P3", "P4", "afternoon", 1) in requests  # two sessions: two requests
    assert sum(r.meetings for r in scenario.requests) == 6
    schedule = solve_and_check(scenario, time_limit=10)
    assert len(schedule.meetings) == 6
    assert count(schedule, "P1", "P2") == 2 and count(schedule, "P3", "P4") == 2


def test_b2bsp_merges_sessions_to_the_strictest_and_refuses_disagreeing_precedences():
    text = (DATA / "repeat.dzn").read_text()
    data = parse_dzn(text)
    data["requested"][1][2] = 1  # "2, 1" now morning only: the pair's two meetings both in the morning
    scenario = b2bsp_scenario(data, "strict")
    assert [(r.session, r.meetings) for r in scenario.requests if r.buyer == "P1" and r.exhibitor == "P2"] == [("morning", 2)]
    data = parse_dzn(text)
    data["precedences"][4] = [1]  # only the first P1-P2 meeting before P1-P3
    with pytest.raises(InputError, match="one pair .* with different precedences"):
        b2bsp_scenario(data, "bad")
    data["precedences"][4] = [1, 2]  # both: every P1-P2 meeting before P1-P3
    scenario = b2bsp_scenario(data, "ok")
    assert len(scenario.precedences) == 1
    solve_and_check(scenario, time_limit=10)


def test_b2bsp_cli_imports_and_solves_a_repeated_pair(tmp_path):
    out = tmp_path / "repeat.json"
    result = invoke("import-b2bsp", DATA / "repeat.dzn", "-o", out)
    assert result.exit_code == 0, result.output
    assert "6 meetings" in result.output
    solved = invoke("solve", out, "-o", tmp_path / "out", "--time-limit", 5, "--workers", 1)
    assert solved.exit_code == 0, solved.output
    assert invoke("check", out, tmp_path / "out" / "schedule.json").exit_code == 0


# ---------------------------------------------------------------------------
# Re-planning, change report, calendars
# ---------------------------------------------------------------------------


def _fair(extra_buyer: bool = False, e1_until: str | None = None) -> dict:
    buyers = ["B1", "B2"] + (["B3"] if extra_buyer else [])
    e1 = {"id": "E1"} if e1_until is None else {"id": "E1", "availability": [window("09:00", e1_until)]}
    return make_scenario(
        buyers, [e1, "E2"], slots=5,
        requests=[repeat(must("B1", "E1"), 2), repeat(want("B2", "E2"), 2), want("B2", "E1")]
        + ([want("B3", "E2")] if extra_buyer else []),
    )


def test_replan_keeps_both_published_meetings():
    first = solve_and_check(_fair())
    new = as_scenario(_fair(extra_buyer=True))
    result = reschedule(new, first, SolveOptions(time_limit=5, workers=1, seed=0), policy="keep")
    assert check_schedule(new, result.schedule).ok
    for pair in (("B1", "E1"), ("B2", "E2")):
        assert starts(result.schedule, *pair) == starts(first, *pair)
    assert not [c for c in result.changes.changes if c.change != "added"]


def test_change_report_tells_two_meetings_of_a_pair_apart():
    first = solve_and_check(_fair())
    late = max(starts(first, "B1", "E1"))
    # E1 now leaves before its later meeting with B1: that one moves or goes, the earlier one stays.
    new = as_scenario(_fair(e1_until=late))
    result = reschedule(new, first, SolveOptions(time_limit=5, workers=1, seed=0), policy="keep")
    assert check_schedule(new, result.schedule).ok
    b1 = [c for c in result.changes.changes if (c.buyer, c.exhibitor) == ("B1", "E1")]
    assert [c.old_start for c in b1] == [late]
    assert "no longer available" in b1[0].reason or "E1" in b1[0].reason
    assert min(starts(first, "B1", "E1")) in starts(result.schedule, "B1", "E1")


def test_diff_pairs_meetings_of_one_pair_by_time():
    def m(start: str) -> Meeting:
        return Meeting(buyer="B1", exhibitor="E1", date=DAY, start=start, end=start[:3] + "20", location="L")

    old = solve_and_check(make_scenario(slots=1, requests=[want("B1", "E1")]))
    new = old.model_copy(deep=True)
    old.meetings, new.meetings = [m("09:00"), m("10:00")], [m("10:00"), m("11:00"), m("12:00")]
    new.version = 2
    report = diff_schedules(old, new, {("B1", "E1", old.meetings[0].date, "09:00"): "moved on purpose"})
    assert (report.kept, report.moved, report.added, report.cancelled) == (1, 1, 1, 0)
    moved = next(c for c in report.changes if c.change == "moved")
    assert (moved.old_start, moved.new_start, moved.reason) == ("09:00", "11:00", "moved on purpose")


def test_export_lists_each_meeting_with_its_own_uid(tmp_path):
    data = make_scenario(slots=3, requests=[repeat(must("B1", "E1"), 2)])
    schedule = solve_and_check(data)
    (tmp_path / "s.json").write_text(json.dumps(data))
    (tmp_path / "schedule.json").write_text(schedule.model_dump_json())
    result = invoke("export", tmp_path / "schedule.json", "--scenario", tmp_path / "s.json", "-o", tmp_path / "x")
    assert result.exit_code == 0, result.output
    calendar = (tmp_path / "x" / "ics" / "buyer-B1.ics").read_text()
    uids = {meeting_uid("tiny test fair", "B1", "E1", n) for n in (1, 2)}
    assert all(uid in calendar for uid in uids) and calendar.count("BEGIN:VEVENT") == 2
    rows = (tmp_path / "x" / "meetings.csv").read_text().splitlines()
    assert sum("E1" in row for row in rows[1:]) >= 2


# ---------------------------------------------------------------------------
# Property: random small fairs with repeat requests give schedules that pass the checker
# ---------------------------------------------------------------------------


@st.composite
def repeat_fairs(draw) -> dict:
    buyers = [f"B{i}" for i in range(1, draw(st.integers(1, 3)) + 1)]
    exhibitors = [f"E{i}" for i in range(1, draw(st.integers(1, 3)) + 1)]
    slots = draw(st.integers(2, 5))
    afternoon = draw(st.integers(0, 2))  # slots of an afternoon session (0: none)
    pairs = draw(st.lists(st.tuples(st.sampled_from(buyers), st.sampled_from(exhibitors)), min_size=1, max_size=5, unique=True))
    requests = []
    for buyer, exhibitor in pairs:
        level = draw(st.sampled_from(["want", "want", "must"]))
        meetings = draw(st.integers(1, 3))
        request = {"buyer": buyer, "exhibitor": exhibitor, "level": level, "meetings": meetings}
        shape = draw(st.sampled_from(["plain", "plain", "morning", "split"])) if afternoon else "plain"
        if shape == "morning":
            request["session"] = "morning"
        requests.append(request)
        if shape == "split":  # a morning and an afternoon request: meetings of their own
            request["session"] = "morning"
            requests.append({"buyer": buyer, "exhibitor": exhibitor, "level": draw(st.sampled_from(["want", "must"])),
                             "meetings": draw(st.integers(1, 2)), "session": "afternoon"})
    # Must meetings that cannot fit are an infeasible fair, not a property failure: keep them few.
    musts = Counter()
    for r in requests:
        if r["level"] == "must":
            musts[r["buyer"]] += r["meetings"]
            musts[r["exhibitor"]] += r["meetings"]
    for r in requests:
        if musts[r["buyer"]] > slots or musts[r["exhibitor"]] > slots:
            r["level"] = "want"
    caps = {"max_meetings": draw(st.integers(1, 4))} if draw(st.booleans()) else {}
    sessions = [session(slots)] + ([session(afternoon, first="14:00")] if afternoon else [])
    return make_scenario(
        [{"id": b, **caps} if b == "B1" else b for b in buyers], exhibitors, sessions=sessions, requests=requests,
        lounge_tables=draw(st.integers(1, 2)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=repeat_fairs())
def test_random_fairs_with_repeat_requests_pass_the_checker(data):
    scenario = as_scenario(data)
    must_total = sum(r.meetings for r in scenario.requests if r.level == "must")
    caps = {b.id: b.max_meetings for b in scenario.buyers if b.max_meetings is not None}
    asked = Counter()
    for r in scenario.requests:
        if r.level == "must":
            asked[r.buyer] += r.meetings
    if any(asked[b] > cap for b, cap in caps.items()):
        return  # musts above a cap: infeasible by construction
    from matchmaker.errors import InfeasibleError

    try:
        schedule = solve_and_check(scenario, time_limit=2)
    except InfeasibleError:
        return  # two buyers' musts on one booth may not fit: the solver proves it, nothing to check
    assert schedule.stats.must_requests.met == must_total
    per_pair = Counter((m.buyer, m.exhibitor) for m in schedule.meetings)
    asked = Counter()
    for r in scenario.requests:
        asked[(r.buyer, r.exhibitor)] += r.meetings  # the strategy makes at most one request per pair and session
    for pair, n in per_pair.items():
        assert n <= asked[pair]
