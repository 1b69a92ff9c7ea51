"""What the organizer changes by hand: scenario comparisons, hand edits and changes during the fair.

Pure functions over scenarios and schedules; ``service.Service`` reads and stores
the versions. Scenario changes are made on the stored scenario's JSON data (so a
new version differs from its base only where the edit says) and validated by
``parse_scenario``; every edited schedule is validated by the independent checker.

- ``compare_scenarios``: who is new, who left and what changed for whom between
  two scenario versions (the re-plan page's "what is different from the published
  scenario").
- ``apply_edit``: a ``HandEdit`` (pin, unpin, block, move) applied to a schedule
  and its scenario; ``finish_schedule`` then refreshes the edited schedule's
  figures (stats, unscheduled requests, explanations).
- ``during_fair``: the scenario after cancellations, no-shows and departures
  reported during the fair, for a re-plan that freezes everything before "now".
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, get_args

from ..analysis.checker import check_schedule
from ..errors import InputError, Problem
from ..spec.scenario import Scenario, Window, hhmm, minutes, parse_scenario
from ..spec.schedule import Meeting, PreviousRef, ScenarioRef, Schedule

logger = logging.getLogger(__name__)

EditKind = Literal["pin", "unpin", "block", "move"]
EDIT_KINDS: tuple[str, ...] = get_args(EditKind)
EXPLAIN_SECONDS = 10.0  # explanations of an edited schedule: past this, the rest is left out (as a solve does)
EXPLAIN_MAX_PAIRS = 200_000  # buyers x exhibitors up to which an edit rebuilds every explanation (Anping: 58k, ~1 s)
MOMENT_FORMAT = "%Y-%m-%d %H:%M"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

Pair = tuple[str, str]


# --------------------------------------------------------------------------------------------
# Comparing two scenario versions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    id: str
    name: str


@dataclass(frozen=True)
class ParticipantChange:
    """What changed for one participant present in both versions: short phrases, e.g.
    ``available 2023-10-22: all day → 09:30–11:10``, ``request with E5 added (want, by buyer)``."""

    id: str
    name: str
    changes: tuple[str, ...]

    @property
    def phrase(self) -> str:
        return "; ".join(self.changes)


@dataclass(frozen=True)
class SideComparison:
    """Buyers (or exhibitors, or brokerage participants) added, removed and changed, each sorted by id."""

    added: list[Named] = field(default_factory=list)
    removed: list[Named] = field(default_factory=list)
    changed: list[ParticipantChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json_data(self) -> dict[str, Any]:
        return {
            "added": [{"id": p.id, "name": p.name} for p in self.added],
            "removed": [{"id": p.id, "name": p.name} for p in self.removed],
            "changed": [{"id": c.id, "name": c.name, "changes": list(c.changes), "phrase": c.phrase} for c in self.changed],
        }


@dataclass(frozen=True)
class ScenarioComparison:
    """Scenario version ``new_version`` against ``old_version`` of one event.

    ``event``: changes that concern no single participant (days and sessions, slot
    length, locations and tables, interpreter pools, weights, precedences ...).
    Requests, blocked pairs and pins are listed under both of their participants.
    """

    old_version: int
    new_version: int
    buyers: SideComparison
    exhibitors: SideComparison
    participants: SideComparison
    event: list[str]

    @property
    def unchanged(self) -> bool:
        return self.buyers.empty and self.exhibitors.empty and self.participants.empty and not self.event

    def to_json_data(self) -> dict[str, Any]:
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "unchanged": self.unchanged,
            "buyers": self.buyers.to_json_data(),
            "exhibitors": self.exhibitors.to_json_data(),
            "participants": self.participants.to_json_data(),
            "event": list(self.event),
        }


def compare_scenarios(old: Scenario, new: Scenario, old_version: int, new_version: int) -> ScenarioComparison:
    """Who is new in ``new``, who left and what changed for whom, against ``old``."""
    pair_phrases = _pair_phrases(old, new)
    sides = {}
    for kind in ("buyers", "exhibitors", "participants"):
        before = {p.id: p for p in getattr(old, kind)}
        after = {p.id: p for p in getattr(new, kind)}
        changed = []
        for pid in sorted(before.keys() & after.keys()):
            phrases = _participant_phrases(old, new, before[pid], after[pid]) + pair_phrases.get(pid, [])
            if phrases:
                changed.append(ParticipantChange(pid, after[pid].name, tuple(phrases)))
        sides[kind] = SideComparison(
            added=[Named(pid, after[pid].name) for pid in sorted(after.keys() - before.keys())],
            removed=[Named(pid, before[pid].name) for pid in sorted(before.keys() - after.keys())],
            changed=changed,
        )
    return ScenarioComparison(old_version, new_version, sides["buyers"], sides["exhibitors"], sides["participants"],
                              _event_phrases(old, new))


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _limit(value: int | None) -> str:
    return "no limit" if value is None else str(value)


def _items(values: Iterable[str]) -> str:
    return ", ".join(values) or "none"


def _set_phrase(what: str, old: Iterable[str], new: Iterable[str]) -> str | None:
    added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
    return f"{what} {'; '.join(parts)}" if parts else None


def _day_spans(scenario: Scenario) -> dict[date, tuple[int, int]]:
    """Each fair day's first session start and last session end, in minutes."""
    return {
        d.date: (min(minutes(s.start) for s in d.sessions), max(minutes(s.end) for s in d.sessions)) for d in scenario.days
    }


