"""Organizer I/O: spreadsheets in (``matchmaker import``), calendars/workbook/CSV/HTML out (``matchmaker export``).

- round trip: the sample spreadsheets (xlsx and csv give the same scenario) -> solve -> every export
  format, parsed back and counted against schedule.json;
- bad rows: ``file:row:column: problem``, exit 2, nothing written;
- re-plans: exporting version 2 over version 1 keeps UIDs, raises SEQUENCE of moved meetings and
  cancels dropped ones;
- hostile text (markup, formulas, quotes, newlines, Cyrillic/Arabic/Chinese) comes out intact and
  harmless in every format.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from helpers import assert_no_traceback, invoke
from icalendar import Calendar

from matchmaker.io.export import export_schedule
from matchmaker.io.export.common import file_stem
from matchmaker.io.export.ics import meeting_uid
from matchmaker.pipeline import SolveOptions, solve
from matchmaker.spec.scenario import (
    Scenario,
    hhmm,
    load_scenario,
    minutes,
    parse_scenario,
)
from matchmaker.spec.schedule import (
    Meeting,
    ScenarioRef,
    Schedule,
    UnscheduledRequest,
    load_schedule,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "scenarios" / "import-example"
DEMO = REPO / "scenarios" / "demo-small.json"
ALL_FORMATS = ["--format", "ics", "--format", "agendas", "--format", "xlsx", "--format", "csv", "--format", "html"]
LANGUAGE_NAMES = {"ru": "Russian", "ar": "Arabic", "en": "English", "zh": "Chinese"}  # interpreter languages as English calendars name them






def import_args(folder: Path, variant: str = "csv") -> list[object]:
    return [
        "import",
        "--event", folder / "event.toml",
        "--buyers", folder / f"buyers.{variant}",
        "--exhibitors", folder / f"exhibitors.{variant}",
        "--requests", folder / "requests.csv",
        "--blocked", folder / "blocked.csv",
    ]


def read_calendar(path: Path) -> Calendar:
    return Calendar.from_ical(path.read_bytes())


def events(path: Path) -> dict[str, object]:
    return {str(e["UID"]): e for e in read_calendar(path).walk("VEVENT")}


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "meetings.csv must start with a UTF-8 byte-order mark"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def sheet_rows(sheet) -> list[dict[str, object]]:
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:]]


class _Agendas(HTMLParser):
    """Collects the report's agenda sections: attributes, heading text and table rows."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict] = []
        self._depth = 0
        self._in_h3 = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "section" and "agenda" in (attributes.get("class") or "").split():
            self.sections.append({"attrs": attributes, "title": "", "rows": 0})
            self._depth = 1
        elif tag == "section" and self._depth:
            self._depth += 1
        elif self._depth and tag == "h3":
            self._in_h3 = True
        elif self._depth and tag == "tr":
            self.sections[-1]["rows"] += 1

    def handle_endtag(self, tag):
        if tag == "section" and self._depth:
            self._depth -= 1
        elif tag == "h3":
            self._in_h3 = False

    def handle_data(self, data):
        if self._in_h3 and self._depth:
            self.sections[-1]["title"] += data


def agendas(html_text: str) -> list[dict]:
    parser = _Agendas()
    parser.feed(html_text)
    for section in parser.sections:
        section["rows"] -= 1 if section["rows"] else 0  # the header row
    return parser.sections


# ---------------------------------------------------------------------------
# Round trip: sample spreadsheets -> scenario -> solve -> every format
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory) -> dict:
    """Import both sample variants, solve once, export every format through the CLI (in English throughout:
    the checks below read its words; each participant's own language is tested in test_i18n.py)."""
    work = tmp_path_factory.mktemp("roundtrip")
    for variant in ("xlsx", "csv"):
        result = invoke(*import_args(EXAMPLE, variant), "-o", work / f"fair-{variant}.json")
        assert_no_traceback(result)
        assert result.exit_code == 0, result.output
        assert "warning" not in result.stderr
    scenario = load_scenario(work / "fair-csv.json")
    schedule = solve(scenario, SolveOptions(time_limit=5, workers=1))
    (work / "schedule.json").write_text(schedule.to_json(), encoding="utf-8")
    outdir = work / "export"
    result = invoke("export", work / "schedule.json", "--scenario", work / "fair-csv.json", *ALL_FORMATS, "--language", "en", "-o", outdir)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    return {"work": work, "scenario": scenario, "schedule": load_schedule(work / "schedule.json"), "out": outdir}


