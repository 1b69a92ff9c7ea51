"""The meeting variables: one Boolean per (candidate pair, slot) where both are free."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from ...instance.candidates import Instance, interchangeable_copies


@dataclass
class MeetingVars:
    """x[v] = 1 when candidate cand_of[v] meets in slot slot_of[v]; plus lookups by candidate and party."""

    x: list[cp_model.IntVar] = field(default_factory=list)
    cand_of: list[int] = field(default_factory=list)
    slot_of: list[int] = field(default_factory=list)
    by_candidate: list[list[int]] = field(default_factory=list)
    by_party_slot: dict[tuple[int, int], list[int]] = field(default_factory=lambda: defaultdict(list))
    # Helper variables and how to compute each from the set of x indices that are 1,
    # so that a schedule can be given to CP-SAT as a complete hint.
    derived: list[tuple[cp_model.IntVar, Callable[[set[int]], int]]] = field(default_factory=list)
    # Interchangeable copies of repeated pairs, in the order the model makes them meet (pairs.py).
    copy_runs: list[list[int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.x)

    def of_candidate(self, candidate: int) -> list[cp_model.IntVar]:
        return [self.x[v] for v in self.by_candidate[candidate]]

    def of_party_at(self, party: int, slot: int) -> list[cp_model.IntVar]:
        return [self.x[v] for v in self.by_party_slot.get((party, slot), ())]

    def derive(self, var: cp_model.IntVar, value_of: Callable[[set[int]], int]) -> cp_model.IntVar:
        self.derived.append((var, value_of))
        return var

    def hint(self, model: cp_model.CpModel, active: set[int]) -> None:
        """Hint every variable from the x indices that are 1 (a complete hint)."""
        for v, var in enumerate(self.x):
            model.add_hint(var, v in active)
        for var, value_of in self.derived:
            model.add_hint(var, value_of(active))

    def hint_placement(self, model: cp_model.CpModel, placed: dict[int, int]) -> None:
        """Hint a complete schedule given as candidate -> slot.

        Interchangeable copies are relabelled first (the earliest meeting to the first
        copy, ...), so a heuristic's schedule satisfies the model's copy order.
        """
        placed = in_copy_order(placed, self.copy_runs)
        self.hint(model, {v for v in range(len(self.x)) if placed.get(self.cand_of[v]) == self.slot_of[v]})

    def var_at(self, candidate: int, slot: int) -> cp_model.IntVar | None:
        for v in self.by_candidate[candidate]:
            if self.slot_of[v] == slot:
                return self.x[v]
        return None


def in_copy_order(placed: dict[int, int], copy_runs: list[list[int]]) -> dict[int, int]:
    """``placed`` with each run of interchangeable copies relabelled: its slots, in time order, on its first copies."""
    if not copy_runs:
        return placed
    placed = dict(placed)
    for run in copy_runs:
        slots = sorted(placed.pop(c) for c in run if c in placed)
        placed.update(zip(run, slots))
    return placed


def create_meeting_vars(model: cp_model.CpModel, instance: Instance) -> MeetingVars:
    """Create x only where both parties (and, if needed, an interpreter) are available."""
    mv = MeetingVars(copy_runs=interchangeable_copies(instance))
    for c in instance.candidates:
        own = []
        for s in c.slots:
            v = len(mv.x)
            mv.x.append(model.new_bool_var(""))  # unnamed: names cost memory at scale
            mv.cand_of.append(c.index)
            mv.slot_of.append(s)
            mv.by_party_slot[(c.buyer, s)].append(v)
            mv.by_party_slot[(c.exhibitor, s)].append(v)
            own.append(v)
        mv.by_candidate.append(own)
    return mv