def _windows_on(windows: list[Window] | None, day: date, span: tuple[int, int] | None) -> str:
    """A participant's availability on one day as text; ``all day`` when it covers the day's sessions."""
    if windows is None:
        return "all day"
    spans = sorted((minutes(w.start), minutes(w.end)) for w in windows if w.date == day)
    if not spans:
        return "not available"
    if span is not None and any(lo <= span[0] and span[1] <= hi for lo, hi in spans):
        return "all day"
    return ", ".join(f"{hhmm(lo)}–{hhmm(hi)}" for lo, hi in spans)


def _availability_phrases(old: Scenario, new: Scenario, before: list[Window] | None, after: list[Window] | None) -> list[str]:
    old_spans, new_spans = _day_spans(old), _day_spans(new)
    phrases = []
    for day in sorted(old_spans.keys() | new_spans.keys()):
        was = _windows_on(before, day, old_spans.get(day)) if day in old_spans else None
        now = _windows_on(after, day, new_spans.get(day)) if day in new_spans else None
        if was is not None and now is not None and was != now:
            phrases.append(f"available {day}: {was} → {now}")
    return phrases


def _participant_phrases(old: Scenario, new: Scenario, a: Any, b: Any) -> list[str]:
    """The differences between two versions of one participant, field by field."""
    phrases: list[str] = []
    for name in type(b).model_fields:
        before, after = getattr(a, name, None), getattr(b, name, None)
        if name == "id" or before == after:
            continue
        if name == "availability":
            phrases.extend(_availability_phrases(old, new, before, after))
        elif name == "name":
            phrases.append(f"name {_quoted(before)} → {_quoted(after)}")
        elif name == "languages":
            phrases.append(f"languages {_items(before)} → {_items(after)}")
        elif name in ("sectors", "offers"):
            phrase = _set_phrase(name, before, after)
            phrases.append(phrase or f"{name} reordered: {_items(after)}")
        elif name == "interests":
            parts = [f"added {k} ({after[k]})" for k in sorted(after.keys() - before.keys())]
            parts += [f"removed {k}" for k in sorted(before.keys() - after.keys())]
            parts += [f"{k} {before[k]} → {after[k]}" for k in sorted(before.keys() & after.keys()) if before[k] != after[k]]
            phrases.append("interests " + "; ".join(parts))
        elif name in ("max_meetings", "max_meetings_per_day"):
            phrases.append(f"{name} {_limit(before)} → {_limit(after)}")
        elif name == "own_interpreter":
            phrases.append("now brings an own interpreter" if after else "no longer brings an own interpreter")
        elif name == "location":
            phrases.append(f"booth {before or 'the shared location'} → {after or 'the shared location'}")
        else:
            phrases.append(f"{name} {before} → {after}")
    return phrases


def _request_text(items: set[tuple]) -> str:
    return ", ".join(
        f"{level}, by {by}" + (f", {session} only" if session else "") for by, level, session in sorted(items, key=str)
    )


