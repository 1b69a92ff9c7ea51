"""Greedy construction: a fast valid schedule used as the solver's hint and as a fallback.

Pins first, then must requests (fewest options first), then the rest by value.
Each meeting takes the feasible slot that sits next to the buyer's other meetings,
so the hint is already fairly compact.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..instance.candidates import Candidate, Instance


@dataclass
class GreedyResult:
    placed: dict[int, int]  # candidate -> slot
    complete: bool  # every must request and pin placed


class _Occupancy:
    """What the greedy has used so far."""

    def __init__(self, instance: Instance):
        self.instance = instance
        self.busy: dict[int, set[int]] = defaultdict(set)
        self.count: dict[int, int] = defaultdict(int)
        self.day_count: dict[tuple[int, int], int] = defaultdict(int)
        self.tables: dict[tuple[int, int], int] = defaultdict(int)
        self.interpreters: dict[tuple[int, int], int] = defaultdict(int)
        self.buyer_hall: dict[int, dict[int, int]] = defaultdict(dict)  # buyer -> slot -> hall

    def fits(self, c: Candidate, s: int) -> bool:
        inst = self.instance
        grid = inst.grid
        day = grid.slots[s].day
        for party in (c.buyer, c.exhibitor):
            info = inst.parties[party]
            if s in self.busy[party] or self.count[party] >= info.max_meetings:
                return False
            if info.max_per_day is not None and self.day_count[(party, day)] >= info.max_per_day:
                return False
        if self.tables[(c.location, s)] >= inst.location_tables[c.location]:
            return False
        if c.interpreter is not None and self.interpreters[(c.interpreter, s)] >= inst.interpreter_capacity[c.interpreter][s]:
            return False
        here = grid.slots[s]
        for t, hall in self.buyer_hall[c.buyer].items():
            other = grid.slots[t]
            if other.day != here.day or hall == c.hall:
                continue
            gap = here.start - other.end if other.start < here.start else other.start - here.end
            if gap < inst.walking[c.hall][hall]:
                return False
        return True

    def place(self, c: Candidate, s: int) -> None:
        for party in (c.buyer, c.exhibitor):
            self.busy[party].add(s)
            self.count[party] += 1
            self.day_count[(party, self.instance.grid.slots[s].day)] += 1
        self.tables[(c.location, s)] += 1
        if c.interpreter is not None:
            self.interpreters[(c.interpreter, s)] += 1
        self.buyer_hall[c.buyer][s] = c.hall

    def remove(self, c: Candidate, s: int) -> None:
        """Undo ``place(c, s)``."""
        for party in (c.buyer, c.exhibitor):
            self.busy[party].discard(s)
            self.count[party] -= 1
            self.day_count[(party, self.instance.grid.slots[s].day)] -= 1
        self.tables[(c.location, s)] -= 1
        if c.interpreter is not None:
            self.interpreters[(c.interpreter, s)] -= 1
        del self.buyer_hall[c.buyer][s]

    def closeness(self, c: Candidate, s: int) -> int:
        """How many of the pair's meetings are in the neighbouring slots (higher = more compact)."""
        return sum((s - 1 in self.busy[p]) + (s + 1 in self.busy[p]) for p in (c.buyer, c.exhibitor))


def greedy_schedule(instance: Instance, preferred: list[tuple[int, int]] = ()) -> GreedyResult:
    """Place candidates one by one in a fixed, deterministic order.

    ``preferred`` (candidate, slot) placements are tried first, in order, and kept
    where they still fit; this is how other stages' answers are made safe.
    """
    occupancy = _Occupancy(instance)
    placed: dict[int, int] = {}
    for c_index, s in preferred:
        c = instance.candidates[c_index]
        if c.pinned_slot is not None and s != c.pinned_slot:
            continue
        if c_index not in placed and s in c.slots and occupancy.fits(c, s):
            occupancy.place(c, s)
            placed[c_index] = s
    pins = [c for c in instance.candidates if c.pinned_slot is not None and c.index not in placed]
    musts = sorted(
        (c for c in instance.candidates if c.request_level == "must" and c.pinned_slot is None and c.index not in placed),
        key=lambda c: (len(c.slots), c.index),
    )
    rest = sorted(
        (c for c in instance.candidates if c.request_level != "must" and c.pinned_slot is None and c.index not in placed),
        key=lambda c: (-c.value, c.index),
    )
    for c in pins:
        if c.pinned_slot in c.slots and occupancy.fits(c, c.pinned_slot):
            occupancy.place(c, c.pinned_slot)
            placed[c.index] = c.pinned_slot
    for group in (musts, rest):
        for c in group:
            options = [s for s in c.slots if occupancy.fits(c, s)]
            if options:
                best = max(options, key=lambda s: (occupancy.closeness(c, s), -s))
                occupancy.place(c, best)
                placed[c.index] = best
    complete = all(
        c.index in placed for c in instance.candidates if c.request_level == "must" or c.pinned_slot is not None
    )
    return GreedyResult(placed, complete)