def test_xlsx_and_csv_variants_import_to_the_same_scenario(round_trip):
    work = round_trip["work"]
    xlsx = json.loads((work / "fair-xlsx.json").read_text(encoding="utf-8"))
    csv_variant = json.loads((work / "fair-csv.json").read_text(encoding="utf-8"))
    assert xlsx == csv_variant


def test_imported_sample_has_every_documented_feature(round_trip):
    scenario: Scenario = round_trip["scenario"]
    buyers = {b.id: b for b in scenario.buyers}
    exhibitors = {e.id: e for e in scenario.exhibitors}
    assert len(buyers) == 8 and len(exhibitors) == 8
    assert buyers["B001"].interests == {"welded-mesh": 5, "gabion": 3}
    assert buyers["B002"].languages == ["en", "zh"]
    assert [(w.date.isoformat(), w.start, w.end) for w in buyers["B002"].availability] == [
        ("2023-10-22", "09:30", "12:00"),
        ("2023-10-23", "13:30", "17:00"),
    ]
    assert buyers["B003"].availability[0].start == "00:00"  # a date alone = the whole day
    assert buyers["B005"].own_interpreter is True
    assert buyers["B003"].name.startswith("شركة")
    assert buyers["B007"].name == 'Delta Wire & Mesh, Inc. ("Delta")'
    assert exhibitors["E006"].location is None and scenario.shared_location == "LOUNGE"
    locations = {loc.id: loc for loc in scenario.locations}
    assert locations["H2-B02"].hall == "H2" and locations["H2-B02"].tables == 2  # implied by booth + hall + tables
    assert scenario.days[0].sessions[1].start == "13:30"
    assert scenario.interpreters[1].availability[1].end == "17:00"
    assert {(r.buyer, r.exhibitor, r.level) for r in scenario.requests if r.level == "must"} == {("B001", "E002", "must")}
    assert {(p.buyer, p.exhibitor) for p in scenario.blocked} == {("B004", "E001"), ("B008", "E007")}


def test_ics_one_event_per_meeting_per_participant_and_location(round_trip):
    scenario: Scenario = round_trip["scenario"]
    schedule: Schedule = round_trip["schedule"]
    folder = round_trip["out"] / "ics"
    assert schedule.meetings
    expected_files = (
        {file_stem("buyer", b.id) for b in scenario.buyers}
        | {file_stem("exhibitor", e.id) for e in scenario.exhibitors}
        | {file_stem("location", loc.id) for loc in scenario.locations}
    )
    assert {p.stem for p in folder.glob("*.ics")} == expected_files
    zone = ZoneInfo(scenario.timezone)
    names = {p.id: p.name for p in [*scenario.buyers, *scenario.exhibitors]}
    halls = {h.id: h.name for h in scenario.halls}
    hall_of = {loc.id: loc.hall for loc in scenario.locations}
    for kind, key in (("buyer", "buyer"), ("exhibitor", "exhibitor"), ("location", "location")):
        owners = {getattr(m, key) for m in schedule.meetings}
        for owner in owners:
            calendar = read_calendar(folder / f"{file_stem(kind, owner)}.ics")
            assert str(calendar["VERSION"]) == "2.0" and "PRODID" in calendar
            assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == [scenario.timezone]
            mine = [m for m in schedule.meetings if getattr(m, key) == owner]
            found = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
            assert len(found) == len(mine) == len(calendar.walk("VEVENT"))
            for m in mine:
                # A pair that meets twice (the example's B002-E004) has a UID per meeting, by time.
                nth = sorted(
                    (x.date, x.start) for x in schedule.meetings if (x.buyer, x.exhibitor) == (m.buyer, m.exhibitor)
                ).index((m.date, m.start)) + 1
                event = found[meeting_uid(scenario.name, m.buyer, m.exhibitor, nth)]
                start = event["DTSTART"]
                assert start.params["TZID"] == scenario.timezone
                assert start.dt == datetime.combine(m.date, datetime.strptime(m.start, "%H:%M").time(), zone)
                assert event.decoded("DTEND").strftime("%H:%M") == m.end
                assert str(event["LOCATION"]) == f"{halls[hall_of[m.location]]}, booth {m.location}" or m.location == "LOUNGE"
                description = str(event["DESCRIPTION"])
                assert names[m.buyer] in description and names[m.exhibitor] in description
                assert (f"Interpreter: {LANGUAGE_NAMES[m.interpreter]}" if m.interpreter else "Interpreter: none needed") in description
                assert str(event["STATUS"]) == "CONFIRMED" and int(event["SEQUENCE"]) == 0
    # participants without meetings still get a valid (event-less) calendar
    idle = {b.id for b in scenario.buyers} - {m.buyer for m in schedule.meetings}
    for buyer in idle:
        calendar = read_calendar(folder / f"{file_stem('buyer', buyer)}.ics")
        assert calendar.walk("VEVENT") == [] and calendar.walk("VTIMEZONE")


