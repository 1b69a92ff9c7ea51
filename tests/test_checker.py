"""The independent checker: for every label, a clean schedule and one that breaks exactly that rule."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from matchmaker.analysis.checker import (
    DIFFERENT_SCENARIO,
    LABELS,
    CheckReport,
    Violation,
    check_schedule,
)
from matchmaker.spec.scenario import Scenario, hhmm, minutes, parse_scenario
from matchmaker.spec.schedule import Meeting, ScenarioRef, Schedule

D1, D2 = "2024-03-05", "2024-03-06"

# Slots (20 min + 10 min changeover): 09:00 09:30 10:00 | 13:00 13:30 on both days.
# Halls H1 (L1, LOUNGE) and H2 (L2) are 15 minutes apart. One zh interpreter.
BASE: dict = {
    "name": "tiny fair",
    "timezone": "Europe/Berlin",
    "slot_minutes": 20,
    "changeover_minutes": 10,
    "days": [
        {"date": day, "sessions": [{"start": "09:00", "end": "10:30"}, {"start": "13:00", "end": "14:00"}]}
        for day in (D1, D2)
    ],
    "halls": [{"id": "H1"}, {"id": "H2"}],
    "walking_minutes": [{"from": "H1", "to": "H2", "minutes": 15}],
    "locations": [
        {"id": "L1", "hall": "H1"},
        {"id": "L2", "hall": "H2"},
        {"id": "LOUNGE", "hall": "H1", "tables": 2},
    ],
    "shared_location": "LOUNGE",
    "exhibitors": [
        {"id": "E1", "name": "Eins GmbH", "location": "L1", "languages": ["de", "en"]},
        {"id": "E2", "name": "Two Ltd", "location": "L2", "languages": ["en"]},
        {"id": "E3", "name": "San Co", "languages": ["zh"]},
        {"id": "E4", "name": "Four Inc", "languages": ["en"]},
    ],
    "buyers": [
        {"id": "B1", "name": "Li", "country": "CN", "languages": ["zh", "en"]},
        {"id": "B2", "name": "Wang", "country": "CN", "languages": ["zh"]},
        {"id": "B3", "name": "Dupont", "country": "FR", "languages": ["fr"]},
        {"id": "B4", "name": "Smith", "country": "GB", "languages": ["en"]},
        {"id": "B5", "name": "Zhao", "country": "CN", "languages": ["zh"]},
    ],
    "interpreters": [{"language": "zh", "count": 1}],
}
BOOTH = {"E1": "L1", "E2": "L2", "E3": "LOUNGE", "E4": "LOUNGE"}


Edit = Callable[[dict], None]


def make_scenario(*edits: Edit) -> Scenario:
    data = copy.deepcopy(BASE)
    for edit in edits:
        edit(data)
    return parse_scenario(data)


def person(pid: str, **fields) -> Edit:
    """Edit: set fields of buyer or exhibitor ``pid``."""

    def edit(data: dict) -> None:
        (match,) = [p for p in data["buyers"] + data["exhibitors"] if p["id"] == pid]
        match.update(fields)

    return edit


def top(key: str, value) -> Edit:
    def edit(data: dict) -> None:
        data[key] = value

    return edit


def location(lid: str, **fields) -> Edit:
    def edit(data: dict) -> None:
        (match,) = [loc for loc in data["locations"] if loc["id"] == lid]
        match.update(fields)

    return edit


def meet(buyer: str, exhibitor: str, start: str = "09:00", day: str = D1, *, interpreter: str | None = None,
         end: str | None = None, at: str | None = None) -> Meeting:
    return Meeting(
        buyer=buyer,
        exhibitor=exhibitor,
        date=day,
        start=start,
        end=end or hhmm(minutes(start) + 20),
        location=at or BOOTH.get(exhibitor, "L1"),
        interpreter=interpreter,
    )


def schedule_for(scenario: Scenario, meetings: list[Meeting]) -> Schedule:
    return Schedule(scenario=ScenarioRef(name=scenario.name, sha256=scenario.fingerprint()), meetings=meetings)


def check(scenario: Scenario, meetings: list[Meeting]) -> CheckReport:
    return check_schedule(scenario, schedule_for(scenario, meetings))


# ---------------------------------------------------------------------------
# One case per (label, variant): a clean schedule and a broken one on the same scenario.
# ---------------------------------------------------------------------------


@dataclass
class Case:
    label: str
    variant: str
    clean: list[Meeting]
    bad: list[Meeting]
    edits: tuple[Edit, ...] = ()
    also: set[str] = field(default_factory=set)  # labels the broken schedule unavoidably raises too

    @property
    def id(self) -> str:
        return f"{self.label}:{self.variant}"


CASES = [
    Case("unknown-participant", "buyer", [meet("B1", "E1")], [meet("B9", "E1")]),
    Case("unknown-participant", "exhibitor", [meet("B1", "E1")], [meet("B1", "E9", at="L1")]),
    Case("unknown-participant", "buyer id as exhibitor", [meet("B1", "E1")], [meet("B1", "B4", at="L1")]),
    Case("not-a-slot", "off grid", [meet("B1", "E1", "09:30")], [meet("B1", "E1", "09:10")]),
    Case("not-a-slot", "in changeover", [meet("B1", "E1", "10:00")], [meet("B1", "E1", "09:20")]),
    Case("not-a-slot", "runs past session end", [meet("B1", "E1", "10:00")], [meet("B1", "E1", "10:30")]),
    Case("not-a-slot", "between sessions", [meet("B1", "E1", "13:00")], [meet("B1", "E1", "12:00")]),
    Case("not-a-slot", "wrong end", [meet("B1", "E1")], [meet("B1", "E1", end="09:30")]),
    Case("not-a-slot", "not a fair day", [meet("B1", "E1", day=D2)], [meet("B1", "E1", day="2024-03-07")]),
    Case("wrong-location", "booth", [meet("B1", "E1")], [meet("B1", "E1", at="LOUNGE")]),
    Case("wrong-location", "shared", [meet("B1", "E3")], [meet("B1", "E3", at="L1")]),
    Case(
        "unavailable", "buyer window ends early",
        [meet("B1", "E1", "09:30")], [meet("B1", "E1", "10:00")],
        edits=(person("B1", availability=[{"date": D1, "start": "09:00", "end": "10:00"}]),),
    ),
    Case(
        "unavailable", "exhibitor other day",
        [meet("B1", "E1", day=D2)], [meet("B1", "E1", day=D1)],
        edits=(person("E1", availability=[{"date": D2, "start": "08:00", "end": "18:00"}]),),
    ),
    Case(
        "unavailable", "empty availability",
        [meet("B1", "E1")], [meet("B1", "E1"), meet("B4", "E2")],
        edits=(person("B4", availability=[]),),
    ),
    Case("double-booked", "buyer", [meet("B1", "E1"), meet("B1", "E3", "09:30")], [meet("B1", "E1"), meet("B1", "E3")]),
    Case("double-booked", "exhibitor", [meet("B1", "E3"), meet("B2", "E3", "09:30")], [meet("B1", "E3"), meet("B2", "E3")]),
    Case(
        "double-booked", "overlapping times",
        [meet("B1", "E1")], [meet("B1", "E1"), meet("B1", "E3", "09:10")],
        also={"not-a-slot"},
    ),
    Case(
        "table-capacity", "shared location",
        [meet("B1", "E3"), meet("B4", "E4", "09:30")], [meet("B1", "E3"), meet("B4", "E4")],
        edits=(location("LOUNGE", tables=1),),
    ),
    Case(
        "table-capacity", "booth shared by two exhibitors",
        [meet("B1", "E1"), meet("B4", "E2", "09:30", at="L1")], [meet("B1", "E1"), meet("B4", "E2", at="L1")],
        edits=(person("E2", location="L1"),),
    ),
    Case("pair-repeated", "same day", [meet("B1", "E1")], [meet("B1", "E1"), meet("B1", "E1", "13:00")]),
    Case("pair-repeated", "other day", [meet("B1", "E1")], [meet("B1", "E1"), meet("B1", "E1", day=D2)]),
    Case(
        "blocked-pair", "blocked",
        [meet("B1", "E2")], [meet("B1", "E1")],
        edits=(top("blocked", [{"buyer": "B1", "exhibitor": "E1", "reason": "competitor"}]),),
    ),
    Case(
        "max-meetings", "buyer",
        [meet("B1", "E1")], [meet("B1", "E1"), meet("B1", "E3", day=D2)],
        edits=(person("B1", max_meetings=1),),
    ),
    Case(
        "max-meetings", "exhibitor",
        [meet("B1", "E1")], [meet("B1", "E1"), meet("B4", "E1", "09:30")],
        edits=(person("E1", max_meetings=1),),
    ),
    Case(
        "max-meetings", "zero",
        [meet("B4", "E1")], [meet("B1", "E1")],
        edits=(person("B1", max_meetings=0),),
    ),
    Case(
        "max-meetings-per-day", "buyer",
        [meet("B1", "E1"), meet("B1", "E3", day=D2)], [meet("B1", "E1"), meet("B1", "E3", "13:00")],
        edits=(person("B1", max_meetings_per_day=1),),
    ),
    Case(
        "max-meetings-per-day", "exhibitor",
        [meet("B1", "E1"), meet("B4", "E1", day=D2)], [meet("B1", "E1"), meet("B4", "E1", "13:00")],
        edits=(person("E1", max_meetings_per_day=1),),
    ),
    Case(
        "must-missing", "must",
        [meet("B1", "E1", "13:30", day=D2)], [meet("B1", "E2")],
        edits=(top("requests", [{"buyer": "B1", "exhibitor": "E1", "level": "must"},
                                {"buyer": "B4", "exhibitor": "E2", "level": "want"}]),),
    ),
    Case(
        "pinned-missing", "absent",
        [meet("B1", "E1", "09:30")], [],
        edits=(top("pinned", [{"buyer": "B1", "exhibitor": "E1", "date": D1, "start": "09:30"}]),),
    ),
    Case(
        "pinned-missing", "other slot",
        [meet("B1", "E1", "09:30")], [meet("B1", "E1", "10:00")],
        edits=(top("pinned", [{"buyer": "B1", "exhibitor": "E1", "date": D1, "start": "09:30"}]),),
    ),
    Case(
        "pinned-missing", "other day",
        [meet("B1", "E1", "09:30")], [meet("B1", "E1", "09:30", day=D2)],
        edits=(top("pinned", [{"buyer": "B1", "exhibitor": "E1", "date": D1, "start": "09:30"}]),),
    ),
    Case(
        "walking-time", "H1 to H2",
        [meet("B1", "E1"), meet("B1", "E3", "09:30"), meet("B1", "E2", "13:00")],
        [meet("B1", "E1"), meet("B1", "E2", "09:30")],
    ),
    Case(
        "walking-time", "H2 to H1 (symmetric)",
        [meet("B1", "E2"), meet("B1", "E1", "10:00")],
        [meet("B1", "E2"), meet("B1", "E1", "09:30")],
    ),
    Case(
        "walking-time", "listed out of order",
        [meet("B1", "E2", "10:00"), meet("B1", "E1")],
        [meet("B1", "E1", "09:30"), meet("B1", "E2")],
    ),
    Case("interpreter-field", "needed but null", [meet("B2", "E1", interpreter="zh")], [meet("B2", "E1")]),
    Case("interpreter-field", "wrong language", [meet("B2", "E1", interpreter="zh")], [meet("B2", "E1", interpreter="en")]),
    Case("interpreter-field", "shared language", [meet("B1", "E1")], [meet("B1", "E1", interpreter="zh")]),
    Case(
        "interpreter-field", "own interpreter",
        [meet("B2", "E1")], [meet("B2", "E1", interpreter="zh")],
        edits=(person("B2", own_interpreter=True),),
    ),
    Case(
        "interpreter-field", "buyer lists no language",
        [meet("B2", "E1")], [meet("B2", "E1", interpreter="zh")],
        edits=(person("B2", languages=[]),),
    ),
    Case(
        "interpreter-capacity", "pool too small",
        [meet("B2", "E1", interpreter="zh"), meet("B5", "E2", "10:00", interpreter="zh")],
        [meet("B2", "E1", interpreter="zh"), meet("B5", "E2", interpreter="zh")],
    ),
    Case(
        "interpreter-capacity", "no pool",
        [meet("B4", "E1")], [meet("B3", "E1", interpreter="fr")],
    ),
    Case(
        "interpreter-capacity", "pool count zero",
        [meet("B1", "E3")], [meet("B2", "E1", interpreter="zh")],
        edits=(top("interpreters", [{"language": "zh", "count": 0}]),),
    ),
    Case(
        "interpreter-capacity", "outside pool window",
        [meet("B2", "E1", "09:30", interpreter="zh")], [meet("B2", "E1", "10:00", interpreter="zh")],
        edits=(top("interpreters", [{"language": "zh", "count": 1,
                                     "availability": [{"date": D1, "start": "09:00", "end": "10:00"}]}]),),
    ),
]


def test_every_label_has_a_case():
    assert {case.label for case in CASES} == set(LABELS)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_clean_schedule_passes(case: Case):
    report = check(make_scenario(*case.edits), case.clean)
    assert report.ok, report.lines()
    assert report.warnings == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_broken_schedule_is_caught(case: Case):
    report = check(make_scenario(*case.edits), case.bad)
    assert report.labels() == {case.label} | case.also, report.lines()
    assert not report.ok
    for violation in report.violations:
        assert violation.message and "\n" not in violation.message


# ---------------------------------------------------------------------------
# Messages, warnings and the report
# ---------------------------------------------------------------------------


def test_double_booked_message_names_ids_date_and_time():
    report = check(make_scenario(), [meet("B1", "E1", "10:00"), meet("B1", "E3", "10:00")])
    assert report.violations == [Violation("double-booked", "buyer B1 has 2 meetings at 2024-03-05 10:00 (E1, E3)")]
    assert str(report.violations[0]) == "double-booked: buyer B1 has 2 meetings at 2024-03-05 10:00 (E1, E3)"


@pytest.mark.parametrize(
    "label, meetings, words",
    [
        ("not-a-slot", [meet("B1", "E1", "09:10")], ["B1-E1", D1, "09:10"]),
        ("wrong-location", [meet("B1", "E1", at="L2")], ["B1-E1", "L2", "L1", "09:00"]),
        ("walking-time", [meet("B1", "E1"), meet("B1", "E2", "09:30")], ["B1", "E1", "E2", "H1", "H2", "15", D1]),
        ("pair-repeated", [meet("B1", "E1"), meet("B1", "E1", day=D2)], ["B1-E1", f"{D1} 09:00", f"{D2} 09:00"]),
    ],
)
def test_messages_name_what_is_wrong(label, meetings, words):
    (violation,) = [v for v in check(make_scenario(), meetings).violations if v.label == label]
    for word in words:
        assert word in violation.message


def test_duplicate_meeting_is_double_booked_for_both_sides_and_repeated():
    report = check(make_scenario(), [meet("B1", "E1"), meet("B1", "E1")])
    assert report.labels() == {"double-booked", "pair-repeated", "table-capacity"}
    booked = sorted(v.message for v in report.violations if v.label == "double-booked")
    assert booked == [
        "buyer B1 has 2 meetings at 2024-03-05 09:00 (E1, E1)",
        "exhibitor E1 has 2 meetings at 2024-03-05 09:00 (B1, B1)",
    ]


def test_must_request_listed_twice_is_reported_once():
    scenario = make_scenario(top("requests", [{"buyer": "B1", "exhibitor": "E1", "level": "must"}] * 2))
    assert [v.label for v in check(scenario, []).violations] == ["must-missing"]


def test_empty_schedule_is_clean():
    assert check(make_scenario(), []).ok


@pytest.mark.parametrize(
    "ref",
    [
        ScenarioRef(name="tiny fair", sha256="0" * 64),
        ScenarioRef(name="another fair", sha256=make_scenario().fingerprint()),
    ],
    ids=["sha256", "name"],
)
def test_stale_schedule_is_a_warning_not_a_violation(ref: ScenarioRef):
    report = check_schedule(make_scenario(), Schedule(scenario=ref, meetings=[meet("B1", "E1")]))
    assert report.ok
    assert report.warnings == [DIFFERENT_SCENARIO]


def test_scenario_edit_changes_fingerprint_and_warns():
    old = make_scenario()
    new = make_scenario(person("B1", max_meetings=3))
    report = check_schedule(new, schedule_for(old, [meet("B1", "E1")]))
    assert report.ok and report.warnings == [DIFFERENT_SCENARIO]


def test_checker_does_not_import_model_code():
    import ast
    import inspect

    import matchmaker.analysis.checker as checker

    tree = ast.parse(inspect.getsource(checker))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    forbidden = {"slots", "candidates", "model", "solver"}
    assert not {name.rsplit(".", 1)[-1] for name in imported} & forbidden, imported
