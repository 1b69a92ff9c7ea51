"""CP-SAT model builder: one module per constraint family, assembled here.

Objective (see docs/model.md):
    maximize  k * (sum value_c * x_cs  -  W_min * shortfall  -  W_change * changes)  -  W_gap * idle_gaps
    with k = 2 W_gap + 1 (changes only when re-planning with the minimal policy)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .breaks import breaks_objective
from .caps import add_meeting_caps, add_min_meetings
from .compactness import add_idle_gaps
from .fairness import add_break_fairness
from .interpreters import add_interpreter_capacity
from .locations import add_table_capacity
from .objective import meeting_value
from .pairs import add_must_requests, add_pair_at_most_once, add_pinned
from .participants import add_one_meeting_at_a_time
from .precedence import add_precedences
from .stability import add_changes
from .variables import MeetingVars, create_meeting_vars
from .walking import add_walking_time

logger = logging.getLogger(__name__)

HARD_RULES = (
    add_one_meeting_at_a_time,
    add_pair_at_most_once,
    add_table_capacity,
    add_meeting_caps,
    add_walking_time,
    add_interpreter_capacity,
    add_precedences,
    add_break_fairness,
)


@dataclass
class BuiltModel:
    model: cp_model.CpModel
    vars: MeetingVars
    assumptions: dict[int, cp_model.IntVar] | None = None  # candidate -> literal (diagnosis only)


def build_model(
    instance: Instance,
    with_assumptions: bool = False,
    objective: bool = True,
    max_changes_per_participant: int | None = None,
) -> BuiltModel:
    """Create the variables, every hard rule, and the weighted objective.

    With ``with_assumptions`` each must request and pin is enforced by its own
    assumption literal, so an infeasible model can name the conflicting ones.
    Candidates with a ``previous_slot`` (re-planning) add the change rules.
    """
    model = cp_model.CpModel()
    mv = create_meeting_vars(model, instance)
    for rule in HARD_RULES:
        rule(model, instance, mv)
    assumptions = None
    if with_assumptions:
        committed = [c.index for c in instance.candidates if c.committed]
        assumptions = {c: model.new_bool_var(f"commit_{c}") for c in committed}
        model.add_assumptions(list(assumptions.values()))
    add_must_requests(model, instance, mv, assumptions)
    add_pinned(model, instance, mv, assumptions)
    if objective and instance.scenario.objective == "breaks":
        model.maximize(_breaks_objective(model, instance, mv, max_changes_per_participant))
    elif objective:
        weights = instance.weights
        value = meeting_value(instance, mv)
        shortfall = add_min_meetings(model, instance, mv)
        gaps = add_idle_gaps(model, instance, mv) if weights.idle_gap > 0 else 0
        changes = 0
        if any(c.previous_slot is not None for c in instance.candidates):
            changes = add_changes(model, instance, mv, max_changes_per_participant)
        model.maximize(
            weights.value_scale() * (value - weights.min_shortfall * shortfall - weights.change * changes)
            - weights.idle_gap * gaps
        )
    logger.info("model: %d meeting variables, %d constraints", len(mv), len(model.proto.constraints))
    return BuiltModel(model, mv, assumptions)


def _breaks_objective(
    model: cp_model.CpModel, instance: Instance, mv: MeetingVars, max_changes_per_participant: int | None
) -> cp_model.LinearExprT:
    """Objective "breaks": fewest breaks first, then value of optional meetings, shortfall and changes."""
    weights = instance.weights
    optional = [(v, instance.candidates[c].value) for v, c in enumerate(mv.cand_of) if instance.candidates[c].request_level != "must"]
    value = cp_model.LinearExpr.weighted_sum([mv.x[v] for v, _ in optional], [w for _, w in optional])
    shortfall = add_min_meetings(model, instance, mv)
    changes, published = 0, [c for c in instance.candidates if c.previous_slot is not None]
    if published:
        changes = add_changes(model, instance, mv, max_changes_per_participant)
    optional_candidates = {c for v, c in enumerate(mv.cand_of) if instance.candidates[c].request_level != "must"}
    span = (
        sum(max(0, instance.candidates[c].value) for c in optional_candidates)
        + weights.min_shortfall * sum(p.min_meetings for p in instance.parties)
        + weights.change * len(published)
    )
    return breaks_objective(model, instance, mv, value - weights.min_shortfall * shortfall - weights.change * changes, span)
