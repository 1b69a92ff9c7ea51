"""Walking rule: a buyer's meetings in different halls leave time to walk between them."""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def add_walking_time(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: a buyer cannot be in hall h1 at slot s and hall h2 at slot t if the walk takes longer than the gap.

    For back-to-back slots the gap is `changeover_minutes`. One Boolean per
    (buyer, slot, hall) says where the buyer is; each conflict is one at-most-one.
    """
    longest_walk = max((m for row in instance.walking for m in row), default=0)
    if longest_walk == 0:
        return
    grid = instance.grid
    # Pairs of slots on one day whose gap is shorter than the longest walk.
    close_pairs = []
    for day_slots in grid.by_day:
        for i, s in enumerate(day_slots):
            for t in day_slots[i + 1 :]:
                gap = grid.slots[t].start - grid.slots[s].end
                if gap >= longest_walk:
                    break
                close_pairs.append((s, t, gap))

    for buyer in range(instance.num_buyers):
        in_hall: dict[tuple[int, int], list[int]] = defaultdict(list)  # (slot, hall) -> var indices
        for slot in instance.parties[buyer].free:
            for v in mv.by_party_slot.get((buyer, slot), ()):
                in_hall[(slot, instance.candidates[mv.cand_of[v]].hall)].append(v)
        if len({hall for _slot, hall in in_hall}) < 2:
            continue
        halls_at: dict[int, list[int]] = defaultdict(list)
        for slot, hall in in_hall:
            halls_at[slot].append(hall)
        where: dict[tuple[int, int], cp_model.IntVar] = {}

        def located(slot: int, hall: int) -> cp_model.IntVar:
            if (slot, hall) not in where:
                own = in_hall[(slot, hall)]
                var = mv.derive(model.new_bool_var(""), lambda active, own=own: int(any(v in active for v in own)))
                model.add(var == sum(mv.x[v] for v in own))
                where[(slot, hall)] = var
            return where[(slot, hall)]

        for s, t, gap in close_pairs:
            for h1 in halls_at.get(s, ()):
                too_far = [h2 for h2 in halls_at.get(t, ()) if instance.walking[h1][h2] > gap]
                if too_far:
                    model.add_at_most_one([located(s, h1)] + [located(t, h2) for h2 in too_far])
