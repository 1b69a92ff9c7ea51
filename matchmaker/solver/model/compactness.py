"""Compact agendas: few idle gaps between a participant's meetings within a day."""

from __future__ import annotations

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def add_idle_gaps(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> cp_model.LinearExprT:
    """Soft: count idle gaps (blocks of meetings in a day minus one) per participant and day.

    Soft because compactness is comfort, not a rule. Slots of consecutive
    sessions of a day count as adjacent (lunch is not an idle gap).
    """
    terms = []
    for party in range(len(instance.parties)):
        for day_slots in instance.grid.by_day:
            busy = [mv.by_party_slot.get((party, s), []) for s in day_slots]
            if sum(1 for b in busy if b) < 2:
                continue  # at most one possible slot: never a gap
            starts = []
            previous: list[int] = []
            for now in busy:
                if now:
                    # A block starts here if busy now and idle in the previous slot.
                    start = mv.derive(
                        model.new_bool_var(""),
                        lambda active, now=now, previous=previous: int(
                            any(v in active for v in now) and not any(v in active for v in previous)
                        ),
                    )
                    model.add(start >= sum(mv.x[v] for v in now) - sum(mv.x[v] for v in previous))
                    starts.append(start)
                previous = now
            everything = [v for now in busy for v in now]
            active = mv.derive(model.new_bool_var(""), lambda active, everything=everything: int(any(v in active for v in everything)))
            model.add(active <= sum(mv.x[v] for v in everything))
            terms.append(sum(starts) - active)
    return sum(terms)
