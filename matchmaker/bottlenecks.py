"""What limits a fair most, and what one more table, interpreter or hour would add.

Everything here is measured with the flow bound of ``bound.py`` (no CP-SAT):

1. The bound's Lagrangian is run once on the fair as it is; its best multipliers
   price the interpreter pools and shared tables, and its flow shows which
   participants use all the capacity the relaxation gives them.
2. Cheap rankings pick the few candidates worth a what-if: languages and
   meeting places by their multipliers (the bound's value of one more unit),
   participants by the best unused pair they could take if they had one more
   slot, time slots by how many pairs have few other slots to go to.
3. Each what-if re-solves the flow with one capacity raised: the multipliers are
   kept for a participant's extra hour (one min-cost flow) and re-optimized for a
   few rounds from the fair's own for an extra interpreter or table. The increase
   of the bound (value and meetings) is reported; it is an estimate of what the
   change can add at most, not a promise: the bound relaxes slot timing and walking.

Anping (138 buyers, 420 exhibitors, 29,000 pairs) takes about 15 seconds.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from ortools.graph.python import min_cost_flow
from pydantic import BaseModel, ConfigDict, Field

from .bound import SCALE, _Network
from .candidates import Instance, build_instance
from .scenario import InterpreterPool, Scenario, hhmm
from .schedule import Schedule

logger = logging.getLogger(__name__)

BASE_ITERATIONS = 12  # the solver's BOUND_ITERATIONS, so the headline bound matches stats.upper_bound_value
WHAT_IF_ITERATIONS = 3  # warm-started subgradient rounds (value bound) after raising a priced capacity
WHAT_IF_MEETING_ITERATIONS = 1  # the same for the meetings bound
DEFAULT_TOP = 5
TIME_BUDGET = 22.0  # seconds; what-ifs left when it runs out are reported without an estimate


class WhatIf(BaseModel):
    """The estimated effect of one change on the upper bounds."""

    model_config = ConfigDict(extra="forbid")

    change: str = Field(description='e.g. "one more \'ru\' interpreter"')
    meetings: int = Field(description="Increase of the bound on meetings")
    value: int = Field(description="Increase of the bound on meeting value")


class Bottleneck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["interpreter", "location", "exhibitor", "buyer", "slot"]
    id: str
    message: str
    score: float = Field(description="The cheap ranking that chose it (higher = more limiting)")
    what_if: WhatIf | None = None


class Bottlenecks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str
    bound_meetings: int
    bound_value: int
    schedule_meetings: int | None = None
    schedule_value: int | None = None
    interpreters: list[Bottleneck] = Field(default_factory=list)
    locations: list[Bottleneck] = Field(default_factory=list, description="Shared meeting places (tables)")
    exhibitors: list[Bottleneck] = Field(default_factory=list, description="Booths whose exhibitor is fully used")
    buyers: list[Bottleneck] = Field(default_factory=list)
    slots: list[Bottleneck] = Field(default_factory=list)
    unmet: dict[str, int] = Field(default_factory=dict, description="Explanation categories of the schedule, counted")
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The report as text, one finding per line."""
        head = f"{self.scenario}: upper bound {self.bound_meetings:,} meetings, meeting value {self.bound_value:,}"
        if self.schedule_meetings is not None:
            head += f" (the schedule: {self.schedule_meetings:,} meetings, value {self.schedule_value:,})"
        out = [head]
        groups = (
            ("Interpreter languages", self.interpreters),
            ("Shared meeting places", self.locations),
            ("Booths (exhibitors)", self.exhibitors),
            ("Buyers", self.buyers),
            ("Time slots", self.slots),
        )
        empty = {
            "Booths (exhibitors)": "no exhibitor uses all its capacity in the bound while a buyer it matches has room",
            "Buyers": "no buyer uses all its capacity in the bound while an exhibitor it matches has room",
        }
        for title, items in groups:
            if not items:
                if title in empty:
                    out.append(f"{title}: none: {empty[title]}")
                continue
            out.append(f"{title}:")
            for item in items:
                line = f"  {item.message}"
                if item.what_if is not None:
                    w = item.what_if
                    line += f"; {w.change}: {w.meetings:+,} meetings, {w.value:+,} value"
                elif item.kind != "slot":
                    line += "; what-if not estimated (time budget)"
                out.append(line)
        if self.unmet:
            parts = ", ".join(f"{n} {category}" for category, n in sorted(self.unmet.items(), key=lambda kv: -kv[1]))
            out.append(f"Unmet in the schedule (see `matchmaker explain`): {parts}")
        out.append(f"({self.seconds:.1f}s; increases are estimates of the flow bound, see docs/explanations.md)")
        return out


