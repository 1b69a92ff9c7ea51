"""Compaction by local search: move meetings to close idle gaps, never losing one.

The decomposition's per-day compaction models get only a few seconds on large
days; this pass then moves any meeting to another slot of the same day when both
participants' idle gaps go down in total and every hard rule still holds (the
rules.Occupancy: every hard rule of the registry), and swaps Kempe chains between a participant's
meeting slot and one of its idle slots when that lowers the gaps of everyone involved. Meetings that are pinned or that exist in a
previous schedule stay where they are, so re-planning moves nothing it should not.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict

from ..instance.candidates import Instance
from ..instance.slots import idle_gaps
from .rules import Occupancy

logger = logging.getLogger(__name__)

MAX_PASSES = 4  # each pass tries every meeting once; later passes rarely find much
MAX_VICTIMS = 3  # less valuable meetings per participant that `replace` tries taking out
MAX_CHAIN = 200  # meetings a Kempe chain may move (longer ones rarely pass every rule, and cost time)


def close_idle_gaps(instance: Instance, placed: dict[int, int], time_budget: float = math.inf) -> dict[int, int]:
    """``placed`` (candidate -> slot) with fewer idle gaps, same meetings, still valid.

    Each pass moves single meetings, then swaps Kempe chains between a participant's
    meeting slot and one of its idle slots. Deterministic for an unlimited
    ``time_budget`` (fixed passes, fixed order).
    """
    started = time.monotonic()
    state = _Compaction(instance, placed, deadline=started + time_budget)
    before_total = state.total_gaps()
    for _ in range(MAX_PASSES):
        moved = state.single_moves() + state.chain_swaps()
        if not moved or state.out_of_time():
            break
    logger.info("idle gaps: %d -> %d by moving meetings (%.2fs)", before_total, state.total_gaps(), time.monotonic() - started)
    return state.result


def insert_meetings(instance: Instance, placed: dict[int, int], wanted: list[int], time_budget: float = math.inf) -> dict[int, int]:
    """``placed`` with as many of the unplaced ``wanted`` candidates (in that order) put in as pays.

    Each goes where it fits, else where a Kempe-chain swap makes room, else in
    place of a less valuable meeting of one of its participants when the
    objective (value, minimums included) gains; meetings replaced that way are
    tried again at the end. Pinned meetings, must requests and those of a
    previous schedule are never replaced, and the last two never move.
    Deterministic for an unlimited budget.
    """
    started = time.monotonic()
    state = _Compaction(instance, placed, deadline=started + time_budget)
    before = len(state.result)
    added = replaced = 0
    for c in wanted:
        if state.out_of_time():
            break
        if c in state.result:
            continue
        if state.insert(c):
            added += 1
        elif state.replace(c):
            replaced += 1
    for c in sorted(state.ejected, key=lambda c: (-instance.candidates[c].value, c)):
        if not state.out_of_time() and c not in state.result:
            state.insert(c)
    logger.info(
        "insertion: %d of %d meetings put in, %d in place of less valuable ones; %d -> %d meetings (%.2fs)",
        added, len(wanted), replaced, before, len(state.result), time.monotonic() - started,
    )
    return state.result


class _Compaction:
    """A schedule being compacted: occupancy for the hard rules, positions per participant and day."""

    def __init__(self, instance: Instance, placed: dict[int, int], deadline: float):
        self.instance = instance
        self.deadline = deadline
        grid = instance.grid
        self.position = grid.positions()
        self.occupancy = Occupancy(instance, placed)
        self.result = dict(placed)
        self.days_of: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))  # party -> day -> positions
        self.at: dict[int, dict[int, int]] = defaultdict(dict)  # party -> slot -> candidate
        for c, s in self.result.items():
            for party in self._ends(c):
                self.days_of[party][grid.slots[s].day].add(self.position[s])
                self.at[party][s] = c
        # Pinned meetings and those of a previous schedule stay where they are.
        self.movable = {
            c for c in self.result
            if instance.candidates[c].pinned_slot is None and instance.candidates[c].previous_slot is None
        }
        self.allowed = {c: set(instance.candidates[c].slots) for c in self.movable}
        self.ejected: list[int] = []  # meetings `replace` took out

    def _ends(self, c: int) -> tuple[int, int]:
        candidate = self.instance.candidates[c]
        return candidate.buyer, candidate.exhibitor

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    def total_gaps(self) -> int:
        return sum(idle_gaps(p) for days in self.days_of.values() for p in days.values())

    def single_moves(self) -> int:
        """Move each meeting to the slot of its day that leaves its two participants the fewest gaps."""
        grid, position, occupancy = self.instance.grid, self.position, self.occupancy
        moved = 0
        for c in sorted(self.movable):
            if self.out_of_time():
                break
            candidate, s = self.instance.candidates[c], self.result[c]
            day = grid.slots[s].day
            own = [self.days_of[p][day] - {position[s]} for p in self._ends(c)]
            now = sum(idle_gaps(o | {position[s]}) for o in own)
            if now == 0:
                continue
            occupancy.remove(candidate, s)
            best, best_gaps = s, now
            for t in candidate.slots:
                if t == s or grid.slots[t].day != day:
                    continue
                after = sum(idle_gaps(o | {position[t]}) for o in own)
                if after < best_gaps and occupancy.fits(candidate, t):
                    best, best_gaps = t, after
            occupancy.place(candidate, best)
            if best != s:
                self._apply({c: best})
                moved += 1
        return moved

    def chain_swaps(self) -> int:
        """For each participant with a gap: move one of its meetings into an idle slot, swapping its Kempe chain.

        The chain (the meetings linked to it through shared participants, alternating
        between the two slots) swaps as a whole, so nobody is double-booked; every
        other rule is checked by ``Occupancy.try_moves``.
        """
        grid = self.instance.grid
        moved = 0
        for party in sorted(self.days_of):
            for day in sorted(self.days_of[party]):
                if self.out_of_time():
                    return moved
                positions = self.days_of[party][day]
                if idle_gaps(positions) == 0:
                    continue
                day_slots = grid.by_day[day]
                idle = [day_slots[i] for i in range(min(positions), max(positions) + 1) if i not in positions]
                for i in sorted(positions):
                    c = self.at[party].get(day_slots[i])
                    if c not in self.movable:
                        continue
                    if any(self._try_swap(c, t) for t in idle):
                        moved += 1
                        break
        return moved

    def _chain(self, first: int, t: int) -> dict[int, int] | None:
        """The Kempe chain that moves ``first`` to slot ``t``: meetings linked through shared participants
        swap between ``first``'s slot and ``t``. None if a member may not move or the chain is too long."""
        s = self.result[first]
        moves = {first: t}
        stack = [first]
        while stack:
            c = stack.pop()
            other = moves[c]
            if c not in self.movable or other not in self.allowed[c] or len(moves) > MAX_CHAIN:
                return None
            for p in self._ends(c):
                linked = self.at[p].get(other)
                if linked is not None and linked not in moves:
                    moves[linked] = s if other == t else t
                    stack.append(linked)
        return moves

    def _try_swap(self, first: int, t: int) -> bool:
        moves = self._chain(first, t)
        if moves is None:
            return False
        day = self.instance.grid.slots[t].day
        affected = {p for c in moves for p in self._ends(c)}
        before = sum(idle_gaps(self.days_of[p][day]) for p in affected)
        after = 0
        for p in affected:
            positions = set(self.days_of[p][day])
            positions -= {self.position[self.result[c]] for c in moves if p in self._ends(c)}
            positions |= {self.position[new] for c, new in moves.items() if p in self._ends(c)}
            after += idle_gaps(positions)
        return after < before and self._move(moves)

    def _move(self, moves: dict[int, int]) -> bool:
        """Move meetings to new slots at once if every hard rule still holds (else change nothing)."""
        if not self.occupancy.try_moves(moves):
            return False
        self._apply(moves)
        return True

    def insert(self, c: int) -> bool:
        """Place unplaced candidate ``c``: in a slot where it fits, else where one of its two participants is
        busy, after that meeting's Kempe chain moves it to another slot (as in König's edge-colouring proof)."""
        candidate, occupancy = self.instance.candidates[c], self.occupancy
        ends = self._ends(c)
        if any(occupancy.count[p] >= self.instance.parties[p].max_meetings for p in ends):
            return False  # quick exit: no chain frees a place under the cap
        slots = [candidate.pinned_slot] if candidate.pinned_slot is not None else candidate.slots
        free = occupancy.fitting_slots(candidate, slots)
        if free:
            self._add(c, max(free, key=lambda s: (occupancy.closeness(candidate, s), -s)))
            return True
        grid = self.instance.grid
        for s in slots:
            blockers = {self.at[p].get(s) for p in ends} - {None}
            if len(blockers) != 1:
                continue
            blocker = blockers.pop()
            if blocker not in self.movable:
                continue
            for t in sorted(self.allowed[blocker]):
                if t == s or grid.slots[t].day != grid.slots[s].day or self.out_of_time():
                    continue
                moves = self._chain(blocker, t)
                if moves is None or any(new == s and set(self._ends(m)) & set(ends) for m, new in moves.items()):
                    continue
                back = {m: self.result[m] for m in moves}
                if not self._move(moves):
                    continue
                if occupancy.fits(candidate, s):
                    self._add(c, s)
                    return True
                self._move(back)  # restores the earlier state, which was valid
        return False

    def replace(self, c: int) -> bool:
        """Place unplaced candidate ``c`` after taking out one less valuable meeting of each participant
        whose cap or slots block it, when the objective gains (``insert`` does the placing)."""
        candidates = self.instance.candidates
        value = candidates[c].value
        choices = []
        for p in self._ends(c):
            own = sorted({m for m in self.at[p].values() if m in self.movable and not candidates[m].committed},
                         key=lambda m: (candidates[m].value, m))
            choices.append([m for m in own if candidates[m].value < value][:MAX_VICTIMS])
        tries = [[m] for m in sorted(set(choices[0] + choices[1]), key=lambda m: (candidates[m].value, m))]
        tries += [[a, b] for a in choices[0][:2] for b in choices[1][:2] if a != b]
        for victims in tries:
            if self.out_of_time():
                return False
            if self._gain(c, victims) <= 0:
                continue
            where = {m: self.result[m] for m in victims}
            for m in victims:
                self._remove(m)
            if self.insert(c):
                self.ejected.extend(victims)
                return True
            for m, s in where.items():
                self._add(m, s)  # the state before, which was valid
        return False

    def _gain(self, c: int, victims: list[int]) -> int:
        """Objective change (value - min_shortfall x shortfall) of adding ``c`` and taking out ``victims``."""
        candidates, parties = self.instance.candidates, self.instance.parties
        change: dict[int, int] = defaultdict(int)
        for m in victims:
            for p in self._ends(m):
                change[p] -= 1
        for p in self._ends(c):
            change[p] += 1
        count = self.occupancy.count
        worse = sum(
            max(0, parties[p].min_meetings - count[p] - delta) - max(0, parties[p].min_meetings - count[p])
            for p, delta in change.items()
        )
        return candidates[c].value - sum(candidates[m].value for m in victims) - self.instance.weights.min_shortfall * worse

    def _remove(self, c: int) -> None:
        """Take a meeting out of the schedule."""
        s = self.result.pop(c)
        self.occupancy.remove(self.instance.candidates[c], s)
        for p in self._ends(c):
            self.days_of[p][self.instance.grid.slots[s].day].discard(self.position[s])
            del self.at[p][s]
        self.movable.discard(c)

    def _add(self, c: int, s: int) -> None:
        """Record a newly placed meeting (it may move later, as any other)."""
        candidate = self.instance.candidates[c]
        self.occupancy.place(candidate, s)
        self.result[c] = s
        for p in self._ends(c):
            self.days_of[p][self.instance.grid.slots[s].day].add(self.position[s])
            self.at[p][s] = c
        if candidate.pinned_slot is None and candidate.previous_slot is None:
            self.movable.add(c)
            self.allowed[c] = set(candidate.slots)

    def _apply(self, moves: dict[int, int]) -> None:
        """Record new slots (the occupancy is already updated)."""
        grid, position = self.instance.grid, self.position
        for c in moves:
            old = self.result[c]
            for p in self._ends(c):
                self.days_of[p][grid.slots[old].day].discard(position[old])
                if self.at[p].get(old) == c:
                    del self.at[p][old]
        for c, new in moves.items():
            self.result[c] = new
            for p in self._ends(c):
                self.days_of[p][grid.slots[new].day].add(position[new])
                self.at[p][new] = c
