"""Meeting value: the main objective term."""

from __future__ import annotations

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def meeting_value(instance: Instance, mv: MeetingVars) -> cp_model.LinearExprT:
    """Soft: maximize the summed value of scheduled meetings (interest, sectors, requests, priority)."""
    return cp_model.LinearExpr.weighted_sum(mv.x, [instance.candidates[c].value for c in mv.cand_of])
