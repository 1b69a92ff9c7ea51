"""Pair rules: a pair meets at most as often as it asked (once by default); must requests and pinned meetings happen."""

from __future__ import annotations

from itertools import pairwise

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def add_pair_at_most_once(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: each candidate, one meeting of its pair, takes place at most once.

    A pair asked to meet k times has k candidates (copies), so it meets at most k
    times; two copies never share a slot, since one participant cannot be in two
    meetings at once (participants.py). Copies that differ only by their index are
    interchangeable: they meet in repeat order (copy i+1 only after copy i, in a
    later slot, stated as for precedences), which removes the k! relabellings of
    each schedule.
    """
    for own in mv.by_candidate:
        if len(own) > 1:
            model.add_at_most_one(mv.x[v] for v in own)
    for run in mv.copy_runs:
        for first, second in pairwise(run):
            earlier = [(mv.slot_of[v], mv.x[v]) for v in mv.by_candidate[first]]
            later = [(mv.slot_of[v], mv.x[v]) for v in mv.by_candidate[second]]
            model.add(sum(x for _, x in later) <= sum(x for _, x in earlier))
            for t in sorted({s for s, _ in later}):
                not_before = [x for s, x in earlier if s >= t]
                at_or_before = [x for s, x in later if s <= t]
                if not_before and at_or_before:
                    model.add_at_most_one(not_before + at_or_before)


def add_must_requests(
    model: cp_model.CpModel, instance: Instance, mv: MeetingVars, enforce: dict[int, cp_model.IntVar] | None = None
) -> None:
    """Hard: every `must` request is scheduled (organizers promised these meetings).

    ``enforce`` maps candidate -> assumption literal; used only to diagnose infeasibility.
    """
    for c in instance.must_candidates:  # each of a repeated must's meetings is a must candidate
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
