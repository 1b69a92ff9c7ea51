"""Compaction by local search: move meetings to close idle gaps, never losing one.

The decomposition's per-day compaction models get only a few seconds on large
days; this pass then moves any meeting to another slot of the same day when both
participants' idle gaps go down in total and every hard rule still holds (the
greedy's own feasibility check), and swaps Kempe chains between a participant's
meeting slot and one of its idle slots when that lowers the gaps of everyone involved. Meetings that are pinned or that exist in a
previous schedule stay where they are, so re-planning moves nothing it should not.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict

from .candidates import Instance
from .greedy import _Occupancy

logger = logging.getLogger(__name__)

MAX_PASSES = 4  # each pass tries every meeting once; later passes rarely find much


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


def _gaps(positions: set[int]) -> int:
    ordered = sorted(positions)
    return sum(1 for a, b in zip(ordered, ordered[1:]) if b - a > 1)


class _Compaction:
    """A schedule being compacted: occupancy for the hard rules, positions per participant and day."""

    def __init__(self, instance: Instance, placed: dict[int, int], deadline: float):
        self.instance = instance
        self.deadline = deadline
        grid = instance.grid
        self.position = {s: i for day_slots in grid.by_day for i, s in enumerate(day_slots)}
        self.occupancy = _Occupancy(instance)
        for c, s in sorted(placed.items()):
            self.occupancy.place(instance.candidates[c], s)
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

    def _ends(self, c: int) -> tuple[int, int]:
        candidate = self.instance.candidates[c]
        return candidate.buyer, candidate.exhibitor

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    def total_gaps(self) -> int:
        return sum(_gaps(p) for days in self.days_of.values() for p in days.values())

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
            now = sum(_gaps(o | {position[s]}) for o in own)
            if now == 0:
                continue
            occupancy.remove(candidate, s)
            best, best_gaps = s, now
            for t in candidate.slots:
                if t == s or grid.slots[t].day != day or not occupancy.fits(candidate, t):
                    continue
                after = sum(_gaps(o | {position[t]}) for o in own)
                if after < best_gaps:
                    best, best_gaps = t, after
            occupancy.place(candidate, best)
            if best != s:
                self._apply({c: best})
                moved += 1
        return moved

    def chain_swaps(self) -> int:
        """For each participant with a gap: move one of its meetings into an idle slot, swapping its Kempe chain.

        The chain (the meetings linked to it through shared participants, alternating
        between the two slots) swaps as a whole, so nobody is double-booked; tables,
        interpreters, walks and caps are checked meeting by meeting.
        """
        grid = self.instance.grid
        moved = 0
        for party in sorted(self.days_of):
            for day in sorted(self.days_of[party]):
                if self.out_of_time():
                    return moved
                positions = self.days_of[party][day]
                if _gaps(positions) == 0:
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

    def _try_swap(self, first: int, t: int) -> bool:
        s = self.result[first]
        moves = {first: t}
        stack = [first]
        while stack:
            c = stack.pop()
            other = moves[c]
            if c not in self.movable or other not in self.allowed[c]:
                return False
            for p in self._ends(c):
                linked = self.at[p].get(other)
                if linked is not None and linked not in moves:
                    moves[linked] = s if other == t else t
                    stack.append(linked)
        day = self.instance.grid.slots[s].day
        affected = {p for c in moves for p in self._ends(c)}
        before = sum(_gaps(self.days_of[p][day]) for p in affected)
        after = 0
        for p in affected:
            positions = set(self.days_of[p][day])
            positions -= {self.position[self.result[c]] for c in moves if p in self._ends(c)}
            positions |= {self.position[new] for c, new in moves.items() if p in self._ends(c)}
            after += _gaps(positions)
        if after >= before:
            return False
        candidates, occupancy = self.instance.candidates, self.occupancy
        for c in moves:
            occupancy.remove(candidates[c], self.result[c])
        done = []
        for c, new in moves.items():
            if not occupancy.fits(candidates[c], new):
                break
            occupancy.place(candidates[c], new)
            done.append(c)
        if len(done) < len(moves):
            for c in done:
                occupancy.remove(candidates[c], moves[c])
            for c in moves:
                occupancy.place(candidates[c], self.result[c])
            return False
        self._apply(moves)
        return True

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
