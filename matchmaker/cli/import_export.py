"""Organizer I/O commands (import, export); attached to the main group by cli/main.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import DifferentEventError
from .common import (
    allow_other_event_option,
    force_option,
    library_errors,
    other_event_refusal,
)

FORMAT_CHOICES = ("ics", "agendas", "xlsx", "csv", "html", "all")
# The languages participant and organizer files can be written in (matchmaker.io.i18n.CHOICES; not
# imported at start-up, which would load Babel for every command).
LANGUAGE_CHOICES = ("en", "zh", "ru", "ar")


def register(group: click.Group) -> None:
    """Add this module's commands to ``group``."""
    # Imported here: cli.py imports this module while it is being set up.

    @group.command("import")
    @click.option("--event", "event", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The fair: name, time zone, days, halls, places, interpreters (TOML).")
    @click.option("--buyers", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Buyers spreadsheet (.xlsx or .csv).")
    @click.option("--exhibitors", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Exhibitors spreadsheet (.xlsx or .csv).")
    @click.option("--requests", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Who asked to meet whom (.xlsx or .csv).")
    @click.option("--blocked", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Pairs that must never meet (.xlsx or .csv).")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Scenario file to write (JSON).")
    @force_option
    @library_errors
    def import_command(event, buyers, exhibitors, requests, blocked, output, force):
        """Build a scenario file from organizer spreadsheets.

        Reads the first sheet of each .xlsx (or a UTF-8 .csv); row 1 holds the
        column names documented in docs/import.md. Every bad cell is reported as
        FILE:ROW:COLUMN: problem, and then nothing is written. Warnings (a
        category no exhibitor offers, a buyer who matches nobody, an unused
        column) are printed but do not stop the import.

        \b
        Example:
          matchmaker import --event scenarios/import-example/event.toml \\
            --buyers scenarios/import-example/buyers.xlsx \\
            --exhibitors scenarios/import-example/exhibitors.xlsx \\
            --requests scenarios/import-example/requests.csv \\
            --blocked scenarios/import-example/blocked.csv -o fair.json
          matchmaker solve fair.json -o out/
        """
        from ..io.files import refuse_overwrite, write_atomic
        from ..io.importer import import_scenario

        refuse_overwrite(output, force)
        result = import_scenario(event, buyers, exhibitors, requests, blocked)
        for warning in result.warnings:
            click.echo(f"warning: {warning.render()}", err=True)
        text = json.dumps(result.to_json_data(), indent=1, ensure_ascii=False) + "\n"
        write_atomic(output, text, force=force)
        scenario = result.scenario
        click.echo(
            f"wrote {output}: {len(scenario.buyers)} buyers, {len(scenario.exhibitors)} exhibitors, "
            f"{len(scenario.days)} day(s), {len(scenario.requests)} requests, {len(scenario.blocked)} blocked pairs"
            + (f"; {len(result.warnings)} warning(s)" if result.warnings else "")
        )

    @group.command("export")
    @click.argument("schedule", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--scenario", "scenario", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The scenario the schedule was made from.")
    @click.option("-f", "--format", "formats", multiple=True, type=click.Choice(FORMAT_CHOICES), help="ics, agendas, xlsx, csv, html or all; repeat for several [default: all].")
    @click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Export folder (created if needed; earlier export files in it are replaced).")
    @click.option(
        "--language", "language", type=click.Choice(LANGUAGE_CHOICES), default=None,
        help="Write every participant's calendar, agenda page and CSV text in this language (en, zh = Simplified Chinese, ru, ar) "
        "[default: each participant's first listed language when it is one of these, else en].",
    )
    @click.option(
        "--organizer-language", "organizer_language", type=click.Choice(LANGUAGE_CHOICES), default="en", show_default=True,
        help="Language of the organizer's files: schedule.xlsx, report.html and the calendars of shared places.",
    )
    @allow_other_event_option(
        "Export even though SCHEDULE was made for another event (its scenario name differs from "
        "--scenario's, or it has meetings on days that are not days of the fair), e.g. after renaming the fair: "
        "matchmaker export out/schedule.json --scenario fair-renamed.json -o out/export --allow-other-event"
    )
    @library_errors
    def export_command(schedule, scenario, formats, outdir, allow_other_event, language, organizer_language):
        """Export a schedule as calendars, agenda pages, a workbook, a CSV and an HTML report.

        \b
        Writes into OUTDIR:
          ics/buyer-ID.ics, ics/exhibitor-ID.ics, ics/location-ID.ics   (--format ics)
          agendas/buyer-ID.html, agendas/exhibitor-ID.html              (--format agendas)
          schedule.xlsx                                                 (--format xlsx)
          meetings.csv                                                  (--format csv)
          report.html                                                   (--format html)

        Calendars, agenda pages and the CSV's text columns are in each
        participant's language: the first of their `languages` when it is
        English, Chinese (Simplified), Russian or Arabic, else English
        (--language forces one). The workbook and the report are in
        --organizer-language.

        SCHEDULE must be a schedule of the fair in --scenario (same name, meetings
        on its days), else nothing is written (see --allow-other-event). A
        schedule of an earlier version of the same fair (late changes since it
        was solved) is exported with a warning; names and places come from
        --scenario.

        Export a re-planned schedule (version one higher) into the same OUTDIR:
        the calendars are compared with the ones there, so moved meetings update
        in place (same UID, higher SEQUENCE) and dropped ones are cancelled.
        See docs/export.md.

        \b
        Example:
          matchmaker export out/schedule.json --scenario fair.json -o out/export
          matchmaker export out/schedule.json --scenario fair.json --format ics --format html -o out/export
          matchmaker export out/schedule.json --scenario fair.json -f agendas --language en -o out/english
        """
        from ..io.export import FORMATS, export_schedule
        from ..spec.scenario import load_scenario
        from ..spec.schedule import load_schedule

        chosen = list(FORMATS) if not formats or "all" in formats else [f for f in FORMATS if f in formats]
        loaded_schedule = load_schedule(schedule)
        loaded_scenario = load_scenario(scenario)
        try:
            written = export_schedule(
                loaded_schedule, loaded_scenario, chosen, outdir, schedule_file=str(schedule), allow_other_event=allow_other_event,
                language=language, organizer_language=organizer_language,
            )
        except DifferentEventError as error:
            raise other_event_refusal(error, schedule) from None
        calendars = [p for p in written if p.suffix == ".ics"]
        pages = [p for p in written if p.parent == outdir / "agendas"]
        for path in written:
            if path not in calendars and path not in pages:
                click.echo(f"wrote {path}")
        if calendars:
            click.echo(f"wrote {len(calendars)} calendars to {calendars[0].parent}")
        if pages:
            click.echo(f"wrote {len(pages)} agenda pages to {pages[0].parent}")
        click.echo(f"{len(loaded_schedule.meetings)} meetings, schedule version {loaded_schedule.version}")
