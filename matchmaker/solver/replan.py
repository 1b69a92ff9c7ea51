"""Re-planning: a new scenario version against a published schedule.

Policies:
- ``keep``: every previous meeting that is still valid stays exactly; new meetings fill free capacity.
- ``minimal``: previous meetings may move (within their day) or be cancelled when that lets more or
  better meetings in; each change costs ``weights.change`` and no participant gets more than
  ``max_changes_per_participant`` changes. Never fewer new meetings than ``keep`` places.
- ``full``: re-optimize freely; the previous schedule is only a hint.
``freeze_before``: meetings starting before that moment never change and nothing new goes before it.
A previous meeting that is no longer valid is dropped under every policy, with its reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from ortools.sat.python import cp_model

from ..errors import DifferentEventError, InfeasibleError, MatchmakerError
from ..instance.candidates import Candidate, Instance, build_instance, restrict
from ..spec.scenario import Scenario, hhmm, minutes
from ..spec.schedule import Meeting, PreviousRef, Schedule
from . import bounds
from .bounds import Bounds
from .budget import after_engine_seconds, share
from .engine import Solved, solve_instance
from .greedy import greedy_schedule
from .model import build_model
from .rules import Occupancy
from .run import Run, SolveOptions

logger = logging.getLogger(__name__)

Policy = Literal["keep", "minimal", "full"]
DEMAND_PER_FREE_MEETING = 2  # unplaced pairs considered per free meeting of an affected buyer


@dataclass(frozen=True)
class Moment:
    """A local date and time of the fair (``--freeze-before``)."""

    date: date
    minute: int

    @classmethod
    def parse(cls, text: str) -> Moment:
        try:
            parsed = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
        except ValueError:
            raise MatchmakerError(f"--freeze-before {text!r}: expected 'YYYY-MM-DD HH:MM'") from None
        return cls(parsed.date(), parsed.hour * 60 + parsed.minute)

    def after(self, day: date, minute: int) -> bool:
        """True when (day, minute) is at or after this moment."""
        return (day, minute) >= (self.date, self.minute)


@dataclass
class Replanned:
    """The re-planning engine's result; ``pipeline.reschedule`` checks it and writes the change report.

    ``reasons`` gives the reason of each previous meeting (``meeting_key``) that
    changed for a known cause; other moved or cancelled meetings get
    ``moved_reason`` or ``cancel_reason``.
    """

    solved: Solved
    reasons: dict[tuple, str]  # by meeting_key of a previous meeting, or by (buyer, exhibitor) (analysis.diff.Reasons)
    moved_reason: str
    cancel_reason: str


def check_same_event(scenario: Scenario, previous: Schedule) -> None:
    """Refuse a previous schedule from another event (name, or days the meetings lie on)."""
    if previous.scenario.name != scenario.name:
        raise DifferentEventError(
            f"the previous schedule is for {previous.scenario.name!r}, not {scenario.name!r}"
        )
    days = {d.date for d in scenario.days}
    outside = sorted({m.date for m in previous.meetings} - days)
    if outside:
        raise DifferentEventError(
            f"the previous schedule has meetings on {', '.join(map(str, outside))}, which are not days of "
            f"{scenario.name!r}"
        )


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------
# Which previous meetings are still valid
# ---------------------------------------------------------------------------


def carry_over(
    instance: Instance, previous: list[Meeting], freeze: Moment | None
) -> tuple[list[tuple[int, int]], dict[MeetingKey, str], set[int]]:
    """Map previous meetings onto the new instance (each meeting of a repeated pair onto its own copy).

    Returns the still-valid placements (candidate, slot), the reason for every
    dropped meeting by ``meeting_key``, and the candidates that are frozen.
    New pins are placed first so that a previous meeting never blocks one.
    """
    grid = instance.grid
    ids = {c_index: (instance.parties[c.buyer].id, instance.parties[c.exhibitor].id) for c_index, c in enumerate(instance.candidates)}
    copies: dict[tuple[str, str], list[int]] = defaultdict(list)  # a pair asked to meet k times has k candidates
    for c, pair in ids.items():
        copies[pair].append(c)
    scenario = instance.scenario
    buyers = {b.id for b in scenario.buyers}
    exhibitors = {e.id: e for e in scenario.exhibitors}
    blocked = {(b.buyer, b.exhibitor) for b in scenario.blocked}

    occupancy = Occupancy(instance)
    for c in instance.candidates:
        if c.pinned_slot is not None and occupancy.fits(c, c.pinned_slot):
            occupancy.place(c, c.pinned_slot)
    pinned_pairs = {ids[c.index] for c in instance.candidates if c.pinned_slot is not None}

    def value(m: Meeting) -> int:
        own = copies.get((m.buyer, m.exhibitor))
        return instance.candidates[own[0]].value if own else 0

    def copy_for(pair: tuple[str, str], slot: int | None) -> int | None:
        """The pair's candidate a previous meeting at ``slot`` maps to: one pinned there, else a free copy that may meet then."""
        own = copies.get(pair, [])
        pinned_here = [c for c in own if instance.candidates[c].pinned_slot == slot]
        if pinned_here:
            return pinned_here[0]
        free = [c for c in own if c not in occupancy.slot_of and instance.candidates[c].pinned_slot is None]
        return next((c for c in free if slot in instance.candidates[c].slots), free[0] if free else None)

    def frozen(m: Meeting) -> bool:
        return freeze is not None and not freeze.after(m.date, minutes(m.start))

    kept: list[tuple[int, int]] = []
    dropped: dict[MeetingKey, str] = {}
    frozen_candidates: set[int] = set()
    for m in sorted(previous, key=lambda m: (not frozen(m), -value(m), m.date, m.start, m.buyer, m.exhibitor)):
        pair = (m.buyer, m.exhibitor)
        reason = None
        slot = grid.slot_at(m.date, m.start)
        c_index = copy_for(pair, slot)
        if m.buyer not in buyers:
            reason = f"buyer {m.buyer} is no longer at the event"
        elif m.exhibitor not in exhibitors:
            reason = f"exhibitor {m.exhibitor} is no longer at the event"
        elif pair in blocked:
            reason = f"{m.buyer} and {m.exhibitor} are now a blocked pair"
        elif c_index is not None and instance.candidates[c_index].pinned_slot == slot and slot is not None:
            continue  # a new pin already holds it
        elif pair in pinned_pairs and c_index is None:
            reason = "the meeting is now pinned to another time"
        elif slot is None:
            reason = f"{m.date} {m.start} is no longer a meeting slot"
        elif c_index is None:
            if copies.get(pair):  # its other meetings took every meeting the pair may have now
                reason = f"{m.buyer} and {m.exhibitor} now meet at most {len(copies[pair])} time(s)"
            else:
                reason = f"{m.buyer} and {m.exhibitor} can no longer meet (no common free time)"
        else:
            c = instance.candidates[c_index]
            location = scenario.meeting_location(exhibitors[m.exhibitor])
            if location != m.location:
                reason = f"{m.exhibitor} now meets at {location}, not {m.location}"
            elif (broken := occupancy.why(c, slot)) is not None:
                reason = broken  # the rule it breaks, given the new pins and the meetings kept so far
            else:
                occupancy.place(c, slot)
                kept.append((c_index, slot))
                if frozen(m):
                    frozen_candidates.add(c_index)
        if reason is not None:
            dropped[meeting_key(m)] = reason
    return kept, dropped, frozen_candidates


