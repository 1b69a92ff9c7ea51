"""Independent schedule checker.

Re-derives every hard rule from the Scenario and the Schedule alone. It does
not import the slot grid, candidate generation or the CP-SAT model on purpose:
a checker that shares the model's code shares its bugs. Overlaps are decided
with clock times, never with slot indices.

Each rule family is one small generator yielding ``Violation``s; ``check_schedule``
runs them all and collects the result.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from ..spec.rules import (  # LABELS and BROKERAGE_LABELS are re-exported for callers
    BLOCKED_PAIR,
    BREAK_FAIRNESS,
    BROKERAGE_LABELS,
    DOUBLE_BOOKED,
    INTERPRETER_CAPACITY,
    INTERPRETER_FIELD,
    LABELS,
    MAX_MEETINGS,
    MAX_MEETINGS_PER_DAY,
    MUST_MISSING,
    NOT_A_SLOT,
    PAIR_REPEATED,
    PINNED_MISSING,
    PRECEDENCE,
    SESSION,
    TABLE_CAPACITY,
    UNAVAILABLE,
    UNKNOWN_PARTICIPANT,
    WALKING_TIME,
    WRONG_LOCATION,
)
from ..spec.scenario import (
    Buyer,
    Exhibitor,
    Participant,
    Scenario,
    Window,
    hhmm,
    minutes,
)
from ..spec.schedule import Meeting, Schedule

__all__ = ["BROKERAGE_LABELS", "LABELS", "CheckReport", "Violation", "check_schedule"]

DIFFERENT_SCENARIO = "schedule was made from a different version of the scenario"


@dataclass(frozen=True)
class Violation:
    """One broken rule: a label (see LABELS) and one human line naming ids, date and time."""

    label: str
    message: str

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"


@dataclass
class CheckReport:
    violations: list[Violation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def labels(self) -> set[str]:
        return {v.label for v in self.violations}

    def lines(self) -> list[str]:
        """Warnings then violations, one line each."""
        return [f"warning: {w}" for w in self.warnings] + [str(v) for v in self.violations]


# ---------------------------------------------------------------------------
# What the rules look at
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _M:
    """A scheduled meeting with its times in minutes after midnight."""

    buyer: str
    exhibitor: str
    date: date
    start: int
    end: int  # the stated end; start + slot_minutes when the stated end is not after the start
    location: str
    interpreter: str | None

    @property
    def pair(self) -> tuple[str, str]:
        return (self.buyer, self.exhibitor)

    @property
    def name(self) -> str:
        return f"{self.buyer}-{self.exhibitor}"

    @property
    def at(self) -> str:
        return f"{self.date} {hhmm(self.start)}"

    @property
    def span(self) -> str:
        return f"{self.date} {hhmm(self.start)}-{hhmm(self.end)}"


@dataclass
class _Facts:
    """Lookups derived from the scenario once."""

    scenario: Scenario
    buyers: dict[str, Buyer]
    exhibitors: dict[str, Exhibitor]
    tables: dict[str, int]
    hall: dict[str, str]
    walk: dict[frozenset[str], int]
    slot_starts: dict[date, set[int]]
    participants: dict[str, Participant] = field(default_factory=dict)
    # (session, meetings, level) per requested pair: one entry, or a morning and an afternoon entry.
    asked: dict[tuple[str, str], list[tuple[str | None, int, str]]] = field(default_factory=dict)

    def side(self, participant_id: str, field_name: str):
        """The person named in a meeting's ``buyer``/``exhibitor`` field (participants fit either), or None."""
        people = self.buyers if field_name == "buyer" else self.exhibitors
        return people.get(participant_id) or self.participants.get(participant_id)

    @classmethod
    def of(cls, scenario: Scenario) -> _Facts:
        walk: dict[frozenset[str], int] = {}
        for entry in scenario.walking_minutes:
            key = frozenset((entry.from_, entry.to))
            walk[key] = max(walk.get(key, 0), entry.minutes)
        step = scenario.slot_minutes + scenario.changeover_minutes
        slot_starts: dict[date, set[int]] = defaultdict(set)
        for day in scenario.days:
            for session in day.sessions:
                t = minutes(session.start)
                while t + scenario.slot_minutes <= minutes(session.end):
                    slot_starts[day.date].add(t)
                    t += step
        return cls(
            scenario=scenario,
            buyers={b.id: b for b in scenario.buyers},
            exhibitors={e.id: e for e in scenario.exhibitors},
            tables={loc.id: loc.tables for loc in scenario.locations},
            hall={loc.id: loc.hall for loc in scenario.locations},
            walk=walk,
            slot_starts=dict(slot_starts),
            participants={p.id: p for p in scenario.participants},
            asked=_asked(scenario),
        )

    def kind(self, participant_id: str) -> str:
        if participant_id in self.buyers:
            return "buyer"
        if participant_id in self.exhibitors:
            return "exhibitor"
        return "participant"  # kind-neutral participants, and unknown ids

    def walking(self, hall_a: str, hall_b: str) -> int:
        if hall_a == hall_b:
            return 0
        return self.walk.get(frozenset((hall_a, hall_b)), 0)


