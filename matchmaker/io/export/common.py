"""What every export format needs: lookups by id, labels, each reader's language, safe file names, safe cells, atomic bytes."""

from __future__ import annotations

import functools
import hashlib
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ...errors import Problem, ScheduleFileError
from ...spec.scenario import Buyer, Exhibitor, Location, Scenario, hhmm, minutes
from ...spec.schedule import Meeting, Schedule, bound_text
from ..files import write_atomic
from ..i18n import DEFAULT_LANGUAGE, N_, Translator, participant_language, translator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Neutralize spreadsheet formula injection: text starting with = + - @ tab or CR gets a leading '.

    Applied to every text that comes from an input file before it goes into a CSV
    or XLSX cell, so ``=HYPERLINK(...)`` in a company name stays text.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def file_stem(kind: str, ident: str) -> str:
    """A safe, stable file name for a participant or location id: ``buyer-B001``.

    Ids may hold any character; anything outside ``[A-Za-z0-9._-]`` is replaced
    and a short hash of the id keeps distinct ids apart.
    """
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", ident).strip("._") or "id"
    if cleaned != ident:
        cleaned = f"{cleaned[:60]}-{hashlib.sha1(ident.encode('utf-8')).hexdigest()[:8]}"
    return f"{kind}-{cleaned}"


@dataclass(frozen=True)
class Languages:
    """Who reads which language.

    Participant files (calendars, agenda pages, the CSV's text columns) are in each
    participant's own language unless ``forced`` names one for all of them; the
    organizer's files (workbook, report) are in ``organizer``. Both are SUPPORTED
    identifiers of ``matchmaker.io.i18n``.
    """

    forced: str | None = None
    organizer: str = DEFAULT_LANGUAGE


