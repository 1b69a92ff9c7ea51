"""report.html: one self-contained, printable report (no network: inline CSS, JS and SVG only).

In the organizer's language (``Languages.organizer``): the template's words through ``_()``,
the search count's wording from data attributes (the script fills in the numbers).

Rendered from ``matchmaker/templates/report.html`` with Jinja2 autoescaping, so
every text from the input files is HTML-escaped. No input text is placed inside
the script: the search reads ``data-search`` attributes. A Content-Security-Policy
``default-src 'none'`` forbids the page to load anything from anywhere.

Search: the box filters the agenda sections by id, name, country or place; the
page also takes the search text from its address (``report.html#search=B001``),
so a link can open one participant's agenda.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from .common import Context, group_by_day, write_bytes_atomic
from .templates import template_environment

FILE_NAME = "report.html"
CHART_HEIGHT = 120
BAR_WIDTH = 8
BAR_GAP = 2


def search_text(*parts: object) -> str:
    """What the search box compares against: NFKC, lower case (the script does the same to the query)."""
    joined = " ".join(str(p) for p in parts if p)
    return unicodedata.normalize("NFKC", joined).lower()


@dataclass
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str


def bar_chart(counts: list[tuple[str, int]]) -> dict:
    """Geometry of an inline SVG bar chart, one bar per participant, tallest first."""
    ordered = sorted(counts, key=lambda item: (-item[1], item[0]))
    top = max((count for _, count in ordered), default=0) or 1
    bars = []
    for index, (label, count) in enumerate(ordered):
        height = round(CHART_HEIGHT * count / top)
        bars.append(Bar(index * (BAR_WIDTH + BAR_GAP), CHART_HEIGHT - height, BAR_WIDTH, height, f"{label}: {count}"))
    width = max(1, len(ordered) * (BAR_WIDTH + BAR_GAP))
    return {"bars": bars, "width": width, "height": CHART_HEIGHT, "max": max((c for _, c in ordered), default=0), "count": len(ordered)}


def _agendas(context: Context) -> list[dict]:
    t = context.organizer_translator
    agendas = []
    for index, (buyer_id, meetings) in enumerate(context.buyer_meetings().items()):
        buyer = context.buyers[buyer_id]
        rows = []
        for m in meetings:
            exhibitor = context.exhibitors[m.exhibitor]
            rows.append({"date": m.date.isoformat(), "start": m.start, "end": m.end, "with": exhibitor.name, "with_id": exhibitor.id,
                         "where": context.location_label(m.location), "interpreter": m.interpreter or ""})
        agendas.append({
            "anchor": f"agenda-b{index}", "side": "buyer", "role": t.gettext("Buyer"), "id": buyer.id, "name": buyer.name, "detail": buyer.country,
            "search": search_text(buyer.id, buyer.name, buyer.country), "key": search_text(buyer.id), "rows": rows,
        })
    for index, (exhibitor_id, meetings) in enumerate(context.exhibitor_meetings().items()):
        exhibitor = context.exhibitors[exhibitor_id]
        where = context.scenario.meeting_location(exhibitor)
        place = context.location_label(where) if where else ""
        rows = []
        for m in meetings:
            buyer = context.buyers[m.buyer]
            rows.append({"date": m.date.isoformat(), "start": m.start, "end": m.end, "with": buyer.name, "with_id": buyer.id,
                         "where": context.location_label(m.location), "interpreter": m.interpreter or ""})
        agendas.append({
            "anchor": f"agenda-e{index}", "side": "exhibitor", "role": t.gettext("Exhibitor"), "id": exhibitor.id, "name": exhibitor.name, "detail": place,
            "search": search_text(exhibitor.id, exhibitor.name, exhibitor.country, place), "key": search_text(exhibitor.id), "rows": rows,
        })
    return agendas


def _grids(context: Context) -> list[dict]:
    by_day = group_by_day(context.meetings)
    grids = []
    for index, day in enumerate(context.days()):
        starts = context.slot_starts(day)
        cells: dict[tuple[str, str], list[dict]] = {}
        for m in by_day.get(day, []):
            buyer, exhibitor = context.buyers[m.buyer], context.exhibitors[m.exhibitor]
            shared = len(context.exhibitors_at(m.location)) != 1
            cells.setdefault((m.location, m.start), []).append({
                "buyer": buyer.name, "buyer_id": buyer.id,
                "exhibitor": exhibitor.name if shared else "", "exhibitor_id": exhibitor.id if shared else "",
                "interpreter": m.interpreter or "",
            })
        rows = []
        for location_id in context.grid_locations():
            rows.append({
                "location": context.location_name(location_id),
                "hall": context.hall_label(location_id),
                "exhibitors": ", ".join(e.name for e in context.exhibitors_at(location_id)),
                "cells": [cells.get((location_id, s), []) for s in starts],
            })
        grids.append({"anchor": f"grid-{index}", "date": day.isoformat(), "starts": starts, "rows": rows,
                      # <bdi>: an ISO date keeps its order inside a right-to-left (Arabic) sentence
                      "date_isolated": Markup(f"<bdi>{day.isoformat()}</bdi>"),
                      "meetings": len(by_day.get(day, []))})
    return grids


def render_report(context: Context) -> str:
    """The report as one HTML string."""
    per_buyer = [(f"{context.buyers[b].name} ({b})", n) for b, n in context.per_buyer().items()]
    per_exhibitor = [(f"{context.exhibitors[e].name} ({e})", n) for e, n in context.per_exhibitor().items()]
    unscheduled = [
        {"buyer": context.buyers[r.buyer].name, "buyer_id": r.buyer, "exhibitor": context.exhibitors[r.exhibitor].name,
         "exhibitor_id": r.exhibitor, "level": r.level, "by": r.by, "reason": r.reason}
        for r in context.schedule.unscheduled_requests
    ]
    t = context.organizer_translator
    template = template_environment(t.language).get_template("report.html")
    return template.render(
        lang=t.tag,
        dir=t.direction,
        # The search script fills in {shown} and {total}.
        count_some=t.gettext("%(shown)s of %(total)s agendas", shown="{shown}", total="{total}"),
        count_all=t.gettext("%(total)s agendas", total="{total}"),
        name=context.name,
        description=context.scenario.description,
        synthetic=context.scenario.synthetic,
        version=context.schedule.version,
        timezone=context.scenario.timezone,
        figures=context.overview()[1:],  # the first row is the fair, which the title says
        chart_buyers=bar_chart(per_buyer),
        chart_exhibitors=bar_chart(per_exhibitor),
        grids=_grids(context),
        unscheduled=unscheduled,
        agendas=_agendas(context),
    )


def export_html(context: Context, outdir: Path) -> list[Path]:
    """Write ``outdir/report.html``; return its path."""
    return [write_bytes_atomic(outdir / FILE_NAME, render_report(context).encode("utf-8"))]