MeetingKey = tuple[str, str, date, str]  # buyer, exhibitor, date, start: one meeting, also of a pair that meets twice


def meeting_key(m: Meeting) -> MeetingKey:
    return (m.buyer, m.exhibitor, m.date, m.start)


# ---------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------


def _fix(instance: Instance, placements: list[tuple[int, int]]) -> None:
    """Turn placements into pins of this (private) instance."""
    for c_index, s in placements:
        c = instance.candidates[c_index]
        c.pinned_slot, c.slots = s, [s]


def _apply_freeze(instance: Instance, freeze: Moment | None, frozen: set[int]) -> None:
    """Nothing new before the moment: drop earlier slots of every candidate that is not frozen.

    Raises InfeasibleError, naming the freeze, for must requests that could only
    take place before it.
    """
    if freeze is None:
        return
    grid = instance.grid
    impossible = []
    for c in instance.candidates:
        if c.index in frozen or c.pinned_slot is not None:  # the scenario's own pins stay hard
            continue
        later = [s for s in c.slots if freeze.after(grid.slots[s].date, grid.slots[s].start)]
        if c.request_level == "must" and c.slots and not later:
            first = grid.slots[c.slots[0]].label
            impossible.append(
                f"must request {instance.parties[c.buyer].id}-{instance.parties[c.exhibitor].id} could only take "
                f"place before the freeze at {freeze.date} {hhmm(freeze.minute)} (from {first})"
            )
        c.slots = later
    if impossible:
        raise InfeasibleError(impossible)


