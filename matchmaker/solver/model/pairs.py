"""Pair rules: a pair meets at most once; must requests and pinned meetings happen."""

from __future__ import annotations

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def add_pair_at_most_once(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: a buyer and an exhibitor meet at most once (a second meeting wastes a slot)."""
    for own in mv.by_candidate:
        if len(own) > 1:
            model.add_at_most_one(mv.x[v] for v in own)


def add_must_requests(
    model: cp_model.CpModel, instance: Instance, mv: MeetingVars, enforce: dict[int, cp_model.IntVar] | None = None
) -> None:
    """Hard: every `must` request is scheduled (organizers promised these meetings).

    ``enforce`` maps candidate -> assumption literal; used only to diagnose infeasibility.
    """
    for c in instance.must_candidates:
        constraint = model.add(sum(mv.of_candidate(c.index)) == 1)
        if enforce is not None:
            constraint.only_enforce_if(enforce[c.index])


def add_pinned(
    model: cp_model.CpModel, instance: Instance, mv: MeetingVars, enforce: dict[int, cp_model.IntVar] | None = None
) -> None:
    """Hard: a pinned meeting takes place exactly in its slot (it was agreed and published)."""
    for c in instance.candidates:
        if c.pinned_slot is None:
            continue
        var = mv.var_at(c.index, c.pinned_slot)
        if var is None:  # slot lost to availability: impossible, reported by diagnosis
            var = model.new_constant(0)
        constraint = model.add(var == 1)
        if enforce is not None:
            constraint.only_enforce_if(enforce[c.index])