def _asked(scenario: Scenario) -> dict[tuple[str, str], list[tuple[str | None, int, str]]]:
    """What each requested pair asks for: requests of a pair describe the same meetings (the larger
    ``meetings`` counts, must wins, a session-less request takes the pair's session), except that
    morning and afternoon requests are meetings of their own."""
    by_pair: dict[tuple[str, str], list] = defaultdict(list)
    for request in scenario.requests:
        by_pair[(request.buyer, request.exhibitor)].append(request)
    asked = {}
    for pair, requests in by_pair.items():
        sessions = {r.session for r in requests} - {None}
        if len(sessions) < 2:
            parts = [(next(iter(sessions), None), requests)]
        else:
            parts = [(name, [r for r in requests if r.session == name]) for name in sorted(sessions)]
        asked[pair] = [
            (session, max(r.meetings for r in own), "must" if any(r.level == "must" for r in own) else "want")
            for session, own in parts
        ]
    return asked


def _meeting(m: Meeting, slot_minutes: int) -> _M:
    start, end = minutes(m.start), minutes(m.end)
    if end <= start:
        end = start + slot_minutes
    return _M(m.buyer, m.exhibitor, m.date, start, end, m.location, m.interpreter)


def _inside(windows: list[Window], day: date, start: int, end: int) -> bool:
    return any(w.date == day and minutes(w.start) <= start and end <= minutes(w.end) for w in windows)


def _needed_language(buyer: Buyer | Participant, exhibitor: Exhibitor | Participant) -> str | None:
    """The interpreter language a meeting needs, or None (the buyer-field side's first language)."""
    if getattr(buyer, "own_interpreter", False) or not buyer.languages or not exhibitor.languages:
        return None
    if set(buyer.languages) & set(exhibitor.languages):
        return None
    return buyer.languages[0]


def _crowds(meetings: Iterable[_M]) -> Iterator[tuple[int, list[_M]]]:
    """(moment, meetings running then, sorted) at each distinct start time; meetings of one date only."""
    by_start: dict[int, list[_M]] = defaultdict(list)
    for m in meetings:
        by_start[m.start].append(m)
    active: list[_M] = []
    for t in sorted(by_start):
        active = [m for m in active if m.end > t] + by_start[t]
        yield t, sorted(active, key=lambda m: (m.buyer, m.exhibitor, m.start, m.end))


def _group(meetings: Iterable[_M], key: Callable[[_M], object]) -> dict:
    groups: dict = defaultdict(list)
    for m in meetings:
        groups[key(m)].append(m)
    return groups