def _private_instance(scenario: Scenario, previous: Schedule, options: SolveOptions) -> Instance:
    pairs = {(m.buyer, m.exhibitor) for m in previous.meetings}
    instance = build_instance(scenario, options.candidates_per_meeting, forced_pairs=pairs)
    instance.candidates = [dataclasses.replace(c) for c in instance.candidates]  # ours to edit
    return instance


def _minimal(
    instance: Instance,
    kept: list[tuple[int, int]],
    frozen: set[int],
    keep_placed: dict[int, int],
    affected: set[int],
    max_changes: int | None,
    run: Run,
) -> dict[int, int]:
    """Improve on ``keep`` by moving (within a day) or cancelling previous meetings.

    The model is kept small around the unmet demand: the best unplaced pairs of
    ``affected`` buyers (new, or who lost a meeting) and the unscheduled requests.
    Meetings of the participants of that demand may move (previous ones within
    their day, at a cost) or be cancelled; every other meeting stays where keep has it.
    """
    grid = instance.grid
    previous_slot = dict(kept)
    count: dict[int, int] = defaultdict(int)
    for c_index in keep_placed:
        c = instance.candidates[c_index]
        count[c.buyer] += 1
        count[c.exhibitor] += 1
    demand: set[int] = set()
    by_buyer: dict[int, list[Candidate]] = defaultdict(list)
    for c in instance.candidates:
        if c.index in keep_placed:
            continue
        if c.request_level is not None:
            demand.add(c.index)
        elif c.buyer in affected:
            by_buyer[c.buyer].append(c)
    for buyer, own in by_buyer.items():
        spare = instance.parties[buyer].max_meetings - count[buyer]
        own.sort(key=lambda c: (-c.value, c.index))
        demand.update(c.index for c in own[: DEMAND_PER_FREE_MEETING * max(0, spare)])
    if not demand:
        return keep_placed
    touched = {p for c in demand for p in (instance.candidates[c].buyer, instance.candidates[c].exhibitor)}

    sub, original = restrict(instance, sorted(set(keep_placed) | demand), idle_gap=0)
    sub.candidates = [dataclasses.replace(c) for c in sub.candidates]
    for i, c_index in enumerate(original):
        c = sub.candidates[i]
        if c_index in frozen or c.pinned_slot is not None:
            continue
        movable = c.buyer in touched or c.exhibitor in touched
        if c_index in keep_placed and not movable:
            c.pinned_slot, c.slots = keep_placed[c_index], [keep_placed[c_index]]
        elif c_index in previous_slot:
            s0 = previous_slot[c_index]
            c.previous_slot = s0
            c.slots = [s for s in c.slots if grid.slots[s].day == grid.slots[s0].day]
    built = build_model(sub, max_changes_per_participant=max_changes)
    mv = built.vars
    new_vars = [v for v, c in enumerate(mv.cand_of) if original[c] not in previous_slot]
    keep_new = sum(1 for c in keep_placed if c not in previous_slot)
    built.model.add(sum(mv.x[v] for v in new_vars) >= keep_new)  # never fewer new meetings than keep
    mv.hint_placement(built.model, {i: keep_placed[c] for i, c in enumerate(original) if c in keep_placed})
    logger.info("minimal policy: %d demand pairs, %d movable participants, %d variables", len(demand), len(touched), len(mv))
    solver, status = run.run(built.model, run.budget(1 - share("replan_keep_of_minimal"), 1.0), "minimal changes", lp_heavy=True)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        logger.info("minimal policy: no improvement found in time (%s); keeping the keep schedule", solver.status_name(status))
        return keep_placed
    placed = [(original[mv.cand_of[v]], mv.slot_of[v]) for v, var in enumerate(mv.x) if solver.boolean_value(var)]
    return greedy_schedule(instance, placed).placed