def test_csv_one_row_per_meeting(round_trip):
    schedule: Schedule = round_trip["schedule"]
    scenario: Scenario = round_trip["scenario"]
    rows = read_csv(round_trip["out"] / "meetings.csv")
    assert len(rows) == len(schedule.meetings)
    assert {(r["buyer_id"], r["exhibitor_id"], r["date"], r["start"], r["end"], r["location"], r["interpreter"]) for r in rows} == {
        (m.buyer, m.exhibitor, m.date.isoformat(), m.start, m.end, m.location, m.interpreter or "") for m in schedule.meetings
    }
    names = {p.id: p.name for p in [*scenario.buyers, *scenario.exhibitors]}
    for row in rows:
        assert row["buyer_name"] == names[row["buyer_id"]] and row["exhibitor_name"] == names[row["exhibitor_id"]]
        assert row["hall"] and row["hall_name"].startswith("Hall")


def test_xlsx_agendas_grids_and_unscheduled(round_trip):
    schedule: Schedule = round_trip["schedule"]
    scenario: Scenario = round_trip["scenario"]
    workbook = openpyxl.load_workbook(round_trip["out"] / "schedule.xlsx")
    days = [d.date.isoformat() for d in scenario.days]
    assert workbook.sheetnames == ["Overview", "Buyer agendas", "Exhibitor agendas", *[f"Grid {d}" for d in days], "Participants", "Unscheduled requests"]
    overview = {row["figure"]: row["value"] for row in sheet_rows(workbook["Overview"])}
    assert overview["Meetings"] == len(schedule.meetings) and overview["Schedule version"] == schedule.version
    buyer_rows = sheet_rows(workbook["Buyer agendas"])
    exhibitor_rows = sheet_rows(workbook["Exhibitor agendas"])
    assert len(buyer_rows) == len(exhibitor_rows) == len(schedule.meetings)
    assert {(r["buyer_id"], r["exhibitor_id"], r["date"].date(), r["start"]) for r in buyer_rows} == {
        (m.buyer, m.exhibitor, m.date, m.start) for m in schedule.meetings
    }
    for day in days:
        grid = workbook[f"Grid {day}"]
        cells = [c for row in grid.iter_rows(min_row=2, min_col=4, values_only=True) for c in row if c]
        assert sum(len(c.split("\n")) for c in cells) == sum(1 for m in schedule.meetings if m.date.isoformat() == day)
        assert grid.max_row - 1 == len(scenario.locations)
    unscheduled = sheet_rows(workbook["Unscheduled requests"])
    assert len(unscheduled) == len(schedule.unscheduled_requests)
    assert all(row["reason"] for row in unscheduled)
    assert len(sheet_rows(workbook["Participants"])) == len(scenario.buyers) + len(scenario.exhibitors)
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes is not None, sheet.title
        assert sheet.auto_filter.ref, sheet.title
        assert all((sheet.column_dimensions[c].width or 0) >= 8 for c in "AB")


def test_html_report_summary_charts_grids_agendas(round_trip):
    schedule: Schedule = round_trip["schedule"]
    scenario: Scenario = round_trip["scenario"]
    text = (round_trip["out"] / "report.html").read_text(encoding="utf-8")
    sections = agendas(text)
    assert len(sections) == len(scenario.buyers) + len(scenario.exhibitors)
    assert sum(s["rows"] for s in sections) == 2 * len(schedule.meetings)  # each meeting in two agendas
    assert text.count("<rect ") == len(scenario.buyers) + len(scenario.exhibitors)
    assert text.count('class="grid-day"') == len(scenario.days)
    assert text.count('class="busy"') == len({(m.date, m.start, m.location) for m in schedule.meetings})
    assert 'id="search"' in text and "break-before: page" in text and "page-break-before: always" in text
    assert "default-src 'none'" in text
    assert "<link" not in text and " src=" not in text and "@import" not in text