# ---------------------------------------------------------------------------
# The flow network with changes
# ---------------------------------------------------------------------------


@dataclass
class _Variant:
    """Changes to the network: side-constraint capacities, and extra nodes/arcs (an extra hour)."""

    side_caps: np.ndarray
    tails: list[int] = field(default_factory=list)
    heads: list[int] = field(default_factory=list)
    caps: list[int] = field(default_factory=list)
    nodes: int = 0
    supply: int = 0  # extra units leaving the source (a buyer's extra hour)
    cap_delta: dict[int, int] = field(default_factory=dict)  # arc -> capacity added


class _Flows:
    """The network's structure, derived once from ``_Network``'s arrays."""

    def __init__(self, net: _Network):
        self.net = net
        inst = net.instance
        parties = len(inst.parties)
        self.parties = parties
        num_pairs = len(inst.candidates)
        pair_base = net.num_nodes - 2 * num_pairs
        self.bypass = len(net.tails) - 1
        assert net.tails[self.bypass] == 0 and net.heads[self.bypass] == 1, "bound._Network layout changed"
        person = (net.tails >= 2) & (net.tails < 2 + parties)
        day_head = (net.heads >= 2 + parties) & (net.heads < pair_base)
        person_head = (net.heads >= 2) & (net.heads < 2 + parties)
        day_tail = (net.tails >= 2 + parties) & (net.tails < pair_base)
        buyer_day = np.flatnonzero(person & day_head)
        exhibitor_day = np.flatnonzero(day_tail & person_head)
        self.day_arcs = np.concatenate([buyer_day, exhibitor_day])
        self.day_party = np.concatenate([net.tails[buyer_day] - 2, net.heads[exhibitor_day] - 2])
        self.day_node = np.concatenate([net.heads[buyer_day], net.tails[exhibitor_day]])
        self.node_party = np.full(net.num_nodes, -1)
        self.node_party[self.day_node] = self.day_party
        self.arc_of_day_node = np.full(net.num_nodes, -1)
        self.arc_of_day_node[self.day_node] = self.day_arcs
        self.in_arcs = np.asarray(net.in_arcs)
        self.out_arcs = np.asarray(net.out_arcs)
        self.pair_node = net.heads[self.in_arcs]  # pair "in" node of each pair-day arc
        self.buyer_node = net.tails[self.in_arcs]
        self.exhibitor_node = net.heads[self.out_arcs]
        self.side_caps = np.array([cap for _m, _on, cap in net.side], dtype=np.int64)

    def base(self) -> _Variant:
        return _Variant(side_caps=self.side_caps.copy())

    def solve(self, in_gain: np.ndarray, out_penalty: np.ndarray, variant: _Variant) -> tuple[int, np.ndarray]:
        """Max-gain flow (gains in hundredths); returns the gain and the flow on every arc."""
        net = self.net
        tails = np.concatenate([net.tails, np.asarray(variant.tails, dtype=net.tails.dtype)])
        heads = np.concatenate([net.heads, np.asarray(variant.heads, dtype=net.heads.dtype)])
        caps = np.concatenate([net.caps, np.asarray(variant.caps, dtype=net.caps.dtype)])
        caps[self.bypass] += variant.supply
        for arc, delta in variant.cap_delta.items():
            caps[arc] += delta
        costs = np.zeros(len(tails), dtype=np.int64)
        costs[self.in_arcs] = -in_gain
        costs[self.out_arcs] = out_penalty
        flow = min_cost_flow.SimpleMinCostFlow()
        flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
        num_nodes = net.num_nodes + variant.nodes
        supplies = np.zeros(num_nodes, dtype=np.int64)
        total = net.total_supply + variant.supply
        supplies[0], supplies[1] = total, -total
        flow.set_nodes_supplies(np.arange(num_nodes), supplies)
        status = flow.solve()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        return -flow.optimal_cost(), flow.flows(np.arange(len(tails)))

    def penalties(self, multipliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        in_penalty = np.zeros(len(self.in_arcs))
        out_penalty = np.zeros(len(self.out_arcs))
        for (members, on_in, _cap), lam in zip(self.net.side, multipliers):
            (in_penalty if on_in else out_penalty)[members] += lam
        return in_penalty, out_penalty

    def evaluate(self, gain: np.ndarray, multipliers: np.ndarray, variant: _Variant) -> tuple[float, np.ndarray]:
        """The Lagrangian bound at fixed multipliers, and the flows."""
        in_penalty, out_penalty = self.penalties(multipliers)
        flow_gain, flows = self.solve(
            np.rint(SCALE * (gain - in_penalty)).astype(np.int64), np.rint(SCALE * out_penalty).astype(np.int64), variant
        )
        return flow_gain / SCALE + float(np.dot(multipliers, variant.side_caps)), flows

    def lagrange(
        self,
        gain: np.ndarray,
        iterations: int,
        variant: _Variant,
        start: np.ndarray | None = None,
        target: float | None = None,
    ) -> tuple[float, np.ndarray]:
        """bound._lagrangian_bound, also returning the best multipliers and starting from ``start``."""
        side = self.net.side
        multipliers = np.zeros(len(side)) if start is None else start.copy()
        best, best_multipliers = math.inf, multipliers.copy()
        step_scale = 1.0
        for _round in range(iterations):
            bound, flows = self.evaluate(gain, multipliers, variant)
            if bound < best - 1e-9:
                best, best_multipliers = bound, multipliers.copy()
            else:
                step_scale *= 0.7
            in_flow, out_flow = flows[self.in_arcs], flows[self.out_arcs]
            slack = np.array(
                [cap - (in_flow if on_in else out_flow)[members].sum() for (members, on_in, _c), cap in zip(side, variant.side_caps)]
            )
            direction = np.where((slack < 0) | (multipliers > 0), slack, 0)
            norm = float((direction * direction).sum())
            if norm == 0:
                break
            reference = target if target is not None else 0.95 * best
            step = step_scale * max(best - reference, 0.001 * best, 1.0) / norm
            multipliers = np.maximum(0.0, np.round(multipliers - step * direction, 2))
        return best, best_multipliers


def _side_keys(instance: Instance, net: _Network) -> list[tuple[str, int, int]]:
    """("language"|"location", index, day) of each side constraint, re-derived in _Network's order."""
    grid = instance.grid
    by_language_day: dict[tuple[int, int], list[int]] = defaultdict(list)
    by_location_day: dict[tuple[int, int], list[int]] = defaultdict(list)
    exhibitors_at: dict[int, set[int]] = defaultdict(set)
    i = 0
    for c in instance.candidates:
        for d in sorted({grid.slots[s].day for s in c.slots}):
            if c.interpreter is not None:
                by_language_day[(c.interpreter, d)].append(i)
            by_location_day[(c.location, d)].append(i)
            exhibitors_at[c.location].add(c.exhibitor)
            i += 1
    keys: list[tuple[str, int, int]] = []
    members: list[list[int]] = []
    for (language, d), group in by_language_day.items():
        if len(group) > sum(instance.interpreter_capacity[language][s] for s in grid.by_day[d]):
            keys.append(("language", language, d))
            members.append(group)
    for (location, d), group in by_location_day.items():
        tables = instance.location_tables[location]
        if len(exhibitors_at[location]) > tables and len(group) > tables * len(grid.by_day[d]):
            keys.append(("location", location, d))
            members.append(group)
    if len(keys) != len(net.side) or any(not np.array_equal(m, s[0]) for m, s in zip(members, net.side)):
        raise RuntimeError("bound._Network side constraints changed; update bottlenecks._side_keys")
    return keys


def _key_names(instance: Instance, keys: list[tuple[str, int, int]]) -> list[tuple[str, str, int]]:
    """Side-constraint keys by name (language or location id), comparable across rebuilt instances."""
    return [(kind, instance.languages[i] if kind == "language" else instance.location_ids[i], d) for kind, i, d in keys]


def _floor(x: float) -> int:
    return math.floor(x + 1e-6)


# ---------------------------------------------------------------------------
# The analysis
# ---------------------------------------------------------------------------


class _Analysis:
    def __init__(self, scenario: Scenario, schedule: Schedule | None, started: float, budget: float):
        self.scenario = scenario
        self.schedule = schedule
        self.started = started
        self.budget = budget
        self.instance = build_instance(scenario, candidates_per_meeting=None)
        self.net = _Network(self.instance)
        self.flows = _Flows(self.net)
        self.keys = _side_keys(self.instance, self.net)
        self.ones = np.ones(len(self.net.in_arcs))
        target = float(schedule.stats.value) if schedule is not None and schedule.stats.value else None
        base = self.flows.base()
        self.value, self.lam_v = self.flows.lagrange(self.net.value, BASE_ITERATIONS, base, target=target)
        self.meetings, self.lam_m = self.flows.lagrange(self.ones, max(1, BASE_ITERATIONS // 3), base)
        _bound, self.base_flows = self.flows.evaluate(self.net.value, self.lam_v, base)
        step = scenario.slot_minutes + scenario.changeover_minutes
        self.hour_slots = max(1, (60 + scenario.changeover_minutes) // step)

    def out_of_time(self) -> bool:
        return time.monotonic() - self.started > self.budget

    # --- what-ifs -------------------------------------------------------------

    def _effect(
        self, change: str, variant: _Variant, warm: bool, flows: _Flows | None = None, start: tuple[np.ndarray, np.ndarray] | None = None
    ) -> WhatIf:
        """Bound increase under ``variant`` (of ``flows``, default the fair's own network).

        Evaluated at the fair's multipliers (``start`` when the network was rebuilt);
        ``warm`` adds a few subgradient rounds from there, for priced capacities.
        """
        flows = flows or self.flows
        lam_v, lam_m = start or (self.lam_v, self.lam_m)
        results = []
        for gain, lam, base, rounds in (
            (flows.net.value, lam_v, self.value, WHAT_IF_ITERATIONS),
            (np.ones(len(flows.net.in_arcs)), lam_m, self.meetings, WHAT_IF_MEETING_ITERATIONS),
        ):
            bound, _lam = flows.lagrange(gain, 1 + rounds if warm else 1, variant, start=lam)
            results.append(max(0, _floor(bound) - _floor(base)))
        return WhatIf(change=change, value=results[0], meetings=results[1])

    def _side_variant(self, kind: str, index: int, extra_per_day) -> _Variant:
        variant = self.flows.base()
        for j, (k, i, d) in enumerate(self.keys):
            if k == kind and i == index:
                variant.side_caps[j] += extra_per_day(d)
        return variant

    def _hour_variant(self, party: int) -> tuple[_Variant, str]:
        """``hour_slots`` more free slots for ``party`` on one of its days (any, in the relaxation).

        Its total arc rises to min(max_meetings, free slots + k); a new node X lets at
        most k extra meetings into its day nodes, each within max_meetings_per_day.
        """
        inst, flows, k = self.instance, self.flows, self.hour_slots
        info = inst.parties[party]
        person = self._person(party)
        cap = int(self.net.caps[party])  # the party's total arc is arc number ``party``
        limit = len(info.free) + k if person.max_meetings is None else min(person.max_meetings, len(info.free) + k)
        raise_total = max(0, limit - cap)
        variant = flows.base()
        if raise_total:
            variant.cap_delta[party] = raise_total
            if info.is_buyer:
                variant.supply = raise_total
        x = self.net.num_nodes
        variant.nodes = 1
        own = flows.day_party == party
        rooms = 0
        if info.is_buyer:
            variant.tails.append(2 + party)
            variant.heads.append(x)
        else:
            variant.tails.append(x)
            variant.heads.append(2 + party)
        variant.caps.append(k)
        for arc, node in zip(flows.day_arcs[own], flows.day_node[own]):
            room = k if info.max_per_day is None else max(0, min(k, info.max_per_day - int(self.net.caps[arc])))
            if room:
                rooms += room
                variant.tails.append(x if info.is_buyer else int(node))
                variant.heads.append(int(node) if info.is_buyer else x)
                variant.caps.append(room)
        note = ""
        if rooms == 0:
            note = f" (max_meetings_per_day {info.max_per_day} already bounds it)"
        elif person.max_meetings is not None and limit <= cap and int(self.base_flows[party]) >= cap:
            note = f" (max_meetings {person.max_meetings} already bounds it)"
        return variant, f"one more hour for {info.id} (+{k} slot{'s' if k > 1 else ''}){note}"

    def _person(self, party: int):
        scenario = self.scenario
        return scenario.buyers[party] if party < self.instance.num_buyers else scenario.exhibitors[party - self.instance.num_buyers]

    # --- rankings ----------------------------------------------------------------

    def interpreters(self, top: int) -> list[Bottleneck]:
        inst, grid = self.instance, self.instance.grid
        price: dict[int, float] = defaultdict(float)
        for (kind, index, d), lam in zip(self.keys, self.lam_v):
            if kind == "language":
                price[index] += lam * sum(1 for s in grid.by_day[d] if inst.interpreter_capacity[index][s] > 0)
        demand = _missing_language_demand(self.scenario, inst)
        ranked = [(score, lang) for lang, score in ((inst.languages[i], p) for i, p in price.items()) if score > 0]
        ranked += [(float(value), lang) for lang, (value, _pairs) in demand.items()]
        ranked.sort(key=lambda item: (-item[0], item[1]))
        out = []
        for score, language in ranked[:top]:
            pool = next((p for p in self.scenario.interpreters if p.language == language), None)
            if language in demand:
                value, pairs = demand[language]
                what = "no pool" if pool is None else f"{pool.count} interpreters"
                message = f"'{language}': {what}; {pairs} matching pairs need a '{language}' interpreter (worth {value:,} together)"
            else:
                index = inst.languages.index(language)
                used = sum(int(self.base_flows[self.flows.in_arcs][members].sum()) for (kind, i, _d), (members, _on, _c) in zip(self.keys, self.net.side) if kind == "language" and i == index)
                duty = sum(1 for s in range(len(grid)) if inst.interpreter_capacity[index][s] > 0)
                message = (
                    f"'{language}': {pool.count} interpreter(s) on duty in {duty} slots; the bound would use "
                    f"{used} interpreted meetings, the pool is priced at {score:,.0f} value per extra interpreter"
                )
            out.append((Bottleneck(kind="interpreter", id=language, message=message, score=round(score, 2)), pool))
        # Pools that exist are a few flows each; a language without interpreters means rebuilding the fair.
        for item, pool in sorted(out, key=lambda entry: entry[1] is None or entry[1].count == 0):
            if not self.out_of_time():
                item.what_if = self._interpreter_effect(item.id, pool)
        return [item for item, _pool in out]

    def _interpreter_effect(self, language: str, pool: InterpreterPool | None) -> WhatIf:
        change = f"one more '{language}' interpreter"
        inst, grid = self.instance, self.instance.grid
        if pool is not None and pool.count > 0:
            index = inst.languages.index(language)
            variant = self._side_variant(
                "language", index, lambda d: sum(1 for s in grid.by_day[d] if inst.interpreter_capacity[index][s] > 0)
            )
            return self._effect(change, variant, warm=True)
        # No interpreter yet: pairs appear, so the fair is rebuilt with one; multipliers carry over by name.
        pools = [p for p in self.scenario.interpreters if p.language != language]
        pools.append(InterpreterPool(language=language, count=1, availability=pool.availability if pool else None))
        changed = self.scenario.model_copy(update={"interpreters": pools})
        instance = build_instance(changed, candidates_per_meeting=None)
        net = _Network(instance)
        flows = _Flows(net)
        old = [dict(zip(_key_names(inst, self.keys), lam)) for lam in (self.lam_v, self.lam_m)]
        names = _key_names(instance, _side_keys(instance, net))
        start = tuple(np.array([table.get(name, 0.0) for name in names]) for table in old)
        return self._effect(change, flows.base(), True, flows, start)

    def locations(self, top: int) -> list[Bottleneck]:
        inst, grid = self.instance, self.instance.grid
        price: dict[int, float] = defaultdict(float)
        for (kind, index, d), lam in zip(self.keys, self.lam_v):
            if kind == "location":
                price[index] += lam * len(grid.by_day[d])
        ranked = sorted(((p, i) for i, p in price.items() if p > 0), key=lambda item: (-item[0], inst.location_ids[item[1]]))
        out = []
        for score, index in ranked[:top]:
            location = inst.location_ids[index]
            users = {c.exhibitor for c in inst.candidates if c.location == index}
            message = (
                f"{location}: {inst.location_tables[index]} table(s) shared by {len(users)} exhibitors; "
                f"priced at {score:,.0f} value per extra table"
            )
            item = Bottleneck(kind="location", id=location, message=message, score=round(score, 2))
            if not self.out_of_time():
                variant = self._side_variant("location", index, lambda d: len(grid.by_day[d]))
                item.what_if = self._effect(f"one more table at {location}", variant, warm=True)
            out.append(item)
        return out

    def participants(self, buyers: bool, top: int) -> list[Bottleneck]:
        """Participants using all the capacity the bound gives them, ranked by the best pair they leave out."""
        inst, flows, net = self.instance, self.flows, self.net
        f = self.base_flows
        parties = flows.parties
        total_cap = net.caps[:parties]
        total_flow = f[:parties]
        total_slack = total_cap - total_flow
        day_slack = np.zeros(net.num_nodes, dtype=np.int64)
        day_slack[flows.day_node] = net.caps[flows.day_arcs] - f[flows.day_arcs]
        in_penalty, out_penalty = flows.penalties(self.lam_v)
        gain = net.value - in_penalty - out_penalty
        pair_used = np.zeros(net.num_nodes, dtype=np.int64)
        np.add.at(pair_used, flows.pair_node, f[flows.in_arcs])
        unused = pair_used[flows.pair_node] == 0
        buyer = flows.node_party[flows.buyer_node]
        exhibitor = flows.node_party[flows.exhibitor_node]
        if buyers:
            me, my_node, other, other_node = buyer, flows.buyer_node, exhibitor, flows.exhibitor_node
        else:
            me, my_node, other, other_node = exhibitor, flows.exhibitor_node, buyer, flows.buyer_node
        full = (total_slack[me] == 0) | (day_slack[my_node] == 0)
        room = (total_slack[other] > 0) & (day_slack[other_node] > 0)
        score = np.full(parties, -np.inf)
        choose = unused & full & room & (gain > 0)
        np.maximum.at(score, me[choose], gain[choose])
        left = np.zeros(parties, dtype=np.int64)
        np.add.at(left, me[unused & full], 1)
        order = [p for p in np.argsort(-score, kind="stable") if np.isfinite(score[p])][:top]
        out = []
        for p in order:
            info = inst.parties[p]
            person = self._person(p)
            message = (
                f"{info.id}: {int(total_flow[p])} meetings in the bound, {self._limit_text(p, person)}; "
                f"{int(left[p])} matching pairs left out, the best with a free counterpart worth {score[p]:,.0f}"
            )
            item = Bottleneck(kind="buyer" if buyers else "exhibitor", id=info.id, message=message, score=round(float(score[p]), 2))
            if not self.out_of_time():
                variant, change = self._hour_variant(int(p))
                item.what_if = self._effect(change, variant, warm=False)
            out.append(item)
        return out

    def _limit_text(self, p: int, person) -> str:
        info = self.instance.parties[p]
        grid = self.instance.grid
        parts = []
        if person.max_meetings is not None and info.max_meetings == person.max_meetings:
            parts.append(f"max_meetings {person.max_meetings}")
        else:
            parts.append(f"{len(info.free)} free slots" + (" (limited availability)" if person.availability is not None else ""))
        if info.max_per_day is not None:
            parts.append(f"max_meetings_per_day {info.max_per_day}")
        days = sorted({grid.slots[s].date for s in info.free})
        if len(days) < len(grid.by_day):
            parts.append("only on " + ", ".join(str(d) for d in days))
        return ", ".join(parts)

    def slots(self, top: int) -> list[Bottleneck]:
        """Slots where buyers' meeting budgets crowd into few available participants.

        A buyer with ``M`` meetings possible over ``F`` free slots asks for ``M/F`` of
        a meeting in each of them; the slot's load is the sum over its buyers divided by
        the meetings that fit (the fewer of its available buyers and exhibitors).
        """
        inst, grid = self.instance, self.instance.grid
        wanted = np.zeros(len(grid))
        scarce = np.zeros(len(grid), dtype=np.int64)
        for c in inst.candidates:
            if len(c.slots) <= 2:
                scarce[c.slots] += 1
        buyers_free = np.zeros(len(grid), dtype=np.int64)
        exhibitors_free = np.zeros(len(grid), dtype=np.int64)
        matched = {c.buyer for c in inst.candidates} | {c.exhibitor for c in inst.candidates}
        for p in matched:
            info = inst.parties[p]
            if not info.free:
                continue
            if info.is_buyer:
                buyers_free[info.free] += 1
                wanted[info.free] += info.max_meetings / len(info.free)
            else:
                exhibitors_free[info.free] += 1
        fit = np.maximum(1, np.minimum(buyers_free, exhibitors_free))
        load = wanted / fit
        held: dict[int, int] = defaultdict(int)
        if self.schedule is not None:
            for m in self.schedule.meetings:
                s = grid.slot_at(m.date, m.start)
                if s is not None:
                    held[s] += 1
        out = []
        for s in sorted(range(len(grid)), key=lambda s: (-load[s], -scarce[s], s))[:top]:
            if load[s] <= 0:
                break
            slot = grid.slots[s]
            message = (
                f"{slot.date} {hhmm(slot.start)}-{hhmm(slot.end)}: buyers' budgets ask for about {wanted[s]:.0f} meetings, "
                f"{int(buyers_free[s])} buyers and {int(exhibitors_free[s])} exhibitors are available (load {load[s]:.2f}); "
                f"{int(scarce[s])} pairs can meet only here or in one other slot"
            )
            if self.schedule is not None:
                message += f"; {held[s]} meetings held"
            out.append(Bottleneck(kind="slot", id=slot.label, message=message, score=round(float(load[s]), 3)))
        return out


def _missing_language_demand(scenario: Scenario, instance: Instance) -> dict[str, tuple[int, int]]:
    """Languages needed by matching pairs that have no interpreter at all: language -> (summed value, pairs)."""
    from .candidates import needs_interpreter, pair_value

    staffed = {p.language for p in scenario.interpreters if p.count > 0}
    free = {p.id: set(p.free) for p in instance.parties}
    offered: dict[str, list] = defaultdict(list)
    for e in scenario.exhibitors:
        for category in e.offers:
            offered[category].append(e)
    requested = {(r.buyer, r.exhibitor): r for r in scenario.requests}
    blocked = {(b.buyer, b.exhibitor) for b in scenario.blocked}
    exhibitors = {e.id: e for e in scenario.exhibitors}
    demand: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for b in scenario.buyers:
        if b.own_interpreter or not b.languages or b.languages[0] in staffed:
            continue
        pool = {e.id: e for category in b.interests for e in offered.get(category, ())}
        pool.update({e: exhibitors[e] for (bb, e) in requested if bb == b.id and e in exhibitors})
        for e in pool.values():
            if (b.id, e.id) in blocked or not (free[b.id] & free[e.id]):
                continue
            language = needs_interpreter(b.languages, e.languages, b.own_interpreter)
            if language is None:
                continue
            request = requested.get((b.id, e.id))
            interest = sum(w for cat, w in b.interests.items() if cat in e.offers)
            value = pair_value(scenario.weights, interest, bool(set(b.sectors) & set(e.sectors)), request.by if request else None, b.priority)
            demand[language][0] += value
            demand[language][1] += 1
    return {language: (v, n) for language, (v, n) in demand.items()}


def find_bottlenecks(
    scenario: Scenario, schedule: Schedule | None = None, top: int = DEFAULT_TOP, time_budget: float = TIME_BUDGET
) -> Bottlenecks:
    """The interpreter languages, shared tables, booths, buyers and time slots that limit the fair most.

    Each of the first four gets a what-if: the increase of the flow bound (meetings
    and value) with one more interpreter / table / hour. With ``schedule``, the
    unmet requests and participants are also counted by explanation category.
    What-ifs still missing when ``time_budget`` seconds have passed are left out.
    """
    started = time.monotonic()
    analysis = _Analysis(scenario, schedule, started, time_budget)
    result = Bottlenecks(
        scenario=scenario.name,
        bound_meetings=_floor(analysis.meetings),
        bound_value=_floor(analysis.value),
        interpreters=analysis.interpreters(top),
        locations=analysis.locations(top),
        exhibitors=analysis.participants(False, top),
        buyers=analysis.participants(True, top),
        slots=analysis.slots(top),
    )
    if schedule is not None:
        from .explain import explain_schedule

        value_of = {
            (analysis.instance.parties[c.buyer].id, analysis.instance.parties[c.exhibitor].id): c.value
            for c in analysis.instance.candidates
        }
        result.schedule_meetings = len(schedule.meetings)
        result.schedule_value = sum(value_of.get((m.buyer, m.exhibitor), 0) for m in schedule.meetings)
        counts: dict[str, int] = defaultdict(int)
        for x in explain_schedule(scenario, schedule):
            counts[x.category] += 1
        result.unmet = dict(counts)
    result.seconds = round(time.monotonic() - started, 2)
    logger.info("bottlenecks in %.1fs", result.seconds)
    return result
