"""Hand edits, scenario comparisons and re-plans during the fair, through the desk's JSON API.

Real workspace in tmp_path, real worker processes, the demo fair (scenarios/demo-small.json).
Each test solves its own event, so the tests do not depend on one another's versions.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import date

import pytest
from web_helpers import DEMO, ROOT, desk_client

from matchmaker.analysis.checker import check_schedule
from matchmaker.spec.scenario import hhmm, minutes
from matchmaker.spec.schedule import Schedule

DAY = "2023-10-22"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with desk_client(tmp_path_factory.mktemp("ws"), solver_workers=1) as test_client:
        yield test_client


def upload(client, data: bytes, url: str = "/api/events") -> int:
    answer = client.post(url, files={"scenario": ("demo.json", data, "application/json")})
    assert answer.status_code == 201, answer.text
    return answer.json()["id" if url == "/api/events" else "version"]


def wait_for_job(client, job_id: int, timeout: float = 45.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s")


def solved_event(client) -> tuple[int, int]:
    """A new demo event with one solved schedule version: (event id, schedule version)."""
    event = upload(client, DEMO.read_bytes())
    started = client.post(f"/api/events/{event}/solve", json={"time_limit": 3, "seed": 1})
    assert started.status_code == 202, started.text
    job = wait_for_job(client, started.json()["job"])
    assert job["status"] == "done", job
    return event, job["schedule_version"]


def schedule(client, event: int, version: int) -> Schedule:
    return Schedule.model_validate_json(client.get(f"/api/events/{event}/schedules/{version}").content)


def record(client, event: int, version: int) -> dict:
    return {v["version"]: v for v in client.get(f"/api/events/{event}").json()["schedule_versions"]}[version]


def scenario_of(client, event: int, scenario_version: int):
    return client.app.state.service.scenario(event, scenario_version)


def counts(client, event: int) -> tuple[int, int]:
    summary = client.get(f"/api/events/{event}").json()
    return len(summary["scenario_versions"]), len(summary["schedule_versions"])


def edit(client, event: int, version: int, **body):
    return client.post(f"/api/events/{event}/schedules/{version}/edit", json=body)


def meeting(s: Schedule, buyer: str, exhibitor: str):
    return next((m for m in s.meetings if (m.buyer, m.exhibitor) == (buyer, exhibitor)), None)


def checked_draft(client, event: int, answer) -> tuple[dict, Schedule]:
    """The new draft of an accepted edit, after asserting it passes the checker against its scenario."""
    assert answer.status_code == 201, answer.text
    body = answer.json()
    made = schedule(client, event, body["version"])
    scenario = scenario_of(client, event, body["scenario_version"])
    report = check_schedule(scenario, made)
    assert report.ok and not report.warnings, report.lines()
    return body, made


def free_slot(s: Schedule, scenario, buyer: str, exhibitor: str) -> tuple[str, str]:
    """A slot start where neither side meets, both are available and no pin or interpreter is in the way."""
    busy = {(m.date, m.start) for m in s.meetings if {buyer, exhibitor} & {m.buyer, m.exhibitor}}
    interpreted = {(m.date, m.start) for m in s.meetings if m.interpreter}
    people = {p.id: p for p in [*scenario.buyers, *scenario.exhibitors]}
    step = scenario.slot_minutes + scenario.changeover_minutes
    for day in scenario.days:
        for session in day.sessions:
            t = minutes(session.start)
            while t + scenario.slot_minutes <= minutes(session.end):
                start, end = t, t + scenario.slot_minutes
                available = all(
                    people[p].availability is None
                    or any(w.date == day.date and minutes(w.start) <= start and end <= minutes(w.end) for w in people[p].availability)
                    for p in (buyer, exhibitor)
                )
                if available and (day.date, hhmm(start)) not in busy | interpreted:
                    return str(day.date), hhmm(start)
                t += step
    raise AssertionError(f"no free slot for {buyer}-{exhibitor}")


def test_each_edit_kind_stores_a_checked_draft(client):
    event, first = solved_event(client)
    base = schedule(client, event, first)
    assert meeting(base, "B1", "E1") is not None and meeting(base, "B3", "E5") is not None, base.meetings
    scenario_versions, _ = counts(client, event)

    # pin: the meeting stays, the scenario gains the pin
    held = meeting(base, "B1", "E1")
    body, pinned = checked_draft(client, event, edit(client, event, first, kind="pin", buyer="B1", exhibitor="E1"))
    assert body["scenario_version"] == scenario_versions + 1
    pins = scenario_of(client, event, body["scenario_version"]).pinned
    assert any((p.buyer, p.exhibitor, p.date, p.start) == ("B1", "E1", held.date, held.start) for p in pins)
    assert pinned.meetings == base.meetings
    assert pinned.version == base.version + 1 and pinned.previous.version == base.version
    assert record(client, event, body["version"]) | {"parent": first, "status": "draft", "has_changes": True} == record(
        client, event, body["version"]
    )
    assert pinned.stats.upper_bound_value == base.stats.upper_bound_value  # a pin only restricts: the bound holds
    again = edit(client, event, body["version"], kind="pin", buyer="B1", exhibitor="E1")
    assert again.status_code == 422 and "already pinned" in again.text

    # unpin: the pin goes, the meetings stay
    body, unpinned = checked_draft(client, event, edit(client, event, body["version"], kind="unpin", buyer="B1", exhibitor="E1"))
    assert not any((p.buyer, p.exhibitor) == ("B1", "E1") for p in scenario_of(client, event, body["scenario_version"]).pinned)
    assert unpinned.meetings == base.meetings
    assert unpinned.stats.upper_bound_value is None  # the scenario is freer now: the old bound may not hold

    # block: the pair is blocked and its meeting dropped
    body, blocked = checked_draft(client, event, edit(client, event, body["version"], kind="block", buyer="B3", exhibitor="E5"))
    assert any((b.buyer, b.exhibitor) == ("B3", "E5") for b in scenario_of(client, event, body["scenario_version"]).blocked)
    assert meeting(blocked, "B3", "E5") is None
    assert blocked.stats.meetings == len(base.meetings) - 1 == len(blocked.meetings)
    changes = client.get(f"/api/events/{event}/schedules/{body['version']}/changes").json()
    assert (changes["cancelled"], changes["moved"], changes["added"]) == (1, 0, 0), changes
    assert "blocked" in changes["changes"][0]["reason"]

    # move: to a free slot of both; no new scenario version for an unpinned meeting
    scenario = scenario_of(client, event, body["scenario_version"])
    day, start = free_slot(blocked, scenario, "B1", "E1")
    moved_answer = edit(client, event, body["version"], kind="move", buyer="B1", exhibitor="E1", date=day, start=start)
    moved_body, moved = checked_draft(client, event, moved_answer)
    assert moved_body["scenario_version"] == body["scenario_version"]
    placed = meeting(moved, "B1", "E1")
    assert (str(placed.date), placed.start) == (day, start) and placed.location == held.location
    assert len(moved.meetings) == len(blocked.meetings)
    changes = client.get(f"/api/events/{event}/schedules/{moved_body['version']}/changes").json()
    assert (changes["moved"], changes["cancelled"], changes["added"]) == (1, 0, 0), changes
    # the published-or-not parents never change
    assert schedule(client, event, first) == base


def test_refused_edits_store_nothing(client):
    event, first = solved_event(client)
    base = schedule(client, event, first)
    two = next(b for b in ("B1", "B2", "B3", "B4") if sum(m.buyer == b for m in base.meetings) >= 2)
    mine = [m for m in base.meetings if m.buyer == two]
    before = counts(client, event)

    clash = edit(client, event, first, kind="move", buyer=two, exhibitor=mine[0].exhibitor, date=str(mine[1].date), start=mine[1].start)
    assert clash.status_code == 422, clash.text
    assert any("double-booked" in line and two in line for line in clash.json()["problems"]), clash.json()

    off_grid = edit(client, event, first, kind="move", buyer=two, exhibitor=mine[0].exhibitor, date=DAY, start="12:01")
    assert off_grid.status_code == 422 and any("not-a-slot" in p for p in off_grid.json()["problems"]), off_grid.text
    away = edit(client, event, first, kind="move", buyer="B3", exhibitor="E5", date=DAY, start="09:30")  # B3 comes at 14:00
    assert away.status_code == 422 and any("unavailable" in p for p in away.json()["problems"]), away.text
    must = edit(client, event, first, kind="block", buyer="B1", exhibitor="E2")  # a must request
    assert must.status_code == 422 and "blocked pair" in must.text, must.text
    no_meeting = edit(client, event, first, kind="pin", buyer="B4", exhibitor="E3")
    assert no_meeting.status_code == 422 and "no meeting" in no_meeting.text
    unknown = edit(client, event, first, kind="move", buyer="B9", exhibitor="E5", date="22.10.2023", start="3pm")
    assert unknown.status_code == 422 and len(unknown.json()["problems"]) == 3, unknown.text
    assert edit(client, event, first, kind="swap", buyer="B1", exhibitor="E1").status_code == 422
    assert edit(client, event, 99, kind="pin", buyer="B1", exhibitor="E1").status_code == 404

    assert counts(client, event) == before
    assert schedule(client, event, first) == base

    # an edit builds on the latest scenario version: a schedule it no longer fits is refused, with the way out
    upload(client, late_changes(DEMO.read_bytes()), url=f"/api/events/{event}/scenario")  # B3 left
    stale = edit(client, event, first, kind="unpin", buyer="B2", exhibitor="E4")
    assert stale.status_code == 422, stale.text
    problems = stale.json()["problems"]
    assert any("unknown-participant" in p and "B3" in p for p in problems) and "re-plan it against the latest" in problems[-1]
    away_now = edit(client, event, first, kind="pin", buyer="B1", exhibitor="E2")  # B1 now leaves at 15:00
    assert away_now.status_code == 422 and "re-plan it against the latest" in away_now.json()["problems"][-1], away_now.text
    assert counts(client, event) == (before[0] + 1, before[1])


def late_changes(text: bytes) -> bytes:
    """The demo fair a few days later: a late buyer L001 asking for E3, B1 leaving at 15:00, B3 gone."""
    data = json.loads(text)
    late = copy.deepcopy(data["buyers"][0])
    late.update(id="L001", name="Late Buyer", min_meetings=0)
    data["buyers"].append(late)
    data["requests"].append({"buyer": "L001", "exhibitor": "E3", "by": "buyer", "level": "want"})
    next(b for b in data["buyers"] if b["id"] == "B1")["availability"] = [
        {"date": DAY, "start": "09:30", "end": "11:10"}, {"date": DAY, "start": "14:00", "end": "15:00"}]
    data["buyers"] = [b for b in data["buyers"] if b["id"] != "B3"]
    data["requests"] = [r for r in data["requests"] if r["buyer"] != "B3"]
    return json.dumps(data).encode()


def test_comparison_names_who_is_new_who_left_and_what_changed(client):
    event = upload(client, DEMO.read_bytes())
    second = upload(client, late_changes(DEMO.read_bytes()), url=f"/api/events/{event}/scenario")

    answer = client.get(f"/api/events/{event}/scenarios/{second}/compare", params={"against": 1})
    assert answer.status_code == 200, answer.text
    comparison = answer.json()
    assert comparison["buyers"]["added"] == [{"id": "L001", "name": "Late Buyer"}]
    assert [b["id"] for b in comparison["buyers"]["removed"]] == ["B3"]
    changed = {c["id"]: c["phrase"] for c in comparison["buyers"]["changed"]}
    assert "available 2023-10-22: all day → 09:30–11:10, 14:00–15:00" in changed["B1"]
    exhibitors = {c["id"]: c["phrase"] for c in comparison["exhibitors"]["changed"]}
    assert "request with L001 added (want, by buyer)" in exhibitors["E3"]
    assert comparison["event"] == [] and comparison["unchanged"] is False

    # by default against the version before (nothing is published)
    assert client.get(f"/api/events/{event}/scenarios/{second}/compare").json() == comparison
    same = client.get(f"/api/events/{event}/scenarios/1/compare", params={"against": 1}).json()
    assert same["unchanged"] is True
    assert client.get(f"/api/events/{event}/scenarios/1/compare").status_code == 422  # nothing before version 1
    assert client.get(f"/api/events/{event}/scenarios/7/compare", params={"against": 1}).status_code == 404


def test_pair_changes_are_listed_under_both_participants():
    # A request's level changed, a pin moved and one removed, a pair blocked: each phrase under both sides.
    from matchmaker.spec.scenario import parse_scenario
    from matchmaker.web.edits import _pair_phrases

    data = json.loads(DEMO.read_text())
    before = parse_scenario(data)
    data["requests"][1]["level"] = "must"  # B1-E1: want -> must
    data["pinned"] = [{"buyer": "B2", "exhibitor": "E4", "date": DAY, "start": "10:20"}]
    data["requests"] = [r for r in data["requests"] if (r["buyer"], r["exhibitor"]) != ("B1", "E2")]
    data.setdefault("blocked", []).append({"buyer": "B1", "exhibitor": "E2", "reason": "competitors"})
    after = parse_scenario(data)

    phrases = _pair_phrases(before, after)
    assert "request with E1: want, by organizer → must, by organizer" in phrases["B1"]
    assert "request with B1: want, by organizer → must, by organizer" in phrases["E1"]
    assert "request with E2 removed (was must, by buyer)" in phrases["B1"]
    assert "now blocked with B1 (competitors)" in phrases["E2"]
    assert "pinned meeting with E4 moved 2023-10-22 09:55 → 2023-10-22 10:20" in phrases["B2"]
    assert "pinned meeting with B2 moved 2023-10-22 09:55 → 2023-10-22 10:20" in phrases["E4"]
    data["pinned"] = []
    assert "pin of the meeting with B2 at 2023-10-22 09:55 removed" in _pair_phrases(before, parse_scenario(data))["E4"]


def test_during_the_fair_replan_freezes_the_past(client):
    event, first = solved_event(client)
    assert client.post(f"/api/events/{event}/schedules/{first}/publish").status_code == 200
    base = schedule(client, event, first)
    now = f"{DAY} 12:00"
    gone, cancelled = "B1", ("B3", "E5")
    morning = [m for m in base.meetings if m.start < "12:00"]
    assert meeting(base, *cancelled) is not None and morning and any(m.buyer == gone and m.start > "12:00" for m in base.meetings)
    before = counts(client, event)

    bad = client.post(f"/api/events/{event}/schedules/{first}/during-fair", json={
        "now": "22.10.2023 12:00",
        "cancelled": [{"buyer": "B4", "exhibitor": "E6"}],
        "no_shows": [{"buyer": "B3", "exhibitor": "E5"}],
        "gone": [{"participant": "B9", "date": DAY}, {"participant": "B2", "date": "2023-10-21"}],
        "time_limit": 2,
    })
    assert bad.status_code == 422, bad.text
    assert len(bad.json()["problems"]) >= 4, bad.json()
    assert counts(client, event) == before and client.get(f"/api/events/{event}").json()["jobs"][-1]["kind"] == "solve"
    late = client.post(f"/api/events/{event}/schedules/{first}/during-fair", json={
        "now": now, "cancelled": [{"buyer": m.buyer, "exhibitor": m.exhibitor} for m in morning[:1]], "time_limit": 2})
    assert late.status_code == 422 and "no-show" in late.text  # a meeting that started is not cancelled

    started = client.post(f"/api/events/{event}/schedules/{first}/during-fair", json={
        "now": now,
        "cancelled": [{"buyer": cancelled[0], "exhibitor": cancelled[1]}],
        "no_shows": [{"buyer": morning[0].buyer, "exhibitor": morning[0].exhibitor}],
        "gone": [{"participant": gone, "date": DAY}],
        "time_limit": 3,
        "seed": 1,
    })
    assert started.status_code == 202, started.text
    job = wait_for_job(client, started.json()["job"])
    assert job["status"] == "done", job
    assert job["kind"] == "replan" and job["params"]["previous"] == first and job["params"]["freeze_before"] == now
    assert job["params"]["during_fair"]["gone"] == [[gone, DAY]]

    result_record = record(client, event, job["schedule_version"])
    assert result_record["parent"] == first and result_record["scenario_version"] == before[0] + 1
    result = schedule(client, event, job["schedule_version"])
    scenario = scenario_of(client, event, result_record["scenario_version"])
    assert check_schedule(scenario, result).ok

    cut = (date.fromisoformat(DAY), minutes("12:00"))

    def past(s: Schedule) -> list:
        return sorted((m.buyer, m.exhibitor, m.date, m.start, m.location) for m in s.meetings if (m.date, minutes(m.start)) < cut)

    assert past(result) == past(base)  # nothing before now changed, the no-show included
    assert not [m for m in result.meetings if gone in (m.buyer, m.exhibitor) and str(m.date) == DAY and m.start >= "12:00"]
    assert meeting(result, *cancelled) is None
    assert any((b.buyer, b.exhibitor) == cancelled for b in scenario.blocked)
    assert all(r.level == "want" for r in scenario.requests if r.buyer == gone)  # B1's lost must became a want
    changes = client.get(f"/api/events/{event}/schedules/{job['schedule_version']}/changes").json()
    assert {(c["buyer"], c["exhibitor"]) for c in changes["changes"] if c["change"] == "cancelled"} >= {cancelled}


def test_a_pair_that_meets_twice_is_edited_one_meeting_at_a_time(client):
    """A must request for 2 meetings: a pin must say which meeting, and pins only that one."""
    data = json.loads(DEMO.read_text())
    data["requests"][0]["meetings"] = 2  # B1-E2, must
    event = upload(client, json.dumps(data).encode())
    started = client.post(f"/api/events/{event}/solve", json={"time_limit": 3, "seed": 1})
    version = wait_for_job(client, started.json()["job"])["schedule_version"]
    schedule = Schedule.model_validate_json(client.get(f"/api/events/{event}/schedules/{version}").content)
    twice = sorted(f"{m.date} {m.start}" for m in schedule.meetings if (m.buyer, m.exhibitor) == ("B1", "E2"))
    assert len(twice) == 2

    unnamed = client.post(f"/api/events/{event}/schedules/{version}/edit", json={"kind": "pin", "buyer": "B1", "exhibitor": "E2"})
    assert unnamed.status_code == 422 and "meet 2 times" in unnamed.text and "meeting_at" in unnamed.text
    pinned = client.post(f"/api/events/{event}/schedules/{version}/edit",
                         json={"kind": "pin", "buyer": "B1", "exhibitor": "E2", "meeting_at": twice[1]})
    assert pinned.status_code == 201, pinned.text
    new = Schedule.model_validate_json(client.get(f"/api/events/{event}/schedules/{pinned.json()['version']}").content)
    assert sorted(f"{m.date} {m.start}" for m in new.meetings if (m.buyer, m.exhibitor) == ("B1", "E2")) == twice
    again = client.post(f"/api/events/{event}/schedules/{pinned.json()['version']}/edit",
                        json={"kind": "pin", "buyer": "B1", "exhibitor": "E2", "meeting_at": twice[0]})
    assert again.status_code == 201, again.text  # the other meeting of the pair may be pinned too
    refused = client.post(f"/api/events/{event}/schedules/{again.json()['version']}/edit",
                          json={"kind": "pin", "buyer": "B1", "exhibitor": "E2", "meeting_at": twice[0]})
    assert refused.status_code == 422 and "already pinned" in refused.text


def test_fair_wide_changes_are_listed_once_each():
    """Tables, interpreter pools added, removed or resized: one phrase each in the comparison's event list."""
    from matchmaker.spec.scenario import parse_scenario
    from matchmaker.web.edits import compare_scenarios

    anping = json.loads((ROOT / "scenarios" / "anping-2023.json").read_text())
    more = copy.deepcopy(anping)
    more["locations"][0]["tables"] += 1
    more["interpreters"][0]["count"] += 1
    fewer = copy.deepcopy(anping)
    fewer["interpreters"] = fewer["interpreters"][1:]
    old, new, smaller = (parse_scenario(d, name) for d, name in ((anping, "a"), (more, "b"), (fewer, "c")))
    lounge, language = anping["locations"][0], anping["interpreters"][0]["language"]
    assert compare_scenarios(old, new, 1, 2).event == [
        f"location {lounge['id']}: {lounge['tables']} → {lounge['tables'] + 1} table(s)",
        f"{language!r} interpreters {anping['interpreters'][0]['count']} → {anping['interpreters'][0]['count'] + 1}",
    ]
    assert compare_scenarios(old, smaller, 1, 2).event == [f"{language!r} interpreters removed"]
