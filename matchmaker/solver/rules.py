"""One home per hard rule: the registry, and the incremental state every heuristic places meetings through.

Each ``Rule`` of ``RULES`` names one hard-rule family with

- ``labels``: the checker's labels for it (``spec/rules.py``; analysis/checker.py reports them),
- ``adders``: the CP-SAT functions of ``solver/model`` that state it in a model,
- ``fit``: its incremental test "does placing candidate c in slot s still keep the rule,
  given what is placed", run by ``Occupancy.fits``; None when nothing a placement does can
  break it, and ``enforced_by`` then says what keeps it (candidate construction, the
  schedule writer, committed meetings going in first and never coming out).

``Occupancy`` is the one incremental state: greedy construction, the idle-gap polish and
insertion, the Kempe-chain break search and re-planning's carry-over all place, move and
remove meetings through it, so no heuristic can skip a rule, and ``failing``/``why`` name
the rule a placement breaks (re-planning's reasons). Break fairness is a rule of the whole
schedule: ``fits`` checks it for one placement, ``try_moves`` once after a whole move.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..instance.candidates import Candidate, Instance, slots_of_session
from ..spec import rules as label
from .model.caps import add_meeting_caps
from .model.fairness import add_break_fairness
from .model.interpreters import add_interpreter_capacity
from .model.locations import add_table_capacity
from .model.pairs import add_must_requests, add_pair_at_most_once, add_pinned
from .model.participants import add_one_meeting_at_a_time
from .model.precedence import add_precedences, precedence_pairs
from .model.walking import add_walking_time

FitTest = Callable[["Occupancy", Candidate, int], bool]
Reason = Callable[["Occupancy", Candidate, int], str]


def _always(instance: Instance) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    """One hard-rule family: checker labels, CP-SAT adders, incremental fit test (see the module docstring)."""

    name: str
    labels: tuple[str, ...]
    adders: tuple[Callable, ...]
    fit: FitTest | None
    enforced_by: str
    reason: Reason | None = None  # why ``fit`` refuses (re-planning reports it)
    active: Callable[[Instance], bool] = _always  # False: the instance gives the test nothing to check
    whole_schedule: bool = False  # a rule of the whole schedule: checked once after a move, not per placement
    per_candidate: bool = False  # the test does not depend on the slot (``fitting_slots`` runs it once)


# ---------------------------------------------------------------------------
# Fit tests and their reasons (the state they read is kept by Occupancy)
# ---------------------------------------------------------------------------


def _when(o: Occupancy, s: int) -> str:
    return o.instance.grid.slots[s].label


def _usable(o: Occupancy, c: Candidate, s: int) -> bool:
    """The slot is one of the candidate's own: both free, interpreter on duty, in the request's session."""
    usable = o._usable.get(c.index)
    if usable is None:
        usable = o._usable[c.index] = frozenset(c.slots)
    return s in usable


def _unusable_reason(o: Occupancy, c: Candidate, s: int) -> str:
    inst = o.instance
    for party in (c.buyer, c.exhibitor):
        if s not in inst.parties[party].free:
            return f"{inst.parties[party].id} is no longer available at {_when(o, s)}"
    if c.interpreter is not None and inst.interpreter_capacity[c.interpreter][s] <= 0:
        return f"no {inst.languages[c.interpreter]!r} interpreter is on duty at {_when(o, s)} any more"
    return f"the meeting can no longer take place at {_when(o, s)}"


def _in_session(o: Occupancy, c: Candidate, s: int) -> bool:
    """A request restricted to the morning or afternoon is held then."""
    allowed = o.session_slots.get(c.index)
    return allowed is None or s in allowed


def _session_reason(o: Occupancy, c: Candidate, s: int) -> str:
    return f"the request asks for another session than {_when(o, s)}"


def _has_sessions(instance: Instance) -> bool:
    return any(c.session is not None for c in instance.candidates)


def _at_pin(o: Occupancy, c: Candidate, s: int) -> bool:
    return c.pinned_slot is None or s == c.pinned_slot


def _pin_reason(o: Occupancy, c: Candidate, s: int) -> str:
    return f"the meeting is pinned to {_when(o, c.pinned_slot)}"


def _not_placed(o: Occupancy, c: Candidate, s: int) -> bool:
    """This meeting of the pair is not placed yet (a pair asked to meet k times has k candidates)."""
    return c.index not in o.slot_of


def _placed_reason(o: Occupancy, c: Candidate, s: int) -> str:
    if c.meetings > 1:
        return f"the pair's meeting {c.repeat + 1} of {c.meetings} is already at {_when(o, o.slot_of[c.index])}"
    return f"the pair already meets at {_when(o, o.slot_of[c.index])}"


def _both_free(o: Occupancy, c: Candidate, s: int) -> bool:
    busy = o.busy
    return s not in busy[c.buyer] and s not in busy[c.exhibitor]


def _busy_reason(o: Occupancy, c: Candidate, s: int) -> str:
    party = c.buyer if s in o.busy[c.buyer] else c.exhibitor
    return f"{o.instance.parties[party].id} has another fixed meeting at {_when(o, s)}"


def _under_cap(o: Occupancy, c: Candidate, s: int) -> bool:
    parties, count = o.instance.parties, o.count
    return count[c.buyer] < parties[c.buyer].max_meetings and count[c.exhibitor] < parties[c.exhibitor].max_meetings


def _cap_reason(o: Occupancy, c: Candidate, s: int) -> str:
    info = next(o.instance.parties[p] for p in (c.buyer, c.exhibitor) if o.count[p] >= o.instance.parties[p].max_meetings)
    return f"{info.id} now takes at most {info.max_meetings} meetings"


def _under_daily_cap(o: Occupancy, c: Candidate, s: int) -> bool:
    day = o.day_of[s]
    for party in (c.buyer, c.exhibitor):
        most = o.instance.parties[party].max_per_day
        if most is not None and o.day_count[party][day] >= most:
            return False
    return True


def _daily_cap_reason(o: Occupancy, c: Candidate, s: int) -> str:
    day = o.day_of[s]
    for party in (c.buyer, c.exhibitor):
        info = o.instance.parties[party]
        if info.max_per_day is not None and o.day_count[party][day] >= info.max_per_day:
            return f"{info.id} now takes at most {info.max_per_day} meetings a day"
    return "a daily cap is reached"


def _has_daily_caps(instance: Instance) -> bool:
    return any(p.max_per_day is not None for p in instance.parties)


def _table_free(o: Occupancy, c: Candidate, s: int) -> bool:
    return o.tables[c.location][s] < o.instance.location_tables[c.location]


def _table_reason(o: Occupancy, c: Candidate, s: int) -> str:
    return f"{o.instance.location_ids[c.location]} has fewer tables now"


def _interpreter_free(o: Occupancy, c: Candidate, s: int) -> bool:
    return c.interpreter is None or o.interpreters[c.interpreter][s] < o.instance.interpreter_capacity[c.interpreter][s]


def _interpreter_reason(o: Occupancy, c: Candidate, s: int) -> str:
    return f"the {o.instance.languages[c.interpreter]!r} interpreter pool shrank"


def _has_interpreters(instance: Instance) -> bool:
    return any(c.interpreter is not None for c in instance.candidates)


def _walkable(o: Occupancy, c: Candidate, s: int) -> bool:
    """The buyer-side participant can walk between this meeting's hall and its other meetings' halls that day."""
    own = o.buyer_hall[c.buyer]
    if not own:
        return True
    slots, walking = o.instance.grid.slots, o.instance.walking[c.hall]
    here = slots[s]
    for t, hall in own.items():
        if hall == c.hall:
            continue
        other = slots[t]
        if other.day != here.day:
            continue
        gap = here.start - other.end if other.start < here.start else other.start - here.end
        if gap < walking[hall]:
            return False
    return True


def _walk_reason(o: Occupancy, c: Candidate, s: int) -> str:
    return f"{o.instance.parties[c.buyer].id} cannot walk between halls in time any more"


def _has_walks(instance: Instance) -> bool:
    return any(m > 0 for row in instance.walking for m in row) and len({c.hall for c in instance.candidates}) > 1


def _in_order(o: Occupancy, c: Candidate, s: int) -> bool:
    """Every placed meeting that must come first is in an earlier slot, every one that must follow in a later slot."""
    slot_of = o.slot_of
    for a in o.earlier.get(c.index, ()):
        w = slot_of.get(a)
        if w is not None and w >= s:
            return False
    for b in o.later.get(c.index, ()):
        w = slot_of.get(b)
        if w is not None and w <= s:
            return False
    return True


def _order_reason(o: Occupancy, c: Candidate, s: int) -> str:
    parties = o.instance.parties
    for a in o.earlier.get(c.index, ()):
        w = o.slot_of.get(a)
        if w is not None and w >= s:
            first = o.instance.candidates[a]
            return f"it must follow {parties[first.buyer].id}-{parties[first.exhibitor].id}, held at {_when(o, w)}"
    for b in o.later.get(c.index, ()):
        w = o.slot_of.get(b)
        if w is not None and w <= s:
            then = o.instance.candidates[b]
            return f"it must precede {parties[then.buyer].id}-{parties[then.exhibitor].id}, held at {_when(o, w)}"
    return "a precedence is broken"


def _has_precedences(instance: Instance) -> bool:
    return bool(instance.precedences)


def _fair(o: Occupancy, c: Candidate, s: int) -> bool:
    """After the placement, most breaks minus fewest breaks over all participants is at most the spread."""
    o.sync_breaks()
    bit, mask, breaks_of = o._bit[s], o._mask, o.breaks_of
    changes = {p: breaks_of(mask[p] | bit) for p in (c.buyer, c.exhibitor)}
    return o.spread_with(changes) <= o.max_spread


def _fair_reason(o: Occupancy, c: Candidate, s: int) -> str:
    return f"the breaks of {o.instance.parties[c.buyer].id} or {o.instance.parties[c.exhibitor].id} would exceed max_break_spread"


def _has_fairness(instance: Instance) -> bool:
    return instance.scenario.fairness.max_break_spread is not None


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------

# Order = the order ``Occupancy.failing`` reports in (``fits`` tests in FAIL_FAST order first).
RULES: tuple[Rule, ...] = (
    Rule(
        "meeting form", (label.UNKNOWN_PARTICIPANT, label.NOT_A_SLOT, label.WRONG_LOCATION, label.INTERPRETER_FIELD), (),
        None,
        "solution.build_schedule writes each meeting from its candidate: the pair's ids, a grid slot's times, "
        "the exhibitor's (or shared) location and the interpreter the pair needs",
    ),
    Rule(
        "blocked pairs", (label.BLOCKED_PAIR,), (), None,
        "a blocked pair never becomes a candidate (instance/candidates.py)",
    ),
    Rule(
        "availability", (label.UNAVAILABLE,), (), _usable,
        "a candidate's slots are those where both are free and a needed interpreter is on duty; "
        "meeting variables exist only there (model/variables.py)",
        _unusable_reason,
    ),
    Rule(
        "sessions", (label.SESSION,), (), _in_session,
        "a session-restricted request's candidate keeps only that session's slots (instance/candidates.py)",
        _session_reason, _has_sessions,
    ),
    Rule("pins", (label.PINNED_MISSING,), (add_pinned,), _at_pin, "pins go in first and never move", _pin_reason),
    Rule(
        "pair once", (label.PAIR_REPEATED,), (add_pair_at_most_once,), _not_placed,
        "a pair asked to meet k times has k candidates (instance/candidates.py), each placed at most once",
        _placed_reason, per_candidate=True,
    ),
    Rule("one meeting at a time", (label.DOUBLE_BOOKED,), (add_one_meeting_at_a_time,), _both_free, "", _busy_reason),
    Rule("max meetings", (label.MAX_MEETINGS,), (add_meeting_caps,), _under_cap, "", _cap_reason, per_candidate=True),
    Rule(
        "daily caps", (label.MAX_MEETINGS_PER_DAY,), (add_meeting_caps,), _under_daily_cap, "",
        _daily_cap_reason, _has_daily_caps,
    ),
    Rule("tables", (label.TABLE_CAPACITY,), (add_table_capacity,), _table_free, "", _table_reason),
    Rule(
        "interpreters", (label.INTERPRETER_CAPACITY,), (add_interpreter_capacity,), _interpreter_free, "",
        _interpreter_reason, _has_interpreters,
    ),
    Rule("walking", (label.WALKING_TIME,), (add_walking_time,), _walkable, "", _walk_reason, _has_walks),
    Rule("precedences", (label.PRECEDENCE,), (add_precedences,), _in_order, "", _order_reason, _has_precedences),
    Rule(
        "must requests", (label.MUST_MISSING,), (add_must_requests,), None,
        "commitments (Candidate.committed) are placed first (commitments model, then greedy) and no heuristic "
        "takes one out; greedy reports incompleteness",
    ),
    Rule(
        "break fairness", (label.BREAK_FAIRNESS,), (add_break_fairness,), _fair,
        "checked on the whole schedule after each placement or move", _fair_reason, _has_fairness,
        whole_schedule=True,
    ),
)

RULE_OF_LABEL: dict[str, Rule] = {lab: rule for rule in RULES for lab in rule.labels}
FAIL_FAST = ("max meetings", "one meeting at a time", "tables", "daily caps", "pair once")


# ---------------------------------------------------------------------------
# The incremental state
# ---------------------------------------------------------------------------


class Occupancy:
    """A (partial) schedule being built or changed, with what every rule's fit test reads.

    ``fits(c, s)`` runs every active rule's test; ``place``/``remove`` change the state;
    ``try_moves`` moves several meetings at once (a Kempe chain) if every rule holds after.
    """

    def __init__(self, instance: Instance, placed: dict[int, int] | None = None):
        self.instance = instance
        grid = instance.grid
        self.day_of = [slot.day for slot in grid.slots]
        parties, slots, days = len(instance.parties), len(grid.slots), len(grid.by_day)
        self.busy: list[set[int]] = [set() for _ in range(parties)]  # party -> slots
        self.count = [0] * parties  # party -> meetings
        self.day_count = [[0] * days for _ in range(parties)]  # party -> day -> meetings
        self.tables = [[0] * slots for _ in instance.location_tables]  # location -> slot -> meetings
        self.interpreters = [[0] * slots for _ in instance.languages]  # language -> slot -> meetings
        self.buyer_hall: list[dict[int, int]] = [{} for _ in range(parties)]  # buyer side -> slot -> hall
        self.slot_of: dict[int, int] = {}  # placed candidate -> slot
        self._usable: dict[int, frozenset[int]] = {}
        self.session_slots: dict[int, frozenset[int]] = {}  # candidate of a session-restricted request -> its slots
        if _has_sessions(instance):
            slots_of = {name: frozenset(slots_of_session(grid, name)) for name in ("morning", "afternoon")}
            for c in instance.candidates:
                if c.session is not None:
                    self.session_slots[c.index] = slots_of[c.session]
        self.earlier: dict[int, list[int]] = defaultdict(list)  # candidate -> candidates that must come first
        self.later: dict[int, list[int]] = defaultdict(list)
        for a, b in precedence_pairs(instance):
            self.earlier[b].append(a)
            self.later[a].append(b)
        active = [rule for rule in RULES if rule.fit is not None and rule.active(instance)]
        self.rules = [rule for rule in active if not rule.whole_schedule]
        self.whole = [rule for rule in active if rule.whole_schedule]
        # ``fits`` tests in the order that refuses soonest in the hot loops (caps and busy slots
        # refuse most placements); ``failing`` keeps the registry's order for its reasons.
        fast = sorted(self.rules, key=lambda rule: FAIL_FAST.index(rule.name) if rule.name in FAIL_FAST else len(FAIL_FAST))
        self._tests = [rule.fit for rule in fast]
        self._all_tests = self._tests + [rule.fit for rule in self.whole]
        self._candidate_tests = [rule.fit for rule in fast if rule.per_candidate]
        self._slot_tests = [rule.fit for rule in fast if not rule.per_candidate] + [rule.fit for rule in self.whole]
        # Break fairness: breaks per participant (runs of idle slots between two meetings of a day).
        self.max_spread = instance.scenario.fairness.max_break_spread
        # Each participant's busy slots are a bitmask, one bit per slot in time order and
        # an empty bit between days; its breaks are its runs of busy bits minus its busy days.
        self.breaks = [0] * parties
        self._with_breaks: dict[int, int] = {0: parties} if parties else {}  # breaks -> participants
        self._mask = [0] * parties
        self._bit = [0] * slots
        self._day_masks = []
        position = 0
        for day_slots in grid.by_day:
            day_mask = 0
            for s in day_slots:
                self._bit[s] = 1 << position
                day_mask |= 1 << position
                position += 1
            position += 1
            self._day_masks.append(day_mask)
        self._breaks_of: dict[int, int] = {}
        self._stale: set[int] = set()  # participants whose ``breaks`` entry is out of date
        self._fairness = bool(self.whole)
        self._daily = any(rule.fit is _under_daily_cap for rule in self.rules)
        self._walks = any(rule.fit is _walkable for rule in self.rules)
        for c, s in sorted((placed or {}).items()):
            self.place(instance.candidates[c], s)

    # -- questions ---------------------------------------------------------

    def fits(self, c: Candidate, s: int) -> bool:
        """Placing ``c`` in slot ``s`` keeps every hard rule."""
        for test in self._all_tests:
            if not test(self, c, s):
                return False
        return True

    def fitting_slots(self, c: Candidate, slots: Iterable[int]) -> list[int]:
        """The slots of ``slots`` where ``c`` fits (as ``fits``; tests that ignore the slot run once)."""
        for test in self._candidate_tests:
            if not test(self, c, -1):
                return []
        tests = self._slot_tests
        return [s for s in slots if all(test(self, c, s) for test in tests)]

    def fits_locally(self, c: Candidate, s: int) -> bool:
        """Placing ``c`` in ``s`` keeps every rule of single placements (all but the whole-schedule ones)."""
        for test in self._tests:
            if not test(self, c, s):
                return False
        return True

    def failing(self, c: Candidate, s: int) -> Rule | None:
        """The first rule placing ``c`` in ``s`` would break, or None."""
        for rule in self.rules + self.whole:
            if not rule.fit(self, c, s):
                return rule
        return None

    def why(self, c: Candidate, s: int) -> str | None:
        """A human reason why ``c`` cannot go in ``s`` (None if it fits)."""
        rule = self.failing(c, s)
        if rule is None:
            return None
        return rule.reason(self, c, s) if rule.reason is not None else f"it breaks the {rule.name} rule"

    def closeness(self, c: Candidate, s: int) -> int:
        """How many of the pair's meetings are in the neighbouring slots (higher = more compact)."""
        return sum((s - 1 in self.busy[p]) + (s + 1 in self.busy[p]) for p in (c.buyer, c.exhibitor))

    def breaks_of(self, mask: int) -> int:
        """Breaks of a busy bitmask: runs of busy slots minus days with a meeting."""
        found = self._breaks_of.get(mask)
        if found is None:
            runs = (mask & ~(mask << 1)).bit_count()
            found = self._breaks_of[mask] = runs - sum(1 for day in self._day_masks if mask & day)
        return found

    def sync_breaks(self) -> None:
        """Bring ``breaks`` up to date for the participants changed since the last call."""
        if self._stale:
            for p in self._stale:
                self._set_breaks(p, self.breaks_of(self._mask[p]))
            self._stale.clear()

    def spread(self) -> int:
        """Most breaks minus fewest breaks over all participants."""
        self.sync_breaks()
        return max(self._with_breaks) - min(self._with_breaks) if self._with_breaks else 0

    def fair(self) -> bool:
        return self.max_spread is None or self.spread() <= self.max_spread

    def spread_with(self, changes: dict[int, int]) -> int:
        """The spread if the participants in ``changes`` had those break counts."""
        delta: dict[int, int] = {}
        for p, new in changes.items():
            old = self.breaks[p]
            if old != new:
                delta[old] = delta.get(old, 0) - 1
                delta[new] = delta.get(new, 0) + 1
        counts = self._with_breaks
        present = [k for k in counts.keys() | delta.keys() if counts.get(k, 0) + delta.get(k, 0) > 0]
        return max(present) - min(present) if present else 0

    def _set_breaks(self, p: int, new: int) -> None:
        old = self.breaks[p]
        if old == new:
            return
        counts = self._with_breaks
        counts[old] -= 1
        if not counts[old]:
            del counts[old]
        counts[new] = counts.get(new, 0) + 1
        self.breaks[p] = new

    # -- changes -----------------------------------------------------------

    def place(self, c: Candidate, s: int) -> None:
        """Record ``c`` in slot ``s`` (unchecked: call ``fits`` first, or restore a state that held)."""
        for party in (c.buyer, c.exhibitor):
            self.busy[party].add(s)
            self.count[party] += 1
        if self._daily:
            day = self.day_of[s]
            self.day_count[c.buyer][day] += 1
            self.day_count[c.exhibitor][day] += 1
        if self._fairness:
            bit = self._bit[s]
            self._mask[c.buyer] |= bit
            self._mask[c.exhibitor] |= bit
            self._stale.update((c.buyer, c.exhibitor))
        self.tables[c.location][s] += 1
        if c.interpreter is not None:
            self.interpreters[c.interpreter][s] += 1
        if self._walks:
            self.buyer_hall[c.buyer][s] = c.hall
        self.slot_of[c.index] = s

    def remove(self, c: Candidate, s: int | None = None) -> None:
        """Undo ``place(c, s)``."""
        s = self.slot_of[c.index] if s is None else s
        for party in (c.buyer, c.exhibitor):
            self.busy[party].discard(s)
            self.count[party] -= 1
        if self._daily:
            day = self.day_of[s]
            self.day_count[c.buyer][day] -= 1
            self.day_count[c.exhibitor][day] -= 1
        if self._fairness:
            bit = ~self._bit[s]
            self._mask[c.buyer] &= bit
            self._mask[c.exhibitor] &= bit
            self._stale.update((c.buyer, c.exhibitor))
        self.tables[c.location][s] -= 1
        if c.interpreter is not None:
            self.interpreters[c.interpreter][s] -= 1
        if self._walks:
            del self.buyer_hall[c.buyer][s]
        del self.slot_of[c.index]

    def try_moves(self, moves: dict[int, int | None], keep: bool = True) -> bool:
        """Move candidates to new slots at once (None = take out, unplaced = put in) if every rule holds after.

        Rules of single placements are tested meeting by meeting against the meetings
        already in their new places; rules of the whole schedule (fairness) once at the
        end. Changes nothing when a rule fails, or when ``keep`` is False (a test only).
        """
        candidates = self.instance.candidates
        old = {c: self.slot_of.get(c) for c in moves}
        for c, s in old.items():
            if s is not None:
                self.remove(candidates[c], s)
        done = []
        ok = True
        for c, new in moves.items():
            if new is None:
                continue
            if not self.fits_locally(candidates[c], new):
                ok = False
                break
            self.place(candidates[c], new)
            done.append(c)
        if ok and self._fairness:
            ok = self.spread() <= self.max_spread
        if ok and keep:
            return True
        for c in done:
            self.remove(candidates[c], moves[c])
        for c, s in old.items():
            if s is not None:
                self.place(candidates[c], s)
        return ok

    def place_all(self, placements: Iterable[tuple[int, int]]) -> None:
        """Record (candidate, slot) placements without testing them (a schedule known to hold)."""
        for c, s in placements:
            self.place(self.instance.candidates[c], s)