def _known(facts: _Facts, meetings: list[_M]) -> list[_M]:
    return [m for m in meetings if facts.side(m.buyer, "buyer") is not None and facts.side(m.exhibitor, "exhibitor") is not None]


# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------


def _unknown_participants(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    for m in meetings:
        if facts.side(m.buyer, "buyer") is None:
            yield Violation(UNKNOWN_PARTICIPANT, f"meeting {m.name} at {m.at}: {m.buyer!r} is not a buyer of the scenario")
        if facts.side(m.exhibitor, "exhibitor") is None:
            yield Violation(UNKNOWN_PARTICIPANT, f"meeting {m.name} at {m.at}: {m.exhibitor!r} is not an exhibitor of the scenario")


def _slot_grid(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    slot = facts.scenario.slot_minutes
    for m in meetings:
        reasons = []
        if m.date not in facts.slot_starts:
            reasons.append(f"{m.date} is not a day of the fair")
        elif m.start not in facts.slot_starts[m.date]:
            reasons.append(f"{hhmm(m.start)} is not the start of a slot on {m.date}")
        if m.end != m.start + slot:
            reasons.append(f"ends at {hhmm(m.end)}, not {hhmm(m.start + slot)} ({slot}-minute slots)")
        if reasons:
            yield Violation(NOT_A_SLOT, f"meeting {m.name} at {m.at}: " + "; ".join(reasons))


def _locations(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    for m in meetings:
        exhibitor = facts.exhibitors.get(m.exhibitor)
        if m.buyer in facts.participants or m.exhibitor in facts.participants:
            expected = facts.scenario.shared_location
            if m.location != expected:
                yield Violation(WRONG_LOCATION, f"meeting {m.name} at {m.at} is held at {m.location}, expected the shared location {expected}")
            continue
        if exhibitor is None:
            continue
        if exhibitor.location is not None:
            expected, what = exhibitor.location, f"{exhibitor.id}'s booth"
        else:
            expected, what = facts.scenario.shared_location, "the shared location"
        if m.location != expected:
            yield Violation(WRONG_LOCATION, f"meeting {m.name} at {m.at} is held at {m.location}, expected {what} {expected}")


def _availability(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    for m in meetings:
        for person in (facts.side(m.buyer, "buyer"), facts.side(m.exhibitor, "exhibitor")):
            if person is None or person.availability is None:
                continue
            if not _inside(person.availability, m.date, m.start, m.end):
                yield Violation(UNAVAILABLE, f"{facts.kind(person.id)} {person.id} is not available for meeting {m.name} at {m.span}")


def _double_bookings(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    by_person: dict[tuple[str, date], list[_M]] = defaultdict(list)
    for m in meetings:
        by_person[(m.buyer, m.date)].append(m)
        if m.exhibitor != m.buyer:
            by_person[(m.exhibitor, m.date)].append(m)
    for (person, day), own in by_person.items():
        for t, running in _crowds(own):
            if len(running) > 1:
                others = ", ".join(m.exhibitor if m.buyer == person else m.buyer for m in running)
                yield Violation(
                    DOUBLE_BOOKED,
                    f"{facts.kind(person)} {person} has {len(running)} meetings at {day} {hhmm(t)} ({others})",
                )


def _table_capacity(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    for (location, day), here in _group(meetings, lambda m: (m.location, m.date)).items():
        tables = facts.tables.get(location, 1)
        for t, running in _crowds(here):
            if len(running) > tables:
                names = ", ".join(m.name for m in running)
                yield Violation(
                    TABLE_CAPACITY,
                    f"location {location} has {len(running)} meetings at {day} {hhmm(t)} but {tables} table(s) ({names})",
                )


def _pairs(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    """A pair meets at most as often as its requests ask (once without a request), or as it is pinned."""
    pins = Counter((p.buyer, p.exhibitor) for p in facts.scenario.pinned)
    for (buyer, exhibitor), same in _group(meetings, lambda m: m.pair).items():
        asked = sum(count for _session, count, _level in facts.asked.get((buyer, exhibitor), ()))
        allowed = max(asked, pins[(buyer, exhibitor)], 1)
        if len(same) > allowed:
            times = ", ".join(m.at for m in sorted(same, key=lambda m: (m.date, m.start)))
            limit = f", at most {allowed} requested" if allowed > 1 else ""
            yield Violation(PAIR_REPEATED, f"{buyer}-{exhibitor} meet {len(same)} times ({times}){limit}")
    blocked = {(p.buyer, p.exhibitor): p.reason for p in facts.scenario.blocked}
    for m in meetings:
        if m.pair in blocked:
            reason = f" ({blocked[m.pair]})" if blocked[m.pair] else ""
            yield Violation(BLOCKED_PAIR, f"meeting {m.name} at {m.at} is a blocked pair{reason}")


def _caps(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    total: Counter[str] = Counter()
    per_day: Counter[tuple[str, date]] = Counter()
    for m in meetings:
        for person in {m.buyer, m.exhibitor}:
            total[person] += 1
            per_day[(person, m.date)] += 1
    for person in [*facts.scenario.buyers, *facts.scenario.exhibitors, *facts.scenario.participants]:
        kind = facts.kind(person.id)
        if person.max_meetings is not None and total[person.id] > person.max_meetings:
            yield Violation(MAX_MEETINGS, f"{kind} {person.id} has {total[person.id]} meetings, max_meetings is {person.max_meetings}")
        if person.max_meetings_per_day is not None:
            for day in sorted({d for (p, d) in per_day if p == person.id}):
                if per_day[(person.id, day)] > person.max_meetings_per_day:
                    yield Violation(
                        MAX_MEETINGS_PER_DAY,
                        f"{kind} {person.id} has {per_day[(person.id, day)]} meetings on {day}, "
                        f"max_meetings_per_day is {person.max_meetings_per_day}",
                    )


def _musts(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    """A must request asking for k meetings has k (in its session, when the pair's requests name two sessions)."""
    held = _group(meetings, lambda m: m.pair)
    for (buyer, exhibitor), groups in facts.asked.items():
        for session, count, level in groups:
            if level != "must":
                continue
            own = held.get((buyer, exhibitor), [])
            if len(groups) > 1:
                own = [m for m in own if _held_session(facts, m) == session]
            if len(own) >= count:
                continue
            if count == 1:
                yield Violation(MUST_MISSING, f"must request {buyer}-{exhibitor} has no meeting")
            else:
                where = f" in the {session}" if len(groups) > 1 else ""
                yield Violation(MUST_MISSING, f"must request {buyer}-{exhibitor} asks for {count} meetings{where}, {len(own)} scheduled")


def _pins(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    held = {(m.buyer, m.exhibitor, m.date, m.start) for m in meetings}
    by_pair = _group(meetings, lambda m: m.pair)
    for pin in facts.scenario.pinned:
        if (pin.buyer, pin.exhibitor, pin.date, minutes(pin.start)) in held:
            continue
        elsewhere = sorted(by_pair.get((pin.buyer, pin.exhibitor), []), key=lambda m: (m.date, m.start))
        instead = f" (scheduled at {', '.join(m.at for m in elsewhere)} instead)" if elsewhere else ""
        yield Violation(PINNED_MISSING, f"pinned meeting {pin.buyer}-{pin.exhibitor} at {pin.date} {pin.start} is not in the schedule{instead}")


def _walking(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    for (buyer, day), own in _group(meetings, lambda m: (m.buyer, m.date)).items():
        own = sorted(own, key=lambda m: (m.start, m.end, m.location, m.exhibitor))
        for prev, nxt in zip(own, own[1:]):
            hall_a, hall_b = facts.hall.get(prev.location), facts.hall.get(nxt.location)
            if hall_a is None or hall_b is None or hall_a == hall_b:
                continue  # same hall: no walk; unknown location: reported as wrong-location
            need = facts.walking(hall_a, hall_b)
            gap = nxt.start - prev.end
            if 0 <= gap < need:  # gap < 0 is an overlap, reported as double-booked
                yield Violation(
                    WALKING_TIME,
                    f"buyer {buyer} on {day} has {gap} minutes from {prev.exhibitor} in hall {hall_a} (ends {hhmm(prev.end)}) "
                    f"to {nxt.exhibitor} in hall {hall_b} ({hhmm(nxt.start)}), walking takes {need}",
                )


def _interpreter_fields(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    for m in _known(facts, meetings):
        needed = _needed_language(facts.side(m.buyer, "buyer"), facts.side(m.exhibitor, "exhibitor"))
        if m.interpreter == needed:
            continue
        if needed is None:
            problem = f"needs no interpreter but the field says {m.interpreter!r}"
        else:
            problem = f"needs a {needed!r} interpreter but the field says {m.interpreter!r}"
        yield Violation(INTERPRETER_FIELD, f"meeting {m.name} at {m.at} {problem}")


def _interpreter_capacity(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    pools = {pool.language: pool for pool in facts.scenario.interpreters}
    covered: dict[tuple[str, date], list[_M]] = defaultdict(list)
    for m in _known(facts, meetings):
        language = _needed_language(facts.side(m.buyer, "buyer"), facts.side(m.exhibitor, "exhibitor"))
        if language is None:
            continue
        pool = pools.get(language)
        if pool is None or pool.count == 0 or (pool.availability is not None and not _inside(pool.availability, m.date, m.start, m.end)):
            yield Violation(INTERPRETER_CAPACITY, f"meeting {m.name} at {m.span} needs a {language!r} interpreter and none is available then")
        else:
            covered[(language, m.date)].append(m)
    for (language, day), needing in covered.items():
        count = pools[language].count
        for t, running in _crowds(needing):
            if len(running) > count:
                names = ", ".join(m.name for m in running)
                yield Violation(
                    INTERPRETER_CAPACITY,
                    f"{len(running)} meetings need a {language!r} interpreter at {day} {hhmm(t)} but the pool has {count} ({names})",
                )


def _sessions_of_day(facts: _Facts, day: date) -> list[tuple[int, int]]:
    """(start, end) of the sessions of ``day`` in time order, in minutes."""
    for d in facts.scenario.days:
        if d.date == day:
            return sorted((minutes(s.start), minutes(s.end)) for s in d.sessions)
    return []


def _held_session(facts: _Facts, m: _M) -> str | None:
    """"morning" (the day's first session), "afternoon" (a later one) or None (outside every session)."""
    spans = _sessions_of_day(facts, m.date)
    index = next((i for i, (lo, hi) in enumerate(spans) if lo <= m.start and m.end <= hi), None)
    return None if index is None else ("morning" if index == 0 else "afternoon")


def _session_rule(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    """A request restricted to the morning (first session of a day) or afternoon (a later session) is held then.

    A pair with morning and afternoon requests has at most each session's count in it.
    """
    for pair, same in _group(meetings, lambda m: m.pair).items():
        groups = [(session, count) for session, count, _level in facts.asked.get(pair, ()) if session is not None]
        if not groups:
            continue
        if len(groups) == 1:
            session = groups[0][0]
            for m in same:
                held = _held_session(facts, m)
                if held != session:
                    yield Violation(SESSION, f"meeting {m.name} at {m.at} must be in the {session} but is held {'in the ' + held if held else 'outside every session'}")
            continue
        for m in same:
            if _held_session(facts, m) is None:
                yield Violation(SESSION, f"meeting {m.name} at {m.at} must be in the morning or the afternoon but is held outside every session")
        for session, count in groups:
            here = sorted((m for m in same if _held_session(facts, m) == session), key=lambda m: (m.date, m.start))
            if len(here) > count:
                times = ", ".join(m.at for m in here)
                yield Violation(SESSION, f"{here[0].name} meet {len(here)} times in the {session} ({times}) but {count} {session} meeting(s) were requested")


def _precedence_rule(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    """Meeting A ends before meeting B starts, when both take place (either orientation of a pair counts)."""
    held: dict[frozenset[str], list[_M]] = defaultdict(list)
    for m in meetings:
        held[frozenset(m.pair)].append(m)
    for rule in facts.scenario.precedences:
        first = held.get(frozenset((rule.before.buyer, rule.before.exhibitor)), [])
        second = held.get(frozenset((rule.after.buyer, rule.after.exhibitor)), [])
        for a in first:
            for b in second:
                if (b.date, b.start) < (a.date, a.end):
                    yield Violation(
                        PRECEDENCE,
                        f"meeting {a.name} ({a.span}) must end before meeting {b.name} starts, but that starts at {b.at}",
                    )


def participant_breaks(facts: _Facts, meetings: list[_M]) -> dict[str, int]:
    """Breaks per participant: runs of idle slots between two of its meetings on one day.

    Slots are the session grid of each day in time order; the last slot of a session
    and the first of the next one of the same day count as adjacent.
    """
    position = {(day, start): i for day, starts in facts.slot_starts.items() for i, start in enumerate(sorted(starts))}
    busy: dict[tuple[str, date], list[int]] = defaultdict(list)
    for m in meetings:
        if (m.date, m.start) not in position:
            continue  # reported as not-a-slot
        for person in {m.buyer, m.exhibitor}:
            busy[(person, m.date)].append(position[(m.date, m.start)])
    everyone = [p.id for p in [*facts.scenario.buyers, *facts.scenario.exhibitors, *facts.scenario.participants]]
    breaks = dict.fromkeys(everyone, 0)
    for (person, _day), own in busy.items():
        own.sort()
        breaks[person] = breaks.get(person, 0) + sum(1 for a, b in zip(own, own[1:]) if b - a > 1)
    return breaks


def _break_fairness(facts: _Facts, meetings: list[_M]) -> Iterator[Violation]:
    """Most breaks minus fewest breaks over all participants is at most fairness.max_break_spread."""
    spread = facts.scenario.fairness.max_break_spread
    if spread is None:
        return
    breaks = participant_breaks(facts, meetings)
    if not breaks:
        return
    most = max(breaks.values())
    fewest = min(breaks.values())
    if most - fewest > spread:
        top = sorted(p for p, n in breaks.items() if n == most)[:5]
        low = sorted(p for p, n in breaks.items() if n == fewest)[:5]
        yield Violation(
            BREAK_FAIRNESS,
            f"{', '.join(top)} {'have' if len(top) > 1 else 'has'} {most} breaks but {', '.join(low)} {fewest}: "
            f"spread {most - fewest} exceeds max_break_spread {spread}",
        )


RULES: tuple[Callable[[_Facts, list[_M]], Iterator[Violation]], ...] = (
    _unknown_participants,
    _slot_grid,
    _locations,
    _availability,
    _double_bookings,
    _table_capacity,
    _pairs,
    _caps,
    _musts,
    _pins,
    _walking,
    _interpreter_fields,
    _interpreter_capacity,
    _session_rule,
    _precedence_rule,
    _break_fairness,
)


def check_schedule(scenario: Scenario, schedule: Schedule) -> CheckReport:
    """Every hard-rule violation of ``schedule`` against ``scenario``; warnings for a stale schedule."""
    facts = _Facts.of(scenario)
    meetings = [_meeting(m, scenario.slot_minutes) for m in schedule.meetings]
    report = CheckReport()
    for rule in RULES:
        report.violations.extend(rule(facts, meetings))
    if schedule.scenario.sha256 != scenario.fingerprint() or schedule.scenario.name != scenario.name:
        report.warnings.append(DIFFERENT_SCENARIO)
    return report