def _pair_phrases(old: Scenario, new: Scenario) -> dict[str, list[str]]:
    """Request, blocked-pair and pin changes, listed under both participants of each pair."""
    out: dict[str, list[str]] = defaultdict(list)

    def both(pair: Pair, phrase: str) -> None:
        buyer, exhibitor = pair
        out[buyer].append(phrase.format(other=exhibitor))
        if exhibitor != buyer:
            out[exhibitor].append(phrase.format(other=buyer))

    def each_pair(was: dict, now: dict, added, removed, changed) -> None:
        """Under both participants, a phrase for every pair whose entry was added, removed or changed."""
        for pair, phrase in _keyed_phrases(
            was, now, added=lambda pair, b: (pair, added(b)), removed=lambda pair, a: (pair, removed(a)),
            changed=lambda pair, a, b: (pair, changed(a, b)),
        ):
            both(pair, phrase)

    def requests(scenario: Scenario) -> dict[Pair, set[tuple]]:
        found: dict[Pair, set[tuple]] = defaultdict(set)
        for r in scenario.requests:
            found[(r.buyer, r.exhibitor)].add((r.by, r.level, r.session))
        return found

    each_pair(
        requests(old), requests(new),
        added=lambda now: f"request with {{other}} added ({_request_text(now)})",
        removed=lambda was: f"request with {{other}} removed (was {_request_text(was)})",
        changed=lambda was, now: f"request with {{other}}: {_request_text(was)} → {_request_text(now)}",
    )

    old_blocked = {(b.buyer, b.exhibitor): b.reason for b in old.blocked}
    new_blocked = {(b.buyer, b.exhibitor): b.reason for b in new.blocked}
    for pair in sorted(new_blocked.keys() - old_blocked.keys()):
        reason = f" ({new_blocked[pair]})" if new_blocked[pair] else ""
        both(pair, f"now blocked with {{other}}{reason}")
    for pair in sorted(old_blocked.keys() - new_blocked.keys()):
        both(pair, "no longer blocked with {other}")

    def pins(scenario: Scenario) -> dict[Pair, str]:
        return {(p.buyer, p.exhibitor): f"{p.date} {p.start}" for p in scenario.pinned}

    each_pair(
        pins(old), pins(new),
        added=lambda now: f"meeting with {{other}} pinned at {now}",
        removed=lambda was: f"pin of the meeting with {{other}} at {was} removed",
        changed=lambda was, now: f"pinned meeting with {{other}} moved {was} → {now}",
    )
    return out


def _sessions_text(day: Any) -> str:
    return ", ".join(f"{s.start}–{s.end}" for s in sorted(day.sessions, key=lambda s: s.start))


def _keyed_phrases(old: dict, new: dict, added, removed, changed) -> list:
    """One phrase per key added, removed or changed between two keyed collections, in key order
    (``added(key, new)``, ``removed(key, old)``, ``changed(key, old, new)``; what they return is listed)."""
    phrases = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is None:
            phrases.append(added(key, b))
        elif b is None:
            phrases.append(removed(key, a))
        elif a != b:
            phrases.append(changed(key, a, b))
    return phrases


def _event_phrases(old: Scenario, new: Scenario) -> list[str]:
    """Changes that concern no single participant."""
    phrases: list[str] = []
    old_days, new_days = {d.date: d for d in old.days}, {d.date: d for d in new.days}
    for day in sorted(old_days.keys() | new_days.keys()):
        if day not in old_days:
            phrases.append(f"day {day} added ({_sessions_text(new_days[day])})")
        elif day not in new_days:
            phrases.append(f"day {day} removed")
        elif _sessions_text(old_days[day]) != _sessions_text(new_days[day]):
            phrases.append(f"sessions on {day}: {_sessions_text(old_days[day])} → {_sessions_text(new_days[day])}")
    phrases += _keyed_phrases(
        {loc.id: loc for loc in old.locations}, {loc.id: loc for loc in new.locations},
        added=lambda lid, b: f"location {lid} added (hall {b.hall}, {b.tables} table(s))",
        removed=lambda lid, _: f"location {lid} removed",
        changed=lambda lid, a, b: f"location {lid}: {a.tables} → {b.tables} table(s)" if a.tables != b.tables
        else f"location {lid} changed",
    )
    phrases += _keyed_phrases(
        {p.language: p for p in old.interpreters}, {p.language: p for p in new.interpreters},
        added=lambda language, b: f"{language!r} interpreters added ({b.count})",
        removed=lambda language, _: f"{language!r} interpreters removed",
        changed=lambda language, a, b: f"{language!r} interpreters {a.count} → {b.count}" if a.count != b.count
        else f"{language!r} interpreters' hours changed",
    )
    handled = {"days", "locations", "interpreters", "buyers", "exhibitors", "participants", "requests", "blocked", "pinned"}
    for name in Scenario.model_fields:
        if name in handled:
            continue
        a, b = getattr(old, name), getattr(new, name)
        if a == b:
            continue
        if name == "description":
            phrases.append("description changed")
        elif isinstance(a, int | str | bool | None) and isinstance(b, int | str | bool | None):
            phrases.append(f"{name} {a} → {b}")
        elif isinstance(a, list) and isinstance(b, list):
            phrases.append(f"{name} changed ({len(a)} → {len(b)} entries)")
        else:
            phrases.append(f"{name} changed")
    return phrases


