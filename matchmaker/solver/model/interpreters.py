"""Interpreter rules: a language's pool is never over-used."""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def add_interpreter_capacity(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: interpreted meetings of one language in a slot never exceed the interpreters on duty.

    Slots where the pool has nobody on duty got no variables in the first place.
    """
    using: dict[tuple[int, int], list[int]] = defaultdict(list)
    for v, c_index in enumerate(mv.cand_of):
        language = instance.candidates[c_index].interpreter
        if language is not None:
            using[(language, mv.slot_of[v])].append(v)
    for (language, slot), var_indices in using.items():
        capacity = instance.interpreter_capacity[language][slot]
        if len(var_indices) > capacity:
            model.add(sum(mv.x[v] for v in var_indices) <= capacity)
