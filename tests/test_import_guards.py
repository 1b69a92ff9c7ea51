"""Inputs that used to import wrong data without a word are refused (the "organizer's desk" issue).

Each one is refused in the CLI with exit code 2, exactly one ``error: file:row:column:
problem`` line (``error: file: problem`` where no cell is to blame) and nothing
written; the library raises InputError, so a web API can answer 4xx with the same
lines. Covered: a column with data but no name (a blank or merged header cell);
formulas without a saved value; spreadsheet error values; files too large (on disk,
unpacked, rows, columns, cell length); a schedule of another fair given to
``solve --previous`` or ``export``.
"""

from __future__ import annotations

import csv
import json
import shutil
import string
import zipfile
from pathlib import Path

import openpyxl
import pytest
from helpers import assert_no_traceback, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchmaker.errors import DifferentEventError, InputError
from matchmaker.io import importer
from matchmaker.io.export import export_schedule
from matchmaker.io.importer import import_scenario
from matchmaker.spec.scenario import load_scenario
from matchmaker.spec.schedule import ScenarioRef, load_schedule

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "scenarios" / "import-example"
DEMO = REPO / "scenarios" / "demo-small.json"
FAST = ["--time-limit", "5", "--workers", "1"]
FORMULA_HINT = "without a saved value; open and save the file in Excel/LibreOffice, or type the value"


@pytest.fixture
def example(tmp_path) -> Path:
    folder = tmp_path / "in"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.py"))
    return folder


def import_args(folder: Path, buyers: str = "buyers.csv", exhibitors: str = "exhibitors.csv") -> list[object]:
    return ["import", "--event", folder / "event.toml", "--buyers", folder / buyers, "--exhibitors", folder / exhibitors,
            "--requests", folder / "requests.csv", "--blocked", folder / "blocked.csv"]


def refused(folder: Path, tmp_path: Path, **files: str) -> list[str]:
    """Import; assert exit 2, no traceback, nothing written; return the stderr lines."""
    target = tmp_path / "fair.json"
    result = invoke(*import_args(folder, **files), "-o", target)
    assert_no_traceback(result)
    assert result.exit_code == 2, result.output
    assert not target.exists()
    return result.stderr.splitlines()


def edit_sheet(path: Path, edit) -> Path:
    workbook = openpyxl.load_workbook(path)
    edit(workbook.active)
    workbook.save(path)
    return path


def column_of(sheet, name: str) -> int:
    return [c.value for c in sheet[1]].index(name) + 1


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def read_csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_the_example_still_imports(example, tmp_path):
    for variant in ("csv", "xlsx"):
        target = tmp_path / f"fair-{variant}.json"
        result = invoke(*import_args(example, f"buyers.{variant}", f"exhibitors.{variant}"), "-o", target)
        assert result.exit_code == 0, result.output
        assert target.exists()


# ---------------------------------------------------------------------------
# 1. A column with data but no name
# ---------------------------------------------------------------------------


def test_blank_header_with_data_is_refused_csv(example, tmp_path):
    path = example / "buyers.csv"
    rows = read_csv_rows(path)
    rows[0].append("")
    rows[2].append("a note")  # row 3, column 13 = M
    write_csv(path, rows)
    assert refused(example, tmp_path) == [
        (f"error: {path}:1:M: column M has data (from row 3) but no name in row 1; "
         "name the column (see docs/import.md) or delete its data")
    ]


def test_merged_languages_header_over_two_columns_is_refused_xlsx(example, tmp_path):
    def merge(sheet):
        col = column_of(sheet, "languages")
        sheet.insert_cols(col + 1)
        sheet.cell(row=3, column=col, value="en")
        sheet.cell(row=3, column=col + 1, value="zh")  # B002's second language, in the merged column
        sheet.merge_cells(start_row=1, start_column=col, end_row=1, end_column=col + 1)

    path = edit_sheet(example / "buyers.xlsx", merge)
    assert refused(example, tmp_path, buyers="buyers.xlsx", exhibitors="exhibitors.xlsx") == [
        (f"error: {path}:1:E: column E has data (from row 3) but no name: its name cell is merged with D1 "
         "('languages'); unmerge the header cells and name each column")
    ]