# --------------------------------------------------------------------------------------------
# Hand edits
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandEdit:
    """One change an organizer makes to a schedule by hand.

    - ``pin``: fix the existing meeting of buyer and exhibitor where it is, by adding a
      pin to the scenario (a new scenario version); the meetings do not change.
    - ``unpin``: remove that pin from the scenario (a new scenario version); the
      meetings do not change, and the meeting may move in later re-plans.
    - ``block``: add the pair to the scenario's blocked pairs (a new scenario version)
      and drop their meeting, if they have one. A pin of the pair is removed with it
      (the organizer's newer decision wins); a must request of the pair is refused:
      change the request first.
    - ``move``: move the pair's meeting to ``date`` ('YYYY-MM-DD') ``start`` ('HH:MM'),
      at the same place. No new scenario version, unless the meeting is pinned: then
      its pin moves with it.

    ``meeting_at`` ('YYYY-MM-DD HH:MM') names which meeting of a pair that meets
    several times (a repeat request) a pin or move is for.
    """

    kind: str
    buyer: str
    exhibitor: str
    date: str | None = None
    start: str | None = None
    meeting_at: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.buyer}-{self.exhibitor}"


@dataclass
class EditOutcome:
    """An edit applied in memory: nothing is stored yet."""

    scenario: Scenario  # what the edited schedule is checked against
    scenario_data: dict[str, Any] | None  # the new scenario version's JSON data; None: the scenario does not change
    schedule: Schedule  # the edited meetings; figures still the parent's until finish_schedule
    description: str  # one line: what the edit did
    reasons: dict[Pair, str] = field(default_factory=dict)  # change report reasons by pair


def _input_error(label: str, messages: Sequence[str | Problem]) -> InputError:
    return InputError([m if isinstance(m, Problem) else Problem("", m) for m in messages], label)


def _find_person(data: dict[str, Any], person_id: str) -> dict[str, Any] | None:
    for kind in ("buyers", "exhibitors", "participants"):
        for person in data.get(kind) or []:
            if person.get("id") == person_id:
                return person
    return None


def _meeting_of(schedule: Schedule, pair: Pair, meeting_at: str | None, label: str) -> Meeting | None:
    """The pair's meeting (the one at ``meeting_at`` when given); InputError when a pair meeting
    several times does not say which."""
    own = [m for m in schedule.meetings if (m.buyer, m.exhibitor) == pair]
    if meeting_at is not None:
        own = [m for m in own if f"{m.date} {m.start}" == meeting_at.strip()]
        if not own:
            raise _input_error(label, [f"{pair[0]} and {pair[1]} have no meeting at {meeting_at}"])
    if len(own) > 1:
        times = ", ".join(f"{m.date} {m.start}" for m in own)
        raise _input_error(label, [f"{pair[0]} and {pair[1]} meet {len(own)} times ({times}): say which with meeting_at"])
    return own[0] if own else None


def _pinned_here(pin: dict[str, Any], meeting: Meeting) -> bool:
    return (str(pin.get("date")), pin.get("start")) == (str(meeting.date), meeting.start)


