"""Precedence rule: meeting A takes place strictly before meeting B."""

from __future__ import annotations

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def precedence_pairs(instance: Instance) -> list[tuple[int, int]]:
    """(first, second) candidate indices of every precedence whose two meetings are both candidates here.

    A meeting is named by its two sides in either order (as the checker reads it); a
    precedence whose meeting is not in this (sub-)instance is left out. The CP-SAT rule
    and the heuristics' fit test (solver/rules.py) both read precedences from here.
    """
    if not instance.precedences:
        return []
    named = {pair for rule in instance.precedences for pair in rule}
    named |= {(b, a) for a, b in named}
    by_pair: dict[frozenset[int], list[int]] = {}
    for c in instance.candidates:
        if (c.buyer, c.exhibitor) in named:
            by_pair.setdefault(frozenset((c.buyer, c.exhibitor)), []).append(c.index)
    return [
        (a, b)
        for before, after in instance.precedences
        for a in by_pair.get(frozenset(before), ())
        for b in by_pair.get(frozenset(after), ())
        if a != b
    ]


def add_precedences(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: when both take place, meeting A ends before meeting B starts (the organizer's order, e.g. an introduction first).

    For every slot t: sum_{s <= t} x_{B,s} + sum_{s >= t} x_{A,s} <= 1 — one at-most-one
    per slot, which forbids exactly the placements with slot(B) <= slot(A) and is the
    convex hull of the rule for one pair (slots are numbered in time order and never
    overlap). A precedence whose meeting is not in this (sub-)instance is skipped.
    """
    for a, b in precedence_pairs(instance):
        first = [(mv.slot_of[v], mv.x[v]) for v in mv.by_candidate[a]]
        second = [(mv.slot_of[v], mv.x[v]) for v in mv.by_candidate[b]]
        for t in sorted({s for s, _ in first} | {s for s, _ in second}):
            late_first = [x for s, x in first if s >= t]
            early_second = [x for s, x in second if s <= t]
            if late_first and early_second:
                model.add_at_most_one(late_first + early_second)
