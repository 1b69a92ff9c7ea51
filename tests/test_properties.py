"""Property-based tests: the scenario loader on mangled input, and checker invariants on random schedules."""

from __future__ import annotations

import copy
import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matchmaker.analysis.checker import LABELS, check_schedule
from matchmaker.errors import ScenarioError
from matchmaker.spec.scenario import hhmm, load_scenario, minutes, parse_scenario
from matchmaker.spec.schedule import Meeting, ScenarioRef, Schedule

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

D1, D2 = "2024-05-14", "2024-05-15"

# A small scenario using every section of the format. Two halls only, so walking
# times are trivially metric (see test_removing_meetings_keeps_a_clean_schedule_clean).
VALID: dict = {
    "name": "property fair",
    "description": "small",
    "timezone": "Asia/Shanghai",
    "slot_minutes": 20,
    "changeover_minutes": 5,
    "days": [
        {"date": D1, "sessions": [{"start": "09:00", "end": "10:40"}, {"start": "14:00", "end": "15:00"}]},
        {"date": D2, "sessions": [{"start": "09:30", "end": "11:00"}]},
    ],
    "halls": [{"id": "H1", "name": "Hall 1"}, {"id": "H2"}],
    "walking_minutes": [{"from": "H1", "to": "H2", "minutes": 10}],
    "locations": [
        {"id": "L1", "hall": "H1"},
        {"id": "L2", "hall": "H2", "tables": 1},
        {"id": "S", "hall": "H2", "tables": 2},
    ],
    "shared_location": "S",
    "exhibitors": [
        {"id": "E1", "name": "One", "location": "L1", "languages": ["en", "de"], "offers": ["pumps"],
         "max_meetings_per_day": 3},
        {"id": "E2", "name": "Two", "location": "L2", "languages": ["zh"], "sectors": ["food"],
         "availability": [{"date": D1, "start": "09:00", "end": "10:40"}]},
        {"id": "E3", "name": "Three", "languages": ["fr"], "max_meetings": 4},
    ],
    "buyers": [
        {"id": "B1", "name": "Ann", "country": "GB", "languages": ["en"], "interests": {"pumps": 5}},
        {"id": "B2", "name": "Bo", "country": "CN", "languages": ["zh", "en"], "priority": 5, "min_meetings": 1},
        {"id": "B3", "name": "Cy", "country": "CN", "languages": ["zh"], "max_meetings_per_day": 2,
         "availability": [{"date": D1, "start": "09:00", "end": "12:00"}, {"date": D2, "start": "09:30", "end": "11:00"}]},
        {"id": "B4", "name": "Di", "country": "ES", "languages": ["es"], "own_interpreter": True},
    ],
    "requests": [
        {"buyer": "B1", "exhibitor": "E1", "by": "both", "level": "must"},
        {"buyer": "B3", "exhibitor": "E2", "level": "want"},
    ],
    "blocked": [{"buyer": "B4", "exhibitor": "E1", "reason": "competitor"}],
    "interpreters": [
        {"language": "zh", "count": 1, "availability": [{"date": D1, "start": "09:00", "end": "15:00"}]},
    ],
    "pinned": [{"buyer": "B2", "exhibitor": "E1", "date": D1, "start": "09:25"}],
    "weights": {"interest_cap": 8, "idle_gap": 1},
}


def test_valid_scenario_is_valid():
    parse_scenario(VALID)


# ---------------------------------------------------------------------------
# (a) The loader: mangled scenarios raise ScenarioError and nothing else.
# ---------------------------------------------------------------------------

# Keys of random unknown fields, odd characters included: paths quote them.
KEYS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
ID_REFS = {"id", "buyer", "exhibitor", "location", "hall", "shared_location", "from", "to", "language"}
TIMES = st.integers(0, 23 * 60 + 59).map(hhmm) | st.sampled_from(["24:00", "9:00", "09:60", "", "noon"])