@dataclass
class Context:
    """The schedule joined with the scenario it was made from, for rendering."""

    schedule: Schedule
    scenario: Scenario
    buyers: dict[str, Buyer]
    exhibitors: dict[str, Exhibitor]
    locations: dict[str, Location]
    hall_names: dict[str, str]
    meetings: list[Meeting]  # sorted by date, start, location, buyer
    languages: Languages = field(default_factory=Languages)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def organizer_translator(self) -> Translator:
        return translator(self.languages.organizer)

    def buyer_translator(self, buyer_id: str) -> Translator:
        return translator(self.languages.forced or participant_language(self.buyers[buyer_id].languages))

    def exhibitor_translator(self, exhibitor_id: str) -> Translator:
        return translator(self.languages.forced or participant_language(self.exhibitors[exhibitor_id].languages))

    def location_translator(self, location_id: str) -> Translator:
        """A booth's calendar is read by its exhibitor; a shared place's (the lounge) by the organizer's staff."""
        if self.languages.forced:
            return translator(self.languages.forced)
        present = self.exhibitors_at(location_id)
        if location_id != self.scenario.shared_location and len(present) == 1:
            return self.exhibitor_translator(present[0].id)
        return self.organizer_translator

    def hall_of(self, location_id: str) -> str:
        location = self.locations.get(location_id)
        return location.hall if location else ""

    def hall_label(self, location_id: str) -> str:
        hall = self.hall_of(location_id)
        return self.hall_names.get(hall, hall)

    def place_label(self, location_id: str, reader: Translator | None = None) -> str:
        """``booth H1-A01`` or ``Business Matchmaking Lounge`` (a place's own name stays as registered)."""
        location = self.locations.get(location_id)
        if location is not None and location.name:
            return location.name
        return (reader or self.organizer_translator).gettext("booth %(booth)s", booth=location_id)

    def location_label(self, location_id: str, reader: Translator | None = None) -> str:
        """``Hall 1, booth H1-A01`` or ``Hall 1, Business Matchmaking Lounge``, in ``reader``'s language."""
        if location_id not in self.locations:
            return location_id
        reader = reader or self.organizer_translator
        return reader.gettext("%(hall)s, %(place)s", hall=self.hall_label(location_id), place=self.place_label(location_id, reader))

    def location_name(self, location_id: str) -> str:
        location = self.locations.get(location_id)
        return (location.name if location and location.name else "") or location_id

    def buyer_meetings(self) -> dict[str, list[Meeting]]:
        grouped: dict[str, list[Meeting]] = {b: [] for b in self.buyers}
        for meeting in self.meetings:
            grouped[meeting.buyer].append(meeting)
        return grouped

    def exhibitor_meetings(self) -> dict[str, list[Meeting]]:
        grouped: dict[str, list[Meeting]] = {e: [] for e in self.exhibitors}
        for meeting in self.meetings:
            grouped[meeting.exhibitor].append(meeting)
        return grouped

    def location_meetings(self) -> dict[str, list[Meeting]]:
        grouped: dict[str, list[Meeting]] = {loc: [] for loc in self.locations}
        for meeting in self.meetings:
            grouped.setdefault(meeting.location, []).append(meeting)
        return grouped

    def slot_starts(self, day: date) -> list[str]:
        """Slot start times of a day (from its sessions), plus any meeting start off that grid."""
        step = self.scenario.slot_minutes + self.scenario.changeover_minutes
        starts: set[int] = set()
        for scenario_day in self.scenario.days:
            if scenario_day.date != day:
                continue
            for session in scenario_day.sessions:
                t = minutes(session.start)
                while t + self.scenario.slot_minutes <= minutes(session.end):
                    starts.add(t)
                    t += step
        starts |= {minutes(m.start) for m in self.meetings if m.date == day}
        return [hhmm(t) for t in sorted(starts)]

    def days(self) -> list[date]:
        return sorted({d.date for d in self.scenario.days} | {m.date for m in self.meetings})

    def grid_locations(self) -> list[str]:
        """Locations in scenario order, then any location only the schedule names."""
        ordered = list(self.locations)
        ordered += sorted({m.location for m in self.meetings} - set(ordered))
        return ordered

    def exhibitors_at(self, location_id: str) -> list[Exhibitor]:
        return list(self._exhibitors_by_location.get(location_id, ()))

    @functools.cached_property
    def _exhibitors_by_location(self) -> dict[str | None, list[Exhibitor]]:
        grouped: dict[str | None, list[Exhibitor]] = defaultdict(list)
        for exhibitor in self.exhibitors.values():
            grouped[self.scenario.meeting_location(exhibitor)].append(exhibitor)
        return dict(grouped)

    def overview(self) -> list[tuple[str, object]]:
        """The headline figures, as (label, value) rows in the organizer's language."""
        t = self.organizer_translator
        stats, solver = self.schedule.stats, self.schedule.solver
        rows: list[tuple[str, object]] = [
            (t.gettext("Fair"), self.scenario.name),
            (t.gettext("Schedule version"), self.schedule.version),
            (t.gettext("Time zone"), self.scenario.timezone),
            (t.gettext("Days"), ", ".join(d.isoformat() for d in self.days())),
            (t.gettext("Meetings"), len(self.meetings)),
            (t.gettext("Buyers"), len(self.buyers)),
            (t.gettext("Exhibitors"), len(self.exhibitors)),
        ]
        per_side = (
            (self.per_buyer(), N_("Meetings per buyer: min"), N_("Meetings per buyer: median"), N_("Meetings per buyer: max"), N_("Buyers without a meeting")),
            (self.per_exhibitor(), N_("Meetings per exhibitor: min"), N_("Meetings per exhibitor: median"), N_("Meetings per exhibitor: max"), N_("Exhibitors without a meeting")),
        )
        for counts, least, median, most, without in per_side:
            values = list(counts.values()) or [0]
            rows += [
                (t.gettext(least), min(values)),
                (t.gettext(median), statistics.median(values)),
                (t.gettext(most), max(values)),
                (t.gettext(without), sum(1 for v in values if v == 0)),
            ]
        rows += [
            (t.gettext("Must requests met"), t.gettext("%(met)s of %(total)s", met=stats.must_requests.met, total=stats.must_requests.total)),
            (t.gettext("Want requests met"), t.gettext("%(met)s of %(total)s", met=stats.want_requests.met, total=stats.want_requests.total)),
            (t.gettext("Requests not scheduled"), len(self.schedule.unscheduled_requests)),
            (t.gettext("Interpreted meetings"), sum(1 for m in self.meetings if m.interpreter)),
            (t.gettext("Idle gaps"), stats.idle_gaps),
            (t.gettext("Meetings missing below min_meetings"), stats.min_meetings_shortfall),
            (t.gettext("Meeting value against its bound"), self.bound_label()),
            (t.gettext("At most this many meetings"), t.gettext("no bound") if stats.upper_bound_meetings is None else f"{stats.upper_bound_meetings:,}"),
        ]
        if solver is not None:  # the solver's objective and bound are in its own units: schedule.json only
            rows += [(t.gettext("Solver status"), solver.status), (t.gettext("Solver seconds"), solver.seconds)]
            if solver.message:
                rows.append((t.gettext("Solver note"), solver.message))
        return rows

    def bound_label(self) -> str:
        """``bound_text`` (the CLI's one wording) in the organizer's language."""
        stats = self.schedule.stats
        if self.languages.organizer == DEFAULT_LANGUAGE:
            return bound_text(stats)
        t = self.organizer_translator
        if stats.gap_percent is None or stats.upper_bound_value is None:
            return t.gettext("meeting value %(value)s (no bound)", value=f"{stats.value:,}")
        return t.gettext(
            "meeting value %(value)s of at most %(bound)s (within %(gap)s)",
            value=f"{stats.value:,}", bound=f"{stats.upper_bound_value:,}", gap=f"{stats.gap_percent:.2f}%",
        )

    def per_buyer(self) -> dict[str, int]:
        return {b: len(ms) for b, ms in self.buyer_meetings().items()}

    def per_exhibitor(self) -> dict[str, int]:
        return {e: len(ms) for e, ms in self.exhibitor_meetings().items()}