def _is_pair(item: dict[str, Any], pair: Pair) -> bool:
    return (item.get("buyer"), item.get("exhibitor")) == pair


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def apply_edit(data: dict[str, Any], scenario: Scenario, schedule: Schedule, edit: HandEdit) -> EditOutcome:
    """``edit`` applied to ``schedule`` and to the scenario ``data`` (``scenario`` parsed from it).

    Raises InputError (one line per problem) for an edit that cannot be made:
    unknown kind or ids, no such meeting, a malformed date or time. Whether the
    result keeps every rule is for ``check_edit`` to say.
    """
    label = edit.label
    problems: list[str] = []
    if edit.kind not in EDIT_KINDS:
        raise _input_error("edit", [f"unknown edit kind {edit.kind!r} (expected one of {', '.join(EDIT_KINDS)})"])
    buyers = {b.id for b in scenario.buyers} | {p.id for p in scenario.participants}
    exhibitors = {e.id for e in scenario.exhibitors} | {p.id for p in scenario.participants}
    if edit.buyer not in buyers:
        problems.append(f"unknown buyer {edit.buyer!r}")
    if edit.exhibitor not in exhibitors:
        problems.append(f"unknown exhibitor {edit.exhibitor!r}")
    has_time = bool(edit.date) or bool(edit.start)
    if edit.kind == "move":
        if not edit.date or not _DATE.match(edit.date):
            problems.append(f"date: expected 'YYYY-MM-DD', got {edit.date!r}")
        elif not _is_date(edit.date):
            problems.append(f"date: {edit.date} is not a date")
        if not edit.start or not _HHMM.match(edit.start):
            problems.append(f"start: expected 'HH:MM', got {edit.start!r}")
    elif has_time:
        problems.append(f"date and start are only for a move, not for {edit.kind}")
    if problems:
        raise _input_error(label, problems)

    pair: Pair = (edit.buyer, edit.exhibitor)
    data = copy.deepcopy(data)
    meeting = _meeting_of(schedule, pair, edit.meeting_at, label) if edit.kind in ("pin", "move") else None
    own = [m for m in schedule.meetings if (m.buyer, m.exhibitor) == pair]  # all of the pair's (repeat requests)
    pins = [p for p in data.get("pinned") or [] if _is_pair(p, pair)]
    new_meetings = list(schedule.meetings)
    reasons: dict[Pair, str] = {}
    scenario_changed = True

    if edit.kind in ("pin", "move") and meeting is None:
        raise _input_error(label, [f"{edit.buyer} and {edit.exhibitor} have no meeting in this schedule"])
    if edit.kind == "pin":
        where = f"{meeting.date} {meeting.start}"
        if any(_pinned_here(p, meeting) for p in pins):
            raise _input_error(label, [f"the meeting is already pinned at {where}"])
        data.setdefault("pinned", []).append(
            {"buyer": edit.buyer, "exhibitor": edit.exhibitor, "date": str(meeting.date), "start": meeting.start}
        )
        description = f"pinned {edit.buyer}-{edit.exhibitor} at {where}"
    elif edit.kind == "unpin":
        if not pins:
            raise _input_error(label, [f"{edit.buyer}-{edit.exhibitor} is not pinned"])
        data["pinned"] = [p for p in data["pinned"] if not _is_pair(p, pair)]
        description = f"unpinned {edit.buyer}-{edit.exhibitor}"
    elif edit.kind == "block":
        if any(_is_pair(b, pair) for b in data.get("blocked") or []):
            raise _input_error(label, [f"{edit.buyer}-{edit.exhibitor} is already a blocked pair"])
        data.setdefault("blocked", []).append(
            {"buyer": edit.buyer, "exhibitor": edit.exhibitor, "reason": "blocked by the organizer"}
        )
        if pins:
            data["pinned"] = [p for p in data["pinned"] if not _is_pair(p, pair)]
        for dropped in own:
            new_meetings.remove(dropped)
            reasons[pair] = f"{edit.buyer} and {edit.exhibitor} are now a blocked pair (organizer)"
        description = f"blocked {edit.buyer}-{edit.exhibitor}" + (
            f", dropping their meeting(s) at {', '.join(f'{m.date} {m.start}' for m in own)}" if own else ""
        )
    else:  # move
        target_date = date.fromisoformat(edit.date)
        if (meeting.date, meeting.start) == (target_date, edit.start):
            raise _input_error(label, [f"the meeting is already at {edit.date} {edit.start}"])
        end = hhmm(minutes(edit.start) + scenario.slot_minutes)
        moved = meeting.model_copy(update={"date": target_date, "start": edit.start, "end": end})
        new_meetings[new_meetings.index(meeting)] = moved
        reasons[pair] = "moved by the organizer"
        description = f"moved {edit.buyer}-{edit.exhibitor} from {meeting.date} {meeting.start} to {edit.date} {edit.start}"
        own_pins = [p for p in pins if _pinned_here(p, meeting)]
        if own_pins:  # a pinned meeting keeps its pin at its new place
            for pin in own_pins:
                pin.update(date=edit.date, start=edit.start)
            description += " (its pin moved with it)"
        else:
            scenario_changed = False

    # ScenarioError (an InputError) names what the edit broke, e.g. a pin where someone is away
    new_scenario = parse_scenario(data, label) if scenario_changed else scenario
    new_meetings.sort(key=lambda m: (m.date, m.start, m.buyer, m.exhibitor))
    edited = schedule.model_copy(deep=True, update={"meetings": new_meetings})
    return EditOutcome(new_scenario, data if scenario_changed else None, edited, description, reasons)


