"""schedule.xlsx: one workbook with the overview, agendas, booth x time grids and unscheduled requests.

Every table sheet has a bold frozen header row and an auto-filter; column widths
follow the content. Text from the input files is protected against formula
injection (a leading ``'`` before = + - @ tab CR) and stripped of the control
characters a workbook cannot hold.

Sheet names, the overview's figures and the grid's words are in the organizer's
language; column names stay the same in every language (they are the keys
documented in docs/export.md that formulas and scripts refer to).
"""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ...spec.scenario import minutes
from .common import Context, group_by_day, safe_cell, write_bytes_atomic

FILE_NAME = "schedule.xlsx"
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="DDE4EE")
MAX_WIDTH = 50

BUYER_AGENDA_COLUMNS = ["buyer_id", "buyer_name", "country", "date", "start", "end", "exhibitor_id", "exhibitor_name", "hall", "location", "interpreter"]
EXHIBITOR_AGENDA_COLUMNS = ["exhibitor_id", "exhibitor_name", "hall", "location", "date", "start", "end", "buyer_id", "buyer_name", "country", "interpreter"]
PARTICIPANT_COLUMNS = ["side", "id", "name", "country", "location", "meetings", "min_meetings", "max_meetings"]
UNSCHEDULED_COLUMNS = ["buyer_id", "buyer_name", "exhibitor_id", "exhibitor_name", "level", "by", "reason"]


def text(value: object) -> object:
    """A cell value from input text: formula-safe and without characters a workbook cannot hold."""
    if isinstance(value, str):
        return safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def _table(sheet: Worksheet, header: list[str], rows: list[list[object]], freeze: str = "A2", wrap: bool = False) -> None:
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    sheet.freeze_panes = freeze
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(1, len(rows) + 1)}"
    for index, name in enumerate(header, start=1):
        lengths = [len(str(name)) + 3]  # room for the filter button
        for row in rows:
            value = row[index - 1] if index - 1 < len(row) else None
            if value is not None:
                lengths.append(max(len(line) for line in str(value).split("\n")) if str(value) else 0)
        sheet.column_dimensions[get_column_letter(index)].width = min(MAX_WIDTH, max(8, max(lengths) + 2))
    if wrap:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")


def _date_cells(sheet: Worksheet, column_name: str, header: list[str]) -> None:
    letter = get_column_letter(header.index(column_name) + 1)
    for cell in sheet[letter][1:]:
        cell.number_format = "yyyy-mm-dd"


def export_xlsx(context: Context, outdir: Path) -> list[Path]:
    """Write ``outdir/schedule.xlsx``; return its path."""
    workbook = Workbook()
    t = context.organizer_translator
    overview = workbook.active
    overview.title = t.gettext("Overview")
    _table(overview, ["figure", "value"], [[label, text(value)] for label, value in context.overview()])

    buyers_sheet = workbook.create_sheet(t.gettext("Buyer agendas"))
    rows = []
    for buyer_id, meetings in context.buyer_meetings().items():
        buyer = context.buyers[buyer_id]
        for m in meetings:
            exhibitor = context.exhibitors[m.exhibitor]
            rows.append([text(buyer.id), text(buyer.name), text(buyer.country), m.date, m.start, m.end, text(exhibitor.id),
                         text(exhibitor.name), text(context.hall_label(m.location)), text(context.location_name(m.location)), text(m.interpreter or "")])
    _table(buyers_sheet, BUYER_AGENDA_COLUMNS, rows, freeze="C2")
    _date_cells(buyers_sheet, "date", BUYER_AGENDA_COLUMNS)

    exhibitors_sheet = workbook.create_sheet(t.gettext("Exhibitor agendas"))
    rows = []
    for exhibitor_id, meetings in context.exhibitor_meetings().items():
        exhibitor = context.exhibitors[exhibitor_id]
        for m in meetings:
            buyer = context.buyers[m.buyer]
            rows.append([text(exhibitor.id), text(exhibitor.name), text(context.hall_label(m.location)), text(context.location_name(m.location)),
                         m.date, m.start, m.end, text(buyer.id), text(buyer.name), text(buyer.country), text(m.interpreter or "")])
    _table(exhibitors_sheet, EXHIBITOR_AGENDA_COLUMNS, rows, freeze="C2")
    _date_cells(exhibitors_sheet, "date", EXHIBITOR_AGENDA_COLUMNS)

    by_day = group_by_day(context.meetings)
    for day in context.days():
        _grid(workbook.create_sheet(t.gettext("Grid %(date)s", date=day.isoformat())), context, day, by_day.get(day, []))

    per_buyer, per_exhibitor = context.per_buyer(), context.per_exhibitor()
    rows = [["buyer", text(b.id), text(b.name), text(b.country), "", per_buyer[b.id], b.min_meetings, b.max_meetings] for b in context.buyers.values()]
    rows += [["exhibitor", text(e.id), text(e.name), text(e.country or ""), text(context.scenario.meeting_location(e) or ""),
              per_exhibitor[e.id], e.min_meetings, e.max_meetings] for e in context.exhibitors.values()]
    _table(workbook.create_sheet(t.gettext("Participants")), PARTICIPANT_COLUMNS, rows, freeze="C2")

    rows = []
    for request in context.schedule.unscheduled_requests:
        rows.append([text(request.buyer), text(context.buyers[request.buyer].name), text(request.exhibitor),
                     text(context.exhibitors[request.exhibitor].name), request.level, request.by, text(request.reason)])
    _table(workbook.create_sheet(t.gettext("Unscheduled requests")), UNSCHEDULED_COLUMNS, rows)

    workbook.properties.creator = "matchmaker"
    workbook.properties.title = text(context.name)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return [write_bytes_atomic(outdir / FILE_NAME, buffer.getvalue())]


def _grid(sheet: Worksheet, context: Context, day, meetings) -> None:
    """Rows: locations; columns: slot start times; cells: who meets there then."""
    t = context.organizer_translator
    starts = context.slot_starts(day)
    cells: dict[tuple[str, str], list[str]] = {}
    for m in meetings:
        buyer, exhibitor = context.buyers[m.buyer], context.exhibitors[m.exhibitor]
        label = f"{buyer.name} ({buyer.id})"
        if len(context.exhibitors_at(m.location)) != 1:
            label += f" {t.gettext('with')} {exhibitor.name} ({exhibitor.id})"
        if m.interpreter:
            label += f" [{t.gettext('interpreter %(language)s', language=m.interpreter)}]"
        cells.setdefault((m.location, m.start), []).append(label)
    header = ["location", "hall", "exhibitors"] + [f"{s}" for s in sorted(starts, key=minutes)]
    rows = []
    for location_id in context.grid_locations():
        exhibitors = ", ".join(f"{e.name} ({e.id})" for e in context.exhibitors_at(location_id))
        row = [text(context.location_name(location_id)), text(context.hall_label(location_id)), text(exhibitors)]
        row += [text("\n".join(cells[(location_id, s)])) if (location_id, s) in cells else None for s in starts]
        rows.append(row)
    _table(sheet, header, rows, freeze="D2", wrap=True)
    for index in range(4, len(header) + 1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = min(sheet.column_dimensions[letter].width or 30, 30)