def test_export_formats_one_at_a_time(round_trip, tmp_path):
    work = round_trip["work"]
    result = invoke("export", work / "schedule.json", "--scenario", work / "fair-csv.json", "--format", "csv", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["meetings.csv"]


def test_export_refuses_schedule_of_another_scenario(round_trip, tmp_path):
    schedule = round_trip["work"] / "schedule.json"
    result = invoke("export", schedule, "--scenario", DEMO, "-o", tmp_path / "out")
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        (f"error: {schedule}: the schedule is for {round_trip['scenario'].name!r}, not "
         "'Demo: small wire mesh matchmaking day'; to use it anyway, add --allow-other-event")
    ]
    assert not (tmp_path / "out").exists()
    # Allowed, it still refuses meetings of participants the scenario does not have.
    result = invoke("export", schedule, "--scenario", DEMO, "-o", tmp_path / "out", "--allow-other-event")
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert "is not in the scenario" in result.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------
# Import: warnings, overwrite, bad rows
# ---------------------------------------------------------------------------


@pytest.fixture
def example(tmp_path) -> Path:
    folder = tmp_path / "in"
    shutil.copytree(EXAMPLE, folder)
    return folder


def edit_csv(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell; ``row`` counts as in Excel (the header is row 1)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[row - 1][rows[0].index(column)] = value
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_import_refuses_to_overwrite_without_force(example, tmp_path):
    target = tmp_path / "fair.json"
    target.write_text("keep me", encoding="utf-8")
    result = invoke(*import_args(example), "-o", target)
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert target.read_text(encoding="utf-8") == "keep me"
    result = invoke(*import_args(example), "-o", target, "--force")
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text(encoding="utf-8"))["buyers"]


def test_import_warnings_do_not_stop_it(example, tmp_path):
    edit_csv(example / "buyers.csv", 5, "interests", "window-screen:4; galvanised-wire:2")  # B004
    edit_csv(example / "buyers.csv", 7, "interests", "fishing-nets:5")  # B006: matches nobody
    edit_csv(example / "buyers.csv", 1, "min_meetings", "Notes")  # an extra column
    target = tmp_path / "fair.json"
    result = invoke(*import_args(example), "-o", target)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    buyers = example / "buyers.csv"
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert f"warning: {buyers}:5:interests: category 'galvanised-wire' is not offered by any exhibitor" in warnings
    assert f"warning: {buyers}:7:interests: buyer 'B006' matches no exhibitor: no category in common and no request" in warnings
    assert any(line.startswith(f"warning: {buyers}:1:Notes: column 'Notes' is not one the import reads") for line in warnings)
    assert target.exists()


def _xlsx_with(folder: Path, name: str, row: int, column: str, value: object) -> Path:
    path = folder / f"{name}.xlsx"
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    header = [c.value for c in sheet[1]]
    sheet.cell(row=row, column=header.index(column) + 1, value=value)
    workbook.save(path)
    return path


BAD_ROWS = [
    # (file, row, column, new value, expected "file:row:column: ..." text after the file name)
    ("buyers.csv", 3, "availability", "2023-10-22 9-12", ":3:availability: expected a time range as HH:MM-HH:MM, got '9-12'"),
    ("buyers.csv", 2, "interests", "welded-mesh:7", ":2:interests: weight of 'welded-mesh' must be a whole number 1-5, got '7'"),
    ("buyers.csv", 4, "priority", "high", ":4:priority: expected a whole number, got 'high'"),
    ("buyers.csv", 4, "priority", "9", ":4:priority: Input should be less than or equal to 5"),
    ("buyers.csv", 6, "own_interpreter", "maybe", ":6:own_interpreter: expected yes or no, got 'maybe'"),
    ("buyers.csv", 3, "name", "", ":3:name: required; the cell is empty"),
    ("buyers.csv", 3, "availability", "2023-10-25 09:30-12:00", ":3:availability: 2023-10-25 is not a day of the fair"),
    ("buyers.csv", 3, "availability", "2023-10-22 12:00-09:30", ":3:availability: ends at 09:30, not after its start 12:00"),
    ("buyers.csv", 2, "min_meetings", "9", ":2:min_meetings: min_meetings 9 exceeds max_meetings 6"),
    ("exhibitors.csv", 4, "id", "E001", ":4:id: duplicate id 'E001' (also row 2 of "),
    ("exhibitors.csv", 3, "hall", "", ":3:hall: booth 'H1-A02' is not a location of the event file, so its hall is needed"),
    ("exhibitors.csv", 3, "hall", "H9", ":3:hall: unknown hall 'H9'"),
    ("requests.csv", 3, "buyer", "B999", ":3:buyer: unknown buyer 'B999'"),
    ("requests.csv", 3, "level", "maybe", ":3:level: Input should be 'must' or 'want'"),
    ("blocked.csv", 2, "exhibitor", "E999", ":2:exhibitor: unknown exhibitor 'E999'"),
]


