"""Solution → Schedule: meetings, unscheduled requests with reasons, and stats."""

from __future__ import annotations

import statistics
from collections import defaultdict

from ..instance.candidates import Candidate, Instance
from ..instance.slots import idle_gaps
from ..spec.scenario import hhmm
from ..spec.schedule import (
    Distribution,
    Meeting,
    RequestStats,
    ScenarioRef,
    Schedule,
    SolverInfo,
    Stats,
    UnscheduledRequest,
)


def build_schedule(instance: Instance, placed: dict[int, int], solver: SolverInfo) -> Schedule:
    """Turn ``candidate -> slot`` into the output model."""
    grid = instance.grid
    meetings = []
    for c_index, s in placed.items():
        c = instance.candidates[c_index]
        slot = grid.slots[s]
        meetings.append(
            Meeting(
                buyer=instance.parties[c.buyer].id,
                exhibitor=instance.parties[c.exhibitor].id,
                date=slot.date,
                start=hhmm(slot.start),
                end=hhmm(slot.end),
                location=instance.location_ids[c.location],
                interpreter=instance.languages[c.interpreter] if c.interpreter is not None else None,
            )
        )
    meetings.sort(key=lambda m: (m.date, m.start, m.buyer, m.exhibitor))

    unscheduled = [
        UnscheduledRequest(
            buyer=d.buyer, exhibitor=d.exhibitor, level=d.level, by=d.by,
            reason=f"0 of {d.meetings} meetings are scheduled; {d.reason}" if d.meetings > 1 else d.reason,
        )
        for d in instance.dropped_requests
    ]
    usage = _Usage(instance, placed)
    # One entry per request group (a pair asked to meet k times has k candidates), naming how many met.
    groups: dict[tuple[int, int, str | None], list[Candidate]] = defaultdict(list)
    for c in instance.candidates:
        if c.request_level is not None:
            groups[(c.buyer, c.exhibitor, c.session)].append(c)
    for copies in groups.values():
        missing = [c for c in copies if c.index not in placed]
        if not missing:
            continue
        c = missing[0]
        reason = unscheduled_reason(instance, c, usage)
        if c.meetings > 1:
            reason = f"{c.meetings - len(missing)} of {c.meetings} meetings are scheduled; {reason}"
        unscheduled.append(
            UnscheduledRequest(
                buyer=instance.parties[c.buyer].id,
                exhibitor=instance.parties[c.exhibitor].id,
                level=c.request_level,
                by=c.request_by or "buyer",
                reason=reason,
            )
        )
    unscheduled.sort(key=lambda u: (u.level != "must", u.buyer, u.exhibitor))

    scenario = instance.scenario
    return Schedule(
        scenario=ScenarioRef(name=scenario.name, sha256=scenario.fingerprint()),
        meetings=meetings,
        unscheduled_requests=unscheduled,
        stats=compute_stats(instance, placed),
        solver=solver,
    )


def _distribution(counts: list[int]) -> Distribution:
    if not counts:
        return Distribution()
    return Distribution(
        min=min(counts), median=float(statistics.median(counts)), max=max(counts), zero=sum(1 for n in counts if n == 0)
    )


def total_idle_gaps(instance: Instance, slots_by_party: dict[int, list[int]]) -> int:
    """Idle runs between a participant's meetings within a day, summed over participants and days."""
    position = instance.grid.positions()
    total = 0
    for slots in slots_by_party.values():
        by_day: dict[int, list[int]] = defaultdict(list)
        for s in slots:
            by_day[instance.grid.slots[s].day].append(position[s])
        total += sum(idle_gaps(positions) for positions in by_day.values())
    return total


