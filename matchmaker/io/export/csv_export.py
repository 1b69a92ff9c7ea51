"""meetings.csv: one row per meeting, for mail merges.

UTF-8 with a byte-order mark, so Excel shows Cyrillic, Arabic and Chinese names
correctly when the file is double-clicked; comma-separated, CRLF line ends,
fields quoted when needed. Text from the input files is protected against
formula injection (a leading ``'`` before = + - @ tab CR).

``buyer_text`` and ``exhibitor_text`` say the meeting in one sentence in that
side's language (``buyer_language``, ``exhibitor_language``: BCP 47 tags), ready
to be merged into a letter.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ...spec.schedule import Meeting
from ..i18n import Translator
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
    "buyer_language",
    "buyer_text",
    "exhibitor_language",
    "exhibitor_text",
]


def meeting_sentence(context: Context, meeting: Meeting, counterpart: str, t: Translator) -> str:
    """The meeting in one sentence in ``t``'s language, naming ``counterpart``."""
    values = {
        "name": counterpart,
        "date": t.date(meeting.date),
        "time": t.time_range(meeting.start, meeting.end),
        "zone": t.timezone_name(context.scenario.timezone, meeting.date),
        "place": context.location_label(meeting.location, t),
    }
    if meeting.interpreter:  # one sentence each way: languages join clauses differently
        return t.gettext(
            "Meeting with %(name)s on %(date)s, %(time)s (%(zone)s), %(place)s, with an interpreter (%(language)s).",
            language=t.language_name(meeting.interpreter),
            **values,
        )
    return t.gettext("Meeting with %(name)s on %(date)s, %(time)s (%(zone)s), %(place)s.", **values)


def meeting_rows(context: Context) -> list[list[object]]:
    rows = []
    for meeting in context.meetings:
        buyer = context.buyers[meeting.buyer]
        exhibitor = context.exhibitors[meeting.exhibitor]
        buyer_reader, exhibitor_reader = context.buyer_translator(buyer.id), context.exhibitor_translator(exhibitor.id)
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
                buyer_reader.tag,
                safe_cell(meeting_sentence(context, meeting, exhibitor.name, buyer_reader)),
                exhibitor_reader.tag,
                safe_cell(meeting_sentence(context, meeting, buyer.name, exhibitor_reader)),
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
