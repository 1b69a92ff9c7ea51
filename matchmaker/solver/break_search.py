"""Local search for the breaks objective: simulated annealing over Kempe-chain moves.

A brokerage schedule is an edge colouring of the meeting graph by slots, and a
participant's breaks depend only on which slots it is busy in. A Kempe move
takes one meeting from slot s to slot t and swaps, between s and t, every
meeting chained to it through a shared participant: the result is again
conflict-free; every other hard rule (tables, precedences, break fairness, ...)
is tested by ``rules.Occupancy`` before a move is made, so the search walks only
through valid timetables and needs no repair. CP-SAT's generic neighbourhoods
took 17-60 s to bring tic-13crafc from the greedy's 36 breaks to the optimum 4;
these moves in a few seconds hand the pattern model a hint at (or near) its LP
bound, which it then only has to prove.

Its complete schedules keep every hard rule (the registry's fit tests); brokerage
offers them as solutions and hints CP-SAT with them.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass

from ..instance.candidates import Instance
from .rules import Occupancy

logger = logging.getLogger(__name__)

START_TEMPERATURE = 0.6
END_TEMPERATURE = 0.03
INSERT_SHARE = 0.5  # of the moves while meetings are unplaced
UNPLACED_COST = 3  # breaks an unplaced meeting is worth during the search


def applies(instance: Instance) -> bool:
    """Where the search is tuned and measured: no interpreters, daily caps or walks (moves test every rule anyway)."""
    return (
        all(c.interpreter is None for c in instance.candidates)
        and all(p.max_per_day is None for p in instance.parties)
        and len({c.hall for c in instance.candidates}) <= 1
    )


@dataclass(frozen=True)
class SearchResult:
    placed: dict[int, int] | None  # candidate -> slot: the best complete schedule, None if none was reached
    breaks: int
    moves: int


class _Breaks:
    """Breaks of a busy-slot bitmask: runs minus days used (bits of one day are adjacent, days are apart)."""

    def __init__(self, instance: Instance):
        longest = max(len(day) for day in instance.grid.by_day)
        self.bit = {}
        self.day_masks = []
        for d, day in enumerate(instance.grid.by_day):
            mask = 0
            for i, s in enumerate(day):
                self.bit[s] = 1 << (d * (longest + 1) + i)
                mask |= self.bit[s]
            self.day_masks.append(mask)
        self._cache: dict[int, int] = {}

    def __call__(self, mask: int) -> int:
        found = self._cache.get(mask)
        if found is None:
            runs = (mask & ~(mask << 1)).bit_count()
            found = runs - sum(1 for day in self.day_masks if mask & day)
            self._cache[mask] = found
        return found


class _Timetable:
    """Slots, busy masks and table use of a (possibly partial) schedule, and its ``rules.Occupancy`` for the hard rules."""

    def __init__(self, instance: Instance, placed: dict[int, int], cap: int | None):
        candidates = instance.candidates
        self.breaks_of = _Breaks(instance)
        self.ends = [(c.buyer, c.exhibitor) for c in candidates]
        self.location = [c.location for c in candidates]
        self.tables = instance.location_tables
        self.allowed = [frozenset([c.pinned_slot] if c.pinned_slot is not None else c.slots) for c in candidates]
        self.pinned = [c.pinned_slot is not None for c in candidates]
        self.occupancy = Occupancy(instance, placed)
        self.slot: dict[int, int] = {}
        self.at: list[dict[int, int]] = [{} for _ in instance.parties]  # party -> slot -> meeting
        self.cell: dict[tuple[int, int], list[int]] = {}  # (location, slot) -> meetings
        self.mask = [0] * len(instance.parties)
        self.unplaced = [c.index for c in candidates if c.index not in placed]
        for c, s in placed.items():
            self._put(c, s)
        self.breaks = sum(self.breaks_of(m) for m in self.mask)
        self.over = 0 if cap is None else sum(1 for m in self.mask if self.breaks_of(m) > cap)  # participants above the cap

    @property
    def valid(self) -> bool:
        """Complete, within the cap and fair: a schedule worth keeping."""
        return not self.unplaced and not self.over and self.occupancy.fair()

    def _put(self, c: int, s: int) -> None:
        self.slot[c] = s
        bit = self.breaks_of.bit[s]
        for p in self.ends[c]:
            self.at[p][s] = c
            self.mask[p] |= bit
        self.cell.setdefault((self.location[c], s), []).append(c)

    def _take(self, c: int) -> None:
        s = self.slot.pop(c)
        bit = self.breaks_of.bit[s]
        for p in self.ends[c]:
            del self.at[p][s]
            self.mask[p] &= ~bit
        self.cell[(self.location[c], s)].remove(c)

    def kempe(self, first: int, t: int) -> dict[int, int | None] | None:
        """Move ``first`` to slot t and swap its Kempe chain between its slot and t; None if a member may not move."""
        s = self.slot[first]
        moves: dict[int, int | None] = {first: t}
        stack = [first]
        while stack:
            c = stack.pop()
            other = moves[c]
            if other not in self.allowed[c]:
                return None
            for p in self.ends[c]:
                linked = self.at[p].get(other)
                if linked is not None and linked not in moves:
                    moves[linked] = s if other == t else t
                    stack.append(linked)
        return moves

    def insert(self, c: int, t: int, rng: random.Random) -> dict[int, int | None] | None:
        """Place unplaced ``c`` in slot t, unplacing its participants' meetings there (and one more if tables are full)."""
        moves: dict[int, int | None] = {c: t}
        for p in self.ends[c]:
            there = self.at[p].get(t)
            if there is not None:
                moves[there] = None
        cell = self.cell.get((self.location[c], t), [])
        if len(cell) - sum(1 for m in cell if m in moves) >= self.tables[self.location[c]]:
            others = [m for m in cell if m not in moves]
            moves[others[rng.randrange(len(others))]] = None
        if any(self.pinned[m] for m, new in moves.items() if new is None):
            return None
        return moves

    def evaluate(self, moves: dict[int, int | None], cap: int | None) -> tuple[int, int] | None:
        """The change in breaks and in participants above ``cap`` from applying ``moves``.

        None if the moves take a participant above the cap (or further above it: a start
        above the cap may only come down). The hard rules are tested when a move is
        made (``apply``), which saves testing the moves the annealing turns down.
        """
        bit, slot, ends, mask = self.breaks_of.bit, self.slot, self.ends, self.mask
        cleared: dict[int, int] = {}  # party -> bits it leaves
        filled: dict[int, int] = {}  # party -> bits it takes
        for c, new in moves.items():
            old = slot.get(c)
            gone = 0 if old is None else bit[old]
            taken = 0 if new is None else bit[new]
            for p in ends[c]:
                cleared[p] = cleared.get(p, 0) | gone
                filled[p] = filled.get(p, 0) | taken
        breaks_of = self.breaks_of
        delta = over = 0
        for p, gone in cleared.items():
            before, after = breaks_of(mask[p]), breaks_of((mask[p] & ~gone) | filled[p])
            if cap is not None and after > cap:
                if after > before:
                    return None
                over += (after > cap) - (before > cap)
            elif cap is not None and before > cap:
                over -= 1
            delta += after - before
        return delta, over

    def apply(self, moves: dict[int, int | None], delta: int, over: int) -> bool:
        """Make the moves if every hard rule holds after them (``Occupancy.try_moves``); False changes nothing."""
        if not self.occupancy.try_moves(moves):
            return False
        for c in moves:
            if c in self.slot:
                self._take(c)
            else:
                self.unplaced.remove(c)
        for c, new in moves.items():
            if new is None:
                self.unplaced.append(c)
            else:
                self._put(c, new)
        self.breaks += delta
        self.over += over
        return True