def replan(
    scenario: Scenario,
    previous: Schedule,
    options: SolveOptions | None = None,
    policy: Policy = "keep",
    max_changes_per_participant: int | None = None,
    freeze_before: Moment | None = None,
    previous_sha256: str | None = None,
    previous_file: str | None = None,
) -> Replanned:
    """Re-plan ``scenario`` against the published ``previous`` schedule."""
    options = options or SolveOptions()
    run = Run(options)
    run.reserve = after_engine_seconds(len(scenario.buyers) + len(scenario.exhibitors), len(previous.meetings))  # checker, explanations and the change report
    instance = _private_instance(scenario, previous, options)
    kept, dropped, frozen = carry_over(instance, previous.meetings, freeze_before)
    logger.info("re-plan (%s): %d previous meetings still valid, %d dropped", policy, len(kept), len(dropped))

    _fix(instance, [(c, s) for c, s in kept if c in frozen])
    _apply_freeze(instance, freeze_before, frozen)
    if policy == "full":
        solved = solve_instance(instance, options, run, preferred=kept)
        reasons = {**dropped}
        moved_reason, cancel_reason = "re-optimized (full policy)", "re-optimized (full policy)"
    else:
        if policy == "minimal":
            keep_options = dataclasses.replace(options, time_limit=options.time_limit * share("replan_keep_of_minimal"))
            base = dataclasses.replace(instance, candidates=[dataclasses.replace(c) for c in instance.candidates])
        else:
            keep_options, base = options, instance
        _fix(base, kept)
        solved = solve_instance(base, keep_options, Run(keep_options), preferred=kept)
        if policy == "minimal":
            keep_placed = _placements(base, solved.schedule)
            old_buyers = {m.buyer for m in previous.meetings}
            lost = {p for key in dropped for p in key[:2]}
            affected = {
                i for i, p in enumerate(instance.parties) if p.is_buyer and (p.id not in old_buyers or p.id in lost)
            }
            placed = _minimal(instance, kept, frozen, keep_placed, affected, max_changes_per_participant, run)
            # The keep schedule stays the fallback: the minimal step only moves meetings of it.
            found = _minimal_bounds(instance, solved.bounds)
            solved = Solved(_rebuild(instance, placed, solved.schedule, found), instance, lambda kept=solved.schedule: kept, found)
        reasons = dict(dropped)
        moved_reason, cancel_reason = "moved to let new meetings in (minimal policy)", "cancelled to let new meetings in (minimal policy)"

    schedule = solved.schedule
    schedule.version = previous.version + 1
    schedule.previous = PreviousRef(file=previous_file, sha256=previous_sha256, version=previous.version)
    for m in previous.meetings:
        slot = instance.grid.slot_at(m.date, m.start)
        if meeting_key(m) not in reasons and slot is not None and hhmm(instance.grid.slots[slot].end) != m.end:
            reasons[meeting_key(m)] = f"meetings now end at {hhmm(instance.grid.slots[slot].end)} (slot length changed)"
    if schedule.solver is not None:
        schedule.solver.seconds = round(run.elapsed(), 3)
        schedule.solver.policy = policy
    return Replanned(solved, reasons, moved_reason, cancel_reason)


def _placements(instance: Instance, schedule: Schedule) -> dict[int, int]:
    """candidate -> slot of a schedule's meetings in this instance (a pair's meetings on its copies: pinned ones at their pins)."""
    copies: dict[tuple[str, str], list] = defaultdict(list)
    for c in instance.candidates:
        copies[(instance.parties[c.buyer].id, instance.parties[c.exhibitor].id)].append(c)
    placed: dict[int, int] = {}
    for m in sorted(schedule.meetings, key=lambda m: (m.date, m.start)):
        slot = instance.grid.slot_at(m.date, m.start)
        own = [c for c in copies[(m.buyer, m.exhibitor)] if c.index not in placed]
        c = next((c for c in own if c.pinned_slot == slot), None) or next(c for c in own if c.pinned_slot is None)
        placed[c.index] = slot
    return placed


def _minimal_bounds(instance: Instance, keep: Bounds | None) -> Bounds | None:
    """The keep solve's bounds when they hold whatever is pinned (flow, counting); else the counting ones.

    The minimal policy may move the meetings keep fixed, so a bound over keep's
    instance (its pins) need not hold for it.
    """
    if keep is None or not keep.source:
        return keep
    robust = keep.robust()
    return robust if robust.source else bounds.counting(instance)


def _rebuild(instance: Instance, placed: dict[int, int], like: Schedule, found: Bounds | None) -> Schedule:
    from .solution import build_schedule

    schedule = build_schedule(instance, placed, like.solver)
    bounds.fill(schedule.stats, instance.weights, found)
    return schedule
