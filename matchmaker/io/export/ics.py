"""iCalendar (RFC 5545) files: one per buyer, exhibitor and location, updated in place on re-plans.

Every meeting has one UID, derived from the scenario name, the buyer and the
exhibitor, so it stays the same in every schedule version and in the buyer's,
the exhibitor's and the location's file. Exporting into a folder that already
holds an export compares against it:

- an unchanged meeting keeps its SEQUENCE and DTSTAMP (the file does not change);
- a changed (moved, re-located, renamed) meeting gets SEQUENCE one above the
  highest previous one, so calendar programs replace the old entry;
- a meeting of the previous export that is gone is written again with
  STATUS:CANCELLED, a higher SEQUENCE and "Cancelled:" before its summary.

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
from .common import Context, file_stem, write_bytes_atomic

logger = logging.getLogger(__name__)

FOLDER = "ics"
PRODID = "-//matchmaker//B2B matchmaking export//EN"
CANCELLED_PREFIX = "Cancelled: "
_COMPARED = ("SUMMARY", "LOCATION", "DESCRIPTION", "STATUS")


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
    events: list[tuple[str, Event]]  # (uid, event without SEQUENCE/DTSTAMP)


def _description(context: Context, meeting: Meeting) -> str:
    buyer = context.buyers[meeting.buyer]
    exhibitor = context.exhibitors[meeting.exhibitor]
    lines = [
        f"Buyer: {buyer.name} ({buyer.id}), {buyer.country}",
        f"Exhibitor: {exhibitor.name} ({exhibitor.id})",
        f"Where: {context.location_label(meeting.location)}",
        f"Interpreter: {meeting.interpreter}" if meeting.interpreter else "Interpreter: none needed",
        f"Fair: {context.name}",
    ]
    return "\n".join(lines)


def _event(context: Context, meeting: Meeting, summary: str, zone: ZoneInfo, occurrence: int = 1) -> tuple[str, Event]:
    uid = meeting_uid(context.name, meeting.buyer, meeting.exhibitor, occurrence)
    event = Event()
    event.add("UID", uid)
    event.add("DTSTART", _local(meeting.date, meeting.start, zone))
    event.add("DTEND", _local(meeting.date, meeting.end, zone))
    event.add("SUMMARY", summary)
    event.add("LOCATION", context.location_label(meeting.location))
    event.add("DESCRIPTION", _description(context, meeting))
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
        buyer = context.buyers[buyer_id]
        events = [_event(context, m, f"B2B meeting: {context.exhibitors[m.exhibitor].name}", zone, nth[id(m)]) for m in meetings]
        files.append(_File(file_stem("buyer", buyer_id), f"{buyer.name} - {context.name}", events))
    for exhibitor_id, meetings in context.exhibitor_meetings().items():
        exhibitor = context.exhibitors[exhibitor_id]
        events = [_event(context, m, f"B2B meeting: {context.buyers[m.buyer].name}", zone, nth[id(m)]) for m in meetings]
        files.append(_File(file_stem("exhibitor", exhibitor_id), f"{exhibitor.name} - {context.name}", events))
    for location_id, meetings in context.location_meetings().items():
        events = [
            _event(context, m, f"{context.buyers[m.buyer].name} x {context.exhibitors[m.exhibitor].name}", zone, nth[id(m)])
            for m in meetings
        ]
        files.append(_File(file_stem("location", location_id), f"{context.location_label(location_id)} - {context.name}", events))
    return files


def _same(old: Event, new: Event) -> bool:
    if any(str(old.get(name, "")) != str(new.get(name, "")) for name in _COMPARED):
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


def _calendar(context: Context, title: str, vtimezone: Timezone) -> Calendar:
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-CALNAME", vText(" ".join(title.split())))  # X- properties are escaped only as vText
    calendar.add("X-WR-TIMEZONE", context.scenario.timezone)
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
        calendar = _calendar(context, planned.title, vtimezone)
        old_events = previous.files.get(planned.stem, {})
        for uid, event in planned.events:
            old_sequence = previous.sequence.get(uid)
            if old_sequence is None:
                sequence, stamp = floor, now
            elif uid in changed:
                sequence, stamp = max(old_sequence + 1, floor), now
            else:
                old = old_events.get(uid) or previous.any_event[uid]
                sequence, stamp = old_sequence, old.decoded("DTSTAMP") if "DTSTAMP" in old else now
            event.add("SEQUENCE", sequence)
            event.add("DTSTAMP", stamp)
            calendar.add_component(event)
        current = {uid for uid, _ in planned.events}
        for uid, old in old_events.items():
            if uid not in current:
                calendar.add_component(_cancellation(old, previous.sequence.get(uid, 0), floor, now))
                cancelled += 1
        written.append(write_bytes_atomic(folder / f"{planned.stem}.ics", calendar.to_ical()))

    # Files of participants or locations no longer in the scenario: every meeting in them is cancelled.
    for stem, old_events in previous.files.items():
        if stem in planned_stems:
            continue
        calendar = _calendar(context, previous.titles.get(stem, stem), vtimezone)
        for uid, old in old_events.items():
            calendar.add_component(_cancellation(old, previous.sequence.get(uid, 0), floor, now))
            cancelled += 1
        written.append(write_bytes_atomic(folder / f"{stem}.ics", calendar.to_ical()))
    logger.info("wrote %d calendars to %s (%d changed meetings, %d cancelled entries)", len(written), folder, len(changed), cancelled)
    return written


def _cancellation(old: Event, old_sequence: int, floor: int, now: datetime) -> Event:
    """The earlier event again, cancelled with a higher SEQUENCE (unchanged if it was cancelled already)."""
    event = copy.deepcopy(old)
    if str(old.get("STATUS", "")).upper() == "CANCELLED":
        return event
    for name in ("STATUS", "SEQUENCE", "DTSTAMP", "SUMMARY"):
        event.pop(name, None)
    event.add("SUMMARY", CANCELLED_PREFIX + str(old.get("SUMMARY", "")))
    event.add("STATUS", "CANCELLED")
    event.add("SEQUENCE", max(old_sequence + 1, floor))
    event.add("DTSTAMP", now)
    return event