@pytest.mark.parametrize("name, row, column, value, expected", BAD_ROWS, ids=[f"{b[0]}-{b[2]}-{b[3]!r}" for b in BAD_ROWS])
def test_bad_row_names_file_row_column(example, tmp_path, name, row, column, value, expected):
    edit_csv(example / name, row, column, value)
    target = tmp_path / "fair.json"
    result = invoke(*import_args(example), "-o", target)
    assert_no_traceback(result)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert any(line.startswith(f"error: {example / name}{expected}") for line in errors), errors
    assert not target.exists()


def test_booth_implied_in_two_halls(example, tmp_path):
    exhibitors = example / "exhibitors.csv"
    edit_csv(exhibitors, 3, "booth", "X-01")  # E002 in H1
    edit_csv(exhibitors, 5, "booth", "X-01")  # E004 in H2
    result = invoke(*import_args(example), "-o", tmp_path / "fair.json")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {exhibitors}:5:hall: booth 'X-01' is in hall 'H1' on row 3, not 'H2'"]


def test_bad_xlsx_cell_names_file_row_column(example, tmp_path):
    path = _xlsx_with(example, "buyers", 4, "priority", "high")
    _xlsx_with(example, "exhibitors", 5, "offers", None)  # harmless: an empty optional cell
    target = tmp_path / "fair.json"
    result = invoke(*import_args(example, "xlsx"), "-o", target)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {path}:4:priority: expected a whole number, got 'high'"]
    assert not target.exists()


def test_every_problem_of_every_file_is_listed_in_order(example, tmp_path):
    edit_csv(example / "exhibitors.csv", 2, "max_meetings", "lots")
    edit_csv(example / "buyers.csv", 9, "availability", "22/10/2023 09:30-12:00")
    edit_csv(example / "buyers.csv", 2, "interests", "gabion:x")
    edit_csv(example / "buyers.csv", 4, "priority", "0")  # a field check ...
    edit_csv(example / "exhibitors.csv", 9, "id", "E002")  # ... and a cross-reference check, reported together
    edit_csv(example / "requests.csv", 2, "exhibitor", "E404")
    result = invoke(*import_args(example), "-o", tmp_path / "fair.json")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {example / 'buyers.csv'}:2:interests: weight of 'gabion' must be a whole number 1-5, got 'x'",
        f"error: {example / 'buyers.csv'}:4:priority: Input should be greater than or equal to 1",
        f"error: {example / 'buyers.csv'}:9:availability: expected a date as YYYY-MM-DD, got '22/10/2023'",
        f"error: {example / 'exhibitors.csv'}:2:max_meetings: expected a whole number, got 'lots'",
        f"error: {example / 'exhibitors.csv'}:9:id: duplicate id 'E002' (also row 3 of {example / 'exhibitors.csv'})",
        f"error: {example / 'requests.csv'}:2:exhibitor: unknown exhibitor 'E404'",
    ]


def test_missing_column_and_missing_file(example, tmp_path):
    text = (example / "buyers.csv").read_text(encoding="utf-8").replace("country,", "land,", 1)
    (example / "buyers.csv").write_text(text, encoding="utf-8")
    result = invoke(*import_args(example), "--exhibitors", example / "nope.csv", "-o", tmp_path / "fair.json")
    assert result.exit_code == 2
    errors = result.stderr.splitlines()
    assert f"error: {example / 'buyers.csv'}:1:country: required column is missing" in errors
    assert f"error: {example / 'nope.csv'}: file not found" in errors
    assert not (tmp_path / "fair.json").exists()