def improve_breaks(
    instance: Instance, placed: dict[int, int], iterations: int, seed: int, cap: int | None = None, target: int = 0,
    deadline: float | None = None,
) -> SearchResult:
    """Anneal from ``placed`` (complete, or partial: unplaced meetings are put in by bumping others out).

    Returns the complete schedule within the cap with the fewest breaks seen. ``cap`` is the most
    breaks any participant may have (fairness); ``target`` stops the search early
    (a known lower bound), and so does the ``deadline`` (monotonic clock) when
    given. Deterministic for a given seed without a deadline.
    """
    rng = random.Random(seed)
    table = _Timetable(instance, placed, cap)
    candidates = instance.candidates
    movable = [c.index for c in candidates if c.pinned_slot is None and len(c.slots) > 1]
    best = table.breaks if table.valid else None
    best_slot = dict(table.slot) if table.valid else None
    if (best is not None and best <= target) or not movable:
        logger.info("break search: start already at %s breaks (target %d)", best, target)
        return SearchResult(best_slot, best if best is not None else -1, 0)
    cooling = (END_TEMPERATURE / START_TEMPERATURE) ** (1.0 / max(1, iterations))
    temperature = START_TEMPERATURE
    moves = 0
    for step in range(iterations):
        if deadline is not None and step % 1024 == 0 and time.monotonic() > deadline:
            break
        temperature *= cooling
        if table.unplaced and rng.random() < INSERT_SHARE:
            c = table.unplaced[rng.randrange(len(table.unplaced))]
            proposal = table.insert(c, rng.choice(candidates[c].slots), rng)
        else:
            c = movable[rng.randrange(len(movable))]
            if c not in table.slot:
                continue
            t = rng.choice(candidates[c].slots)
            proposal = None if t == table.slot[c] else table.kempe(c, t)
        if proposal is None:
            continue
        outcome = table.evaluate(proposal, cap)
        if outcome is None:
            continue
        delta, over = outcome
        unplaced_change = sum(1 for m, new in proposal.items() if new is None) - sum(1 for m in proposal if m not in table.slot)
        cost = delta + UNPLACED_COST * (unplaced_change + over)
        if cost > 0 and rng.random() >= math.exp(-cost / temperature):
            continue
        if not table.apply(proposal, delta, over):
            continue
        moves += 1
        if table.valid and (best is None or table.breaks < best):
            best, best_slot = table.breaks, dict(table.slot)
            if best <= target:
                break
    logger.info("break search: %d moves, breaks %s%s", moves, best, "" if best_slot else " (never complete)")
    return SearchResult(best_slot, best if best is not None else -1, moves)

