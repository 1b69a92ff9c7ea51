"""diff_schedules and the change report (changes.json / changes.csv) on hand-made schedule pairs.

No solver here: every schedule is written out meeting by meeting, so each test
knows exactly which differences the report must list, and that nothing else is
listed. A change is keyed by the (buyer, exhibitor) pair: same pair at another
date, start or location is ``moved``; a pair only in the old schedule is
``cancelled``; a pair only in the new one is ``added``; the rest is ``kept`` and
not listed.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from matchmaker.analysis.diff import CSV_COLUMNS, Change, ChangeReport, diff_schedules
from matchmaker.spec.schedule import Meeting, ScenarioRef, Schedule

D1, D2 = date(2023, 10, 22), date(2023, 10, 23)
REF = ScenarioRef(name="diff test fair", sha256="0" * 64)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def meeting(buyer: str, exhibitor: str, start: str = "09:30", day: date = D1, location: str | None = None,
            end: str | None = None) -> Meeting:
    h, m = map(int, start.split(":"))
    end = end or f"{(h * 60 + m + 20) // 60:02d}:{(h * 60 + m + 20) % 60:02d}"
    return Meeting(buyer=buyer, exhibitor=exhibitor, date=day, start=start, end=end, location=location or f"L-{exhibitor}")


def schedule(*meetings: Meeting, version: int = 1) -> Schedule:
    return Schedule(version=version, scenario=REF, meetings=list(meetings))


def csv_rows(report: ChangeReport) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(report.to_csv(), newline=""))
    header, *rows = list(reader)
    return header, [dict(zip(header, row, strict=True)) for row in rows]


# ---------------------------------------------------------------------------
# Exactly the differences
# ---------------------------------------------------------------------------

OLD = schedule(
    meeting("B1", "E1", "09:30"),                      # unchanged
    meeting("B1", "E2", "09:55"),                      # time change, same day and place
    meeting("B2", "E3", "10:20"),                      # place change, same time
    meeting("B2", "E4", "11:10", day=D1),              # date change, same start and place
    meeting("B3", "E1", "10:20"),                      # cancelled
    meeting("B4", "E5", "14:00"),                      # unchanged
)
NEW = schedule(
    meeting("B4", "E5", "14:00"),                      # listed first: order must not matter
    meeting("B1", "E1", "09:30"),
    meeting("B1", "E2", "10:45"),
    meeting("B2", "E3", "10:20", location="LOUNGE"),
    meeting("B2", "E4", "11:10", day=D2),
    meeting("B3", "E2", "10:20"),                      # added (B3 keeps its time, other exhibitor)
    version=2,
)


def test_lists_exactly_the_added_moved_and_cancelled_meetings():
    report = diff_schedules(OLD, NEW)
    by_pair = {(c.buyer, c.exhibitor): c for c in report.changes}
    assert set(by_pair) == {("B1", "E2"), ("B2", "E3"), ("B2", "E4"), ("B3", "E1"), ("B3", "E2")}
    assert len(report.changes) == len(by_pair)  # one change per pair, never two

    time_change = by_pair["B1", "E2"]
    assert time_change.change == "moved"
    assert (time_change.old_date, time_change.old_start, time_change.old_location) == (D1, "09:55", "L-E2")
    assert (time_change.new_date, time_change.new_start, time_change.new_location) == (D1, "10:45", "L-E2")

    place_change = by_pair["B2", "E3"]
    assert place_change.change == "moved"
    assert (place_change.old_start, place_change.old_location) == ("10:20", "L-E3")
    assert (place_change.new_start, place_change.new_location) == ("10:20", "LOUNGE")

    day_change = by_pair["B2", "E4"]
    assert day_change.change == "moved"
    assert (day_change.old_date, day_change.new_date) == (D1, D2)
    assert day_change.old_start == day_change.new_start == "11:10"

    cancelled = by_pair["B3", "E1"]
    assert cancelled.change == "cancelled"
    assert (cancelled.old_date, cancelled.old_start, cancelled.old_location) == (D1, "10:20", "L-E1")
    assert cancelled.new_date is cancelled.new_start is cancelled.new_location is None

    added = by_pair["B3", "E2"]
    assert added.change == "added"
    assert added.old_date is added.old_start is added.old_location is None
    assert (added.new_date, added.new_start, added.new_location) == (D1, "10:20", "L-E2")


def test_counts_versions_and_participants_to_notify():
    report = diff_schedules(OLD, NEW)
    assert (report.old_version, report.new_version) == (1, 2)
    assert (report.kept, report.added, report.moved, report.cancelled) == (2, 1, 3, 1)
    # Everyone in a changed meeting: B1 E2 B2 E3 E4 B3 E1; B4 and E5 only have an unchanged one.
    assert report.participants_to_notify == 7
    assert report.kept + report.moved + report.cancelled == len(OLD.meetings)
    assert report.kept + report.moved + report.added == len(NEW.meetings)


def test_identical_and_reordered_schedules_have_no_changes():
    report = diff_schedules(OLD, schedule(*reversed(OLD.meetings), version=2))
    assert report.changes == []
    assert (report.kept, report.added, report.moved, report.cancelled, report.participants_to_notify) == (6, 0, 0, 0, 0)


def test_empty_schedules():
    assert diff_schedules(schedule(), schedule()).changes == []
    report = diff_schedules(schedule(), OLD)
    assert {c.change for c in report.changes} == {"added"} and report.added == len(OLD.meetings)
    report = diff_schedules(OLD, schedule())
    assert {c.change for c in report.changes} == {"cancelled"} and report.cancelled == len(OLD.meetings)


def test_default_reasons_and_given_reasons():
    report = diff_schedules(OLD, NEW, {("B3", "E1"): "buyer B3 is no longer available at 2023-10-22 10:20"})
    reason = {(c.buyer, c.exhibitor): c.reason for c in report.changes}
    assert reason["B3", "E1"] == "buyer B3 is no longer available at 2023-10-22 10:20"
    assert reason["B3", "E2"] == "new meeting"
    assert reason["B1", "E2"] == reason["B2", "E3"] == "time or place changed"
    # A reason for an unchanged pair does not make it a change.
    assert len(diff_schedules(OLD, OLD, {("B1", "E1"): "ignored"}).changes) == 0


def test_swapped_times_are_two_moves():
    old = schedule(meeting("B1", "E1", "09:30"), meeting("B1", "E2", "09:55"))
    new = schedule(meeting("B1", "E1", "09:55"), meeting("B1", "E2", "09:30"), version=2)
    report = diff_schedules(old, new)
    assert [(c.change, c.exhibitor) for c in report.changes] == [("moved", "E1"), ("moved", "E2")]
    assert report.participants_to_notify == 3


def test_a_changed_end_time_is_a_time_change():
    old = schedule(meeting("B1", "E1", "09:30", end="09:50"))
    new = schedule(meeting("B1", "E1", "09:30", end="09:55"), version=2)
    report = diff_schedules(old, new)
    assert [c.change for c in report.changes] == ["moved"]


def test_report_json_round_trip():
    report = diff_schedules(OLD, NEW)
    data = json.loads(report.to_json())
    assert set(data) == {"old_version", "new_version", "kept", "added", "moved", "cancelled", "participants_to_notify", "changes"}
    assert set(data["changes"][0]) == set(Change.model_fields)
    assert ChangeReport.model_validate_json(report.to_json()) == report


# ---------------------------------------------------------------------------
# changes.csv
# ---------------------------------------------------------------------------


def test_csv_has_two_rows_per_change_with_the_documented_columns():
    report = diff_schedules(OLD, NEW)
    header, rows = csv_rows(report)
    assert header == list(CSV_COLUMNS) == [
        "participant", "role", "change", "counterpart",
        "old_date", "old_start", "old_end", "old_location", "new_date", "new_start", "new_end", "new_location", "reason",
    ]
    assert len(rows) == 2 * len(report.changes)
    for c in report.changes:
        mine = [r for r in rows if {(r["participant"], r["counterpart"])} & {(c.buyer, c.exhibitor), (c.exhibitor, c.buyer)}]
        assert sorted((r["participant"], r["role"], r["counterpart"]) for r in mine) == sorted(
            [(c.buyer, "buyer", c.exhibitor), (c.exhibitor, "exhibitor", c.buyer)]
        )
        for r in mine:
            assert r["change"] == c.change
            assert r["old_date"] == (c.old_date.isoformat() if c.old_date else "")
            assert r["new_date"] == (c.new_date.isoformat() if c.new_date else "")
            assert (r["old_start"], r["old_end"], r["old_location"]) == (c.old_start or "", c.old_end or "", c.old_location or "")
            assert (r["new_start"], r["new_end"], r["new_location"]) == (c.new_start or "", c.new_end or "", c.new_location or "")
            assert r["reason"] == c.reason
    # Sorted by participant, so each person's lines are together for a mail merge.
    participants = [r["participant"] for r in rows]
    assert participants == sorted(participants)
    # Nobody with only unchanged meetings gets a line.
    assert not {"B4", "E5"} & set(participants)


def test_csv_of_no_changes_is_the_header_only():
    assert diff_schedules(OLD, OLD).to_csv() == ",".join(CSV_COLUMNS) + "\n"


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_csv_neutralizes_formulas_in_reasons(start):
    reason = f"{start}HYPERLINK(\"http://evil.example\",\"click\")"
    report = diff_schedules(OLD, NEW, {("B3", "E1"): reason})
    _, rows = csv_rows(report)
    cells = [r["reason"] for r in rows if r["change"] == "cancelled"]
    assert cells == ["'" + reason] * 2
    # changes.json is not a spreadsheet: it keeps the reason as it is.
    assert next(c for c in report.changes if c.change == "cancelled").reason == reason


def test_csv_leaves_ordinary_reasons_alone():
    report = diff_schedules(OLD, NEW, {("B3", "E1"): "buyer B3 is no longer at the event"})
    _, rows = csv_rows(report)
    assert {r["reason"] for r in rows if r["change"] == "cancelled"} == {"buyer B3 is no longer at the event"}
    assert not any(cell.startswith("'") for r in rows for cell in r.values())


def test_csv_neutralizes_formulas_in_ids_and_locations():
    old = schedule(meeting("=cmd|'/c calc'!A0", "@E1", location="+LOC"))
    report = diff_schedules(old, schedule(version=2))
    _, rows = csv_rows(report)
    assert len(rows) == 2
    for r in rows:
        for column in ("participant", "counterpart", "old_location"):
            assert not r[column].startswith(FORMULA_STARTS), (column, r[column])