def test_event_file_problems_name_their_key(example, tmp_path):
    event = example / "event.toml"
    text = event.read_text(encoding="utf-8").replace('"Asia/Shanghai"', '"Asia/Atlantis"').replace('"13:30-17:00"]', '"1330-1700"]', 1)
    event.write_text(text, encoding="utf-8")
    result = invoke(*import_args(example), "-o", tmp_path / "fair.json")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {event}:days[0].sessions[1]: expected a time range as HH:MM-HH:MM, got '1330-1700'",
        f"error: {event}:timezone: unknown IANA timezone 'Asia/Atlantis'",
    ]
    event.write_text("name = [", encoding="utf-8")
    result = invoke(*import_args(example), "-o", tmp_path / "fair.json")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {event}: invalid TOML: ")


def test_csv_with_semicolons_and_legacy_encoding(example, tmp_path):
    rows = list(csv.reader(open(example / "blocked.csv", encoding="utf-8", newline="")))
    with open(example / "blocked.csv", "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, delimiter=";").writerows(rows)  # what a German or French Excel saves
    result = invoke(*import_args(example), "-o", tmp_path / "fair.json")
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "fair.json").read_text(encoding="utf-8"))["blocked"]) == 2
    (example / "buyers.csv").write_bytes((example / "buyers.csv").read_text(encoding="utf-8").encode("utf-8").replace("ООО".encode(), "\xd4\xce\xce".encode("latin-1")))
    result = invoke(*import_args(example), "-o", tmp_path / "fair2.json")
    assert result.exit_code == 2
    assert "is not UTF-8 text" in result.stderr


# ---------------------------------------------------------------------------
# Re-plans: version 2 exported over version 1
# ---------------------------------------------------------------------------


def _free_slot(schedule: Schedule, scenario: Scenario, meeting: Meeting) -> tuple[date, str]:
    """A slot start where the meeting's buyer, exhibitor and location are all free."""
    step = scenario.slot_minutes + scenario.changeover_minutes
    busy = {(m.date, m.start, who) for m in schedule.meetings for who in (m.buyer, m.exhibitor, m.location)}
    for day in scenario.days:
        for session in day.sessions:
            t = minutes(session.start)
            while t + scenario.slot_minutes <= minutes(session.end):
                start = hhmm(t)
                if not any((day.date, start, who) in busy for who in (meeting.buyer, meeting.exhibitor, meeting.location)):
                    return day.date, start
                t += step
    raise AssertionError("no free slot")


