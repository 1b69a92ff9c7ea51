"""Why a requested meeting is missing, why a participant is below its minimum, why a booth is empty.

Every explanation is computed from the scenario and the schedule alone, without
CP-SAT: the candidate instance is rebuilt (unpruned, and pruned the way the
solver pruned it) to know each pair's common slots, interpreter need and whether
the optimizer ever saw it; the schedule says who is busy when, which tables and
interpreters are taken and where each buyer walks from.

A pair is classified by the first of these tests that holds (see
docs/explanations.md for what an organizer can do about each):

1. ``blocked``: the pair is blocked.
2. ``no_interest``: nothing the buyer wants is offered and nobody asked.
3. ``no_common_slot``: the two are never available at the same time.
4. ``no_interpreter``: an interpreter is needed and none is on duty when both are free.
5. ``cap_reached`` (total): one side already has its ``max_meetings``.
6. ``counterpart_booked``: at every common slot one side is in another meeting.
7. Otherwise the slots where both are free decide: ``traded_off`` (or ``pruned`` when the
   optimizer never saw the pair) if one of them breaks no rule; else the rule that blocks
   most of them: ``cap_reached`` (``max_meetings_per_day``), ``interpreter_full``,
   ``table_full`` or ``walking_time``.

A participant's summary (below ``min_meetings``, an exhibitor without meetings)
classifies every counterpart it matches or was requested with, and takes the
most frequent category.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, ScheduleFileError
from ..instance.candidates import (
    DEFAULT_CANDIDATES_PER_EXHIBITOR,
    DEFAULT_CANDIDATES_PER_MEETING,
    Instance,
    merge_requests,
    build_instance,
    requested_meetings,
    needs_interpreter,
    pair_value,
)
from ..instance.slots import SlotGrid
from ..spec.scenario import Buyer, Exhibitor, Scenario, hhmm
from ..spec.schedule import Explanation, Schedule

logger = logging.getLogger(__name__)

EXPLAIN_ALL_PAIRS_MAX = 2_000_000  # matching pairs above which explanations use the solve's kept pairs

# --- categories (the order is the precedence when two are equally frequent) ---
BLOCKED = "blocked"
NO_INTEREST = "no_interest"
NO_COMMON_SLOT = "no_common_slot"
NO_INTERPRETER = "no_interpreter"
CAP_REACHED = "cap_reached"
COUNTERPART_BOOKED = "counterpart_booked"
INTERPRETER_FULL = "interpreter_full"
TABLE_FULL = "table_full"
WALKING_TIME = "walking_time"
PRUNED = "pruned"
TRADED_OFF = "traded_off"

CATEGORIES: tuple[str, ...] = (
    BLOCKED,
    NO_INTEREST,
    NO_COMMON_SLOT,
    NO_INTERPRETER,
    CAP_REACHED,
    COUNTERPART_BOOKED,
    INTERPRETER_FULL,
    TABLE_FULL,
    WALKING_TIME,
    PRUNED,
    TRADED_OFF,
)

CATEGORY_DESCRIPTIONS: dict[str, str] = {
    BLOCKED: "the pair is blocked (competitors, met before)",
    NO_INTEREST: "no offer matches an interest and nobody requested the meeting",
    NO_COMMON_SLOT: "the two are never available at the same time",
    NO_INTERPRETER: "an interpreter is needed and none is on duty when both are free",
    CAP_REACHED: "max_meetings or max_meetings_per_day of one side is reached",
    COUNTERPART_BOOKED: "at every common free slot one side is in another meeting",
    INTERPRETER_FULL: "the interpreter pool of the language is busy at the remaining slots",
    TABLE_FULL: "every table of the meeting place is taken at the remaining slots",
    WALKING_TIME: "the remaining slots are next to a meeting of the buyer in a hall too far away",
    PRUNED: "the pair was not among the candidates kept for the optimizer (low value against the other options)",
    TRADED_OFF: "a common slot was free and no rule forbade it: the optimizer preferred other meetings or ran out of time",
}

LIST_LIMIT = 6  # ids or times named in one sentence before "and N more"
DETAIL_LIMIT = 10  # ids per category in a summary's details (schedule.json stays small)


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------


def _names(items: list[str], limit: int = LIST_LIMIT) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def _slot_list(grid: SlotGrid, slots: Iterable[int], limit: int = LIST_LIMIT) -> str:
    """``2024-05-14 09:00, 09:20; 2024-05-15 10:00`` (the date is named once per day)."""
    slots = sorted(slots)
    shown, rest = slots[:limit], len(slots) - limit
    parts: list[str] = []
    current = None
    for s in shown:
        slot = grid.slots[s]
        if slot.date != current:
            parts.append(f"{slot.date} {hhmm(slot.start)}")
            current = slot.date
        else:
            parts[-1] += f", {hhmm(slot.start)}"
    text = "; ".join(parts)
    return text + (f" and {rest} more" if rest > 0 else "")


def _spans(grid: SlotGrid, slots: Iterable[int], changeover: int) -> str:
    """Runs of back-to-back slots as time ranges: ``2024-05-14 09:00-10:00, 13:30-15:00``."""
    runs: list[list[int]] = []
    for s in sorted(slots):
        slot = grid.slots[s]
        if runs:
            last = grid.slots[runs[-1][-1]]
            if last.day == slot.day and slot.start == last.end + changeover:
                runs[-1].append(s)
                continue
        runs.append([s])
    if not runs:
        return "never"
    parts: list[str] = []
    current = None
    for run in runs:
        first, last = grid.slots[run[0]], grid.slots[run[-1]]
        span = f"{hhmm(first.start)}-{hhmm(last.end)}"
        if first.date != current:
            parts.append(f"{first.date} {span}")
            current = first.date
        else:
            parts[-1] += f", {span}"
    return "; ".join(parts)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# ---------------------------------------------------------------------------
# What the schedule occupies
# ---------------------------------------------------------------------------


@dataclass
class _Booked:
    """A scheduled meeting located on the slot grid."""

    buyer: str
    exhibitor: str
    slot: int
    location: str
    hall: str | None
    language: str | None

    def name(self) -> str:
        return f"{self.buyer}-{self.exhibitor}"


@dataclass
class _PairFinding:
    """The classification of one pair that is not in the schedule."""

    category: str
    message: str
    details: dict[str, Any]
    side: str | None = None  # for counterpart_booked / cap_reached: "buyer", "exhibitor" or "both"


@dataclass
class _Context:
    scenario: Scenario
    schedule: Schedule
    instance: Instance  # unpruned: every matching pair with a usable slot
    kept: set[tuple[str, str]] | None  # pairs the optimizer saw; None = no pruning
    candidates_per_meeting: int | None
    buyers: dict[str, Buyer] = field(default_factory=dict)
    exhibitors: dict[str, Exhibitor] = field(default_factory=dict)
    busy: dict[str, dict[int, _Booked]] = field(default_factory=lambda: defaultdict(dict))
    count: Counter = field(default_factory=Counter)
    day_count: Counter = field(default_factory=Counter)
    tables: dict[tuple[str, int], list[_Booked]] = field(default_factory=lambda: defaultdict(list))
    interpreted: dict[tuple[str, int], list[_Booked]] = field(default_factory=lambda: defaultdict(list))
    scheduled: Counter = field(default_factory=Counter)  # (buyer, exhibitor) -> meetings in the schedule
    asked: dict[tuple[str, str], int] = field(default_factory=dict)  # requested pair -> meetings its requests ask for
    requests: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    pinned: dict[tuple[str, str], int | None] = field(default_factory=dict)
    blocked: dict[tuple[str, str], str] = field(default_factory=dict)
    offered_by: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    hall_of_location: dict[str, str] = field(default_factory=dict)
    walk: dict[frozenset, int] = field(default_factory=dict)
    prune_floor: dict[str, tuple[int, int]] = field(default_factory=dict)  # party -> (kept, lowest kept value)
    candidate: dict[tuple[str, str], Any] = field(default_factory=dict)  # (buyer, exhibitor) -> unpruned Candidate
    dropped: dict[tuple[str, str], Any] = field(default_factory=dict)  # requested pairs build_instance gave up on

    @property
    def grid(self) -> SlotGrid:
        return self.instance.grid

    def free(self, party_id: str) -> set[int]:
        return self._free[party_id]

    def setup(self) -> None:
        inst = self.instance
        self._free = {p.id: set(p.free) for p in inst.parties}
        self._language_row = {lang: inst.interpreter_capacity[i] for i, lang in enumerate(inst.languages)}
        self._min = {p.id: p.min_meetings for p in inst.parties}  # includes the fairness floor

    def capacity(self, language: str, s: int) -> int:
        row = self._language_row.get(language)
        return 0 if row is None else row[s]

    def min_meetings(self, party_id: str) -> int:
        return self._min[party_id]

    def walking(self, hall_a: str | None, hall_b: str | None) -> int:
        if hall_a is None or hall_b is None or hall_a == hall_b:
            return 0
        return self.walk.get(frozenset((hall_a, hall_b)), 0)

    def location_of(self, exhibitor: Exhibitor) -> str:
        return self.scenario.meeting_location(exhibitor) or ""

    def role(self, party_id: str) -> str:
        return "buyer" if party_id in self.buyers else "exhibitor"


def _context(
    scenario: Scenario, schedule: Schedule, candidates_per_meeting: int | None, solved: Instance | None = None
) -> _Context:
    kept = None
    some_pairs = solved is not None and len(solved.candidates) < solved.candidates_before_pruning
    if some_pairs and solved.candidates_before_pruning > EXPLAIN_ALL_PAIRS_MAX:
        # Millions of pairs (the solve held them as a pair table): a Candidate for each would take
        # minutes and gigabytes, so the explanations reason over the pairs the solve considered.
        logger.info("explanations consider the %d kept pairs of %d", len(solved.candidates), solved.candidates_before_pruning)
        instance, candidates_per_meeting = solved, None
    elif solved is not None and len(solved.candidates) == solved.candidates_before_pruning:
        instance = solved  # the solve already matched every pair (large fairs): no second matching
    else:
        instance = build_instance(scenario, candidates_per_meeting=None)
    if candidates_per_meeting is not None:
        if solved is not None:
            pruned = solved
        else:
            # A re-planned schedule's optimizer also kept the previous meetings (forced pairs);
            # for a first solve the scheduled pairs were kept anyway, so this changes nothing.
            scheduled = {(m.buyer, m.exhibitor) for m in schedule.meetings}
            pruned = build_instance(scenario, candidates_per_meeting=candidates_per_meeting, forced_pairs=scheduled)
        kept = {(pruned.parties[c.buyer].id, pruned.parties[c.exhibitor].id) for c in pruned.candidates}
        if schedule.stats.candidates and schedule.stats.candidates != len(pruned.candidates):
            logger.warning(
                "the schedule's optimizer saw %d candidate pairs, pruning with candidates_per_meeting=%s keeps %d: "
                "'pruned' explanations may not match how it was solved",
                schedule.stats.candidates,
                candidates_per_meeting,
                len(pruned.candidates),
            )
    ctx = _Context(scenario, schedule, instance, kept, candidates_per_meeting)
    ctx.setup()
    ctx.buyers = {b.id: b for b in scenario.buyers}
    ctx.exhibitors = {e.id: e for e in scenario.exhibitors}
    ctx.requests = merge_requests(scenario)
    ids = [p.id for p in instance.parties]
    ctx.candidate = {}
    for c in instance.candidates:  # a repeated pair's copies: the first, with the slots of all of them
        key = (ids[c.buyer], ids[c.exhibitor])
        first = ctx.candidate.get(key)
        ctx.candidate[key] = c if first is None else dataclasses.replace(first, slots=sorted(set(first.slots) | set(c.slots)))
    ctx.asked = requested_meetings(scenario)
    ctx.dropped = {(d.buyer, d.exhibitor): d for d in instance.dropped_requests}
    grid = instance.grid
    ctx.pinned = {(p.buyer, p.exhibitor): grid.slot_at(p.date, p.start) for p in scenario.pinned}
    ctx.blocked = {(b.buyer, b.exhibitor): b.reason for b in scenario.blocked}
    for e in scenario.exhibitors:
        for category in e.offers:
            ctx.offered_by[category].append(e.id)
    ctx.hall_of_location = {loc.id: loc.hall for loc in scenario.locations}
    for w in scenario.walking_minutes:
        key = frozenset((w.from_, w.to))
        ctx.walk[key] = max(ctx.walk.get(key, 0), w.minutes)
    if kept is not None:
        _prune_floors(ctx, candidates_per_meeting)
    _occupy(ctx)
    return ctx


def _prune_floors(ctx: _Context, per_meeting: int) -> None:
    """For each participant whose pairs were cut: how many it kept and the lowest value kept."""
    inst = ctx.instance
    own: dict[int, list] = defaultdict(list)
    for c in inst.candidates:
        own[c.buyer].append(c)
        own[c.exhibitor].append(c)
    for p, pairs in own.items():
        party = inst.parties[p]
        limit = max(per_meeting * party.max_meetings if party.is_buyer else DEFAULT_CANDIDATES_PER_EXHIBITOR, 1)
        if len(pairs) > limit:
            values = sorted((c.value for c in pairs), reverse=True)
            ctx.prune_floor[party.id] = (limit, values[limit - 1])


def _occupy(ctx: _Context) -> None:
    problems: list[Problem] = []
    grid = ctx.grid
    # Anyone the instance knows may appear on either side (kind-neutral participants, if the scenario has any).
    people = {
        person.id: person
        for person in [*ctx.scenario.buyers, *ctx.scenario.exhibitors, *getattr(ctx.scenario, "participants", [])]
    }
    for i, m in enumerate(ctx.schedule.meetings):
        where = f"meetings[{i}]"
        first, second = people.get(m.buyer), people.get(m.exhibitor)
        if first is None:
            problems.append(Problem(f"{where}.buyer", f"{m.buyer!r} is not a buyer of the scenario"))
        if second is None:
            problems.append(Problem(f"{where}.exhibitor", f"{m.exhibitor!r} is not an exhibitor of the scenario"))
        s = grid.slot_at(m.date, m.start)
        if s is None:
            problems.append(Problem(f"{where}.start", f"{m.date} {m.start} is not the start of a meeting slot of the scenario"))
        if first is None or second is None or s is None:
            continue
        if m.location in ctx.hall_of_location:
            location = m.location
        elif isinstance(second, Exhibitor):
            location = ctx.location_of(second)
        else:
            location = ctx.scenario.shared_location or ""
        language = needs_interpreter(first.languages, second.languages, getattr(first, "own_interpreter", False))
        booked = _Booked(m.buyer, m.exhibitor, s, location, ctx.hall_of_location.get(location), language)
        day = grid.slots[s].day
        for person in (m.buyer, m.exhibitor):
            ctx.busy[person][s] = booked
            ctx.count[person] += 1
            ctx.day_count[(person, day)] += 1
        ctx.tables[(location, s)].append(booked)
        if language is not None:
            ctx.interpreted[(language, s)].append(booked)
        ctx.scheduled[(m.buyer, m.exhibitor)] += 1
    if problems:
        raise ScheduleFileError(problems)


# ---------------------------------------------------------------------------
# One pair
# ---------------------------------------------------------------------------


def _interest(buyer: Buyer, exhibitor: Exhibitor) -> int:
    return sum(w for category, w in buyer.interests.items() if category in exhibitor.offers)


def _value(ctx: _Context, buyer: Buyer, exhibitor: Exhibitor) -> int:
    by, _level = ctx.requests.get((buyer.id, exhibitor.id), (None, None))
    return pair_value(
        ctx.scenario.weights, _interest(buyer, exhibitor), bool(set(buyer.sectors) & set(exhibitor.sectors)), by, buyer.priority
    )


def _with(party: str, booked: _Booked) -> str:
    other = booked.exhibitor if booked.buyer == party else booked.buyer
    return other


def _booked_clause(ctx: _Context, party: str, slots: list[int], share: str) -> str:
    grid = ctx.grid
    items, current = [], None
    for s in sorted(slots):
        slot = grid.slots[s]
        when = hhmm(slot.start) if slot.date == current else slot.label
        current = slot.date
        items.append(f"{_with(party, ctx.busy[party][s])} at {when}")
    listed = _names(items)
    return f"at {share} {party} is in another meeting (with {listed})"


def _analyze(ctx: _Context, buyer: Buyer, exhibitor: Exhibitor) -> _PairFinding:
    """Classify a pair that is not in the schedule (see the module docstring for the order)."""
    grid, scenario = ctx.grid, ctx.scenario
    b, e = buyer.id, exhibitor.id
    key = (b, e)
    pair = f"{b}-{e}"
    by, level = ctx.requests.get(key, (None, None))
    value = _value(ctx, buyer, exhibitor)
    details: dict[str, Any] = {"buyer": b, "exhibitor": e, "value": value}
    if level is not None:
        details.update(level=level, by=by)
    if key in ctx.pinned:
        details["pinned"] = True

    if key in ctx.blocked:
        why = f" ({ctx.blocked[key]})" if ctx.blocked[key] else ""
        return _PairFinding(BLOCKED, f"{b} and {e} are a blocked pair{why}, so the optimizer never schedules them", details)

    common_interests = sorted(set(buyer.interests) & set(exhibitor.offers))
    if not common_interests and level is None and key not in ctx.pinned:
        wants = ", ".join(sorted(buyer.interests)) or "nothing"
        offers = ", ".join(exhibitor.offers) or "nothing"
        return _PairFinding(
            NO_INTEREST,
            f"{b} is interested in {wants} and {e} offers {offers}: no match, and nobody requested {pair}",
            details,
        )

    changeover = scenario.changeover_minutes
    free_b, free_e = ctx.free(b), ctx.free(e)
    common = sorted(free_b & free_e)
    if not common:
        details.update(buyer_free=len(free_b), exhibitor_free=len(free_e))
        return _PairFinding(
            NO_COMMON_SLOT,
            f"{b} is available {_spans(grid, free_b, changeover)} and {e} {_spans(grid, free_e, changeover)}: "
            f"never at the same time",
            details,
        )

    language = needs_interpreter(buyer.languages, exhibitor.languages, buyer.own_interpreter)
    usable = common
    if language is not None:
        details["interpreter"] = language
        usable = [s for s in common if ctx.capacity(language, s) > 0]
        if not usable:
            speaks = (
                f"{b} speaks {', '.join(buyer.languages)}, {e} speaks {', '.join(exhibitor.languages)}"
            )
            pools = {p.language: p for p in scenario.interpreters}
            pool = pools.get(language)
            if pool is None:
                why = f"the fair has no {language!r} interpreters"
            elif pool.count == 0:
                why = f"the {language!r} interpreter pool has 0 interpreters"
            else:
                on_duty = [s for s in range(len(grid)) if ctx.capacity(language, s) > 0]
                why = (
                    f"none is on duty when both are free ({_spans(grid, common, changeover)}); "
                    f"the {language!r} interpreters work {_spans(grid, on_duty, changeover)}"
                )
            details["common_slots"] = len(common)
            return _PairFinding(NO_INTERPRETER, f"{pair} needs a {language!r} interpreter ({speaks}) and {why}", details)

    # The instance knows every rule that restricts a pair's slots (also ones this module does not
    # spell out, such as a request limited to a session): when it disagrees, it wins.
    candidate = ctx.candidate.get(key)
    if candidate is not None:
        usable = [s for s in usable if s in set(candidate.slots)]
    if candidate is None or not usable:
        dropped = ctx.dropped.get(key)
        reason = dropped.reason if dropped is not None else "no slot fits every rule on this pair"
        details["common_slots"] = 0
        return _PairFinding(NO_COMMON_SLOT, f"{pair} cannot meet: {reason}", details)

    pin_slot = ctx.pinned.get(key)
    if pin_slot is not None and pin_slot in usable:
        usable = [pin_slot]
    details["common_slots"] = len(usable)

    # A side with its max_meetings already used can take nothing more.
    full = [
        (side, person)
        for side, person in (("buyer", buyer), ("exhibitor", exhibitor))
        if person.max_meetings is not None and ctx.count[person.id] >= person.max_meetings
    ]
    if full:
        clauses = [f"{person.id} already has {_plural(ctx.count[person.id], 'meeting')}, its max_meetings" for _side, person in full]
        side = full[0][0] if len(full) == 1 else "both"
        details["limit"] = "max_meetings"
        details["side"] = side
        return _PairFinding(CAP_REACHED, " and ".join(clauses) + f", so {pair} cannot be added", details, side)

    location = ctx.location_of(exhibitor)
    hall = ctx.hall_of_location.get(location)
    tables = next((loc.tables for loc in scenario.locations if loc.id == location), 1)
    booked_by: dict[str, list[int]] = {b: [], e: []}
    blocked_by: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    free_slots: list[int] = []
    for s in usable:
        day = grid.slots[s].day
        if s in ctx.busy[b]:
            booked_by[b].append(s)
            continue
        if s in ctx.busy[e]:
            booked_by[e].append(s)
            continue
        capped = [
            person
            for person in (buyer, exhibitor)
            if person.max_meetings_per_day is not None and ctx.day_count[(person.id, day)] >= person.max_meetings_per_day
        ]
        if capped:
            blocked_by[CAP_REACHED].append((s, capped))
            continue
        at_location = ctx.tables.get((location, s), [])
        if len(at_location) >= tables:
            blocked_by[TABLE_FULL].append((s, at_location))
            continue
        if language is not None:
            running = ctx.interpreted.get((language, s), [])
            if len(running) >= ctx.capacity(language, s):
                blocked_by[INTERPRETER_FULL].append((s, running))
                continue
        too_far = _walking_conflict(ctx, b, s, hall)
        if too_far is not None:
            blocked_by[WALKING_TIME].append((s, too_far))
            continue
        free_slots.append(s)

    n = len(usable)
    duty = f" with a {language!r} interpreter on duty" if language is not None else ""
    both = f"{b} and {e} are both available{duty} at {_plural(n, 'slot')} ({_slot_list(grid, usable)})"
    booked_count = sum(len(v) for v in booked_by.values())

    def booked_clauses(other: bool = False) -> list[str]:
        return [
            _booked_clause(
                ctx,
                party,
                slots,
                (("the other slot" if len(slots) == 1 else f"the other {len(slots)} slots") if other else ("every one" if len(slots) == n else f"{len(slots)} of them")),
            )
            for party, slots in booked_by.items()
            if slots
        ]

    booked_sides = [side for side, party in (("buyer", b), ("exhibitor", e)) if booked_by[party]]
    details["booked"] = {party: len(slots) for party, slots in booked_by.items() if slots}
    if blocked_by:
        details["blocked_slots"] = {category: len(items) for category, items in blocked_by.items()}

    if free_slots:
        s = free_slots[0]
        label = grid.slots[s].label
        details["free_slot"] = label
        details["free_slots"] = len(free_slots)
        others = booked_clauses() + [_blocked_clause(ctx, cat, items, buyer, exhibitor, language, location, tables) for cat, items in blocked_by.items()]
        tail = (": " + "; ".join(others)) if others else ""
        seen = ctx.kept is None or key in ctx.kept
        if not seen:
            return _PairFinding(PRUNED, _pruned_message(ctx, buyer, exhibitor, value, label), details)
        status = ctx.schedule.solver.status if ctx.schedule.solver is not None else None
        why = "the optimizer preferred higher-value meetings or ran out of time"
        if status is not None and status != "OPTIMAL":
            why += f" (solver status {status})"
        return _PairFinding(
            TRADED_OFF,
            f"{both}{tail}; at {label} both were free and no rule stood in the way ({_plural(len(free_slots), 'such slot')}): "
            f"{why}; {pair} (worth {value}) can be added there by hand",
            details,
        )

    if booked_count == n:
        side = booked_sides[0] if len(booked_sides) == 1 else "both"
        details["side"] = side
        details["meetings"] = sorted(
            {ctx.busy[party][s].name() + f" at {grid.slots[s].label}" for party, slots in booked_by.items() for s in slots}
        )
        return _PairFinding(COUNTERPART_BOOKED, f"{both} but " + "; ".join(booked_clauses()), details, side)

    # Some slots have both sides free: the rule that blocks most of them decides.
    order = {c: i for i, c in enumerate(CATEGORIES)}
    ranked = sorted(blocked_by.items(), key=lambda kv: (-len(kv[1]), order[kv[0]]))
    category = ranked[0][0]
    clauses = [_blocked_clause(ctx, cat, items, buyer, exhibitor, language, location, tables) for cat, items in ranked]
    rest = ("; " + "; ".join(booked_clauses(other=True))) if booked_count else ""
    remaining = len(usable) - booked_count
    lead = "at the only slot" if remaining == 1 else f"at the {remaining} slots"
    side = None
    if category == CAP_REACHED:
        capped_ids = {p.id for _s, capped in blocked_by[CAP_REACHED] for p in capped}
        side = "both" if len(capped_ids) > 1 else ("buyer" if b in capped_ids else "exhibitor")
        details["limit"] = "max_meetings_per_day"
        details["side"] = side
    return _PairFinding(category, f"{both}; {lead} when neither is in another meeting {'; '.join(clauses)}{rest}", details, side)


def _walking_conflict(ctx: _Context, buyer: str, s: int, hall: str | None) -> tuple[_Booked, int, int] | None:
    """A meeting of ``buyer`` the same day in a hall too far from ``hall`` to walk between: (meeting, walk, gap)."""
    grid = ctx.grid
    here = grid.slots[s]
    for t, booked in sorted(ctx.busy[buyer].items()):
        other = grid.slots[t]
        if other.day != here.day or t == s:
            continue
        need = ctx.walking(hall, booked.hall)
        if need == 0:
            continue
        gap = here.start - other.end if other.start < here.start else other.start - here.end
        if need > gap:
            return booked, need, gap
    return None


def _blocked_clause(ctx: _Context, category: str, items: list[tuple[int, Any]], buyer: Buyer, exhibitor: Exhibitor, language, location, tables) -> str:
    grid = ctx.grid
    slots = [s for s, _what in items]
    when = _slot_list(grid, slots)
    if category == CAP_REACHED:
        parts = []
        for person in sorted({p.id: p for _s, capped in items for p in capped}.values(), key=lambda p: p.id):
            days = sorted({grid.slots[s].date for s, capped in items if person in capped})
            day_text = ", ".join(str(d) for d in days)
            parts.append(f"{person.id} already has its max_meetings_per_day {person.max_meetings_per_day} on {day_text}")
        return f"({when}) " + " and ".join(parts)
    if category == TABLE_FULL:
        running = sorted({b.name() for _s, group in items for b in group})
        taken = f"the only table at {location} is taken" if tables == 1 else f"all {tables} tables at {location} are taken"
        return f"({when}) {taken} (by {_names(running)})"
    if category == INTERPRETER_FULL:
        running = sorted({b.name() for _s, group in items for b in group})
        count = max(ctx.capacity(language, s) for s in slots)
        busy = f"the only {language!r} interpreter is busy" if count == 1 else f"all {count} {language!r} interpreters are busy"
        return f"({when}) {busy} (with {_names(running)})"
    if category == WALKING_TIME:
        _s, (booked, need, gap) = items[0]
        similar = f" (and similar at the other {len(items) - 1})" if len(items) > 1 else ""
        return (
            f"({when}) {buyer.id} has a meeting with {booked.exhibitor} in hall {booked.hall} at "
            f"{grid.slots[booked.slot].label}: the walk from {exhibitor.id}'s hall {ctx.hall_of_location.get(location)} "
            f"takes {need} minutes and there are {gap} between the meetings{similar}"
        )
    raise ValueError(category)


def _pruned_message(ctx: _Context, buyer: Buyer, exhibitor: Exhibitor, value: int, label: str) -> str:
    parts = []
    for person in (buyer, exhibitor):
        floor = ctx.prune_floor.get(person.id)
        if floor is not None:
            parts.append(f"{person.id} kept its best {floor[0]} (worth {floor[1]} or more)")
    kept = " and ".join(parts) if parts else "both sides kept better pairs"
    return (
        f"{buyer.id}-{exhibitor.id} (worth {value}) was not among the candidate pairs given to the optimizer: {kept}; "
        f"both were free at {label}, so a larger --candidates-per-meeting (now {ctx.candidates_per_meeting}) "
        f"or adding it by hand would place it"
    )


# ---------------------------------------------------------------------------
# Participant summaries
# ---------------------------------------------------------------------------

# (one, several) counterparts of a participant not met for this reason; {p} is the participant.
_SUMMARY_PHRASES: dict[str, tuple[str, str]] = {
    BLOCKED: ("is a blocked pair", "are blocked pairs"),
    NO_INTEREST: ("matches nothing and was not requested", "match nothing and were not requested"),
    NO_COMMON_SLOT: ("is never available when {p} is", "are never available when {p} is"),
    NO_INTERPRETER: (
        "would need an interpreter and none is on duty when both are free",
        "would need an interpreter and none is on duty when both are free",
    ),
    CAP_REACHED: (
        "has already reached its max_meetings or max_meetings_per_day",
        "have already reached their max_meetings or max_meetings_per_day",
    ),
    COUNTERPART_BOOKED: (
        "is in other meetings at every slot when {p} is free for it",
        "are in other meetings at every slot when {p} is free for them",
    ),
    INTERPRETER_FULL: (
        "would need an interpreter and the pool is busy whenever both are free",
        "would need an interpreter and the pool is busy whenever both are free",
    ),
    TABLE_FULL: (
        "could meet only when every table at the meeting place is taken",
        "could meet only when every table at the meeting place is taken",
    ),
    WALKING_TIME: (
        "could meet only next to a buyer's meeting in a hall too far away",
        "could meet only next to a buyer's meeting in a hall too far away",
    ),
    PRUNED: (
        "was not among the candidates kept for the optimizer (low value against the other options), though both had a free slot",
        "were not among the candidates kept for the optimizer (low value against the other options), though both had a free slot",
    ),
    TRADED_OFF: ("had a common free slot the optimizer left unused", "had a common free slot the optimizer left unused"),
}
# The same when the participant's own side is the obstacle.
_OWN_SIDE_PHRASES: dict[str, tuple[str, str]] = {
    CAP_REACHED: (
        "is out of reach because {p} already has its max_meetings",
        "are out of reach because {p} already has its max_meetings",
    ),
    "max_meetings_per_day": (
        "is out of reach because {p} has its max_meetings_per_day on the days they could meet",
        "are out of reach because {p} has its max_meetings_per_day on the days they could meet",
    ),
    COUNTERPART_BOOKED: (
        "is free only when {p} is already in another meeting",
        "are free only when {p} is already in another meeting",
    ),
}


def _counterparts(ctx: _Context, party_id: str) -> list[str]:
    """Everyone ``party_id`` matches by interest/offer, or was requested or pinned with (blocked included)."""
    found: set[str] = set()
    if party_id in ctx.buyers:
        buyer = ctx.buyers[party_id]
        for category in buyer.interests:
            found.update(ctx.offered_by.get(category, ()))
        found.update(e for (b, e) in [*ctx.requests, *ctx.pinned] if b == party_id)
    else:
        exhibitor = ctx.exhibitors[party_id]
        offers = set(exhibitor.offers)
        found.update(b.id for b in ctx.scenario.buyers if offers & set(b.interests))
        found.update(b for (b, e) in [*ctx.requests, *ctx.pinned] if e == party_id)
    return sorted(found)


def _limits(ctx: _Context, person: Buyer | Exhibitor) -> str:
    """``available 2023-10-23 09:30-17:00; max_meetings_per_day 6, reached on 2023-10-23``."""
    grid = ctx.grid
    facts = []
    if person.availability is not None:
        facts.append(f"available {_spans(grid, ctx.free(person.id), ctx.scenario.changeover_minutes)}")
    else:
        facts.append("available all fair")
    if person.max_meetings is not None:
        reached = ", reached" if ctx.count[person.id] >= person.max_meetings else ""
        facts.append(f"max_meetings {person.max_meetings}{reached}")
    if person.max_meetings_per_day is not None:
        days = [str(day.date) for day in sorted(ctx.scenario.days, key=lambda d: d.date)]
        full = [d for i, d in enumerate(days) if ctx.day_count[(person.id, i)] >= person.max_meetings_per_day]
        reached = f", reached on {', '.join(full)}" if full else ""
        facts.append(f"max_meetings_per_day {person.max_meetings_per_day}{reached}")
    return "; ".join(facts)


def _summary(ctx: _Context, party_id: str, kind: str) -> Explanation:
    is_buyer = party_id in ctx.buyers
    person = ctx.buyers[party_id] if is_buyer else ctx.exhibitors[party_id]
    others = _counterparts(ctx, party_id)
    met: list[str] = []
    by_category: dict[str, list[str]] = defaultdict(list)
    own_side: set[str] = set()  # counterparts for which the participant itself is the obstacle
    own_daily: set[str] = set()  # ... through its max_meetings_per_day
    for other in others:
        buyer = person if is_buyer else ctx.buyers[other]
        exhibitor = ctx.exhibitors[other] if is_buyer else person
        if (buyer.id, exhibitor.id) in ctx.scheduled:
            met.append(other)
            continue
        finding = _analyze(ctx, buyer, exhibitor)
        if finding.side == ("buyer" if is_buyer else "exhibitor"):
            own_side.add(other)
            if finding.details.get("limit") == "max_meetings_per_day":
                own_daily.add(other)
        by_category[finding.category].append(other)

    n = ctx.count[party_id]
    minimum = ctx.min_meetings(party_id)
    head = f"{party_id} has {_plural(n, 'meeting')}"
    if kind == "below_min" or (minimum and n < minimum):
        head += f", below its min_meetings {minimum}"
    head += f" ({_limits(ctx, person)})"
    if is_buyer:
        wants = ", ".join(sorted(person.interests)) or "nothing"
        verb = "matches or was" if len(others) == 1 else "match or were"
        intro = f"{party_id} is interested in {wants}; {_plural(len(others), 'exhibitor')} {verb} requested"
        counter_word = "exhibitors"
    else:
        offers = ", ".join(person.offers) or "nothing"
        verb = "is" if len(others) == 1 else "are"
        intro = f"{party_id} offers {offers}; {_plural(len(others), 'buyer')} {verb} interested or asked for a meeting"
        counter_word = "buyers"
    if not others:
        if is_buyer:
            text = f"{head}: {party_id}'s interests ({', '.join(sorted(person.interests)) or 'none'}) match no exhibitor's offers and no meeting with {party_id} was requested"
        else:
            text = f"{head}: {party_id} offers {', '.join(person.offers) or 'nothing'}; no buyer is interested in any of it and nobody requested a meeting with {party_id}"
        return Explanation(
            subject=party_id,
            kind=kind,
            category=NO_INTEREST,
            message=text,
            details={"participant": party_id, "role": ctx.role(party_id), "meetings": n, "min_meetings": minimum, "counterparts": 0},
        )
    unmet = len(others) - len(met)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    ranked = sorted(by_category.items(), key=lambda kv: (-len(kv[1]), order[kv[0]]))
    clauses = []
    if met:
        clauses.append(f"{len(met)} {'is' if len(met) == 1 else 'are'} in the schedule ({_names(met)})")
    for category, ids in ranked:
        theirs = [i for i in ids if i not in own_side]
        mine = [i for i in ids if i in own_side and i not in own_daily]
        daily = [i for i in ids if i in own_daily]
        for group, phrases, key in (
            (theirs, _SUMMARY_PHRASES, category),
            (mine, _OWN_SIDE_PHRASES, category),
            (daily, _OWN_SIDE_PHRASES, "max_meetings_per_day"),
        ):
            if not group:
                continue
            one, several = phrases[key]
            phrase = (one if len(group) == 1 else several).format(p=party_id)
            prefix = "all " if len(group) == unmet and unmet > 1 else ""
            clauses.append(f"{prefix}{len(group)} {phrase} ({_names(group)})")
    if ranked:
        category = ranked[0][0]
    else:
        category = NO_INTEREST
        clauses.append(f"there are no other matching {counter_word}")
    return Explanation(
        subject=party_id,
        kind=kind,
        category=category,
        message=f"{head}. {intro}: " + "; ".join(clauses),
        details={
            "participant": party_id,
            "role": ctx.role(party_id),
            "meetings": n,
            "min_meetings": minimum,
            "counterparts": len(others),
            "met": len(met),
            "categories": {cat: len(ids) for cat, ids in ranked},
            "examples": {cat: ids[:DETAIL_LIMIT] for cat, ids in ranked},
        },
    )


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


def _short(ctx: _Context, buyer_id: str, exhibitor_id: str) -> bool:
    """The pair meets fewer times than its requests ask (once, when nobody asked)."""
    return ctx.scheduled[(buyer_id, exhibitor_id)] < ctx.asked.get((buyer_id, exhibitor_id), 1)


def _pair_explanation(ctx: _Context, buyer_id: str, exhibitor_id: str, kind: str) -> Explanation:
    finding = _analyze(ctx, ctx.buyers[buyer_id], ctx.exhibitors[exhibitor_id])
    message, details = finding.message, finding.details
    asked = ctx.asked.get((buyer_id, exhibitor_id), 1)
    if asked > 1:  # a repeat request: say how many of its meetings are in, and why not another one
        met = ctx.scheduled[(buyer_id, exhibitor_id)]
        held = sorted(s for s, booked in ctx.busy[buyer_id].items() if booked.exhibitor == exhibitor_id)
        at = f" ({_slot_list(ctx.grid, held)})" if held else ""
        message = f"{met} of {asked} meetings of {buyer_id}-{exhibitor_id} are in the schedule{at}; " + (
            "another one cannot be added: " if met else ""
        ) + message
        details = {**details, "meetings": asked, "met": met}
    return Explanation(subject=f"{buyer_id}-{exhibitor_id}", kind=kind, category=finding.category, message=message, details=details)


def _requested_pairs(ctx: _Context) -> list[tuple[str, str, str]]:
    """(buyer, exhibitor, level) of every request and pin, merged per pair, musts first."""
    pairs: dict[tuple[str, str], str] = {key: level for key, (_by, level) in ctx.requests.items()}
    for key in ctx.pinned:
        pairs[key] = "must"
    known = [(b, e, level) for (b, e), level in pairs.items() if b in ctx.buyers and e in ctx.exhibitors]
    return sorted(known, key=lambda item: (item[2] != "must", item[0], item[1]))


def explain_schedule(
    scenario: Scenario,
    schedule: Schedule,
    candidates_per_meeting: int | None = DEFAULT_CANDIDATES_PER_MEETING,
    instance: Instance | None = None,
    deadline: float | None = None,
) -> list[Explanation]:
    """Explanations for every unscheduled request, every participant below its
    ``min_meetings`` and every exhibitor without a meeting.

    ``candidates_per_meeting`` must be the value the schedule was solved with
    (the CLI's default 3; ``None`` = no pruning) for ``pruned`` to be right.
    An exhibitor with no meeting gets one ``no_meetings`` explanation even when
    it is also below its minimum. ``instance``: the pruned candidate instance the
    schedule was solved with, when the caller has it (``solve`` does); it saves
    rebuilding it and makes ``pruned`` exact also for re-plans. Raises
    ScheduleFileError when a meeting names an unknown participant or a time that
    is not a slot of the scenario. ``deadline`` (a ``time.monotonic()`` reading, for
    a solve's time limit): past it, the rest is left out (musts first, then wants,
    then participants), with a warning.
    """
    ctx = _context(scenario, schedule, candidates_per_meeting, instance)
    out: list[Explanation] = []

    def out_of_time() -> bool:
        return deadline is not None and time.monotonic() > deadline

    for b, e, _level in _requested_pairs(ctx):
        if _short(ctx, b, e):
            if out_of_time():
                break
            out.append(_pair_explanation(ctx, b, e, "request"))
    for person in [*scenario.buyers, *scenario.exhibitors]:
        n = ctx.count[person.id]
        if person.id in ctx.exhibitors and n == 0:
            continue  # reported as no_meetings below
        if n < ctx.min_meetings(person.id) and not out_of_time():
            out.append(_summary(ctx, person.id, "below_min"))
    for exhibitor in scenario.exhibitors:
        if ctx.count[exhibitor.id] == 0 and not out_of_time():
            out.append(_summary(ctx, exhibitor.id, "no_meetings"))
    if out_of_time():
        logger.warning("explanations cut short at the time limit: %d written; `matchmaker explain` gives the rest", len(out))
    logger.info("explanations: %d (%s)", len(out), dict(Counter(x.category for x in out)))
    return out


def explain_participant(
    scenario: Scenario,
    schedule: Schedule,
    participant_id: str,
    candidates_per_meeting: int | None = DEFAULT_CANDIDATES_PER_MEETING,
) -> list[Explanation]:
    """Everything about one participant: its unscheduled requests, and a summary of all its
    matching counterparts (kind ``below_min``/``no_meetings`` when that applies, else ``participant``).

    Raises KeyError for an unknown participant id.
    """
    ctx = _context(scenario, schedule, candidates_per_meeting)
    if participant_id not in ctx.buyers and participant_id not in ctx.exhibitors:
        raise KeyError(participant_id)
    out = [
        _pair_explanation(ctx, b, e, "request")
        for b, e, _level in _requested_pairs(ctx)
        if participant_id in (b, e) and _short(ctx, b, e)
    ]
    n = ctx.count[participant_id]
    if participant_id in ctx.exhibitors and n == 0:
        kind = "no_meetings"
    elif n < ctx.min_meetings(participant_id):
        kind = "below_min"
    else:
        kind = "participant"
    out.append(_summary(ctx, participant_id, kind))
    return out


def explain_pair(
    scenario: Scenario,
    schedule: Schedule,
    buyer_id: str,
    exhibitor_id: str,
    candidates_per_meeting: int | None = DEFAULT_CANDIDATES_PER_MEETING,
) -> Explanation | None:
    """Why ``buyer_id`` and ``exhibitor_id`` do not meet (None when they do). Raises KeyError for unknown ids."""
    ctx = _context(scenario, schedule, candidates_per_meeting)
    if buyer_id not in ctx.buyers:
        raise KeyError(buyer_id)
    if exhibitor_id not in ctx.exhibitors:
        raise KeyError(exhibitor_id)
    if not _short(ctx, buyer_id, exhibitor_id):
        return None
    requested = (buyer_id, exhibitor_id) in ctx.requests or (buyer_id, exhibitor_id) in ctx.pinned
    return _pair_explanation(ctx, buyer_id, exhibitor_id, "request" if requested else "pair")


def mentions(explanation: Explanation, participant_id: str) -> bool:
    """True when the explanation is about ``participant_id`` (as the subject or one side of the pair)."""
    details = explanation.details
    return participant_id in (explanation.subject, details.get("participant"), details.get("buyer"), details.get("exhibitor"))

