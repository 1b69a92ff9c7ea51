"""Organizer spreadsheets -> scenario: ``matchmaker import``.

An event file (TOML: the fair's name, time zone, days, halls, places and
interpreters) plus spreadsheets of buyers and exhibitors (.xlsx or .csv), and
optionally of requests and blocked pairs, become one validated Scenario. The
column names and cell formats are documented in docs/import.md.

Every problem is reported where the organizer can find it: ``file:row:column:
problem`` for a spreadsheet cell (row 1 is the header row, as Excel numbers
rows) and ``file:key: problem`` for event.toml. Problems that only show once the
scenario is assembled (an unknown buyer in a request, a window on a day that is
not a fair day, a duplicate id) are traced back to the row and column they came
from. Nothing is returned unless there is no problem at all.

Inputs that would import wrong data silently are refused too: a column with data
but no name (a blank or merged header cell), merged data cells, a formula without
a saved value, a spreadsheet error value (``#REF!``...), and anything beyond the
size limits below (MAX_FILE_BYTES, MAX_UNPACKED_BYTES, MAX_ROWS, MAX_COLUMNS,
MAX_CELL_CHARS); see docs/import.md, "Refused inputs" and "Limits".
"""

from __future__ import annotations

import copy
import csv
import io
import logging
import re
import tomllib
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from xml.etree import ElementTree

from pydantic import ValidationError

from ..errors import InputError, Problem, ScenarioError
from ..spec.scenario import (
    Scenario,
    parse_scenario,
    semantic_problems,
    validation_problems,
)

logger = logging.getLogger(__name__)

DEFAULT_INTEREST_WEIGHT = 3
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt")

# Limits on what an organizer's spreadsheet may hold (docs/import.md, "Limits"). Far above any
# real fair (a few thousand participants, names of a few dozen characters); they stop a wrong or
# hostile file before it takes the memory and time of the machine.
MAX_FILE_BYTES = 50 * 1024 * 1024  # a spreadsheet file (.xlsx or .csv) on disk
MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # an .xlsx's members once unzipped (a "zip bomb" packs far more)
MAX_ROWS = 50_000  # rows below the header row
MAX_COLUMNS = 200  # columns holding anything, read or not
MAX_CELL_CHARS = 10_000  # characters in one cell the import reads (header cells included)

# Error values a spreadsheet shows instead of a result; never data. In an .xlsx error cells are
# recognized by their type whatever the code; in a .csv (and in text cells) by these texts.
EXCEL_ERRORS = frozenset(
    {
        "#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#SPILL!", "#CALC!", "#GETTING_DATA",
        "#BLOCKED!", "#BUSY!", "#CONNECT!", "#EXTERNAL!", "#FIELD!", "#PYTHON!", "#UNKNOWN!",
    }
)  # fmt: skip


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportProblem:
    """One defect (or warning) in an import file.

    ``where`` is ``"ROW:COLUMN"`` for a spreadsheet cell, a key path such as
    ``days[0].sessions[1]`` for event.toml, or ``""`` for the whole file.
    """

    file: str
    where: str
    message: str
    order: tuple = field(default=(), compare=False)

    def render(self) -> str:
        return f"{self.file}:{self.where}: {self.message}" if self.where else f"{self.file}: {self.message}"


class ImportFileError(InputError):
    """One or more import files are unusable; one line ``file:row:column: problem`` per defect."""

    def __init__(self, problems: list[ImportProblem]):
        self.import_problems = list(problems)
        super().__init__([Problem(p.where, p.message) for p in self.import_problems], None)

    def lines(self) -> list[str]:
        return [p.render() for p in self.import_problems]


@dataclass
class ImportResult:
    """The imported scenario and the warnings that did not stop the import."""

    scenario: Scenario
    warnings: list[ImportProblem]

    def to_json_data(self) -> dict:
        """The scenario as JSON data, without fields that only repeat their default."""
        return self.scenario.model_dump(mode="json", by_alias=True, exclude_defaults=True)


class _Collector:
    """Gathers problems of every file, in file and row order."""

    def __init__(self) -> None:
        self.problems: list[ImportProblem] = []
        self.warnings: list[ImportProblem] = []
        self._seen: set[tuple[str, str]] = set()

    def error(self, file: str, where: str, message: str, order: tuple = ()) -> None:
        key = (file, where)
        if where and key in self._seen:  # one problem per cell is enough (a bad cell also leaves a field missing)
            return
        self._seen.add(key)
        self.problems.append(ImportProblem(file, where, message, order))

    def warn(self, file: str, where: str, message: str) -> None:
        self.warnings.append(ImportProblem(file, where, message))


# ---------------------------------------------------------------------------
# Cell parsing
# ---------------------------------------------------------------------------


class CellError(ValueError):
    """A cell's text cannot be read; the message says what was expected."""


