"""Greedy construction: a fast valid schedule used as the solver's hint and as a fallback.

Pins first, then must requests (fewest options first), then the rest by value.
Each meeting takes the feasible slot that sits next to the buyer's other meetings,
so the hint is already fairly compact. "Feasible" is ``rules.Occupancy.fits``: every
hard rule of the registry, precedences and break fairness included.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..instance.candidates import Instance
from .rules import Occupancy


@dataclass
class GreedyResult:
    placed: dict[int, int]  # candidate -> slot
    complete: bool  # every must request and pin placed


def greedy_schedule(instance: Instance, preferred: list[tuple[int, int]] = ()) -> GreedyResult:
    """Place candidates one by one in a fixed, deterministic order.

    ``preferred`` (candidate, slot) placements are tried first, in order, and kept
    where they still fit; this is how other stages' answers are made safe.
    """
    occupancy = Occupancy(instance)
    placed: dict[int, int] = {}
    _place_preferred(occupancy, preferred, placed)
    pins = [c for c in instance.candidates if c.pinned_slot is not None and c.index not in placed]
    musts = sorted(
        (c for c in instance.candidates if c.request_level == "must" and c.pinned_slot is None and c.index not in placed),
        key=lambda c: (len(c.slots), c.index),
    )
    rest = sorted(
        (c for c in instance.candidates if not c.committed and c.index not in placed),
        key=lambda c: (-c.value, c.index),
    )
    for c in pins:
        if occupancy.fits(c, c.pinned_slot):
            occupancy.place(c, c.pinned_slot)
            placed[c.index] = c.pinned_slot
    for group in (musts, rest):
        for c in group:
            options = occupancy.fitting_slots(c, c.slots)
            if options:
                best = max(options, key=lambda s: (occupancy.closeness(c, s), -s))
                occupancy.place(c, best)
                placed[c.index] = best
    complete = all(c.index in placed for c in instance.candidates if c.committed)
    return GreedyResult(placed, complete)


def _place_preferred(occupancy: Occupancy, preferred: list[tuple[int, int]], placed: dict[int, int]) -> None:
    """Keep the ``preferred`` placements that fit, in order.

    Break fairness is a rule of the whole schedule: a valid schedule placed meeting by
    meeting may pass through unfair partial states. So the placements are tested
    against every other rule one by one and against fairness once, as a whole; if the
    whole is unfair, they are tried again in time order, each against every rule.
    """
    instance = occupancy.instance
    order = []
    for c_index, s in preferred:
        c = instance.candidates[c_index]
        if c_index not in placed and occupancy.fits_locally(c, s):
            occupancy.place(c, s)
            placed[c_index] = s
            order.append(c_index)
    if occupancy.fair():
        return
    for c_index in order:
        occupancy.remove(instance.candidates[c_index])
        del placed[c_index]
    for c_index, s in sorted(preferred, key=lambda item: (item[1], item[0])):
        c = instance.candidates[c_index]
        if c_index not in placed and occupancy.fits(c, s):
            occupancy.place(c, s)
            placed[c_index] = s