def compute_stats(instance: Instance, placed: dict[int, int]) -> Stats:
    slots_by_party: dict[int, list[int]] = defaultdict(list)
    value = 0
    interpreted = 0
    for c_index, s in placed.items():
        c = instance.candidates[c_index]
        slots_by_party[c.buyer].append(s)
        slots_by_party[c.exhibitor].append(s)
        value += c.value
        interpreted += c.interpreter is not None
    counts = [len(slots_by_party.get(p, ())) for p in range(len(instance.parties))]
    requests = {"must": RequestStats(), "want": RequestStats()}  # counted in meetings: a repeat request counts k
    for c in instance.candidates:
        if c.request_level is not None:
            requests[c.request_level].total += 1
            requests[c.request_level].met += c.index in placed
    for d in instance.dropped_requests:
        requests[d.level].total += d.meetings
    shortfall = sum(max(0, p.min_meetings - counts[i]) for i, p in enumerate(instance.parties))
    return Stats(
        meetings=len(placed),
        value=value,
        buyers=instance.num_buyers,
        exhibitors=len(instance.parties) - instance.num_buyers,
        per_buyer=_distribution(counts[: instance.num_buyers]),
        per_exhibitor=_distribution(counts[instance.num_buyers :]),
        must_requests=requests["must"],
        want_requests=requests["want"],
        min_meetings_shortfall=shortfall,
        idle_gaps=total_idle_gaps(instance, slots_by_party),
        interpreted_meetings=interpreted,
        candidates=len(instance.candidates),
        candidates_before_pruning=instance.candidates_before_pruning,
        variables=sum(len(c.slots) for c in instance.candidates),
        meetings_per_buyer={instance.parties[b].id: counts[b] for b in range(instance.num_buyers)},
    )


class _Usage:
    """Who is busy when, and how full each table and interpreter pool is, in a placement."""

    def __init__(self, instance: Instance, placed: dict[int, int]):
        self.slots_of: dict[int, set[int]] = defaultdict(set)
        self.tables: dict[tuple[int, int], int] = defaultdict(int)
        self.interpreters: dict[tuple[int, int], int] = defaultdict(int)
        for c_index, s in placed.items():
            c = instance.candidates[c_index]
            self.slots_of[c.buyer].add(s)
            self.slots_of[c.exhibitor].add(s)
            self.tables[(c.location, s)] += 1
            if c.interpreter is not None:
                self.interpreters[(c.interpreter, s)] += 1


def unscheduled_reason(instance: Instance, c: Candidate, usage: _Usage) -> str:
    """A human sentence saying what stood in the way of an unscheduled request."""
    grid = instance.grid
    buyer, exhibitor = instance.parties[c.buyer], instance.parties[c.exhibitor]
    slots_of, tables, interpreters = usage.slots_of, usage.tables, usage.interpreters
    for info, party in ((buyer, c.buyer), (exhibitor, c.exhibitor)):
        if len(slots_of[party]) >= info.max_meetings:
            return f"{info.id} already has its maximum of {info.max_meetings} meetings"

    blockers: dict[str, int] = defaultdict(int)
    free_for_both = []
    for s in c.slots:
        day = grid.slots[s].day
        if s in slots_of[c.buyer]:
            blockers[f"{buyer.id} is in another meeting"] += 1
        elif s in slots_of[c.exhibitor]:
            blockers[f"{exhibitor.id} is in another meeting"] += 1
        elif tables[(c.location, s)] >= instance.location_tables[c.location]:
            blockers[f"no free table at {instance.location_ids[c.location]}"] += 1
        elif c.interpreter is not None and interpreters[(c.interpreter, s)] >= instance.interpreter_capacity[c.interpreter][s]:
            blockers[f"every {instance.languages[c.interpreter]} interpreter is busy"] += 1
        elif any(
            info.max_per_day is not None and sum(grid.slots[t].day == day for t in slots_of[p]) >= info.max_per_day
            for info, p in ((buyer, c.buyer), (exhibitor, c.exhibitor))
        ):
            blockers["a daily meeting limit is reached"] += 1
        else:
            free_for_both.append(s)
    n = len(c.slots)
    if free_for_both:
        when = grid.slots[free_for_both[0]].label
        return (
            f"both were free at {when} ({len(free_for_both)} such slot(s)) but the walking time between halls "
            f"or higher-value meetings nearby ruled it out"
        )
    if len(blockers) == 1:
        (what, _count), = blockers.items()
        if what.startswith(exhibitor.id):
            return f"exhibitor {exhibitor.id} has no free table while {buyer.id} is available ({n} common slot(s))"
        return f"{what} at every one of the {n} slot(s) when both are available"
    parts = ", ".join(f"{what} at {count}" for what, count in sorted(blockers.items(), key=lambda kv: -kv[1]))
    return f"no usable slot among the {n} when both are available: {parts}"
