"""What limits a fair most, and what one more table, interpreter or hour would add.

Everything here is measured on the flow bound of ``relax/flow_bound.py`` (no CP-SAT):

1. The bound's network (``flow_bound.FlowNetwork``: buyer -> buyer-day -> pair ->
   exhibitor-day -> exhibitor, plus the interpreter and shared-table side
   constraints) is solved once as a linear program with GLOP. Its optimum is the
   value the bound's Lagrangian iterations converge to, so it is a valid upper
   bound (often a little tighter than ``stats.upper_bound_value``), and its dual
   values price every capacity: what one more interpreter-slot, table-slot or
   meeting for a participant is worth to the bound.
2. Those prices rank the candidates (languages, shared meeting places, buyers,
   exhibitors); only the top few get a what-if. Time slots are ranked by how
   much of the buyers' meeting budgets crowd into them.
3. Each what-if changes one capacity in the LP and re-solves it from the last
   basis (a fraction of a second at Anping size), for value and for meetings:
   one more interpreter of a language (its pool +1 in every slot it is on duty;
   a language without interpreters rebuilds the fair with one), one more table
   at a shared place, one more hour for a participant whose free time binds (or
   one more allowed meeting when its max_meetings / max_meetings_per_day binds).
   The increase of the bound is exact for the relaxation, so it is what the
   change can add at most; the bound ignores slot timing and walking, so the
   schedule may gain less.

Anping (138 buyers, 420 exhibitors, 29,000 pairs) takes 10-15 seconds on 2 cores.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from typing import Literal

import numpy as np
from ortools.linear_solver import pywraplp
from pydantic import BaseModel, ConfigDict, Field

from ..instance.candidates import (
    Instance,
    build_instance,
    needs_interpreter,
    pair_value,
)
from ..relax.flow_bound import FlowNetwork
from ..spec.scenario import InterpreterPool, Scenario, hhmm
from ..spec.schedule import Schedule
from .explain import explain_schedule

logger = logging.getLogger(__name__)

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
            "Booths (exhibitors)": "one more meeting for any exhibitor would not raise the bound",
            "Buyers": "one more meeting for any buyer would not raise the bound",
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
                    line += f"; {w.change}: {w.meetings:+,} meeting{'' if w.meetings == 1 else 's'}, {w.value:+,} value"
                elif item.kind != "slot":
                    line += "; what-if not estimated (time budget)"
                out.append(line)
        if self.unmet:
            parts = ", ".join(f"{n} {category}" for category, n in sorted(self.unmet.items(), key=lambda kv: -kv[1]))
            out.append(f"Unmet in the schedule (see `matchmaker explain`): {parts}")
        out.append(f"({self.seconds:.1f}s; increases are of the flow bound: what a change can add at most, see docs/explanations.md)")
        return out


# ---------------------------------------------------------------------------
# The flow bound's relaxation as a linear program
# ---------------------------------------------------------------------------


class _Relaxation:
    """``flow_bound.FlowNetwork`` with its side constraints as one LP, solved exactly by GLOP.

    Variables are the arc flows, constraints flow conservation at every node but
    the source and sink (their bypass arc makes them free) and the side
    constraints. Its optimum is the limit ``bound._lagrangian_bound`` approaches
    (the flow polytope is integral, so the Lagrangian dual equals this LP), hence
    a valid upper bound; its duals price every capacity. Re-solves after a
    capacity change start from the previous basis (about 0.3 s at Anping size).
    """

    def __init__(self, net: FlowNetwork):
        self.net = net
        solver = pywraplp.Solver.CreateSolver("GLOP")
        if solver is None:  # pragma: no cover - GLOP ships with OR-Tools
            raise RuntimeError("the GLOP LP solver is not available")
        solver.SetSolverSpecificParametersAsString("use_preprocessing: false")  # keeps re-solves incremental
        self.solver = solver
        self.x = [solver.NumVar(0.0, float(cap), "") for cap in net.caps.tolist()]
        self.node = [None, None] + [solver.Constraint(0.0, 0.0) for _ in range(2, net.num_nodes)]
        for a, (tail, head) in enumerate(zip(net.tails.tolist(), net.heads.tolist())):
            if tail > 1:
                self.node[tail].SetCoefficient(self.x[a], 1.0)
            if head > 1:
                self.node[head].SetCoefficient(self.x[a], -1.0)
        self.in_arcs = np.asarray(net.in_arcs, dtype=np.int64)
        self.out_arcs = np.asarray(net.out_arcs, dtype=np.int64)
        self.side = []
        for members, on_in, cap in net.side:
            constraint = solver.Constraint(-solver.infinity(), float(cap))
            for a in (self.in_arcs if on_in else self.out_arcs)[members].tolist():
                constraint.SetCoefficient(self.x[a], 1.0)
            self.side.append(constraint)
        self.objective = solver.Objective()
        self.objective.SetMaximization()
        self.mode: str | None = None

    def optimum(self, mode: str) -> float:
        """Solve for ``"value"`` or ``"meetings"``; the objective value."""
        if mode != self.mode:
            gains = self.net.value.tolist() if mode == "value" else [1.0] * len(self.in_arcs)
            for a, gain in zip(self.in_arcs.tolist(), gains):
                self.objective.SetCoefficient(self.x[a], gain)
            self.mode = mode
        status = self.solver.Solve()
        if status != pywraplp.Solver.OPTIMAL:
            raise RuntimeError(f"the bound's LP ended with status {status}")
        return self.objective.Value()

    def both(self) -> tuple[float, float]:
        """(value, meetings) optima, in the order that saves an objective switch."""
        if self.mode == "meetings":
            meetings = self.optimum("meetings")
            return self.optimum("value"), meetings
        value = self.optimum("value")
        return value, self.optimum("meetings")

    def add_var(self, upper: float, tail: int, head: int) -> pywraplp.Variable:
        """A new arc (for a what-if); disable it afterwards with ``SetUb(0)``."""
        var = self.solver.NumVar(0.0, upper, "")
        if tail > 1:
            self.node[tail].SetCoefficient(var, 1.0)
        if head > 1:
            self.node[head].SetCoefficient(var, -1.0)
        return var

    def add_node(self) -> int:
        self.node.append(self.solver.Constraint(0.0, 0.0))
        return len(self.node) - 1


class _Structure:
    """Which arcs of ``flow_bound.FlowNetwork`` are whose, derived from its arrays."""

    def __init__(self, net: FlowNetwork):
        parties = len(net.instance.parties)
        pair_base = net.num_nodes - 2 * len(net.instance.candidates)
        bypass = len(net.tails) - 1
        assert net.tails[bypass] == 0 and net.heads[bypass] == 1, "flow_bound.FlowNetwork layout changed"
        person_tail = (net.tails >= 2) & (net.tails < 2 + parties)
        person_head = (net.heads >= 2) & (net.heads < 2 + parties)
        day_tail = (net.tails >= 2 + parties) & (net.tails < pair_base)
        day_head = (net.heads >= 2 + parties) & (net.heads < pair_base)
        buyer_day = np.flatnonzero(person_tail & day_head)
        exhibitor_day = np.flatnonzero(day_tail & person_head)
        self.day_arcs = np.concatenate([buyer_day, exhibitor_day])
        self.day_party = np.concatenate([net.tails[buyer_day] - 2, net.heads[exhibitor_day] - 2])
        self.day_node = np.concatenate([net.heads[buyer_day], net.tails[exhibitor_day]])
        node_party = np.full(net.num_nodes, -1)
        node_party[self.day_node] = self.day_party
        in_arcs, out_arcs = np.asarray(net.in_arcs, dtype=np.int64), np.asarray(net.out_arcs, dtype=np.int64)
        self.pair_node = net.heads[in_arcs]
        self.pair_buyer = node_party[net.tails[in_arcs]]
        self.pair_exhibitor = node_party[net.heads[out_arcs]]


def _side_keys(instance: Instance, net: FlowNetwork) -> list[tuple[str, int, int]]:
    """("language"|"location", index, day) of each side constraint, re-derived in FlowNetwork's order."""
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
        raise RuntimeError("flow_flow_bound.FlowNetwork side constraints changed; update bottlenecks._side_keys")
    return keys


