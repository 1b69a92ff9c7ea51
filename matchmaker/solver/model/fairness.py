"""Break fairness: the most and the fewest breaks of any two participants differ by at most d."""

from __future__ import annotations

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .breaks import party_breaks
from .variables import MeetingVars


def add_break_fairness(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> None:
    """Hard: max_p breaks_p - min_p breaks_p <= fairness.max_break_spread (an organizer's promise of equal treatment).

    Written as L <= breaks_p <= L + d for one integer L and every participant p
    (participants who can never have a break count with 0 breaks, which fixes L = 0).
    A hard family, so the commitments model that proves infeasibility includes it.
    """
    spread = instance.scenario.fairness.max_break_spread
    if spread is None:
        return
    breaks = party_breaks(model, instance, mv)
    if not breaks:
        return
    if len(breaks) < len(instance.parties):
        for var in breaks.values():  # someone has 0 breaks whatever happens: L = 0
            model.add(var <= spread)
        return
    top = max(list(var.proto.domain)[-1] for var in breaks.values())
    ids = {var.index for var in breaks.values()}
    counts = [value_of for var, value_of in mv.derived if var.index in ids]
    floor = mv.derive(model.new_int_var(0, top, ""), lambda active, counts=counts: min(f(active) for f in counts))
    for var in breaks.values():
        model.add(var >= floor)
        model.add(var <= floor + spread)