def check_edit(scenario: Scenario, schedule: Schedule, label: str, hint: str | None = None) -> None:
    """Raise InputError with one ``label: rule: message`` line per checker violation (``hint`` appended)."""
    report = check_schedule(scenario, schedule)
    if report.ok:
        return
    problems = [Problem(v.label, v.message) for v in report.violations]
    if hint:
        problems.append(Problem("", hint))
    raise InputError(problems, label)


def finish_schedule(
    schedule: Schedule,
    scenario: Scenario,
    parent: Schedule,
    parent_version: int,
    parent_sha256: str,
    keep_bounds: bool,
    touched: set[str],
    note: str,
) -> Schedule:
    """The edited schedule as a new version of ``parent``: scenario reference, version, figures.

    Stats and unscheduled requests are recomputed for the edited meetings. The
    parent's upper bounds are kept when they still hold (``keep_bounds``: the edit
    only restricted the same scenario, or moved a meeting, which keeps the meeting
    value); otherwise the schedule says "no bound". Explanations are rebuilt (within
    EXPLAIN_SECONDS) for fairs of up to EXPLAIN_MAX_PAIRS buyer-exhibitor pairs; on
    larger ones that would take longer than an edit should, so the parent's are kept
    except those about the ``touched`` participants (``matchmaker explain`` gives all).
    """
    from ..analysis.explain import explain_schedule, mentions
    from ..instance.candidates import build_instance
    from ..solver.bounds import Bounds, fill
    from ..solver.solution import build_schedule

    started = time.monotonic()
    out = schedule.model_copy(deep=True)
    out.scenario = ScenarioRef(name=scenario.name, sha256=scenario.fingerprint())
    out.version = parent.version + 1  # calendars exported later replace the parent's entries
    out.previous = PreviousRef(file=f"schedule version {parent_version}", sha256=parent_sha256, version=parent.version)
    if out.solver is not None:
        out.solver.message = note

    # Only the requested, pinned and scheduled pairs: all the figures need, without matching every pair.
    scheduled = {(m.buyer, m.exhibitor) for m in out.meetings}
    instance = build_instance(scenario, candidates_per_meeting=None, forced_pairs=scheduled, exhibitors_of=lambda b: ())
    candidate = {(instance.parties[c.buyer].id, instance.parties[c.exhibitor].id): c.index for c in instance.candidates}
    placed: dict[int, int] = {}
    for m in out.meetings:
        c, s = candidate.get((m.buyer, m.exhibitor)), instance.grid.slot_at(m.date, m.start)
        if c is None or s is None:  # the checker passed, so this is a bug: keep the parent's figures
            logger.error("bug: edited meeting %s-%s at %s %s has no candidate slot; figures left as they were",
                         m.buyer, m.exhibitor, m.date, m.start)
            return out
        placed[c] = s
    rebuilt = build_schedule(instance, placed, out.solver)
    stats = rebuilt.stats
    for name in ("candidates", "candidates_before_pruning", "variables"):  # how the parent was solved
        setattr(stats, name, getattr(parent.stats, name))
    old = parent.stats
    bounds = Bounds(old.upper_bound_meetings, old.upper_bound_value, old.upper_bound_objective, "the edited version's")
    fill(stats, scenario.weights, bounds if keep_bounds else None)
    out.stats = stats
    out.unscheduled_requests = rebuilt.unscheduled_requests
    if len(scenario.buyers) * len(scenario.exhibitors) <= EXPLAIN_MAX_PAIRS:
        out.explanations = explain_schedule(scenario, out, deadline=started + EXPLAIN_SECONDS)
    else:
        out.explanations = [x for x in parent.explanations if not any(mentions(x, p) for p in touched)]
        logger.info("explanations of %s left out after the edit (a large fair): matchmaker explain gives them",
                    ", ".join(sorted(touched)))
    return out


# --------------------------------------------------------------------------------------------
# During the fair
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FairReport:
    """What the organizer reports during the fair (see ``during_fair``)."""

    now: str  # 'YYYY-MM-DD HH:MM', local time of the fair
    cancelled: tuple[Pair, ...] = ()  # meetings called off that have not started
    no_shows: tuple[Pair, ...] = ()  # meetings that started without one side
    gone: tuple[tuple[str, str], ...] = ()  # (participant id, 'YYYY-MM-DD'): gone for the rest of that day

    def to_json_data(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "cancelled": [list(p) for p in self.cancelled],
            "no_shows": [list(p) for p in self.no_shows],
            "gone": [list(g) for g in self.gone],
        }