def _key_names(instance: Instance, keys: list[tuple[str, int, int]]) -> list[tuple[str, str, int]]:
    """Side-constraint keys by name (language or location id), comparable across rebuilt instances."""
    return [(kind, instance.languages[i] if kind == "language" else instance.location_ids[i], d) for kind, i, d in keys]


def _by_effect(items: list[Bottleneck]) -> list[Bottleneck]:
    """Largest measured increase of the value bound first; then the ranking score."""
    return sorted(items, key=lambda b: (-(b.what_if.value if b.what_if else -1), -(b.what_if.meetings if b.what_if else -1), -b.score))


def _floor(x: float) -> int:
    """An LP optimum as an integer bound (a hair of tolerance so 51278.9999999 counts as 51279)."""
    return math.floor(x + 1e-6 * max(1.0, abs(x)))


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


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
        self.net = FlowNetwork(self.instance)
        self.keys = _side_keys(self.instance, self.net)
        self.lp = _Relaxation(self.net)
        self.meetings = self.lp.optimum("meetings")
        self.value = self.lp.optimum("value")  # left in value mode: the duals and flows below are the value LP's
        lp = self.lp
        self.prices = np.array([c.dual_value() for c in lp.side])
        parties = len(self.instance.parties)
        self.total_flow = np.array([lp.x[p].solution_value() for p in range(parties)])
        self.total_price = np.array([lp.x[p].reduced_cost() for p in range(parties)])
        self.structure = _Structure(self.net)
        st = self.structure
        self.day_flow = np.array([lp.x[a].solution_value() for a in st.day_arcs.tolist()])
        self.day_price = np.array([lp.x[a].reduced_cost() for a in st.day_arcs.tolist()])
        self.pair_flow = np.array([lp.x[a].solution_value() for a in lp.in_arcs.tolist()])
        step = scenario.slot_minutes + scenario.changeover_minutes
        self.hour_slots = max(1, (60 + scenario.changeover_minutes) // step)

    def out_of_time(self) -> bool:
        return time.monotonic() - self.started > self.budget

    def _effect(self, change: str, lp: _Relaxation | None = None) -> WhatIf:
        """Increase of both optima of ``lp`` (the fair's own LP, already changed) over the fair's."""
        value, meetings = (lp or self.lp).both()
        return WhatIf(
            change=change,
            value=max(0, _floor(value) - _floor(self.value)),
            meetings=max(0, _floor(meetings) - _floor(self.meetings)),
        )

    def _raise_side(self, kind: str, index: int, extra_per_day: list[int], change: str) -> WhatIf:
        """Raise the side constraints of one language or location by ``extra_per_day[day]``, measure, restore."""
        changed = [(j, d) for j, (k, i, d) in enumerate(self.keys) if k == kind and i == index]
        for j, d in changed:
            self.lp.side[j].SetUb(self.lp.side[j].ub() + extra_per_day[d])
        try:
            return self._effect(change)
        finally:
            for j, d in changed:
                self.lp.side[j].SetUb(self.lp.side[j].ub() - extra_per_day[d])

    def _person(self, party: int):
        scenario = self.scenario
        return scenario.buyers[party] if party < self.instance.num_buyers else scenario.exhibitors[party - self.instance.num_buyers]

    def _binding(self, party: int) -> tuple[bool, list[int]]:
        """Whether ``party``'s total arc is full, and its full day arcs (positions in the structure)."""
        caps = self.net.caps
        st = self.structure
        full_total = self.total_flow[party] >= caps[party] - 1e-6
        own = np.flatnonzero(st.day_party == party)
        full_days = [int(i) for i in own if self.day_flow[i] >= caps[st.day_arcs[i]] - 1e-6]
        return bool(full_total), full_days

    def _participant_effect(self, party: int) -> WhatIf:
        """One more hour when time is what binds the participant; else one more allowed meeting."""
        info = self.instance.parties[party]
        person = self._person(party)
        caps, st, lp = self.net.caps, self.structure, self.lp
        full_total, full_days = self._binding(party)
        by_total_cap = full_total and person.max_meetings is not None and caps[party] >= person.max_meetings
        per_day = info.max_per_day
        by_day_cap = [i for i in full_days if per_day is not None and caps[st.day_arcs[i]] >= per_day]
        if by_total_cap or (by_day_cap and len(by_day_cap) == len(full_days)):
            # A limit the organizer set binds: what would allowing one more meeting add?
            raised: list[tuple[pywraplp.Variable, float]] = []
            names = []
            if by_total_cap:
                raised.append((lp.x[party], lp.x[party].ub()))
                names.append(f"max_meetings {person.max_meetings} -> {person.max_meetings + 1}")
            if by_day_cap:
                raised += [(lp.x[int(st.day_arcs[i])], lp.x[int(st.day_arcs[i])].ub()) for i in by_day_cap]
                names.append(f"max_meetings_per_day {per_day} -> {per_day + 1}")
            for var, upper in raised:
                var.SetUb(upper + 1)
            try:
                return self._effect(" and ".join(names) + f" for {info.id}")
            finally:
                for var, upper in raised:
                    var.SetUb(upper)
        return self._hour_effect(party)

    def _hour_effect(self, party: int) -> WhatIf:
        """``hour_slots`` more free slots for ``party`` on one of its days (any one, in the relaxation).

        Its total arc rises to min(max_meetings, free slots + k); a new node lets at
        most k extra meetings into its day nodes, each within max_meetings_per_day.
        """
        info = self.instance.parties[party]
        person = self._person(party)
        caps, st, lp, k = self.net.caps, self.structure, self.lp, self.hour_slots
        limit = len(info.free) + k if person.max_meetings is None else min(person.max_meetings, len(info.free) + k)
        total = lp.x[party]
        old_total = total.ub()
        total.SetUb(max(old_total, float(limit)))
        hub = lp.add_node()
        me = 2 + party
        added = [lp.add_var(float(k), me, hub) if info.is_buyer else lp.add_var(float(k), hub, me)]
        for i in np.flatnonzero(st.day_party == party).tolist():
            room = k if info.max_per_day is None else max(0, min(k, info.max_per_day - int(caps[st.day_arcs[i]])))
            if room:
                node = int(st.day_node[i])
                added.append(lp.add_var(float(room), hub, node) if info.is_buyer else lp.add_var(float(room), node, hub))
        try:
            return self._effect(f"one more hour for {info.id} (+{k} slot{'s' if k > 1 else ''})")
        finally:
            total.SetUb(old_total)
            for var in added:
                var.SetUb(0.0)

    # --- rankings ----------------------------------------------------------------

    def interpreters(self, top: int) -> list[Bottleneck]:
        inst, grid = self.instance, self.instance.grid
        price: dict[int, float] = defaultdict(float)
        used: dict[int, float] = defaultdict(float)
        for (kind, index, d), lam, (members, _on, _cap) in zip(self.keys, self.prices, self.net.side):
            if kind == "language":
                price[index] += lam * sum(1 for s in grid.by_day[d] if inst.interpreter_capacity[index][s] > 0)
                used[index] += float(self.pair_flow[members].sum())
        demand = _missing_language_demand(self.scenario, inst)
        ranked: list[tuple[float, str]] = [(p, inst.languages[i]) for i, p in price.items() if p > 1e-6]
        ranked += [(float(value), language) for language, (value, _pairs) in demand.items()]
        ranked.sort(key=lambda item: (-item[0], item[1]))
        out: list[tuple[Bottleneck, InterpreterPool | None]] = []
        for score, language in ranked[:top]:
            pool = next((p for p in self.scenario.interpreters if p.language == language), None)
            if language in demand:
                value, pairs = demand[language]
                what = "no interpreters" if pool is None or pool.count == 0 else f"{pool.count} interpreters"
                message = (
                    f"'{language}': {what}; {_plural(pairs, 'matching pair')} {'needs' if pairs == 1 else 'need'} "
                    f"an interpreter for '{language}' (worth {value:,} together)"
                )
            else:
                index = inst.languages.index(language)
                duty = sum(1 for s in range(len(grid)) if inst.interpreter_capacity[index][s] > 0)
                message = (
                    f"'{language}': {pool.count} interpreter(s) on duty in {duty} slots, fully used in the bound "
                    f"({used[index]:.0f} interpreted meetings); one more is priced at {score:,.0f} value"
                )
            out.append((Bottleneck(kind="interpreter", id=language, message=message, score=round(score, 2)), pool))
        staffed = [(item, pool) for item, pool in out if pool is not None and pool.count > 0]
        for item, pool in staffed:
            if not self.out_of_time():
                index = inst.languages.index(item.id)
                on_duty = [sum(1 for s in grid.by_day[d] if inst.interpreter_capacity[index][s] > 0) for d in range(len(grid.by_day))]
                item.what_if = self._raise_side("language", index, on_duty, f"one more '{item.id}' interpreter")
        unstaffed = [item for item, pool in out if pool is None or pool.count == 0]
        if unstaffed and not self.out_of_time():
            for item, what_if in zip(unstaffed, self._new_language_effects([item.id for item in unstaffed])):
                item.what_if = what_if
        return _by_effect([item for item, _pool in out])

    def _new_language_effects(self, languages: list[str]) -> list[WhatIf]:
        """One interpreter for each of ``languages`` (none today): new pairs appear, so the fair is rebuilt
        once with all of them staffed and each is measured with the others' new pairs switched off."""
        pools = {p.language: p for p in self.scenario.interpreters}
        changed_pools = [p for p in self.scenario.interpreters if p.language not in languages]
        for language in languages:
            old = pools.get(language)
            changed_pools.append(InterpreterPool(language=language, count=1, availability=old.availability if old else None))
        changed = self.scenario.model_copy(update={"interpreters": changed_pools})
        instance = build_instance(changed, candidates_per_meeting=None)
        net = FlowNetwork(instance)
        lp = _Relaxation(net)
        pair_days = [(c.index, d) for c in instance.candidates for d in sorted({instance.grid.slots[s].day for s in c.slots})]
        arcs_of: dict[str, list[int]] = defaultdict(list)
        for (c_index, _d), arc in zip(pair_days, lp.in_arcs.tolist()):
            c = instance.candidates[c_index]
            if c.interpreter is not None and instance.languages[c.interpreter] in languages:
                arcs_of[instance.languages[c.interpreter]].append(arc)

        def switch(language: str | None, upper: float) -> None:
            for name, arcs in arcs_of.items():
                if language is None or name == language:
                    for a in arcs:
                        lp.x[a].SetUb(upper)

        switch(None, 0.0)
        base_value, base_meetings = lp.both()  # the rebuilt fair without the new pairs (about self.value)
        effects = []
        for language in languages:
            if self.out_of_time():
                effects.append(None)
                continue
            switch(language, 1.0)
            value, meetings = lp.both()
            switch(language, 0.0)
            effects.append(
                WhatIf(
                    change=f"one more '{language}' interpreter",
                    value=max(0, _floor(value) - _floor(base_value)),
                    meetings=max(0, _floor(meetings) - _floor(base_meetings)),
                )
            )
        return effects

    def locations(self, top: int) -> list[Bottleneck]:
        inst, grid = self.instance, self.instance.grid
        price: dict[int, float] = defaultdict(float)
        for (kind, index, d), lam in zip(self.keys, self.prices):
            if kind == "location":
                price[index] += lam * len(grid.by_day[d])
        ranked = sorted(((p, i) for i, p in price.items() if p > 1e-6), key=lambda item: (-item[0], inst.location_ids[item[1]]))
        out = []
        for score, index in ranked[:top]:
            location = inst.location_ids[index]
            users = {c.exhibitor for c in inst.candidates if c.location == index}
            message = (
                f"{location}: {_plural(inst.location_tables[index], 'table')} shared by {len(users)} exhibitors, "
                f"fully used in the bound; one more is priced at {score:,.0f} value"
            )
            item = Bottleneck(kind="location", id=location, message=message, score=round(score, 2))
            if not self.out_of_time():
                item.what_if = self._raise_side("location", index, [len(day) for day in grid.by_day], f"one more table at {location}")
            out.append(item)
        return _by_effect(out)

    def participants(self, buyers: bool, top: int) -> list[Bottleneck]:
        """Participants whose capacity the bound uses fully, ranked by the LP's price of one more meeting for them."""
        inst, st = self.instance, self.structure
        parties = len(inst.parties)
        best_day = np.zeros(parties)
        np.maximum.at(best_day, st.day_party, self.day_price)
        score = self.total_price + best_day
        side = range(inst.num_buyers) if buyers else range(inst.num_buyers, parties)
        ranked = sorted((p for p in side if score[p] > 1e-6), key=lambda p: (-score[p], inst.parties[p].id))[:top]
        mine = st.pair_buyer if buyers else st.pair_exhibitor
        unused = np.zeros(parties, dtype=np.int64)
        np.add.at(unused, mine, self.pair_flow < 1e-6)
        out = []
        for p in ranked:
            info = inst.parties[p]
            person = self._person(p)
            message = (
                f"{info.id}: {self.total_flow[p]:.0f} meetings in the bound, {self._limit_text(p, person)}; "
                f"{_plural(int(unused[p]), 'matching pair')} left out; one more meeting for it is priced at {score[p]:,.0f} value"
            )
            item = Bottleneck(kind="buyer" if buyers else "exhibitor", id=info.id, message=message, score=round(float(score[p]), 2))
            if not self.out_of_time():
                item.what_if = self._participant_effect(p)
            out.append(item)
        return _by_effect(out)

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
                f"{int(buyers_free[s])} buyers and {int(exhibitors_free[s])} exhibitors are available (load {load[s]:.2f})"
            )
            if scarce[s]:
                message += f"; {_plural(int(scarce[s]), 'pair')} can meet only here or in one other slot"
            if self.schedule is not None:
                message += f"; {held[s]} meetings held"
            out.append(Bottleneck(kind="slot", id=slot.label, message=message, score=round(float(load[s]), 3)))
        return out


def _missing_language_demand(scenario: Scenario, instance: Instance) -> dict[str, tuple[int, int]]:
    """Languages needed by matching pairs that have no interpreter at all: language -> (summed value, pairs)."""
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
            demand[language][0] += value * (request.meetings if request else 1)  # a repeat request needs it each time
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
