"""meetings.csv: one row per meeting, for mail merges.

UTF-8 with a byte-order mark, so Excel shows Cyrillic, Arabic and Chinese names
correctly when the file is double-clicked; comma-separated, CRLF line ends,
fields quoted when needed. Text from the input files is protected against
formula injection (a leading ``'`` before = + - @ tab CR).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .common import Context, safe_cell, write_bytes_atomic

FILE_NAME = "meetings.csv"

COLUMNS = [
    "date",
    "start",
    "end",
    "buyer_id",
    "buyer_name",
    "buyer_country",
    "exhibitor_id",
    "exhibitor_name",
    "hall",
    "hall_name",
    "location",
    "location_name",
    "interpreter",
]


def meeting_rows(context: Context) -> list[list[object]]:
    rows = []
    for meeting in context.meetings:
        buyer = context.buyers[meeting.buyer]
        exhibitor = context.exhibitors[meeting.exhibitor]
        rows.append(
            [
                meeting.date.isoformat(),
                meeting.start,
                meeting.end,
                safe_cell(buyer.id),
                safe_cell(buyer.name),
                safe_cell(buyer.country),
                safe_cell(exhibitor.id),
                safe_cell(exhibitor.name),
                safe_cell(context.hall_of(meeting.location)),
                safe_cell(context.hall_label(meeting.location)),
                safe_cell(meeting.location),
                safe_cell(context.location_name(meeting.location)),
                safe_cell(meeting.interpreter or ""),
            ]
        )
    return rows


def export_csv(context: Context, outdir: Path) -> list[Path]:
    """Write ``outdir/meetings.csv``; return its path."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(meeting_rows(context))
    data = buffer.getvalue().encode("utf-8-sig")
    return [write_bytes_atomic(outdir / FILE_NAME, data)]