@dataclass
class FairChanges:
    """The scenario after a ``FairReport``: its JSON data (None when the scenario does not change) and a summary."""

    scenario_data: dict[str, Any] | None
    summary: str
    downgraded: list[Pair] = field(default_factory=list)  # must requests made wants (their meeting is lost)


def during_fair(data: dict[str, Any], scenario: Scenario, schedule: Schedule, report: FairReport) -> FairChanges:
    """The scenario ``data`` changed by what happened during the fair; InputError lists every bad entry.

    - a **cancelled** meeting (one that starts at or after ``now``) is not placed
      again: the pair becomes a blocked pair (reason "cancelled during the fair
      at NOW") and its requests, pins and precedences are removed (a must request
      or pin of a blocked pair is not allowed);
    - a **no-show** (a meeting that started before ``now``) stays in the schedule
      as it was: the past is frozen, and a pair meets at most once, so it is not
      placed again. The scenario does not change for it (the job records it);
    - a participant **gone** for the rest of a day is no longer available on that
      day from ``now`` (or from the end of the slot running then) if the day is
      today, or all day for a later day. Its pins in that time are removed, and
      its must requests whose meeting lay in that time become wants, so the
      re-plan places them again when it can instead of failing.
    """
    label = "during the fair"
    problems: list[str] = []
    now: datetime | None = None
    try:
        now = datetime.strptime(report.now.strip(), MOMENT_FORMAT)
    except (ValueError, AttributeError):
        problems.append(f"now: expected 'YYYY-MM-DD HH:MM', got {report.now!r}")
    fair_days = sorted(d.date for d in scenario.days)
    if now is not None and now.date() not in fair_days:
        problems.append(f"now: {now.date()} is not a day of the fair ({', '.join(map(str, fair_days))})")
    now_key = (now.date(), now.hour * 60 + now.minute) if now is not None else None

    meetings = {(m.buyer, m.exhibitor): m for m in schedule.meetings}

    def meeting(pair: Any, what: str) -> Meeting | None:
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            problems.append(f"{what}: expected a (buyer, exhibitor) pair, got {pair!r}")
            return None
        found = meetings.get(tuple(pair))
        if found is None:
            problems.append(f"{what} {pair[0]}-{pair[1]}: not a meeting of this schedule")
        return found

    cancelled: list[Meeting] = []
    for pair in dict.fromkeys(tuple(p) if isinstance(p, list) else p for p in report.cancelled):
        m = meeting(pair, "cancelled")
        if m is not None and now_key is not None:
            if (m.date, minutes(m.start)) < now_key:
                problems.append(f"cancelled {m.buyer}-{m.exhibitor}: the meeting started at {m.date} {m.start}, before now;"
                                " report it as a no-show")
            else:
                cancelled.append(m)
    no_shows: list[Meeting] = []
    for pair in dict.fromkeys(tuple(p) if isinstance(p, list) else p for p in report.no_shows):
        m = meeting(pair, "no-show")
        if m is not None and now_key is not None:
            if (m.date, minutes(m.start)) >= now_key:
                problems.append(f"no-show {m.buyer}-{m.exhibitor}: the meeting starts at {m.date} {m.start}, not before now;"
                                " report it as cancelled")
            else:
                no_shows.append(m)
    both = {(m.buyer, m.exhibitor) for m in cancelled} & {(m.buyer, m.exhibitor) for m in no_shows}
    problems.extend(f"{b}-{e} is reported both as cancelled and as a no-show" for b, e in sorted(both))

    known = scenario.participant_ids()
    gone: list[tuple[str, date]] = []
    for entry in dict.fromkeys(tuple(g) if isinstance(g, list) else g for g in report.gone):
        if not (isinstance(entry, tuple) and len(entry) == 2 and all(isinstance(x, str) for x in entry)):
            problems.append(f"gone: expected a (participant, date) pair, got {entry!r}")
            continue
        person, day_text = entry
        if person not in known:
            problems.append(f"gone {person}: unknown participant")
        if not _DATE.match(day_text):
            problems.append(f"gone {person}: date: expected 'YYYY-MM-DD', got {day_text!r}")
            continue
        if not _is_date(day_text):
            problems.append(f"gone {person}: {day_text} is not a date")
            continue
        day = date.fromisoformat(day_text)
        if day not in fair_days:
            problems.append(f"gone {person}: {day} is not a day of the fair")
        elif now is not None and day < now.date():
            problems.append(f"gone {person}: {day} is before now ({report.now})")
        elif person in known:
            gone.append((person, day))
    if problems:
        raise _input_error(label, problems)
    assert now is not None and now_key is not None
    at = now.strftime(MOMENT_FORMAT)

    data = copy.deepcopy(data)
    changed = False
    pairs_off = {(m.buyer, m.exhibitor) for m in cancelled}
    for b, e in sorted(pairs_off):
        data.setdefault("blocked", []).append({"buyer": b, "exhibitor": e, "reason": f"cancelled during the fair at {at}"})
    if pairs_off:
        changed = True
        off = {frozenset(p) for p in pairs_off}
        _keep_only(data, "requests", lambda r: (r.get("buyer"), r.get("exhibitor")) not in pairs_off)
        _keep_only(data, "pinned", lambda p: (p.get("buyer"), p.get("exhibitor")) not in pairs_off)
        _keep_only(data, "precedences", lambda rule: not any(
            frozenset((rule[side]["buyer"], rule[side]["exhibitor"])) in off for side in ("before", "after")
        ))

    slot_ends = _slot_ends(scenario)
    spans = _day_spans(scenario)
    downgraded: list[Pair] = []
    for person_id, day in gone:
        # from now, or from the end of a slot that started before now (its meeting is frozen and stays valid)
        cut = 0 if day > now_key[0] else max([now_key[1], *(end for start, end in slot_ends[day] if start < now_key[1])])
        person = _find_person(data, person_id)
        if _cut_availability(person, day, cut, spans):
            changed = True
        lost = {
            (m.buyer, m.exhibitor) for m in schedule.meetings
            if person_id in (m.buyer, m.exhibitor) and m.date == day and minutes(m.start) >= cut
        }

        def outside(pin: dict[str, Any], person_id: str = person_id, day: date = day, cut: int = cut) -> bool:
            return not (person_id in (pin.get("buyer"), pin.get("exhibitor")) and pin.get("date") == str(day)
                        and minutes(pin["start"]) >= cut)

        changed |= _keep_only(data, "pinned", outside)
        for request in data.get("requests") or []:
            if (request.get("buyer"), request.get("exhibitor")) in lost and request.get("level") == "must":
                request["level"] = "want"
                downgraded.append((request["buyer"], request["exhibitor"]))
                changed = True

    parts = [f"{len(cancelled)} cancelled"] if cancelled else []
    parts += [f"{len(no_shows)} no-show(s)"] if no_shows else []
    parts += [f"gone: {', '.join(f'{p} on {d}' for p, d in gone)}"] if gone else []
    summary = f"during the fair at {at}: " + ("; ".join(parts) or "no changes reported")
    if changed:
        parse_scenario(data, label)  # validated here: a bad result stores nothing
    return FairChanges(data if changed else None, summary, sorted(set(downgraded)))