_SPLIT = re.compile(r"[;,\n\r]+")
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_RANGE = re.compile(r"^(\d{1,2}[:.]\d{2})\s*[-–—]\s*(\d{1,2}[:.]\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def cell_text(value: object) -> str:
    """The text of a spreadsheet cell, whatever type the spreadsheet stored it as."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value).replace("\u00a0", " ").strip()


def split_values(text: str) -> list[str]:
    """``welded-mesh; gabion`` -> ``["welded-mesh", "gabion"]`` (``;``, ``,`` or line breaks separate)."""
    return [part.strip() for part in _SPLIT.split(text) if part.strip()]


def category(text: str) -> str:
    """Categories and sectors are compared as lower-case slugs: ``Welded Mesh`` -> ``welded-mesh``."""
    return re.sub(r"\s+", "-", text.strip().lower())


def parse_time(text: str) -> str:
    """``9:30`` / ``09:30`` / ``9.30`` -> ``09:30``."""
    match = _TIME.match(text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise CellError(f"expected a time as HH:MM, got {text.strip()!r}")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def parse_date(text: str) -> str:
    text = text.strip()
    if not _DATE.match(text):
        raise CellError(f"expected a date as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise CellError(f"{text!r} is not a valid date") from None


def parse_range(text: str) -> tuple[str, str]:
    """``09:30-12:00`` -> ``("09:30", "12:00")``."""
    match = _RANGE.match(text.strip())
    if not match:
        raise CellError(f"expected a time range as HH:MM-HH:MM, got {text.strip()!r}")
    return parse_time(match.group(1)), parse_time(match.group(2))


def parse_windows(text: str) -> list[dict] | None:
    """``2023-10-22 09:30-12:00; 2023-10-23 13:30-17:00`` -> availability windows.

    A date alone means that whole day; several ranges may follow one date
    (``2023-10-22 09:30-12:00 13:30-17:00``). ``none`` means never available;
    an empty cell means the whole fair (None).
    """
    text = text.strip()
    if not text:
        return None
    if text.lower() in ("none", "never", "-"):
        return []
    windows = []
    for item in re.split(r"[;,\n\r]+", text):
        words = item.split()
        if not words:
            continue
        day = parse_date(words[0])
        ranges = words[1:]
        # Allow "09:30 - 12:00" with spaces around the dash.
        joined = re.sub(r"\s*[-–—]\s*", "-", " ".join(ranges)).split()
        if not joined:
            windows.append({"date": day, "start": "00:00", "end": "23:59"})
        for one in joined:
            start, end = parse_range(one)
            windows.append({"date": day, "start": start, "end": end})
    return windows


def parse_int(text: str) -> int:
    try:
        number = float(text.strip())
    except ValueError:
        raise CellError(f"expected a whole number, got {text.strip()!r}") from None
    if not number.is_integer():
        raise CellError(f"expected a whole number, got {text.strip()!r}")
    return int(number)


_TRUE = {"yes", "y", "true", "1", "x", "ja", "oui", "si", "да", "是"}
_FALSE = {"no", "n", "false", "0", "nein", "non", "нет", "否"}


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CellError(f"expected yes or no, got {text.strip()!r}")


def parse_interests(text: str) -> dict[str, int]:
    """``welded-mesh:5; gabion:3`` -> ``{"welded-mesh": 5, "gabion": 3}``; a bare category weighs 3."""
    interests: dict[str, int] = {}
    for item in split_values(text):
        name, _, weight_text = item.partition(":")
        slug = category(name)
        if not slug:
            raise CellError(f"category name missing in {item!r}")
        weight = DEFAULT_INTEREST_WEIGHT
        if weight_text.strip():
            try:
                weight = int(weight_text.strip())
            except ValueError:
                weight = 0
            if not 1 <= weight <= 5:
                raise CellError(f"weight of {slug!r} must be a whole number 1-5, got {weight_text.strip()!r}")
        if slug in interests:
            raise CellError(f"category {slug!r} is listed twice")
        interests[slug] = weight
    return interests


def _text(text: str) -> str:
    return text


def _categories(text: str) -> list[str]:
    return list(dict.fromkeys(category(v) for v in split_values(text)))


def _languages(text: str) -> list[str]:
    return list(dict.fromkeys(v.lower() for v in split_values(text)))


def _lower(text: str) -> str:
    return text.strip().lower()


@dataclass(frozen=True)
class Column:
    """A documented spreadsheet column: the scenario field it fills and how its cells are read."""

    field: str
    parse: Callable[[str], object]
    required: bool = False


_PARTICIPANT = {
    "id": Column("id", _text, required=True),
    "name": Column("name", _text, required=True),
    "sectors": Column("sectors", _categories),
    "languages": Column("languages", _languages),
    "availability": Column("availability", parse_windows),
    "max_meetings": Column("max_meetings", parse_int),
    "max_meetings_per_day": Column("max_meetings_per_day", parse_int),
    "min_meetings": Column("min_meetings", parse_int),
}

BUYER_COLUMNS: dict[str, Column] = {
    **_PARTICIPANT,
    "country": Column("country", _text, required=True),
    "interests": Column("interests", parse_interests),
    "priority": Column("priority", parse_int),
    "own_interpreter": Column("own_interpreter", parse_bool),
}

EXHIBITOR_COLUMNS: dict[str, Column] = {
    **_PARTICIPANT,
    "country": Column("country", _text),
    "booth": Column("location", _text),
    "hall": Column("hall", _text),  # implies the booth's location when event.toml does not list it
    "tables": Column("tables", parse_int),  # for an implied booth
    "offers": Column("offers", _categories),
}

REQUEST_COLUMNS: dict[str, Column] = {
    "buyer": Column("buyer", _text, required=True),
    "exhibitor": Column("exhibitor", _text, required=True),
    "by": Column("by", _lower),
    "level": Column("level", _lower),
    "meetings": Column("meetings", parse_int),  # a follow-up or a second team member: the pair meets this often
}

BLOCKED_COLUMNS: dict[str, Column] = {
    "buyer": Column("buyer", _text, required=True),
    "exhibitor": Column("exhibitor", _text, required=True),
    "reason": Column("reason", _text),
}

# Column to blame for a problem about a whole row.
_ROW_COLUMN = {"buyers": "id", "exhibitors": "id", "requests": "level", "blocked": "buyer", "locations": "booth"}


# ---------------------------------------------------------------------------
# Reading spreadsheets
# ---------------------------------------------------------------------------


def header_key(text: str) -> str:
    """``Max meetings per day`` -> ``max_meetings_per_day``."""
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


@dataclass
class Table:
    """A spreadsheet's rows as ``(row number, {column key: cell text})``; row 1 is the header."""

    file: str
    headers: dict[str, str]  # column key -> header text as written
    rows: list[tuple[int, dict[str, str]]]

    def column(self, key: str) -> str:
        return self.headers.get(key, key)


@dataclass(frozen=True)
class UncachedFormula:
    """An .xlsx cell holding a formula but no saved result (openpyxl and some generators write none)."""

    formula: str

    def __str__(self) -> str:
        return f"={self.formula}" if self.formula else "(shared formula)"


@dataclass(frozen=True)
class ErrorValue:
    """An .xlsx error cell (``#REF!``, ``#N/A``, ...): a broken formula's result, never data."""

    code: str

    def __str__(self) -> str:
        return self.code


def column_letter(position: int) -> str:
    """0 -> ``A``, 25 -> ``Z``, 26 -> ``AA``: the column as a spreadsheet shows it (CSV files too)."""
    letters = ""
    number = position + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _megabytes(size: int) -> str:
    """``52428800`` -> ``50.0 MB``; below a megabyte in KB."""
    if size < 1024 * 1024:
        return f"{size / 1024:,.1f} KB"
    return f"{size / (1024 * 1024):,.1f} MB"


def _check_file_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CellError(f"the file is {_megabytes(size)}; the import reads spreadsheets of at most {_megabytes(MAX_FILE_BYTES)}")


def _check_shape(rows: int, columns: int) -> None:
    """``rows`` counts the header row."""
    if rows - 1 > MAX_ROWS:
        raise CellError(f"has data in row {rows:,}, beyond the {MAX_ROWS:,} rows below the header that the import reads; is it the right file?")
    if columns > MAX_COLUMNS:
        raise CellError(
            f"has data in column {column_letter(columns - 1)} ({columns:,}), beyond the {MAX_COLUMNS:,} columns that the import reads; "
            "is it the right file?"
        )


_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_COORDINATE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def _coordinate(ref: str) -> tuple[int, int] | None:
    """``B3`` -> ``(3, 2)`` (row, column; 1-based)."""
    match = _COORDINATE.match(ref)
    if not match:
        return None
    column = 0
    for char in match.group(1).upper():
        column = column * 26 + ord(char) - ord("A") + 1
    return int(match.group(2)), column


@dataclass
class _SheetScan:
    """What openpyxl's values do not tell: the true extent, formulas without a result, error cells, merges."""

    rows: int = 0  # last row holding anything
    columns: int = 0  # last column holding anything
    special: dict[tuple[int, int], object] = field(default_factory=dict)  # (row, column) -> UncachedFormula | ErrorValue
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # (min_col, min_row, max_col, max_row)


def _scan_sheet(source) -> _SheetScan:
    """Stream the sheet's XML once: extent, formula cells without a saved value, error cells and merged ranges.

    Stops as soon as the sheet is larger than the limits, before anything is loaded.
    """
    scan = _SheetScan()
    row = column = 0
    sheet_data = None
    for event, element in ElementTree.iterparse(source, events=("start", "end")):
        tag = element.tag
        if event == "start":
            if tag == _SHEET_NS + "row":
                row = int(element.get("r") or row + 1)
                column = 0
            elif tag == _SHEET_NS + "sheetData":
                sheet_data = element
            continue
        if tag == _SHEET_NS + "c":
            at = _coordinate(element.get("r") or "")
            if at is None:
                at = (row, column + 1)
            column = at[1]
            formula = element.find(_SHEET_NS + "f")
            value = element.find(_SHEET_NS + "v")
            has_value = (value is not None and bool(value.text)) or element.find(_SHEET_NS + "is") is not None
            kind = element.get("t", "n")
            if formula is not None and not has_value and kind != "str":  # t="str" with no text: the formula's result is ""
                scan.special[at] = UncachedFormula((formula.text or "").strip())
            elif kind == "e" and has_value:
                scan.special[at] = ErrorValue((value.text or "").strip() if value is not None else "#VALUE!")
            if has_value or formula is not None:
                scan.rows = max(scan.rows, at[0])
                scan.columns = max(scan.columns, at[1])
                _check_shape(scan.rows, scan.columns)
        elif tag == _SHEET_NS + "row":
            element.clear()
            if sheet_data is not None:
                sheet_data.clear()  # keep memory flat however many rows there are
        elif tag == _SHEET_NS + "mergeCell":
            bounds = [_coordinate(part) for part in (element.get("ref") or "").split(":")]
            if len(bounds) == 2 and None not in bounds:
                (row1, col1), (row2, col2) = bounds  # type: ignore[misc]
                scan.merged.append((min(col1, col2), min(row1, row2), max(col1, col2), max(row1, row2)))
    return scan


def _raw_rows_xlsx(path: Path) -> tuple[list[tuple], list[tuple[int, int, int, int]]]:
    """The first sheet's cell values (formula results, never formulas) and its merged ranges.

    A formula cell without a saved result becomes an UncachedFormula, an error cell an ErrorValue.
    """
    import openpyxl  # imported here: only imports of .xlsx files need it

    _check_file_size(path)
    with zipfile.ZipFile(path) as archive:  # before openpyxl unpacks anything: a small file may unpack to gigabytes
        unpacked = sum(member.file_size for member in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise CellError(
            f"the workbook unpacks to {_megabytes(unpacked)}; the import reads workbooks of at most "
            f"{_megabytes(MAX_UNPACKED_BYTES)} unpacked (is it damaged, or not an organizer's sheet?)"
        )
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)  # data_only: saved results, not formulas
    try:
        sheet = workbook.worksheets[0]
        with workbook._archive.open(sheet._worksheet_path) as source:  # openpyxl keeps these two private
            scan = _scan_sheet(source)
        if scan.rows == 0:
            return [], scan.merged
        rows = []
        for number, values in enumerate(
            sheet.iter_rows(min_row=1, max_row=scan.rows, max_col=scan.columns, values_only=True), start=1
        ):
            row = list(values)
            for position in range(len(row)):
                special = scan.special.get((number, position + 1))
                if special is not None:
                    row[position] = special
            rows.append(tuple(row))
        return rows, scan.merged
    finally:
        workbook.close()


def _raw_rows_csv(path: Path) -> tuple[list[list[str]], list[tuple[int, int, int, int]]]:
    _check_file_size(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CellError('is not UTF-8 text; in Excel save it as "CSV UTF-8 (comma delimited)"') from None
    first_line = text.split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=first_line.count)
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            while row and not row[-1].strip():
                row.pop()  # trailing empty cells are no column
            rows.append(row)
            _check_shape(len(rows), len(row))
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise CellError(f"row {len(rows) + 1} has a cell of more than {MAX_CELL_CHARS:,} characters; the import reads at most {MAX_CELL_CHARS:,}") from None
        raise CellError(f"cannot read the CSV text near row {len(rows) + 1}: {error}") from None
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # blank lines at the end are no rows
    return rows, []


def _cell_problem(value: object, text: str) -> str | None:
    """Why a cell the import reads is refused: a formula without a result, an error value, too long a text."""
    if isinstance(value, UncachedFormula):
        return (
            f"formula {value} without a saved value; open and save the file in Excel/LibreOffice, or type the value"
        )
    if isinstance(value, ErrorValue) or text.upper() in EXCEL_ERRORS:
        code = str(value) if isinstance(value, ErrorValue) else text
        return f"the cell holds the error value {code}, not data; correct it (or the formula it comes from) in the spreadsheet"
    if len(text) > MAX_CELL_CHARS:
        return f"the cell holds {len(text):,} characters; the import reads at most {MAX_CELL_CHARS:,} in a cell"
    return None


def _header_problems(
    file: str, raw: list, merged: list[tuple[int, int, int, int]], out: _Collector, order: int
) -> None:
    """A column with data below a blank (or merged-away) name cell: its data would silently be dropped."""
    header = raw[0]
    first_data: dict[int, int] = {}  # 0-based column -> first row with data
    for number, raw_row in enumerate(raw[1:], start=2):
        for position, value in enumerate(raw_row):
            if position not in first_data and cell_text(value):
                first_data[position] = number
    merged_into: dict[int, int] = {}  # 0-based column -> 0-based first column of a merged range covering row 1
    for min_col, min_row, max_col, max_row in merged:
        if min_row <= 1 <= max_row:
            for col in range(min_col + 1, max_col + 1):
                merged_into[col - 1] = min_col - 1
    for position, row in sorted(first_data.items()):
        value = header[position] if position < len(header) else None
        if cell_text(value):
            continue
        letter = column_letter(position)
        if position in merged_into:
            first = merged_into[position]
            name = cell_text(header[first]) if first < len(header) else ""
            message = (
                f"column {letter} has data (from row {row}) but no name: its name cell is merged with "
                f"{column_letter(first)}1 ({name!r}); unmerge the header cells and name each column"
            )
        else:
            message = f"column {letter} has data (from row {row}) but no name in row 1; name the column (see docs/import.md) or delete its data"
        out.error(file, f"1:{letter}", message, (order, 1))


def _merged_data_problems(
    file: str, raw: list, merged: list[tuple[int, int, int, int]], read: dict[int, str], out: _Collector, order: int
) -> None:
    """Merged cells below the header in a column the import reads: only the first cell holds the value.

    One problem per merged range; its cells are then read as the spreadsheet shows them (all with
    the first cell's value), so that the empty covered cells do not each repeat the problem.
    """
    for min_col, min_row, max_col, max_row in sorted(merged, key=lambda m: (m[1], m[0])):
        if max_row < 2 or (min_col, min_row) == (max_col, max_row):
            continue
        columns = [read[col - 1] for col in range(min_col, max_col + 1) if col - 1 in read]
        if not columns:
            continue
        top = max(min_row, 2)
        cells = f"{column_letter(min_col - 1)}{min_row}:{column_letter(max_col - 1)}{max_row}"
        out.error(
            file,
            f"{top}:{columns[0]}",
            f"cells {cells} are merged, so only the first of them holds a value; unmerge them and fill in every cell",
            (order, top),
        )
        first = raw[min_row - 1][min_col - 1] if min_row - 1 < len(raw) and min_col - 1 < len(raw[min_row - 1]) else None
        for row in range(max(min_row, 2), min(max_row, len(raw)) + 1):
            values = list(raw[row - 1])
            values += [None] * (max_col - len(values))
            for col in range(min_col, max_col + 1):
                values[col - 1] = first
            raw[row - 1] = tuple(values)


def read_table(path: Path, kind: str, columns: dict[str, Column], out: _Collector, order: int) -> Table | None:
    """Read the first sheet of ``path``; header problems go to ``out``; None when the file is unusable."""
    file = str(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            raw, merged = _raw_rows_xlsx(path)
        elif suffix in (".csv", ".txt"):
            raw, merged = _raw_rows_csv(path)
        elif suffix == ".xls":
            out.error(file, "", "the old .xls format is not supported; save it as .xlsx or CSV UTF-8", (order, 0))
            return None
        else:
            out.error(file, "", f"unsupported file type {path.suffix or '(none)'!r}; use .xlsx or .csv", (order, 0))
            return None
    except FileNotFoundError:
        out.error(file, "", "file not found", (order, 0))
        return None
    except CellError as error:
        out.error(file, "", str(error), (order, 0))
        return None
    except OSError as error:
        out.error(file, "", f"cannot read file: {error.strerror or error}", (order, 0))
        return None
    except Exception as error:  # openpyxl raises many types for a damaged or non-xlsx file
        out.error(file, "", f"cannot read workbook: {error}", (order, 0))
        return None

    if not raw or not any(cell_text(v) for v in raw[0]):
        out.error(file, "1", f"row 1 must hold the column names ({', '.join(k for k, c in columns.items() if c.required)}, ...)", (order, 1))
        return None
    headers: dict[str, str] = {}
    positions: list[tuple[int, str]] = []
    _header_problems(file, raw, merged, out, order)
    for position, value in enumerate(raw[0]):
        name = cell_text(value)
        if not name:
            continue
        problem = _cell_problem(value, name)
        if problem is not None:
            out.error(file, f"1:{column_letter(position)}", problem, (order, 1))
            continue
        key = header_key(name)
        if key in headers:
            out.error(file, f"1:{name}", f"column {name!r} appears twice", (order, 1))
            continue
        headers[key] = name
        if key in columns:
            positions.append((position, key))
        else:
            out.warn(file, f"1:{name}", f"column {name!r} is not one the import reads (see docs/import.md); ignored")
    missing = [key for key, column in columns.items() if column.required and key not in headers]
    for key in missing:
        out.error(file, f"1:{key}", "required column is missing", (order, 1))
    if missing:
        return None
    _merged_data_problems(file, raw, merged, {position: headers[key] for position, key in positions}, out, order)

    rows = []
    for number, raw_row in enumerate(raw[1:], start=2):
        cells: dict[str, str] = {}
        for position, key in positions:
            value = raw_row[position] if position < len(raw_row) else None
            text = cell_text(value)
            problem = _cell_problem(value, text)
            if problem is not None:
                out.error(file, f"{number}:{headers[key]}", problem, (order, number))
                text = ""  # reported; the cell's other checks would only repeat it
            cells[key] = text
        if not any(cells.values()) and not any(cell_text(v) for v in raw_row):
            continue  # blank row
        rows.append((number, cells))
    if not rows:
        out.warn(file, "", f"no {kind} rows below the header")
    return Table(file, headers, rows)


@dataclass
class _Origin:
    """Where an item of the assembled scenario came from, for tracing its problems back."""

    table: Table
    row: int
    kind: str
    fields: dict[str, str]  # scenario field -> column key


def _rows_to_items(table: Table, kind: str, columns: dict[str, Column], out: _Collector, order: int) -> list[tuple[dict, _Origin]]:
    items = []
    field_to_key = {column.field: key for key, column in columns.items()}
    for number, cells in table.rows:
        item: dict[str, object] = {}
        for key, text in cells.items():
            column = columns[key]
            where = f"{number}:{table.column(key)}"
            if not text:
                if column.required:
                    out.error(table.file, where, "required; the cell is empty", (order, number))
                continue
            try:
                item[column.field] = column.parse(text)
            except CellError as error:
                out.error(table.file, where, str(error), (order, number))
        items.append((item, _Origin(table, number, kind, field_to_key)))
    return items


# ---------------------------------------------------------------------------
# event.toml
# ---------------------------------------------------------------------------

_EVENT_FORBIDDEN = {
    "buyers": "--buyers",
    "exhibitors": "--exhibitors",
    "requests": "--requests",
    "blocked": "--blocked",
}


def _plain(value: object) -> object:
    """TOML dates and times -> the scenario's ISO date / HH:MM strings, recursively."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _event_windows(value: object, path: str, file: str, out: _Collector) -> object:
    """Availability in event.toml: a string like a spreadsheet cell, a list of such strings, or tables."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return value  # pydantic will say what is wrong
    windows: list = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            try:
                windows.extend(parse_windows(item) or [])
            except CellError as error:
                out.error(file, f"{path}[{index}]", str(error), (0, 0))
        else:
            windows.append(item)
    return windows


def read_event(path: Path, out: _Collector) -> dict | None:
    """event.toml -> the scenario's top-level fields (everything but participants, requests, blocked)."""
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        out.error(file, "", "file not found", (0, 0))
        return None
    except UnicodeDecodeError:
        out.error(file, "", "is not UTF-8 text", (0, 0))
        return None
    except OSError as error:
        out.error(file, "", f"cannot read file: {error.strerror or error}", (0, 0))
        return None
    except tomllib.TOMLDecodeError as error:
        out.error(file, "", f"invalid TOML: {error}", (0, 0))
        return None
    for key, option in _EVENT_FORBIDDEN.items():
        if key in data:
            out.error(file, key, f"{key} come from the {option} spreadsheet, not from the event file", (0, 0))
            del data[key]
    event = _plain(data)
    assert isinstance(event, dict)
    days = event.get("days")
    if isinstance(days, list):
        for d_index, day in enumerate(days):
            sessions = day.get("sessions") if isinstance(day, dict) else None
            if not isinstance(sessions, list):
                continue
            for s_index, session in enumerate(sessions):
                if isinstance(session, str):
                    try:
                        start, end = parse_range(session)
                        sessions[s_index] = {"start": start, "end": end}
                    except CellError as error:
                        out.error(file, f"days[{d_index}].sessions[{s_index}]", str(error), (0, 0))
    pools = event.get("interpreters")
    if isinstance(pools, list):
        for i_index, pool in enumerate(pools):
            if isinstance(pool, dict) and "availability" in pool:
                pool["availability"] = _event_windows(pool["availability"], f"interpreters[{i_index}].availability", file, out)
    return event


# ---------------------------------------------------------------------------
# Assembling and validating
# ---------------------------------------------------------------------------

_ITEM_PATH = re.compile(r"^(buyers|exhibitors|requests|blocked|locations)\[(\d+)\](?:\.([A-Za-z_]+))?")


def import_scenario(
    event: str | Path,
    buyers: str | Path,
    exhibitors: str | Path,
    requests: str | Path | None = None,
    blocked: str | Path | None = None,
) -> ImportResult:
    """Build a validated Scenario from an event file and organizer spreadsheets.

    Raises ImportFileError listing every problem (``file:row:column: problem``);
    returns the scenario and the warnings (categories nobody offers, participants
    nobody matches, unused columns) otherwise.
    """
    out = _Collector()
    event_path = Path(event)
    event_data = read_event(event_path, out)

    sources = [("buyers", Path(buyers), BUYER_COLUMNS), ("exhibitors", Path(exhibitors), EXHIBITOR_COLUMNS)]
    if requests is not None:
        sources.append(("requests", Path(requests), REQUEST_COLUMNS))
    if blocked is not None:
        sources.append(("blocked", Path(blocked), BLOCKED_COLUMNS))
    items: dict[str, list[tuple[dict, _Origin]]] = {}
    unreadable = event_data is None
    for order, (kind, path, columns) in enumerate(sources, start=1):
        table = read_table(path, kind, columns, out, order)
        unreadable = unreadable or table is None
        items[kind] = _rows_to_items(table, kind, columns, out, order) if table else []
    if unreadable:
        _raise(out)  # a file or its header cannot be read: the scenario as a whole cannot be checked

    assert event_data is not None
    origins: dict[str, _Origin] = {}
    data = dict(event_data)
    for kind in ("buyers", "exhibitors", "requests", "blocked"):
        data[kind] = []
        for index, (item, origin) in enumerate(items.get(kind, [])):
            data[kind].append(item)
            origins[f"{kind}[{index}]"] = origin
    _imply_locations(data, items.get("exhibitors", []), origins, out)

    # parse_scenario stops at the first stage with problems (field checks before cross-references);
    # to list every problem at once, fields that fail are set aside and the cross-references checked too.
    checked: Scenario | None = None
    try:
        checked = Scenario.model_validate(data)
    except ValidationError as error:
        for problem in validation_problems(error):
            _trace(problem, origins, str(event_path), out)
        repaired = _set_aside(data, error)
        if repaired is not None:
            try:
                checked = Scenario.model_validate(repaired)
            except ValidationError:
                checked = None
    if checked is not None:
        for problem in semantic_problems(checked):
            _trace(problem, origins, str(event_path), out)
    if out.problems:
        _raise(out)
    try:
        scenario = parse_scenario(data, str(event_path))
    except ScenarioError as error:  # not expected: every check above is parse_scenario's own
        for problem in error.problems:
            _trace(problem, origins, str(event_path), out)
        _raise(out)
    _match_warnings(scenario, origins, out)
    logger.info("imported %r: %d buyers, %d exhibitors, %d requests", scenario.name, len(scenario.buyers), len(scenario.exhibitors), len(scenario.requests))
    return ImportResult(scenario, out.warnings)


_ITEM_KINDS = ("buyers", "exhibitors", "requests", "blocked", "locations")
_REQUIRED = {"id", "name", "country", "buyer", "exhibitor", "hall"}


def _set_aside(data: dict, error: ValidationError) -> dict | None:
    """A copy of ``data`` without the item fields that failed (placeholders for required ones).

    None when a problem is outside the spreadsheet items (event.toml), which cannot be set aside.
    """
    repaired = copy.deepcopy(data)
    for item in error.errors(include_url=False):
        loc = item["loc"]
        if len(loc) < 3 or loc[0] not in _ITEM_KINDS or not isinstance(loc[1], int) or not isinstance(loc[2], str):
            return None
        kind, index, name = loc[0], loc[1], loc[2]
        target = repaired[kind][index]
        if name in _REQUIRED:
            target[name] = f"\u2400invalid-{kind}-{index}-{name}"  # never a real id: shows up only as a deduplicated problem
        else:
            target.pop(name, None)
    return repaired


def _raise(out: _Collector) -> None:
    problems = sorted(out.problems, key=lambda p: p.order)  # stable: file order, then row
    raise ImportFileError(problems)


def _imply_locations(data: dict, exhibitors: list[tuple[dict, _Origin]], origins: dict[str, _Origin], out: _Collector) -> None:
    """Booths named in the exhibitors' booth column become locations in the hall of their hall column."""
    locations = data.get("locations")
    if locations is None:
        locations = data["locations"] = []
    if not isinstance(locations, list):
        return
    known = {loc.get("id"): loc for loc in locations if isinstance(loc, dict)}
    implied: dict[str, tuple[dict, _Origin]] = {}
    for item, origin in exhibitors:
        hall = item.pop("hall", None)
        tables = item.pop("tables", None)
        booth = item.get("location")
        file, row = origin.table.file, origin.row
        where_hall = f"{row}:{origin.table.column('hall')}"
        where_booth = f"{row}:{origin.table.column('booth')}"
        if booth is None:
            if hall is not None:
                out.error(file, where_booth, f"hall {hall!r} is given but the booth is empty", (2, row))
            continue
        if booth in known:
            location = known[booth]
            if hall is not None and location.get("hall") != hall:
                out.error(file, where_hall, f"booth {booth!r} is in hall {location.get('hall')!r} according to the event file, not {hall!r}", (2, row))
            if tables is not None and location.get("tables", 1) != tables:
                out.error(file, f"{row}:{origin.table.column('tables')}", f"booth {booth!r} has {location.get('tables', 1)} table(s) in the event file, not {tables}", (2, row))
            continue
        if booth in implied:
            first, first_origin = implied[booth]
            if hall is not None and first["hall"] != hall:
                out.error(file, where_hall, f"booth {booth!r} is in hall {first['hall']!r} on row {first_origin.row}, not {hall!r}", (2, row))
            if tables is not None and first.get("tables", 1) != tables:
                out.error(file, f"{row}:{origin.table.column('tables')}", f"booth {booth!r} has {first.get('tables', 1)} table(s) on row {first_origin.row}, not {tables}", (2, row))
            continue
        if hall is None:
            out.error(file, where_hall, f"booth {booth!r} is not a location of the event file, so its hall is needed", (2, row))
            continue
        location = {"id": booth, "hall": hall}
        if tables is not None:
            location["tables"] = tables
        implied[booth] = (location, origin)
        origins[f"locations[{len(locations)}]"] = _Origin(origin.table, row, "locations", {"id": "booth", "hall": "hall", "tables": "tables"})
        locations.append(location)


def _trace(problem: Problem, origins: dict[str, _Origin], event_file: str, out: _Collector) -> None:
    """Report a scenario problem at the spreadsheet row and column it came from (else in event.toml)."""
    match = _ITEM_PATH.match(problem.path)
    origin = origins.get(f"{match.group(1)}[{match.group(2)}]") if match else None
    if origin is None:
        out.error(event_file, problem.path, problem.message, (0, 0))
        return
    field_name = match.group(3)
    key = origin.fields.get(field_name, field_name) if field_name else _ROW_COLUMN.get(origin.kind, "id")
    message = problem.message
    if message == "required field is missing":
        message = "required; the cell is empty" if key in origin.table.headers else f"required column {key!r} is missing"
    order = {"buyers": 1, "exhibitors": 2, "requests": 3, "blocked": 4, "locations": 2}[origin.kind]
    out.error(origin.table.file, f"{origin.row}:{origin.table.column(key)}", _row_words(message, origins), (order, origin.row))


def _row_words(message: str, origins: dict[str, _Origin]) -> str:
    """``(also buyers[3].id)`` -> ``(also row 5 of buyers.csv)``: point at rows, not JSON paths."""

    def replace(match: re.Match) -> str:
        origin = origins.get(f"{match.group(1)}[{match.group(2)}]")
        return f"row {origin.row} of {origin.table.file}" if origin else match.group(0)

    return re.sub(r"\b(buyers|exhibitors|requests|blocked|locations)\[(\d+)\](?:\.[A-Za-z_]+)?", replace, message)


def _match_warnings(scenario: Scenario, origins: dict[str, _Origin], out: _Collector) -> None:
    """Categories nobody offers, and participants who match nobody: worth a look, not an error."""
    offered = {cat for e in scenario.exhibitors for cat in e.offers}
    wanted = {cat for b in scenario.buyers for cat in b.interests}
    requested = {r.buyer for r in scenario.requests} | {r.exhibitor for r in scenario.requests}
    requested |= {p.buyer for p in scenario.pinned} | {p.exhibitor for p in scenario.pinned}

    def at(kind: str, index: int, column: str) -> tuple[str, str]:
        origin = origins[f"{kind}[{index}]"]
        return origin.table.file, f"{origin.row}:{origin.table.column(column)}"

    unknown: dict[str, list[int]] = defaultdict(list)
    for index, buyer in enumerate(scenario.buyers):
        for cat in buyer.interests:
            if cat not in offered:
                unknown[cat].append(index)
    for cat, indices in unknown.items():
        file, where = at("buyers", indices[0], "interests")
        also = [origins[f"buyers[{i}]"].row for i in indices[1:]]
        more = f" (also rows {', '.join(map(str, also))})" if also else ""
        out.warn(file, where, f"category {cat!r} is not offered by any exhibitor{more}")
    for index, buyer in enumerate(scenario.buyers):
        if buyer.id not in requested and not (set(buyer.interests) & offered):
            file, where = at("buyers", index, "interests")
            out.warn(file, where, f"buyer {buyer.id!r} matches no exhibitor: no category in common and no request")
    for index, exhibitor in enumerate(scenario.exhibitors):
        if exhibitor.id not in requested and not (set(exhibitor.offers) & wanted):
            file, where = at("exhibitors", index, "offers")
            out.warn(file, where, f"exhibitor {exhibitor.id!r} matches no buyer: no category in common and no request")
