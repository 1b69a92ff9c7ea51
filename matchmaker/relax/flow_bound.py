"""Upper bounds on the number and the value of meetings, independent of CP-SAT.

A min-cost flow over buyer-day and exhibitor-day capacities, refined by
Lagrangian multipliers for the rules a flow cannot express (interpreter pools,
shared tables, a pair meeting at most once across days):

    source -> buyer b (cap M_b) -> buyer-day (b,d) (cap: per-day cap, usable slots)
           -> pair c (cap 1; gain v_c - multipliers on the way in) -> exhibitor-day (e,d)
           -> exhibitor e (cap M_e) -> sink;  plus source -> sink at no gain.

For any multipliers >= 0 the flow optimum plus the multipliers' credit bounds
every schedule (weak duality), so each iteration's value is a valid bound and
the smallest is reported. It is computed over ALL matching pairs (no pruning),
so it also bounds what pruning may have cost.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..instance.candidates import Instance, build_instance
from ..spec.scenario import Scenario

logger = logging.getLogger(__name__)

SCALE = 100  # gains are integers in hundredths, so multipliers move in steps of 0.01


@dataclass(frozen=True)
class Bound:
    meetings: int  # no schedule has more meetings
    value: int  # no schedule has a larger summed meeting value
    pairs: int  # matching pairs the bound considered
    iterations: int
    seconds: float


class FlowNetwork:
    """The flow network's fixed part, as arrays; the pair-day gains change with the multipliers.

    Pair c gets a node pair (in -> out, capacity 1), entered from the buyer-day
    nodes and left to the exhibitor-day nodes of its days: so a pair meets at most
    once without a multiplier (in and out day may differ, which only relaxes).
    """

    def __init__(self, instance: Instance):
        grid = instance.grid
        self.instance = instance
        parties = len(instance.parties)
        day_node: dict[tuple[int, int], int] = {}
        usable: dict[tuple[int, int], set[int]] = defaultdict(set)
        pair_days: list[tuple[int, int]] = []  # (candidate, day) of each pair-day arc
        for c in instance.candidates:
            for d in sorted({grid.slots[s].day for s in c.slots}):
                pair_days.append((c.index, d))
                on_day = {s for s in c.slots if grid.slots[s].day == d}
                usable[(c.buyer, d)] |= on_day
                usable[(c.exhibitor, d)] |= on_day
        for key in usable:
            day_node[key] = 2 + parties + len(day_node)
        pair_base = 2 + parties + len(day_node)
        num_pairs = len(instance.candidates)
        self.num_nodes = pair_base + 2 * num_pairs

        tails, heads, caps = [], [], []

        def arc(tail: int, head: int, cap: int) -> int:
            tails.append(tail)
            heads.append(head)
            caps.append(cap)
            return len(tails) - 1

        self.total_supply = 0
        for p, info in enumerate(instance.parties):
            if info.is_buyer:
                arc(0, 2 + p, info.max_meetings)
                self.total_supply += info.max_meetings
            else:
                arc(2 + p, 1, info.max_meetings)
        for (p, d), slots in usable.items():
            per_day = instance.parties[p].max_per_day
            cap = len(slots) if per_day is None else min(len(slots), per_day)
            if instance.parties[p].is_buyer:
                arc(2 + p, day_node[(p, d)], cap)
            else:
                arc(day_node[(p, d)], 2 + p, cap)
        for c in instance.candidates:
            arc(pair_base + 2 * c.index, pair_base + 2 * c.index + 1, 1)
        self.in_arcs = []  # buyer-day -> pair in: carries the gain
        self.out_arcs = []  # pair out -> exhibitor-day
        for c_index, d in pair_days:
            c = instance.candidates[c_index]
            self.in_arcs.append(arc(day_node[(c.buyer, d)], pair_base + 2 * c_index, 1))
        for c_index, d in pair_days:
            c = instance.candidates[c_index]
            self.out_arcs.append(arc(pair_base + 2 * c_index + 1, day_node[(c.exhibitor, d)], 1))
        arc(0, 1, self.total_supply)
        self.tails, self.heads, self.caps = np.array(tails), np.array(heads), np.array(caps)
        self.value = np.array([instance.candidates[c].value for c, _d in pair_days], dtype=np.float64)

        # Side constraints relaxed with multipliers: (which arcs, in or out side, capacity).
        self.side: list[tuple[np.ndarray, bool, int]] = []
        by_language_day: dict[tuple[int, int], list[int]] = defaultdict(list)
        by_location_day: dict[tuple[int, int], list[int]] = defaultdict(list)
        exhibitors_at: dict[int, set[int]] = defaultdict(set)
        for i, (c_index, d) in enumerate(pair_days):
            c = instance.candidates[c_index]
            if c.interpreter is not None:
                by_language_day[(c.interpreter, d)].append(i)
            by_location_day[(c.location, d)].append(i)
            exhibitors_at[c.location].add(c.exhibitor)
        for (language, d), members in by_language_day.items():
            capacity = sum(instance.interpreter_capacity[language][s] for s in grid.by_day[d])
            if len(members) > capacity:
                self.side.append((np.array(members), True, capacity))
        for (location, d), members in by_location_day.items():
            tables = instance.location_tables[location]
            capacity = tables * len(grid.by_day[d])
            if len(exhibitors_at[location]) > tables and len(members) > capacity:
                self.side.append((np.array(members), False, capacity))

    def solve(self, in_gain: np.ndarray, out_penalty: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
        """Max-gain flow for integer gains (hundredths); returns (gain, in-arc flows, out-arc flows)."""
        # Imported here, not at the top: 50 ms of every start-up, and brokerage runs never use it.
        from ortools.graph.python import min_cost_flow

        costs = np.zeros(len(self.tails), dtype=np.int64)
        costs[self.in_arcs] = -in_gain
        costs[self.out_arcs] = out_penalty
        flow = min_cost_flow.SimpleMinCostFlow()
        flow.add_arcs_with_capacity_and_unit_cost(self.tails, self.heads, self.caps, costs)
        supplies = np.zeros(self.num_nodes, dtype=np.int64)
        supplies[0], supplies[1] = self.total_supply, -self.total_supply
        flow.set_nodes_supplies(np.arange(self.num_nodes), supplies)
        status = flow.solve()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        flows = flow.flows(np.arange(len(self.tails)))
        return -flow.optimal_cost(), flows[self.in_arcs], flows[self.out_arcs]


def _lagrangian_bound(
    network: FlowNetwork, gain: np.ndarray, iterations: int, target: float | None, deadline: float = math.inf
) -> tuple[float, int]:
    """Smallest bound over subgradient iterations on the side-constraint multipliers.

    Every iteration gives a valid bound, so stopping at the deadline (after the
    first) only costs tightness.
    """
    multipliers = np.zeros(len(network.side))
    best = math.inf
    step_scale = 1.0
    done = 0
    for done in range(1, iterations + 1):
        in_penalty = np.zeros(len(network.in_arcs))
        out_penalty = np.zeros(len(network.out_arcs))
        for (members, on_in, _cap), lam in zip(network.side, multipliers):
            (in_penalty if on_in else out_penalty)[members] += lam
        flow_gain, in_flow, out_flow = network.solve(
            np.rint(SCALE * (gain - in_penalty)).astype(np.int64), np.rint(SCALE * out_penalty).astype(np.int64)
        )
        credit = sum(lam * cap for (_m, _on, cap), lam in zip(network.side, multipliers))
        bound = flow_gain / SCALE + credit
        if bound < best - 1e-9:
            best = bound
        else:
            step_scale *= 0.7
        slack = np.array([cap - (in_flow if on_in else out_flow)[members].sum() for members, on_in, cap in network.side])
        # Projected subgradient: a satisfied constraint with a zero multiplier cannot move.
        direction = np.where((slack < 0) | (multipliers > 0), slack, 0)
        norm = float((direction * direction).sum())
        if norm == 0:
            break  # feasible and complementary: the flow is optimal for the whole relaxation
        if time.monotonic() > deadline:
            break
        reference = target if target is not None else 0.95 * best
        step = step_scale * max(best - reference, 0.001 * best, 1.0) / norm
        multipliers = np.maximum(0.0, np.round(multipliers - step * direction, 2))
    return best, done


def upper_bounds(
    scenario_or_instance: Scenario | Instance,
    iterations: int = 40,
    value_target: float | None = None,
    time_budget: float = math.inf,
) -> Bound:
    """Bounds on meetings and meeting value over every matching pair (no pruning).

    ``value_target`` (e.g. the value of a known schedule) speeds the subgradient
    up; ``time_budget`` (seconds) stops refining early, keeping a valid bound.
    """
    started = time.monotonic()
    value_deadline = started + 0.75 * time_budget
    deadline = started + time_budget
    instance = (
        scenario_or_instance
        if isinstance(scenario_or_instance, Instance)
        else build_instance(scenario_or_instance, candidates_per_meeting=None)
    )
    network = FlowNetwork(instance)
    value, rounds_v = _lagrangian_bound(network, network.value, iterations, value_target, value_deadline)
    meetings, rounds_m = _lagrangian_bound(network, np.ones(len(network.in_arcs)), max(1, iterations // 3), None, deadline)
    result = Bound(
        meetings=math.floor(meetings + 1e-6),
        value=math.floor(value + 1e-6),
        pairs=len(instance.candidates),
        iterations=rounds_v + rounds_m,
        seconds=round(time.monotonic() - started, 3),
    )
    logger.info("flow bound: %d meetings, value %d (%d pairs, %.2fs)", result.meetings, result.value, result.pairs, result.seconds)
    return result
