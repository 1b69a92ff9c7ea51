"""Meeting-count rules: per-day and total caps (hard), minimum meetings (soft)."""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def party_vars(instance: Instance, mv: MeetingVars) -> dict[int, list[int]]:
    """Variable indices touching each participant."""
    out: dict[int, list[int]] = defaultdict(list)
    for (party, _slot), var_indices in mv.by_party_slot.items():
        out[party].extend(var_indices)
    return out


def add_meeting_caps(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: `max_meetings` and `max_meetings_per_day` are participants' own limits."""
    grid = instance.grid
    for party, var_indices in party_vars(instance, mv).items():
        info = instance.parties[party]
        if len(var_indices) > info.max_meetings:
            model.add(sum(mv.x[v] for v in var_indices) <= info.max_meetings)
        if info.max_per_day is None:
            continue
        per_day: dict[int, list[int]] = defaultdict(list)
        for v in var_indices:
            per_day[grid.slots[mv.slot_of[v]].day].append(v)
        for day_vars in per_day.values():
            if len({mv.slot_of[v] for v in day_vars}) > info.max_per_day:
                model.add(sum(mv.x[v] for v in day_vars) <= info.max_per_day)


def add_min_meetings(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> cp_model.LinearExprT:
    """Soft: reach each participant's `min_meetings` first; returns the shortfall to penalize.

    Soft because a minimum can be impossible (too few interested counterparts);
    its heavy weight makes the optimizer trade meeting value for it.
    """
    shortfalls = []
    vars_of = party_vars(instance, mv)
    for party, info in enumerate(instance.parties):
        if info.min_meetings <= 0:
            continue
        own = vars_of.get(party, [])
        shortfall = mv.derive(
            model.new_int_var(0, info.min_meetings, ""),
            lambda active, own=own, need=info.min_meetings: max(0, need - sum(v in active for v in own)),
        )
        model.add(sum(mv.x[v] for v in own) + shortfall >= info.min_meetings)
        shortfalls.append(shortfall)
    return sum(shortfalls)