def _paths(node, prefix=()):
    """Every path below ``node`` (the root itself excluded)."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


def _get(node, path):
    for key in path:
        node = node[key]
    return node


def _mutate(data: dict, draw) -> None:
    """Apply one random mutation in place."""
    paths = list(_paths(data))
    kind = draw(st.sampled_from(["drop", "retype", "unknown-id", "reverse-times", "string", "extra-field",
                                 "duplicate", "time"]))
    if kind == "drop":
        path = draw(st.sampled_from(paths))
        del _get(data, path[:-1])[path[-1]]
    elif kind == "retype":
        path = draw(st.sampled_from(paths))
        _get(data, path[:-1])[path[-1]] = draw(JSON_VALUES)
    elif kind == "string":
        path = draw(st.sampled_from(paths))
        _get(data, path[:-1])[path[-1]] = draw(st.text(max_size=20))
    elif kind == "unknown-id":
        refs = [p for p in paths if p[-1] in ID_REFS]
        if refs:
            path = draw(st.sampled_from(refs))
            _get(data, path[:-1])[path[-1]] = draw(st.sampled_from(["E1", "B1", "H1", "L1", "S", "X9"]) | st.text(max_size=6))
    elif kind == "reverse-times":
        spans = [p for p in paths if isinstance(_get(data, p), dict) and {"start", "end"} <= _get(data, p).keys()]
        if spans:
            span = _get(data, draw(st.sampled_from(spans)))
            span["start"], span["end"] = span["end"], span["start"]
    elif kind == "extra-field":
        dicts = [()] + [p for p in paths if isinstance(_get(data, p), dict)]
        _get(data, draw(st.sampled_from(dicts)))[draw(KEYS)] = draw(JSON_VALUES)
    elif kind == "duplicate":
        lists = [p for p in paths if isinstance(_get(data, p), list) and _get(data, p)]
        if lists:
            items = _get(data, draw(st.sampled_from(lists)))
            items.append(copy.deepcopy(draw(st.sampled_from(items))))
    elif kind == "time":
        times = [p for p in paths if p[-1] in ("start", "end")]
        path = draw(st.sampled_from(times))
        _get(data, path[:-1])[path[-1]] = draw(TIMES)


@st.composite
def mangled_scenarios(draw) -> dict:
    data = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        _mutate(data, draw)
    return data


def _assert_error_lines(error: ScenarioError, file: str | None) -> None:
    assert error.problems
    lines = error.lines()
    assert len(lines) == len(error.problems)
    for problem, line in zip(error.problems, lines):
        assert len(line.splitlines()) == 1, line
        if file is None:
            assert problem.path, line
            assert line.startswith(f"{problem.path}: "), line
        else:
            assert line.startswith(f"{file}: "), line
    assert str(error) == "\n".join(lines)


@FAST
@given(data=mangled_scenarios(), file=st.sampled_from([None, "fair.json"]))
def test_mangled_scenario_raises_only_scenario_error(data, file):
    try:
        scenario = parse_scenario(data, file)
    except ScenarioError as error:
        _assert_error_lines(error, file)
    else:  # some mutations are harmless; then the result must round-trip
        assert parse_scenario(scenario.model_dump(mode="json", by_alias=True)) == scenario


@FAST
@given(text=st.text(max_size=60) | st.builds(json.dumps, JSON_VALUES) | mangled_scenarios().map(json.dumps))
def test_load_scenario_from_any_file_raises_only_scenario_error(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fair.json"
        path.write_text(text, encoding="utf-8")
        try:
            load_scenario(path)
        except ScenarioError as error:
            _assert_error_lines(error, str(path))


@pytest.mark.parametrize(
    "data",
    [
        {**VALID, "bad\nkey": 1},
        {**VALID, "": 1},
        [VALID],
        {**VALID, "buyers": [*VALID["buyers"], {"id": "B\n5", "name": "Ed", "country": "DE"}],
         "requests": [{"buyer": "B\n5", "exhibitor": "E1", "level": "must"}],
         "blocked": [{"buyer": "B\n5", "exhibitor": "E1"}]},
    ],
    ids=["newline-in-key", "empty-key", "root-not-an-object", "newline-in-id-message"],
)
def test_error_lines_for_odd_keys_are_single_lines_with_a_path(data):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data)
    _assert_error_lines(caught.value, None)


# ----- valid scenarios round-trip -----

LANGS = st.lists(st.sampled_from(["en", "zh", "de", "fr"]), unique=True, max_size=2)


@st.composite
def valid_scenarios(draw) -> dict:
    """Random but valid small scenarios (no must requests or pins, so any empty schedule is clean)."""
    slot = draw(st.sampled_from([15, 20, 30]))
    data = copy.deepcopy(VALID)
    data.update(
        slot_minutes=slot,
        changeover_minutes=draw(st.sampled_from([0, 5, 10])),
        requests=[],
        pinned=[],
        interpreters=draw(st.lists(
            st.fixed_dictionaries({"language": st.sampled_from(["en", "zh", "de", "fr"]), "count": st.integers(0, 2)}),
            max_size=3, unique_by=lambda pool: pool["language"])),
    )
    data["days"][0]["sessions"][0]["end"] = hhmm(9 * 60 + draw(st.integers(slot, 180)))
    for participant in data["buyers"] + data["exhibitors"]:
        participant["languages"] = draw(LANGS)
        participant["max_meetings"] = draw(st.none() | st.integers(0, 4))
        participant["max_meetings_per_day"] = draw(st.none() | st.integers(0, 3))
        participant["min_meetings"] = 0
    for buyer in data["buyers"]:
        buyer["own_interpreter"] = draw(st.booleans())
    return data


@FAST
@given(data=valid_scenarios())
def test_valid_scenarios_round_trip(data):
    scenario = parse_scenario(data)
    dumped = scenario.model_dump(mode="json", by_alias=True)
    assert parse_scenario(dumped) == scenario
    assert parse_scenario(json.loads(json.dumps(dumped))).fingerprint() == scenario.fingerprint()


# ---------------------------------------------------------------------------
# (b) The checker on random schedules.
# ---------------------------------------------------------------------------

BASE = parse_scenario(VALID)
BOOTH = {"E1": "L1", "E2": "L2", "E3": "S"}


def _slot_starts(data: dict) -> list[tuple[str, str]]:
    step = data["slot_minutes"] + data.get("changeover_minutes", 0)
    out = []
    for day in data["days"]:
        for session in day["sessions"]:
            t = minutes(session["start"])
            while t + data["slot_minutes"] <= minutes(session["end"]):
                out.append((day["date"], hhmm(t)))
                t += step
    return out


def _meetings(data: dict, sloppy: bool = False):
    """Random meetings at random slot starts; with ``sloppy``, also off-grid times, unknown ids, wrong fields."""
    slot = data["slot_minutes"]
    buyers = st.sampled_from([b["id"] for b in data["buyers"]])
    exhibitors = st.sampled_from([e["id"] for e in data["exhibitors"]])
    starts = st.sampled_from(_slot_starts(data))
    locations = None
    interpreters = st.sampled_from([None, None, "zh", "en", "fr"])
    if sloppy:
        buyers = buyers | st.sampled_from(["B9", "E1"])
        exhibitors = exhibitors | st.sampled_from(["E9", "B1"])
        starts = starts | st.tuples(st.sampled_from([D1, D2, "2024-05-16"]), st.integers(0, 23 * 60 + 59).map(hhmm))
        locations = st.sampled_from(["L1", "L2", "S", "nowhere"])

    @st.composite
    def meeting(draw) -> Meeting:
        exhibitor = draw(exhibitors)
        day, start = draw(starts)
        end = hhmm(min(minutes(start) + slot, 23 * 60 + 59))
        if sloppy and draw(st.booleans()):
            end = draw(st.integers(0, 23 * 60 + 59).map(hhmm))
        return Meeting(
            buyer=draw(buyers), exhibitor=exhibitor, date=day, start=start, end=end,
            location=draw(locations) if locations is not None else BOOTH.get(exhibitor, "S"),
            interpreter=draw(interpreters),
        )

    return st.lists(meeting(), max_size=12)


def _schedule(scenario, meetings) -> Schedule:
    return Schedule(scenario=ScenarioRef(name=scenario.name, sha256=scenario.fingerprint()), meetings=meetings)


def _check(scenario, meetings):
    return check_schedule(scenario, _schedule(scenario, meetings))


@FAST
@given(meetings=_meetings(VALID, sloppy=True))
def test_checker_never_crashes_and_reports_known_labels(meetings):
    report = _check(BASE, meetings)
    assert report.labels() <= set(LABELS)
    assert report.warnings == []
    for violation in report.violations:
        assert violation.message and len(violation.message.splitlines()) == 1


@FAST
@given(st.data())
def test_checker_never_crashes_on_random_valid_scenarios(data):
    scenario_data = data.draw(valid_scenarios())
    scenario = parse_scenario(scenario_data)
    meetings = data.draw(_meetings(scenario_data, sloppy=data.draw(st.booleans())))
    report = _check(scenario, meetings)
    assert report.labels() <= set(LABELS)


@FAST
@given(meetings=_meetings(VALID))
def test_two_meetings_in_one_slot_for_one_participant_is_double_booked(meetings):
    busy = Counter()
    for m in meetings:
        busy[(m.buyer, m.date, m.start)] += 1
        busy[(m.exhibitor, m.date, m.start)] += 1
    clash = any(n > 1 for n in busy.values())
    assert ("double-booked" in _check(BASE, meetings).labels()) == clash


@FAST
@given(meetings=_meetings(VALID, sloppy=True), data=st.data())
def test_a_duplicated_meeting_is_always_caught(meetings, data):
    assume(meetings)
    twin = data.draw(st.sampled_from(meetings))
    labels = _check(BASE, [*meetings, twin]).labels()
    assert {"pair-repeated", "double-booked"} <= labels


@FAST
@given(meetings=_meetings(VALID, sloppy=True), data=st.data())
def test_meeting_order_does_not_matter(meetings, data):
    shuffled = data.draw(st.permutations(meetings))
    one, two = _check(BASE, meetings), _check(BASE, list(shuffled))
    assert sorted(map(str, one.violations)) == sorted(map(str, two.violations))


@FAST
@given(st.data())
def test_removing_meetings_keeps_a_clean_schedule_clean(data):
    """Build a clean schedule greedily, then drop a random subset: it stays clean.

    Holds because the scenario has no must requests or pins (min_meetings is soft) and its
    walking times are metric; with three halls violating the triangle inequality, dropping
    the middle meeting of A(H1) B(H2) C(H3) could expose an H1->H3 walk.
    """
    scenario_data = data.draw(valid_scenarios())
    scenario = parse_scenario(scenario_data)
    clean: list[Meeting] = []
    for candidate in data.draw(_meetings(scenario_data)):
        if _check(scenario, [*clean, candidate]).ok:
            clean.append(candidate)
    assert _check(scenario, clean).ok
    keep = data.draw(st.lists(st.booleans(), min_size=len(clean), max_size=len(clean)))
    kept = [m for m, flag in zip(clean, keep) if flag]
    report = _check(scenario, kept)
    assert report.ok, report.lines()
