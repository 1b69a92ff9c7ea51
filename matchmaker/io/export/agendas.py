"""Agenda pages: ``agendas/buyer-<id>.html`` and ``agendas/exhibitor-<id>.html``, one printable page each.

Each page is in its participant's language (``<html lang>``; Arabic right to left,
``dir="rtl"``, mirrored through CSS logical properties), with dates and times the
local way (Babel's CLDR data), and lists per fair day: time, the counterpart's name,
hall, booth and the interpreter's language when one is booked. Pages are
self-contained (inline CSS, no script, ``Content-Security-Policy: default-src
'none'``) and print on A4. Names are HTML-escaped (Jinja2 autoescaping) and set in
``<bdi>`` so that a name in one script does not reorder the text around it.
"""

from __future__ import annotations

from pathlib import Path

from ...spec.scenario import Buyer, Exhibitor
from ...spec.schedule import Meeting
from ..i18n import Translator
from .common import Context, file_stem, group_by_day, write_bytes_atomic
from .templates import template_environment

FOLDER = "agendas"


def _rows(context: Context, meetings: list[Meeting], t: Translator, counterpart_side: str) -> list[dict]:
    rows = []
    for m in meetings:
        if counterpart_side == "exhibitor":
            other: Buyer | Exhibitor = context.exhibitors[m.exhibitor]
            country = ""
        else:
            other = context.buyers[m.buyer]
            country = other.country
        rows.append({
            "time": t.time_range(m.start, m.end),
            "with": other.name,
            "with_id": other.id,
            "with_country": country,
            "hall": context.hall_label(m.location),
            "place": context.location_name(m.location),
            "interpreter": t.language_name(m.interpreter) if m.interpreter else "",
        })
    return rows


def render_agenda(context: Context, side: str, participant: Buyer | Exhibitor, meetings: list[Meeting], t: Translator) -> str:
    """One participant's agenda page as HTML, in ``t``'s language."""
    zone = context.scenario.timezone
    first_day = context.scenario.days[0].date
    facts: list[tuple[str, str]] = []
    if isinstance(participant, Buyer):
        facts.append((t.gettext("Country"), participant.country))
    else:
        booth = context.scenario.meeting_location(participant)
        if booth:
            facts += [(t.gettext("Hall"), context.hall_label(booth)), (t.gettext("Booth"), context.location_name(booth))]
    facts += [
        (t.gettext("Fair"), context.name),
        (t.gettext("Time zone"), t.timezone(zone, first_day)),
        (t.gettext("Meetings"), t.number(len(meetings))),
    ]
    counterpart = "exhibitor" if side == "buyer" else "buyer"
    days = [
        {"date": t.date(day), "rows": _rows(context, day_meetings, t, counterpart)}
        for day, day_meetings in sorted(group_by_day(meetings).items())
    ]
    template = template_environment(t.language).get_template("agenda.html")
    return template.render(
        lang=t.tag,
        dir=t.direction,
        name=participant.name,
        id=participant.id,
        role=t.gettext("Buyer") if side == "buyer" else t.gettext("Exhibitor"),
        fair=context.name,
        facts=facts,
        days=days,
        interpreted=any(m.interpreter for m in meetings),
        version=context.schedule.version,
    )


def export_agendas(context: Context, outdir: Path) -> list[Path]:
    """Write one agenda page per buyer and per exhibitor into ``outdir/agendas``; return the paths."""
    folder = outdir / FOLDER
    written = []
    for buyer_id, meetings in context.buyer_meetings().items():
        page = render_agenda(context, "buyer", context.buyers[buyer_id], meetings, context.buyer_translator(buyer_id))
        written.append(write_bytes_atomic(folder / f"{file_stem('buyer', buyer_id)}.html", page.encode("utf-8")))
    for exhibitor_id, meetings in context.exhibitor_meetings().items():
        page = render_agenda(context, "exhibitor", context.exhibitors[exhibitor_id], meetings, context.exhibitor_translator(exhibitor_id))
        written.append(write_bytes_atomic(folder / f"{file_stem('exhibitor', exhibitor_id)}.html", page.encode("utf-8")))
    return written
