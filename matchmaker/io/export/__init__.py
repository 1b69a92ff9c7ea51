"""Exporting a schedule for the people at the fair: calendars, agenda pages, a workbook, a CSV and an HTML report.

``export_schedule(schedule, scenario, formats, outdir)`` writes into ``outdir``:

- ``ics``:  ``ics/buyer-<id>.ics``, ``ics/exhibitor-<id>.ics``, ``ics/location-<id>.ics``
- ``agendas``: ``agendas/buyer-<id>.html``, ``agendas/exhibitor-<id>.html`` (one printable page each)
- ``xlsx``: ``schedule.xlsx``
- ``csv``:  ``meetings.csv``
- ``html``: ``report.html``

Participant files (calendars, agenda pages, the CSV's text columns) are in each
participant's language (``matchmaker.io.i18n``) unless ``language`` forces one;
the workbook and the report are in ``organizer_language``.

Export files in ``outdir`` are replaced (atomically, one file at a time);
earlier calendars there are read first so that a re-planned schedule updates
them in place (see ``matchmaker.export.ics``). The layout and every column are
described in docs/export.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from ...errors import DifferentEventError, MatchmakerError
from ...spec.scenario import Scenario
from ...spec.schedule import Schedule
from ..files import check_writable_folder
from ..i18n import DEFAULT_LANGUAGE, parse_language
from .common import Languages, build_context

logger = logging.getLogger(__name__)

FORMATS = ("ics", "agendas", "xlsx", "csv", "html")


def _exporter(fmt: str):
    # Imported on demand: each format pulls in its own library (icalendar, openpyxl, jinja2).
    if fmt == "ics":
        from .ics import export_ics

        return export_ics
    if fmt == "agendas":
        from .agendas import export_agendas

        return export_agendas
    if fmt == "xlsx":
        from .xlsx import export_xlsx

        return export_xlsx
    if fmt == "csv":
        from .csv_export import export_csv

        return export_csv
    if fmt == "html":
        from .html import export_html

        return export_html
    raise MatchmakerError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")


def check_same_event(schedule: Schedule, scenario: Scenario, schedule_file: str | None = None) -> None:
    """Refuse to export a schedule of another event: its scenario name differs, or it has meetings on other days.

    A schedule of an earlier version of the same event (same name, different
    fingerprint: late changes since it was solved) passes; ``export_schedule``
    then warns that names and places come from the scenario given.
    """
    if schedule.scenario.name != scenario.name:
        raise DifferentEventError(f"the schedule is for {schedule.scenario.name!r}, not {scenario.name!r}", schedule_file)
    outside = sorted({m.date for m in schedule.meetings} - {d.date for d in scenario.days})
    if outside:
        raise DifferentEventError(
            f"the schedule has meetings on {', '.join(map(str, outside))}, which are not days of {scenario.name!r}",
            schedule_file,
        )


def export_schedule(
    schedule: Schedule,
    scenario: Scenario,
    formats: Iterable[str],
    outdir: str | Path,
    schedule_file: str | None = None,
    allow_other_event: bool = False,
    language: str | None = None,
    organizer_language: str = DEFAULT_LANGUAGE,
) -> list[Path]:
    """Write the schedule in each of ``formats`` into ``outdir``; return the files written.

    ``language`` (``en``, ``zh``, ``ru``, ``ar``) writes every participant file in
    that language instead of each participant's own; ``organizer_language`` is
    the language of the workbook, the report and shared places' calendars. An
    unsupported one raises UnsupportedLanguageError before anything is written.

    Raises DifferentEventError (an InputError) when the schedule was made for
    another event (see ``check_same_event``) unless ``allow_other_event``;
    ScheduleFileError when the schedule names a buyer, exhibitor or location
    the scenario does not have (``schedule_file`` names it in the message), and
    OutputError when ``outdir`` cannot be written. Nothing is written when any
    of these is raised.
    """
    outdir = Path(outdir)
    languages = Languages(parse_language(language) if language else None, parse_language(organizer_language))
    chosen = list(dict.fromkeys(formats))
    exporters = [(fmt, _exporter(fmt)) for fmt in chosen]
    if not allow_other_event:
        check_same_event(schedule, scenario, schedule_file)
    if schedule.scenario.sha256 != scenario.fingerprint():
        logger.warning(
            "the schedule was made from %r (sha256 %s...), not from this version of the scenario; names and places come from the scenario given",
            schedule.scenario.name,
            schedule.scenario.sha256[:12],
        )
    context = build_context(schedule, scenario, schedule_file, languages)
    check_writable_folder(outdir)
    written: list[Path] = []
    for fmt, export in exporters:
        paths = export(context, outdir)
        logger.info("%s: wrote %d file(s)", fmt, len(paths))
        written.extend(paths)
    return written


__all__ = ["FORMATS", "check_same_event", "export_schedule"]
