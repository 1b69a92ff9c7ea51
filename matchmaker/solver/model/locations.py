"""Location rules: a booth or lounge holds at most `tables` meetings at once."""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def add_table_capacity(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: meetings at a location in one slot never exceed its tables (physical space).

    Skipped where it cannot bind: a location used by no more exhibitors than it has
    tables is already covered by each exhibitor's one-meeting-at-a-time rule.
    """
    exhibitors_at: dict[int, set[int]] = defaultdict(set)
    for c in instance.candidates:
        exhibitors_at[c.location].add(c.exhibitor)
    binding = {loc for loc, users in exhibitors_at.items() if len(users) > instance.location_tables[loc]}
    if not binding:
        return
    at: dict[tuple[int, int], list[int]] = defaultdict(list)
    for v, c_index in enumerate(mv.cand_of):
        location = instance.candidates[c_index].location
        if location in binding:
            at[(location, mv.slot_of[v])].append(v)
    for (location, _slot), var_indices in at.items():
        if len(var_indices) > instance.location_tables[location]:
            model.add(sum(mv.x[v] for v in var_indices) <= instance.location_tables[location])
