"""iCalendar (RFC 5545) files: one per buyer, exhibitor and location, updated in place on re-plans.

Every meeting has one UID, derived from the scenario name, the buyer and the
exhibitor, so it stays the same in every schedule version and in the buyer's,
the exhibitor's and the location's file. Exporting into a folder that already
holds an export compares against it:

- an unchanged meeting keeps its SEQUENCE and DTSTAMP (the file does not change);
- a changed (moved, re-located, renamed) meeting gets SEQUENCE one above the
  highest previous one, so calendar programs replace the old entry, and its
  description starts with "Updated in schedule version N" (the version is kept
  in ``X-MATCHMAKER-UPDATED``, so the note is left out when comparing);
- a meeting of the previous export that is gone is written again with
  STATUS:CANCELLED, a higher SEQUENCE and "Cancelled:" before its summary.

Each file is in its reader's language (``Context.buyer_translator`` and the
like): summary, location, description, cancellation and update notes; the
text properties carry ``LANGUAGE=<BCP 47 tag>``. Names stay as registered.

Files are ``METHOD:PUBLISH`` calendars: iTIP's ``METHOD:CANCEL`` needs an
ORGANIZER and ATTENDEEs with addresses, which a scenario does not hold, and
``STATUS:CANCELLED`` inside a published calendar is what calendar programs
apply when a file is imported or subscribed to again.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vText

from ...errors import InputError, Problem
from ...spec.scenario import minutes
from ...spec.schedule import Meeting
from ..i18n import Translator, supported_language, translator
from .common import Context, file_stem, write_bytes_atomic

logger = logging.getLogger(__name__)

FOLDER = "ics"
PRODID = "-//matchmaker//B2B matchmaking export//EN"
UPDATED = "X-MATCHMAKER-UPDATED"  # the schedule version whose re-plan changed the event (its note's number)
_COMPARED = ("SUMMARY", "LOCATION", "STATUS")


def meeting_uid(scenario_name: str, buyer: str, exhibitor: str, occurrence: int = 1) -> str:
    """The UID of a buyer-exhibitor meeting: the same in every schedule version of the fair.

    A pair that meets several times (a repeat request) has one UID per meeting, by its
    place in time among the pair's meetings; the first keeps the pair's own UID.
    """
    text = f"{scenario_name}\x1f{buyer}\x1f{exhibitor}" + (f"\x1f{occurrence}" if occurrence > 1 else "")
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
    return f"{digest}@matchmaker"


def _occurrences(meetings: list[Meeting]) -> dict[int, int]:
    """id(meeting) -> its place (1, 2, ...) in time among the meetings of its pair."""
    seen: dict[tuple[str, str], int] = {}
    out = {}
    for m in sorted(meetings, key=lambda m: (m.date, minutes(m.start), m.location)):
        pair = (m.buyer, m.exhibitor)
        seen[pair] = seen.get(pair, 0) + 1
        out[id(m)] = seen[pair]
    return out


@dataclass
class _Previous:
    """The export found in the folder before writing: events per file, highest SEQUENCE per UID."""

    files: dict[str, dict[str, Event]] = field(default_factory=dict)  # file stem -> uid -> event
    sequence: dict[str, int] = field(default_factory=dict)
    any_event: dict[str, Event] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)  # file stem -> X-WR-CALNAME


def read_previous(folder: Path) -> _Previous:
    """Read the .ics files this exporter wrote earlier into ``folder``; other .ics files are left alone."""
    previous = _Previous()
    if not folder.is_dir():
        return previous
    for path in sorted(folder.glob("*.ics")):
        try:
            calendar = Calendar.from_ical(path.read_bytes())
        except Exception as error:  # icalendar raises ValueError and others on damaged files
            raise InputError([Problem("", f"cannot read the earlier export to update it: {error}")], str(path)) from None
        if str(calendar.get("PRODID", "")) != PRODID:
            logger.warning("%s was not written by matchmaker; left alone", path)
            continue
        events: dict[str, Event] = {}
        for event in calendar.walk("VEVENT"):
            uid = str(event.get("UID", ""))
            if not uid:
                continue
            events[uid] = event
            sequence = int(event.get("SEQUENCE", 0))
            previous.sequence[uid] = max(previous.sequence.get(uid, 0), sequence)
            previous.any_event.setdefault(uid, event)
        previous.files[path.stem] = events
        previous.titles[path.stem] = str(calendar.get("X-WR-CALNAME", path.stem))
    return previous


@dataclass
class _File:
    stem: str
    title: str
    reader: Translator
    events: list[tuple[str, Event]]  # (uid, event without SEQUENCE/DTSTAMP)


def _description(context: Context, meeting: Meeting, t: Translator) -> str:
    buyer = context.buyers[meeting.buyer]
    exhibitor = context.exhibitors[meeting.exhibitor]
    when = t.gettext(
        "Time: %(date)s, %(time)s (%(zone)s)",
        date=t.date(meeting.date),
        time=t.time_range(meeting.start, meeting.end),
        zone=t.timezone_name(context.scenario.timezone, meeting.date),
    )
    lines = [
        when,
        t.gettext("Buyer: %(name)s (%(id)s), %(country)s", name=buyer.name, id=buyer.id, country=buyer.country),
        t.gettext("Exhibitor: %(name)s (%(id)s)", name=exhibitor.name, id=exhibitor.id),
        t.gettext("Where: %(place)s", place=context.location_label(meeting.location, t)),
        t.gettext("Interpreter: %(language)s", language=t.language_name(meeting.interpreter))
        if meeting.interpreter
        else t.gettext("Interpreter: none needed"),
        t.gettext("Fair: %(name)s", name=context.name),
    ]
    return "\n".join(lines)


def _event(context: Context, meeting: Meeting, summary: str, zone: ZoneInfo, t: Translator, occurrence: int = 1) -> tuple[str, Event]:
    uid = meeting_uid(context.name, meeting.buyer, meeting.exhibitor, occurrence)
    language = {"LANGUAGE": t.tag}
    event = Event()
    event.add("UID", uid)
    event.add("DTSTART", _local(meeting.date, meeting.start, zone))
    event.add("DTEND", _local(meeting.date, meeting.end, zone))
    event.add("SUMMARY", summary, parameters=language)
    event.add("LOCATION", context.location_label(meeting.location, t), parameters=language)
    event.add("DESCRIPTION", _description(context, meeting, t), parameters=language)
    event.add("STATUS", "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    return uid, event


def _local(day: date, hhmm_text: str, zone: ZoneInfo) -> datetime:
    total = minutes(hhmm_text)
    return datetime(day.year, day.month, day.day, total // 60, total % 60, tzinfo=zone)


def _plan_files(context: Context) -> list[_File]:
    zone = ZoneInfo(context.scenario.timezone)
    nth = _occurrences(context.schedule.meetings)
    files: list[_File] = []
    for buyer_id, meetings in context.buyer_meetings().items():
        buyer, t = context.buyers[buyer_id], context.buyer_translator(buyer_id)
        events = [
            _event(context, m, t.gettext("Meeting with %(name)s", name=context.exhibitors[m.exhibitor].name), zone, t, nth[id(m)])
            for m in meetings
        ]
        files.append(_File(file_stem("buyer", buyer_id), f"{buyer.name} - {context.name}", t, events))
    for exhibitor_id, meetings in context.exhibitor_meetings().items():
        exhibitor, t = context.exhibitors[exhibitor_id], context.exhibitor_translator(exhibitor_id)
        events = [
            _event(context, m, t.gettext("Meeting with %(name)s", name=context.buyers[m.buyer].name), zone, t, nth[id(m)])
            for m in meetings
        ]
        files.append(_File(file_stem("exhibitor", exhibitor_id), f"{exhibitor.name} - {context.name}", t, events))
    for location_id, meetings in context.location_meetings().items():
        t = context.location_translator(location_id)
        events = [
            _event(context, m, f"{context.buyers[m.buyer].name} x {context.exhibitors[m.exhibitor].name}", zone, t, nth[id(m)])
            for m in meetings
        ]
        files.append(_File(file_stem("location", location_id), f"{context.location_label(location_id, t)} - {context.name}", t, events))
    return files


def _base_description(event: Event) -> str:
    """DESCRIPTION without the update note that a re-plan put on its first line."""
    text = str(event.get("DESCRIPTION", ""))
    if UPDATED in event:
        text = text.partition("\n")[2]
    return text


def _update_note(t: Translator, version: object) -> str:
    return t.gettext("Updated in schedule version %(version)s", version=version)


def _same(old: Event, new: Event) -> bool:
    if any(str(old.get(name, "")) != str(new.get(name, "")) for name in _COMPARED):
        return False
    if _base_description(old) != _base_description(new):
        return False
    for name in ("DTSTART", "DTEND"):
        try:
            if old.decoded(name) != new.decoded(name):
                return False
        except KeyError:
            return False
    return True


def _vtimezone(context: Context) -> Timezone:
    """VTIMEZONE of the scenario's zone, covering the fair's years (computed once: it is slow)."""
    days = context.days()
    return Timezone.from_tzid(context.scenario.timezone, first_date=date(days[0].year, 1, 1), last_date=date(days[-1].year + 1, 12, 31))


def _calendar(context: Context, title: str, vtimezone: Timezone, t: Translator) -> Calendar:
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-CALNAME", vText(" ".join(title.split())))  # X- properties are escaped only as vText
    calendar.add("X-WR-TIMEZONE", context.scenario.timezone)
    # Read by calendar programs as the calendar's description; says in the reader's language where and in which time.
    first_day = context.scenario.days[0].date
    about = t.gettext("Meetings at %(fair)s; times in %(zone)s", fair=context.name, zone=t.timezone(context.scenario.timezone, first_day))
    calendar.add("X-WR-CALDESC", vText(" ".join(about.split())))
    calendar.add_component(vtimezone)
    return calendar


def export_ics(context: Context, outdir: Path) -> list[Path]:
    """Write ``outdir/ics/<kind>-<id>.ics`` for every buyer, exhibitor and location; return the paths."""
    folder = outdir / FOLDER
    previous = read_previous(folder)
    files = _plan_files(context)
    floor = max(0, context.schedule.version - 1)  # a fresh folder still outranks version-1 entries
    now = datetime.now(timezone.utc).replace(microsecond=0)
    vtimezone = _vtimezone(context)

    # A meeting changed when any of its copies differs from the earlier export.
    changed: set[str] = set()
    for planned in files:
        old_events = previous.files.get(planned.stem, {})
        for uid, event in planned.events:
            old = old_events.get(uid) or previous.any_event.get(uid)
            if old is not None and not _same(old, event):
                changed.add(uid)

    written: list[Path] = []
    cancelled = 0
    planned_stems = set()
    for planned in files:
        planned_stems.add(planned.stem)
        t = planned.reader
        calendar = _calendar(context, planned.title, vtimezone, t)
        old_events = previous.files.get(planned.stem, {})
        for uid, event in planned.events:
            old_sequence = previous.sequence.get(uid)
            updated_in = None
            if old_sequence is None:
                sequence, stamp = floor, now
            elif uid in changed:
                sequence, stamp, updated_in = max(old_sequence + 1, floor), now, context.schedule.version
            else:
                old = old_events.get(uid) or previous.any_event[uid]
                sequence, stamp = old_sequence, old.decoded("DTSTAMP") if "DTSTAMP" in old else now
                updated_in = old.get(UPDATED)  # an earlier re-plan's note stays while nothing changes
            if updated_in is not None:
                description = f"{_update_note(t, updated_in)}\n{event['DESCRIPTION']}"
                event.pop("DESCRIPTION")
                event.add("DESCRIPTION", description, parameters={"LANGUAGE": t.tag})
                event.add(UPDATED, str(updated_in))
            event.add("SEQUENCE", sequence)
            event.add("DTSTAMP", stamp)
            calendar.add_component(event)
        current = {uid for uid, _ in planned.events}
        for uid, old in old_events.items():
            if uid not in current:
                calendar.add_component(_cancellation(old, previous.sequence.get(uid, 0), floor, now, t))
                cancelled += 1
        written.append(write_bytes_atomic(folder / f"{planned.stem}.ics", calendar.to_ical()))

    # Files of participants or locations no longer in the scenario: every meeting in them is cancelled,
    # in the language the file was written in.
    for stem, old_events in previous.files.items():
        if stem in planned_stems:
            continue
        t = _written_in(old_events.values()) or context.organizer_translator
        calendar = _calendar(context, previous.titles.get(stem, stem), vtimezone, t)
        for uid, old in old_events.items():
            calendar.add_component(_cancellation(old, previous.sequence.get(uid, 0), floor, now, t))
            cancelled += 1
        written.append(write_bytes_atomic(folder / f"{stem}.ics", calendar.to_ical()))
    logger.info("wrote %d calendars to %s (%d changed meetings, %d cancelled entries)", len(written), folder, len(changed), cancelled)
    return written


def _written_in(events) -> Translator | None:
    """The translator of the language an earlier file's events were written in (their SUMMARY's LANGUAGE)."""
    for event in events:
        summary = event.get("SUMMARY")
        language = supported_language(summary.params.get("LANGUAGE")) if summary is not None else None
        if language:
            return translator(language)
    return None


def _cancellation(old: Event, old_sequence: int, floor: int, now: datetime, t: Translator) -> Event:
    """The earlier event again, cancelled with a higher SEQUENCE (unchanged if it was cancelled already)."""
    event = copy.deepcopy(old)
    if str(old.get("STATUS", "")).upper() == "CANCELLED":
        return event
    for name in ("STATUS", "SEQUENCE", "DTSTAMP", "SUMMARY"):
        event.pop(name, None)
    event.add("SUMMARY", t.gettext("Cancelled: %(summary)s", summary=str(old.get("SUMMARY", ""))), parameters={"LANGUAGE": t.tag})
    event.add("STATUS", "CANCELLED")
    event.add("SEQUENCE", max(old_sequence + 1, floor))
    event.add("DTSTAMP", now)
    return event
