"""Participant rules: nobody is in two meetings at once."""

from __future__ import annotations

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def add_one_meeting_at_a_time(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: a participant is in at most one meeting per slot (slots never overlap in time)."""
    for (_party, _slot), var_indices in mv.by_party_slot.items():
        if len(var_indices) > 1:
            model.add_at_most_one(mv.x[v] for v in var_indices)
