"""Precedence rule: meeting A takes place strictly before meeting B."""

from __future__ import annotations

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def add_precedences(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: when both take place, meeting A ends before meeting B starts (the organizer's order, e.g. an introduction first).

    For every slot t: sum_{s <= t} x_{B,s} + sum_{s >= t} x_{A,s} <= 1 — one at-most-one
    per slot, which forbids exactly the placements with slot(B) <= slot(A) and is the
    convex hull of the rule for one pair (slots are numbered in time order and never
    overlap). A precedence whose meeting is not in this (sub-)instance is skipped.
    """
    if not instance.precedences:
        return
    by_pair = {(c.buyer, c.exhibitor): c.index for c in instance.candidates}
    for before, after in instance.precedences:
        a, b = by_pair.get(before), by_pair.get(after)
        if a is None or b is None:
            continue
        first = [(mv.slot_of[v], mv.x[v]) for v in mv.by_candidate[a]]
        second = [(mv.slot_of[v], mv.x[v]) for v in mv.by_candidate[b]]
        for t in sorted({s for s, _ in first} | {s for s, _ in second}):
            late_first = [x for s, x in first if s >= t]
            early_second = [x for s, x in second if s <= t]
            if late_first and early_second:
                model.add_at_most_one(late_first + early_second)