def test_merged_data_cells_are_refused_xlsx(example, tmp_path):
    def merge(sheet):
        col = column_of(sheet, "country")
        sheet.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)  # B001's country over B002's

    path = edit_sheet(example / "buyers.xlsx", merge)
    assert refused(example, tmp_path, buyers="buyers.xlsx", exhibitors="exhibitors.xlsx") == [
        (f"error: {path}:2:country: cells C2:C3 are merged, so only the first of them holds a value; "
         "unmerge them and fill in every cell")
    ]


def test_blank_header_without_data_is_fine(example, tmp_path):
    path = example / "buyers.csv"
    rows = read_csv_rows(path)
    rows[0][1:1] = [""]
    for row in rows[1:]:
        row[1:1] = [""]
    write_csv(path, rows)
    result = invoke(*import_args(example), "-o", tmp_path / "fair.json")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------------
# 2. Formulas without a saved value
# ---------------------------------------------------------------------------


def test_formula_without_saved_value_is_refused(example, tmp_path):
    path = edit_sheet(example / "buyers.xlsx", lambda sheet: sheet.cell(row=4, column=column_of(sheet, "priority"), value="=2+3"))
    assert refused(example, tmp_path, buyers="buyers.xlsx", exhibitors="exhibitors.xlsx") == [
        f"error: {path}:4:priority: formula =2+3 {FORMULA_HINT}"
    ]