def build_context(schedule: Schedule, scenario: Scenario, schedule_file: str | None = None, languages: Languages | None = None) -> Context:
    """Join schedule and scenario; raise ScheduleFileError when a meeting names something the scenario lacks."""
    buyers = {b.id: b for b in scenario.buyers}
    exhibitors = {e.id: e for e in scenario.exhibitors}
    locations = {loc.id: loc for loc in scenario.locations}
    problems = []
    for index, meeting in enumerate(schedule.meetings):
        if meeting.buyer not in buyers:
            problems.append(Problem(f"meetings[{index}].buyer", f"buyer {meeting.buyer!r} is not in the scenario"))
        if meeting.exhibitor not in exhibitors:
            problems.append(Problem(f"meetings[{index}].exhibitor", f"exhibitor {meeting.exhibitor!r} is not in the scenario"))
        if meeting.location not in locations:
            problems.append(Problem(f"meetings[{index}].location", f"location {meeting.location!r} is not in the scenario"))
    for index, request in enumerate(schedule.unscheduled_requests):
        if request.buyer not in buyers:
            problems.append(Problem(f"unscheduled_requests[{index}].buyer", f"buyer {request.buyer!r} is not in the scenario"))
        if request.exhibitor not in exhibitors:
            problems.append(Problem(f"unscheduled_requests[{index}].exhibitor", f"exhibitor {request.exhibitor!r} is not in the scenario"))
    if problems:
        raise ScheduleFileError(problems[:50] + ([Problem("", f"... and {len(problems) - 50} more")] if len(problems) > 50 else []), schedule_file)
    ordered = sorted(schedule.meetings, key=lambda m: (m.date, minutes(m.start), m.location, m.buyer, m.exhibitor))
    hall_names = {h.id: h.name or h.id for h in scenario.halls}
    return Context(schedule, scenario, buyers, exhibitors, locations, hall_names, ordered, languages or Languages())


def group_by_day(meetings: list[Meeting]) -> dict[date, list[Meeting]]:
    grouped: dict[date, list[Meeting]] = defaultdict(list)
    for meeting in meetings:
        grouped[meeting.date].append(meeting)
    return dict(grouped)


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write an export file atomically; export files may be replaced, unchanged ones are left alone."""
    return write_atomic(path, data, force=True)