def _keep_only(data: dict[str, Any], key: str, keep) -> bool:
    """Drop the items of list ``data[key]`` that ``keep`` refuses (no key is added); True if any went."""
    if key not in data or data[key] is None:
        return False
    kept = [item for item in data[key] if keep(item)]
    dropped = len(kept) != len(data[key])
    data[key] = kept
    return dropped


def _slot_ends(scenario: Scenario) -> dict[date, list[tuple[int, int]]]:
    """(start, end) of every slot of each day, in minutes."""
    step = scenario.slot_minutes + scenario.changeover_minutes
    out: dict[date, list[tuple[int, int]]] = defaultdict(list)
    for day in scenario.days:
        for session in day.sessions:
            t = minutes(session.start)
            while t + scenario.slot_minutes <= minutes(session.end):
                out[day.date].append((t, t + scenario.slot_minutes))
                t += step
    return out


def _cut_availability(person: dict[str, Any], day: date, cut: int, spans: dict[date, tuple[int, int]]) -> bool:
    """Make ``person`` unavailable on ``day`` from minute ``cut``; True when that changed anything."""
    windows = person.get("availability")
    if windows is None:  # the whole fair: spelled out per day, so one day can be cut
        windows = [{"date": str(d), "start": hhmm(lo), "end": hhmm(hi)} for d, (lo, hi) in sorted(spans.items())]
    kept, changed = [], False
    for window in windows:
        if window["date"] != str(day) or minutes(window["end"]) <= cut:
            kept.append(window)
        elif minutes(window["start"]) < cut:
            kept.append({**window, "end": hhmm(cut)})
            changed = True
        else:
            changed = True  # the whole window is after the cut
    if changed:
        person["availability"] = kept
    return changed