def test_replanned_schedule_updates_calendars_in_place(round_trip, tmp_path):
    scenario: Scenario = round_trip["scenario"]
    first: Schedule = round_trip["schedule"]
    assert len(first.meetings) >= 3
    outdir = tmp_path / "export"
    export_schedule(first, scenario, ["ics"], outdir, language="en")
    before = {p.name: events(p) for p in (outdir / "ics").glob("*.ics")}

    second = first.model_copy(deep=True)
    second.version = first.version + 1
    moved, dropped = second.meetings[0], second.meetings[1]
    second.meetings.remove(dropped)
    new_date, new_start = _free_slot(second, scenario, moved)
    moved.date, moved.start, moved.end = new_date, new_start, hhmm(minutes(new_start) + scenario.slot_minutes)
    export_schedule(second, scenario, ["ics"], outdir, language="en")

    moved_uid = meeting_uid(scenario.name, moved.buyer, moved.exhibitor)
    dropped_uid = meeting_uid(scenario.name, dropped.buyer, dropped.exhibitor)
    unchanged = {meeting_uid(scenario.name, m.buyer, m.exhibitor) for m in second.meetings} - {moved_uid}
    for stem in (file_stem("buyer", moved.buyer), file_stem("exhibitor", moved.exhibitor), file_stem("location", moved.location)):
        event = events(outdir / "ics" / f"{stem}.ics")[moved_uid]
        assert int(event["SEQUENCE"]) == int(before[f"{stem}.ics"][moved_uid]["SEQUENCE"]) + 1
        assert event.decoded("DTSTART").date() == new_date and event.decoded("DTSTART").strftime("%H:%M") == new_start
        assert str(event["STATUS"]) == "CONFIRMED"
        assert str(event["DESCRIPTION"]).startswith(f"Updated in schedule version {second.version}\n")
    for stem in (file_stem("buyer", dropped.buyer), file_stem("exhibitor", dropped.exhibitor), file_stem("location", dropped.location)):
        event = events(outdir / "ics" / f"{stem}.ics")[dropped_uid]
        assert str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) == int(before[f"{stem}.ics"][dropped_uid]["SEQUENCE"]) + 1
        assert str(event["SUMMARY"]).startswith("Cancelled: ")
        assert event["DTSTART"].dt == before[f"{stem}.ics"][dropped_uid]["DTSTART"].dt
    after = {p.name: events(p) for p in (outdir / "ics").glob("*.ics")}
    assert after.keys() == before.keys()
    for name, found in after.items():
        for uid in unchanged & found.keys():
            old, new = before[name][uid], found[uid]
            assert int(new["SEQUENCE"]) == int(old["SEQUENCE"]) and new.decoded("DTSTAMP") == old.decoded("DTSTAMP")
            assert new.decoded("DTSTART") == old.decoded("DTSTART")
        assert set(before[name]) <= set(found)  # nothing vanishes: it is kept or cancelled

    # Exporting the same version again changes nothing; the cancellation stays as it was.
    snapshot = {p.name: p.read_bytes() for p in (outdir / "ics").glob("*.ics")}
    export_schedule(second, scenario, ["ics"], outdir, language="en")
    assert {p.name: p.read_bytes() for p in (outdir / "ics").glob("*.ics")} == snapshot

    # A fresh folder for version 2: every entry outranks version 1's SEQUENCE 0.
    fresh = tmp_path / "fresh"
    export_schedule(second, scenario, ["ics"], fresh, language="en")
    assert {int(e["SEQUENCE"]) for e in events(fresh / "ics" / f"{file_stem('buyer', moved.buyer)}.ics").values()} == {1}


def test_uid_is_stable_and_shared_by_all_copies(round_trip):
    scenario: Scenario = round_trip["scenario"]
    schedule: Schedule = round_trip["schedule"]
    m = schedule.meetings[0]
    uid = meeting_uid(scenario.name, m.buyer, m.exhibitor)
    assert uid == meeting_uid(scenario.name, m.buyer, m.exhibitor) and uid.endswith("@matchmaker")
    assert uid != meeting_uid(scenario.name, m.exhibitor, m.buyer)
    folder = round_trip["out"] / "ics"
    for stem in (file_stem("buyer", m.buyer), file_stem("exhibitor", m.exhibitor), file_stem("location", m.location)):
        assert uid in events(folder / f"{stem}.ics")


# ---------------------------------------------------------------------------
# Hostile text: intact and harmless in every format
# ---------------------------------------------------------------------------

SCRIPT = '<script>alert(1)</script> "Uralsetka", LLC'
FORMULA = '=HYPERLINK("http://x","y")'
RUSSIAN = "ООО «Сетка-Строй», Москва"
ARABIC = "شركة الراشد للتجارة"
CHINESE = '安平县恒泰丝网制品有限公司, "Hengtai"'
MULTILINE = "Southern Cross\nBuilding Materials; Pty Ltd"
AT = "@booth-name"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict:
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    names = {"B1": SCRIPT, "B2": RUSSIAN, "B3": ARABIC, "B4": MULTILINE, "E1": FORMULA, "E2": CHINESE, "E5": "-5 Grating + Co", "E6": AT}
    for person in data["buyers"] + data["exhibitors"]:
        person["name"] = names.get(person["id"], person["name"])
    data["locations"][0]["name"] = "+Lounge <b>VIP</b>"
    scenario = parse_scenario(data)
    meetings = [
        Meeting(buyer="B1", exhibitor="E1", date=date(2023, 10, 22), start="09:30", end="09:50", location="H1-A01", interpreter="ru"),
        Meeting(buyer="B2", exhibitor="E2", date=date(2023, 10, 22), start="09:30", end="09:50", location="H1-A02"),
        Meeting(buyer="B3", exhibitor="E5", date=date(2023, 10, 22), start="14:00", end="14:20", location="H2-A02"),
        Meeting(buyer="B4", exhibitor="E6", date=date(2023, 10, 22), start="14:25", end="14:45", location="LOUNGE"),
    ]
    schedule = Schedule(
        scenario=ScenarioRef(name=scenario.name, sha256=scenario.fingerprint()),
        meetings=meetings,
        unscheduled_requests=[UnscheduledRequest(buyer="B1", exhibitor="E2", level="want", reason='=cmd|" /C calc"!A0 <i>no slot</i>')],
    )
    outdir = tmp_path_factory.mktemp("hostile")
    export_schedule(schedule, scenario, ["ics", "xlsx", "csv", "html"], outdir)
    return {"out": outdir, "names": names, "scenario": scenario}


