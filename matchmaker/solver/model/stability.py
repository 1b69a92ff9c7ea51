"""Stability when re-planning: changes to a previously published schedule."""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def add_changes(
    model: cp_model.CpModel, instance: Instance, mv: MeetingVars, max_changes_per_participant: int | None
) -> cp_model.LinearExprT:
    """Hard cap and soft cost on changes: a published meeting moved or cancelled is a change.

    Hard (the cap) because every change is a phone call and a reprinted agenda for
    that person; soft (the returned count) so that changes are only made when
    they let more or better meetings in. A published meeting stays unchanged
    exactly when its variable in the published slot is 1.
    """
    unchanged: dict[int, cp_model.LinearExprT] = {}
    for c in instance.candidates:
        if c.previous_slot is not None:
            var = mv.var_at(c.index, c.previous_slot)
            unchanged[c.index] = var if var is not None else 0
    per_party: dict[int, list[int]] = defaultdict(list)
    for c_index in unchanged:
        c = instance.candidates[c_index]
        per_party[c.buyer].append(c_index)
        per_party[c.exhibitor].append(c_index)
    if max_changes_per_participant is not None:
        for own in per_party.values():
            if len(own) > max_changes_per_participant:
                model.add(sum(1 - unchanged[c] for c in own) <= max_changes_per_participant)
    return sum(1 - u for u in unchanged.values())