def _with_cached_formula(path: Path, cell: str, formula: str, cached: str) -> None:
    """Give ``cell`` a formula and a saved result, as Excel or LibreOffice would."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode("utf-8")
    start = sheet.index(f'<c r="{cell}"')
    end = sheet.index("</c>", start) + len("</c>")
    sheet = sheet[:start] + f'<c r="{cell}"><f>{formula}</f><v>{cached}</v></c>' + sheet[end:]
    members["xl/worksheets/sheet1.xml"] = sheet.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_formula_with_saved_value_reads_the_value(example, tmp_path):
    path = edit_sheet(example / "buyers.xlsx", lambda sheet: sheet.cell(row=4, column=column_of(sheet, "priority"), value=1))
    _with_cached_formula(path, "G4", "2+3", "5")
    target = tmp_path / "fair.json"
    result = invoke(*import_args(example, "buyers.xlsx", "exhibitors.xlsx"), "-o", target)
    assert result.exit_code == 0, result.output
    assert load_scenario(target).buyers[2].priority == 5


# ---------------------------------------------------------------------------
# 3. Spreadsheet error values
# ---------------------------------------------------------------------------


def test_error_cell_is_refused_xlsx(example, tmp_path):
    path = edit_sheet(example / "buyers.xlsx", lambda sheet: sheet.cell(row=3, column=column_of(sheet, "name"), value="#REF!"))
    assert refused(example, tmp_path, buyers="buyers.xlsx", exhibitors="exhibitors.xlsx") == [
        (f"error: {path}:3:name: the cell holds the error value #REF!, not data; "
         "correct it (or the formula it comes from) in the spreadsheet")
    ]


@pytest.mark.parametrize("code", sorted(importer.EXCEL_ERRORS))
def test_error_text_is_refused_csv(example, tmp_path, code):
    path = example / "buyers.csv"
    rows = read_csv_rows(path)
    rows[2][rows[0].index("country")] = code
    write_csv(path, rows)
    assert refused(example, tmp_path) == [
        (f"error: {path}:3:country: the cell holds the error value {code}, not data; "
         "correct it (or the formula it comes from) in the spreadsheet")
    ]


# ---------------------------------------------------------------------------
# 4. Size guards
# ---------------------------------------------------------------------------


def test_zip_bomb_is_refused_before_it_is_unpacked(example, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_UNPACKED_BYTES", 1024 * 1024)
    path = example / "buyers.xlsx"
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * (2 * 1024 * 1024))  # 2 MB unpacked, a few KB packed
    assert path.stat().st_size < 100_000
    lines = refused(example, tmp_path, buyers="buyers.xlsx", exhibitors="exhibitors.xlsx")
    assert lines == [
        (f"error: {path}: the workbook unpacks to 2.0 MB; the import reads workbooks of at most 1.0 MB unpacked "
         "(is it damaged, or not an organizer's sheet?)")
    ]


def test_huge_cell_is_refused(example, tmp_path):
    path = example / "buyers.csv"
    rows = read_csv_rows(path)
    rows[3][rows[0].index("name")] = "x" * 10_001
    write_csv(path, rows)
    assert refused(example, tmp_path) == [
        f"error: {path}:4:name: the cell holds 10,001 characters; the import reads at most 10,000 in a cell"
    ]


def test_cell_beyond_the_csv_field_limit_is_refused(example, tmp_path):
    path = example / "buyers.csv"
    rows = read_csv_rows(path)
    rows[3][rows[0].index("name")] = "x" * 200_000
    write_csv(path, rows)
    assert refused(example, tmp_path) == [
        f"error: {path}: row 4 has a cell of more than 10,000 characters; the import reads at most 10,000"
    ]


def test_file_size_limit(example, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_FILE_BYTES", 64 * 1024)
    path = example / "buyers.csv"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\n" * (70 * 1024 - path.stat().st_size))  # blank lines: harmless but for the size
    assert refused(example, tmp_path) == [
        f"error: {path}: the file is 70.0 KB; the import reads spreadsheets of at most 64.0 KB"
    ]


def test_row_limit(example, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_ROWS", 10)
    path = edit_sheet(example / "buyers.xlsx", lambda sheet: sheet.cell(row=12, column=2, value="one too many"))
    assert refused(example, tmp_path, buyers="buyers.xlsx", exhibitors="exhibitors.xlsx") == [
        f"error: {path}: has data in row 12, beyond the 10 rows below the header that the import reads; is it the right file?"
    ]


def test_a_far_away_xlsx_cell_is_refused_without_filling_the_rows_between(example, tmp_path):
    path = edit_sheet(example / "buyers.xlsx", lambda sheet: sheet.cell(row=1_000_000, column=1, value="x"))
    assert refused(example, tmp_path, buyers="buyers.xlsx", exhibitors="exhibitors.xlsx") == [
        (f"error: {path}: has data in row 1,000,000, beyond the 50,000 rows below the header that the import reads; "
         "is it the right file?")
    ]


def test_column_limit_csv(example, tmp_path):
    path = example / "buyers.csv"
    rows = read_csv_rows(path)
    rows[1] += [""] * (200 - len(rows[1])) + ["far"]  # column 201
    write_csv(path, rows)
    assert refused(example, tmp_path) == [
        f"error: {path}: has data in column GS (201), beyond the 200 columns that the import reads; is it the right file?"
    ]


# ---------------------------------------------------------------------------
# 5. A schedule of another fair
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_v1(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    result = invoke("solve", DEMO, "-o", root / "v1", *FAST)
    assert result.exit_code == 0, result.output
    return root / "v1" / "schedule.json"


def test_solve_previous_of_another_fair_is_refused_even_with_force(demo_v1, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(DEMO.read_text(encoding="utf-8")), "name": "Another fair"}), encoding="utf-8")
    out = tmp_path / "v2"
    for extra in ([], ["--force"]):
        result = invoke("solve", other, "--previous", demo_v1, "-o", out, *extra, *FAST)
        assert_no_traceback(result)
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines() == [
            (f"error: {demo_v1}: the previous schedule is for 'Demo: small wire mesh matchmaking day', "
             "not 'Another fair'; to use it anyway, add --allow-other-event")
        ]
        assert not out.exists()
    allowed = invoke("solve", other, "--previous", demo_v1, "-o", out, "--allow-other-event", *FAST)
    assert allowed.exit_code == 0, allowed.output
    assert (out / "schedule.json").exists() and (out / "changes.json").exists()


def test_allow_other_event_needs_previous(tmp_path):
    result = invoke("solve", DEMO, "-o", tmp_path / "out", "--allow-other-event", *FAST)
    assert result.exit_code == 2
    assert "--allow-other-event need --previous" in result.stderr
    assert not (tmp_path / "out").exists()


def test_export_with_the_scenario_of_another_fair_is_refused(demo_v1, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(DEMO.read_text(encoding="utf-8")), "name": "Another fair"}), encoding="utf-8")
    out = tmp_path / "export"
    result = invoke("export", demo_v1, "--scenario", other, "-o", out)
    assert_no_traceback(result)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        (f"error: {demo_v1}: the schedule is for 'Demo: small wire mesh matchmaking day', not 'Another fair'; "
         "to use it anyway, add --allow-other-event")
    ]
    assert not out.exists()
    # The library says the same, as an InputError.
    with pytest.raises(InputError) as caught:
        export_schedule(load_schedule(demo_v1), load_scenario(other), ["csv"], out, schedule_file=str(demo_v1))
    assert isinstance(caught.value, DifferentEventError)
    assert caught.value.lines() == [
        f"{demo_v1}: the schedule is for 'Demo: small wire mesh matchmaking day', not 'Another fair'"
    ]
    assert not out.exists()
    allowed = invoke("export", demo_v1, "--scenario", other, "--format", "csv", "-o", out, "--allow-other-event")
    assert allowed.exit_code == 0, allowed.output
    assert (out / "meetings.csv").exists()


def test_export_of_a_schedule_on_days_the_fair_does_not_have_is_refused(demo_v1, tmp_path):
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    old_day = data["days"][0]["date"]
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(json.loads(json.dumps(data).replace(old_day, "2030-01-07"))), encoding="utf-8")
    out = tmp_path / "export"
    result = invoke("export", demo_v1, "--scenario", moved, "-o", out)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        (f"error: {demo_v1}: the schedule has meetings on {old_day}, which are not days of "
         "'Demo: small wire mesh matchmaking day'; to use it anyway, add --allow-other-event")
    ]
    assert not out.exists()


def test_export_of_an_earlier_version_of_the_same_fair_warns_and_exports(demo_v1, tmp_path, caplog):
    schedule = load_schedule(demo_v1)
    schedule.scenario = ScenarioRef(name=schedule.scenario.name, sha256="0" * 64)  # solved before late changes
    stale = tmp_path / "schedule.json"
    stale.write_text(schedule.to_json(), encoding="utf-8")
    out = tmp_path / "export"
    result = invoke("export", stale, "--scenario", DEMO, "--format", "csv", "-o", out)
    assert result.exit_code == 0, result.output
    assert "not from this version of the scenario; names and places come from the scenario given" in caplog.text
    assert (out / "meetings.csv").exists()


# ---------------------------------------------------------------------------
# Property: whatever the cells hold, the import succeeds or raises InputError
# ---------------------------------------------------------------------------

BUYER_HEADER = ["id", "name", "country", "languages", "interests", "sectors", "priority", "own_interpreter",
                "availability", "max_meetings", "max_meetings_per_day", "min_meetings"]
_TRICKY = ["", " ", "#REF!", "#N/A", "=2+3", "1e400", "nan", "-0", "9" * 40, "2023-10-22", "2023-10-22 09:30-12:00",
           "2023-02-30", "none", "yes", "welded-mesh:5", "a:b:c", ";;", "B001", "E001", "\u00a0", "x" * 10_001, "0.5"]
CELL = st.one_of(
    st.sampled_from(_TRICKY),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.text(alphabet=string.digits + ":;,.-– \n", max_size=20),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(CELL, min_size=len(BUYER_HEADER), max_size=len(BUYER_HEADER) + 2), min_size=1, max_size=4),
    header_extra=st.lists(st.sampled_from(["", "notes", "id", "#REF!"]), max_size=2),
)
def test_random_buyer_cells_import_or_raise_input_error(tmp_path_factory, rows, header_extra):
    folder = tmp_path_factory.mktemp("prop")
    for name in ("event.toml", "exhibitors.csv", "requests.csv", "blocked.csv"):
        shutil.copy(EXAMPLE / name, folder / name)
    write_csv(folder / "buyers.csv", [BUYER_HEADER + header_extra, *rows])
    try:
        result = import_scenario(folder / "event.toml", folder / "buyers.csv", folder / "exhibitors.csv",
                                 folder / "requests.csv", folder / "blocked.csv")
    except InputError as error:
        assert error.lines() and all(line.startswith(str(folder)) for line in error.lines())
    else:
        assert len(result.scenario.buyers) <= len(rows)