def test_hostile_text_html_is_escaped(hostile):
    text = (hostile["out"] / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in text and "<b>VIP" not in text and "<i>no slot" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<script>") == 1  # only the report's own search script
    for name in (RUSSIAN, ARABIC, "安平县恒泰丝网制品有限公司"):
        assert name in text
    titles = {s["attrs"]["data-id"]: s["title"] for s in agendas(text)}
    assert titles["b1"].startswith(SCRIPT) and titles["e1"].startswith(FORMULA) and titles["b4"].startswith(MULTILINE)


def test_hostile_text_csv_is_intact_and_formula_safe(hostile):
    rows = {r["buyer_id"]: r for r in read_csv(hostile["out"] / "meetings.csv")}
    assert rows["B1"]["buyer_name"] == SCRIPT
    assert rows["B1"]["exhibitor_name"] == "'" + FORMULA
    assert rows["B2"]["buyer_name"] == RUSSIAN and rows["B2"]["exhibitor_name"] == CHINESE
    assert rows["B3"]["buyer_name"] == ARABIC and rows["B3"]["exhibitor_name"] == "'-5 Grating + Co"
    assert rows["B4"]["buyer_name"] == MULTILINE and rows["B4"]["exhibitor_name"] == "'" + AT
    assert rows["B4"]["location_name"] == "'+Lounge <b>VIP</b>"
    for row in rows.values():
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values())


def test_hostile_text_xlsx_has_no_formulas(hostile):
    workbook = openpyxl.load_workbook(hostile["out"] / "schedule.xlsx")  # not data_only: formulas would show as "="
    values = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    values.append(cell.value)
    assert "'" + FORMULA in values and "'" + AT in values
    assert SCRIPT in values and RUSSIAN in values and ARABIC in values and CHINESE in values and MULTILINE in values
    assert any(v.startswith("'=cmd|") for v in values)  # the unscheduled reason
    assert not any(v.startswith(("=", "+", "-", "@")) for v in values)


def test_hostile_text_ics_round_trips(hostile):
    """Names come back exactly as registered inside each reader's language (B1 reads Russian, B3 Arabic,
    B2 and B4 English, the exhibitors Chinese)."""
    folder = hostile["out"] / "ics"
    (b1,) = events(folder / "buyer-B1.ics").values()
    assert str(b1["SUMMARY"]) == f"Встреча с {FORMULA}"
    assert f"Покупатель: {SCRIPT} (B1)" in str(b1["DESCRIPTION"]) and "Переводчик: русский" in str(b1["DESCRIPTION"])
    (e1,) = events(folder / "exhibitor-E1.ics").values()
    assert str(e1["SUMMARY"]) == f"与 {SCRIPT} 会面"
    (b4,) = events(folder / "buyer-B4.ics").values()
    assert str(b4["LOCATION"]) == "Hall 1, +Lounge <b>VIP</b>"
    (e6,) = events(folder / "exhibitor-E6.ics").values()
    assert str(e6["SUMMARY"]) == f"与 {MULTILINE} 会面"
    (e2,) = events(folder / "exhibitor-E2.ics").values()
    assert str(e2["SUMMARY"]) == f"与 {RUSSIAN} 会面" and CHINESE in str(e2["DESCRIPTION"])
    (b2,) = events(folder / "buyer-B2.ics").values()
    assert str(b2["SUMMARY"]) == f"Meeting with {CHINESE}"
    (b3,) = events(folder / "buyer-B3.ics").values()
    assert str(b3["SUMMARY"]) == "اجتماع مع -5 Grating + Co" and ARABIC in str(b3["DESCRIPTION"])
    raw = (folder / "buyer-B1.ics").read_bytes()
    assert b"\r\n" in raw and all(len(line) <= 75 for line in raw.split(b"\r\n"))  # folded content lines
