"""Candidate matching: which buyer-exhibitor pairs may meet, in which slots, at what value.

Turns the validated Scenario into a plain integer-indexed ``Instance`` for the
optimizer. Participants are numbered buyers first (0..B-1), then exhibitors
(B..B+E-1). A pair becomes a candidate when the buyer's interests meet the
exhibitor's offers, or when someone requested or pinned it. Candidates are then
pruned to the most valuable ones per participant (requests and pins are always
kept), which keeps the CP-SAT model small; see docs/model.md for the effect.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..spec.scenario import (
    RequestGroup,
    Scenario,
    Weights,
    combine_sides,
    request_groups,
)
from .slots import SlotGrid, build_slot_grid

logger = logging.getLogger(__name__)


@dataclass
class ColumnPool:
    """Every matching pair of a fair whose candidates are only some of them, and the best bound found over all."""

    # A ``pair_table.PairTable``; typed loosely because the pair table is built from
    # this module's candidates (pair_table imports candidates, not the other way).
    table: Any
    bound: float | None = None  # objective units (value - min_shortfall x shortfall)


DEFAULT_CANDIDATES_PER_MEETING = 3  # keep 3x a participant's meeting capacity
DEFAULT_CANDIDATES_PER_EXHIBITOR = 4  # so every exhibitor keeps a few buyers to meet


@dataclass
class Party:
    """A buyer or exhibitor, as the optimizer sees it."""

    id: str
    is_buyer: bool
    free: list[int]  # slots the participant is available in
    max_meetings: int  # effective cap (never above the number of free slots)
    max_per_day: int | None
    min_meetings: int
    languages: list[str]


@dataclass
class Candidate:
    """A pair that may meet, with the slots it may use."""

    index: int
    buyer: int  # participant index
    exhibitor: int  # participant index
    value: int
    location: int
    hall: int
    slots: list[int]
    interpreter: int | None = None  # language index when an interpreter is needed
    request_level: str | None = None  # "must" | "want" | None
    request_by: str | None = None
    pinned_slot: int | None = None
    previous_slot: int | None = None  # where a re-planned schedule had this meeting (minimal policy)
    # A pair asked to meet k times has k candidates, its "copies", each one meeting: repeat 0..k-1
    # of its request group (``meetings`` = k). Copies differ only by index and repeat unless a
    # pin, a session or a re-plan tells them apart.
    repeat: int = 0
    meetings: int = 1
    session: str | None = None  # "morning" | "afternoon" when its request group asks for one

    @property
    def committed(self) -> bool:
        """A must request or a pinned meeting: it has to take place, and no heuristic takes it out."""
        return self.request_level == "must" or self.pinned_slot is not None


@dataclass
class DroppedRequest:
    """A requested pair that can never be scheduled, and why."""

    buyer: str
    exhibitor: str
    level: str
    by: str
    reason: str
    meetings: int = 1  # meetings the request asked for (all of them are lost)


@dataclass
class Instance:
    """Everything the CP-SAT model needs, as integers."""

    scenario: Scenario
    grid: SlotGrid
    parties: list[Party]
    num_buyers: int
    location_ids: list[str]
    location_tables: list[int]
    location_hall: list[int]
    hall_ids: list[str]
    walking: list[list[int]]  # hall x hall minutes
    languages: list[str]
    interpreter_capacity: list[list[int]]  # language x slot
    candidates: list[Candidate]
    dropped_requests: list[DroppedRequest]
    candidates_before_pruning: int
    weights: Weights
    party_index: dict[str, int] = field(default_factory=dict)
    # Precedences as ((side A, side B) before (side A, side B)) party-index pairs; the
    # model finds the candidates by pair, so sub-instances (restrict) stay consistent.
    precedences: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    # Every matching pair as arrays, when the candidates are only some of them (fairs
    # too large to hold them all): column generation prices them (pricing.py).
    pool: ColumnPool | None = None

    @property
    def must_candidates(self) -> list[Candidate]:
        return [c for c in self.candidates if c.request_level == "must"]

    def is_exhibitor(self, party: int) -> bool:
        return party >= self.num_buyers


def restrict(instance: Instance, chosen: list[int], slots: set[int] | None = None, **weights: int) -> tuple[Instance, list[int]]:
    """A sub-instance holding only the ``chosen`` candidates (optionally only ``slots``).

    Returns it with the map from its candidate indices back to the originals;
    ``weights`` overrides objective weights (e.g. ``min_shortfall=0``).
    """
    subset: list[Candidate] = []
    for c_index in chosen:
        c = instance.candidates[c_index]
        kept = c.slots if slots is None else [s for s in c.slots if s in slots]
        subset.append(dataclasses.replace(c, index=len(subset), slots=kept))
    new_weights = instance.weights.model_copy(update=weights) if weights else instance.weights
    # The pool (every pair of the fair) stays with the whole fair: parts are sent to other processes.
    return dataclasses.replace(instance, candidates=subset, weights=new_weights, pool=None), list(chosen)


def pair_value(weights: Weights, interest: int, common_sector: bool, by: str | None, priority: int) -> int:
    """Value of one meeting: (interest overlap + sector bonus + request bonus) x buyer priority."""
    bonus = 0
    if by == "both":
        bonus = weights.request_both
    elif by == "organizer":
        bonus = weights.request_organizer
    elif by in ("buyer", "exhibitor"):
        bonus = weights.request_one_side
    base = min(interest, weights.interest_cap) + (weights.sector_bonus if common_sector else 0) + bonus
    return max(1, base) * priority


def needs_interpreter(buyer_languages: list[str], exhibitor_languages: list[str], own_interpreter: bool) -> str | None:
    """Language of the interpreter a meeting needs, or None.

    Both sides must list a language (an empty list means unknown, assumed fine).
    """
    if own_interpreter or not buyer_languages or not exhibitor_languages:
        return None
    if set(buyer_languages) & set(exhibitor_languages):
        return None
    return buyer_languages[0]


def merge_requests(scenario: Scenario) -> dict[tuple[str, str], tuple[str, str]]:
    """Requests per pair: buyer + exhibitor wishes combine to "both"; must wins over want."""
    merged: dict[tuple[str, str], tuple[str, str]] = {}
    for pair, groups in request_groups(scenario.requests).items():
        by = groups[0].by
        for group in groups[1:]:
            by = combine_sides(by, group.by)
        merged[pair] = (by, "must" if any(g.level == "must" for g in groups) else "want")
    return merged


def requested_meetings(scenario: Scenario) -> dict[tuple[str, str], int]:
    """How many meetings each requested pair asks for, over all its request groups."""
    return {pair: sum(g.meetings for g in groups) for pair, groups in request_groups(scenario.requests).items()}


def interchangeable_copies(instance: Instance) -> list[list[int]]:
    """Runs of a pair's copies that differ only by index and repeat, each in repeat order (runs of two or more).

    Any of their schedules can be relabelled so that the copies that meet are the
    first ones, in time order: the model orders them (model/pairs.py) and hints are
    relabelled that way (MeetingVars.hint_placement).
    """
    runs: dict[tuple, list[Candidate]] = defaultdict(list)
    for c in instance.candidates:
        if c.meetings > 1 and c.pinned_slot is None and c.previous_slot is None:
            key = (c.buyer, c.exhibitor, c.session, c.request_level, c.request_by, c.value, c.location, c.interpreter, tuple(c.slots))
            runs[key].append(c)
    return [[c.index for c in sorted(run, key=lambda c: (c.repeat, c.index))] for run in runs.values() if len(run) > 1]


def build_instance(
    scenario: Scenario,
    candidates_per_meeting: int | None = DEFAULT_CANDIDATES_PER_MEETING,
    candidates_per_exhibitor: int = DEFAULT_CANDIDATES_PER_EXHIBITOR,
    forced_pairs: set[tuple[str, str]] = frozenset(),
    exhibitors_of: Callable[[int], Iterable[int]] | None = None,
) -> Instance:
    """Match buyers with exhibitors and prune to the candidates worth modelling.

    ``candidates_per_meeting=None`` disables pruning (every matching pair is kept).
    ``forced_pairs`` (buyer id, exhibitor id) are candidates whatever their
    interests and are never pruned (e.g. the meetings of a previous schedule).
    ``exhibitors_of(buyer)`` replaces matching by interests with the given
    exhibitor numbers (0-based); requested, pinned and forced pairs are always
    added (``exhibitors_of=lambda b: ()`` makes only those).
    """
    grid = build_slot_grid(scenario)
    weights = scenario.weights

    hall_ids = [h.id for h in scenario.halls]
    hall_index = {h: i for i, h in enumerate(hall_ids)}
    walking = [[0] * len(hall_ids) for _ in hall_ids]
    for walk in scenario.walking_minutes:
        a, b = hall_index[walk.from_], hall_index[walk.to]
        walking[a][b] = walking[b][a] = walk.minutes

    location_ids = [loc.id for loc in scenario.locations]
    location_index = {loc: i for i, loc in enumerate(location_ids)}

    languages = [pool.language for pool in scenario.interpreters]
    capacity = []
    for pool in scenario.interpreters:
        row = [0] * len(grid)
        for s in grid.free_slots(pool.availability):
            row[s] = pool.count
        capacity.append(row)
    language_index = {lang: i for i, lang in enumerate(languages)}

    num_buyers = len(scenario.buyers)
    parties: list[Party] = []
    for i, person in enumerate([*scenario.buyers, *scenario.exhibitors, *scenario.participants]):
        free = grid.free_slots(person.availability)
        cap = len(free) if person.max_meetings is None else min(person.max_meetings, len(free))
        parties.append(
            Party(person.id, i < num_buyers, free, cap, person.max_meetings_per_day, person.min_meetings, person.languages)
        )
    party_index = {p.id: i for i, p in enumerate(parties)}
    free_sets = [set(p.free) for p in parties]

    groups_of = request_groups(scenario.requests)
    blocked = {(b.buyer, b.exhibitor): b.reason for b in scenario.blocked}
    pinned: dict[tuple[str, str], list[int]] = defaultdict(list)
    for p in scenario.pinned:
        pinned[(p.buyer, p.exhibitor)].append(grid.slot_at(p.date, p.start))

    # Exhibitors by offered category, so matching is not a full buyer x exhibitor scan.
    by_category: dict[str, list[int]] = defaultdict(list)
    for e_index, exhibitor in enumerate(scenario.exhibitors):
        for category in exhibitor.offers:
            by_category[category].append(e_index)

    candidates: list[Candidate] = []
    dropped: list[DroppedRequest] = []
    requested_by_buyer: dict[str, list[str]] = defaultdict(list)
    exhibitors_by_id = {e.id: i for i, e in enumerate(scenario.exhibitors)}
    for buyer_id, exhibitor_id in [*groups_of, *pinned, *forced_pairs]:
        if exhibitor_id in exhibitors_by_id:
            requested_by_buyer[buyer_id].append(exhibitor_id)

    session_slots = {name: set(slots_of_session(grid, name)) for name in ("morning", "afternoon")}
    pair_maker = _PairMaker(groups_of, blocked, pinned, session_slots, language_index, capacity, candidates, dropped)

    for b_index, buyer in enumerate(scenario.buyers):
        pool = set()
        if exhibitors_of is not None:
            pool.update(exhibitors_of(b_index))
        else:
            for category in buyer.interests:
                pool.update(by_category.get(category, ()))
        pool.update(exhibitors_by_id[e] for e in requested_by_buyer.get(buyer.id, ()))
        buyer_sectors = set(buyer.sectors)
        for e_index in sorted(pool):
            exhibitor = scenario.exhibitors[e_index]
            interest = sum(w for cat, w in buyer.interests.items() if cat in exhibitor.offers)
            e_party = num_buyers + e_index
            loc_index = location_index[scenario.meeting_location(exhibitor)]
            common_sector = bool(buyer_sectors & set(exhibitor.sectors))
            pair_maker.add(
                (buyer.id, exhibitor.id), b_index, e_party, free_sets[b_index] & free_sets[e_party],
                needs_interpreter(buyer.languages, exhibitor.languages, buyer.own_interpreter),
                lambda by, interest=interest, common_sector=common_sector, priority=buyer.priority: pair_value(
                    weights, interest, common_sector, by, priority
                ),
                loc_index, hall_index[scenario.locations[loc_index].hall],
            )

    if scenario.participants:
        _participant_candidates(scenario, party_index, free_sets, pinned, location_index, hall_index, pair_maker)

    raise_exhibitor_minimums(scenario, parties, {c.exhibitor for c in candidates})

    before = len(candidates)
    if candidates_per_meeting is not None:
        keep = {(parties[c.buyer].id, parties[c.exhibitor].id) for c in candidates} & set(forced_pairs)
        candidates = _prune(candidates, parties, candidates_per_meeting, candidates_per_exhibitor, keep)
    for index, candidate in enumerate(candidates):
        candidate.index = index
    logger.info("candidates: %d matching pairs, %d kept after pruning", before, len(candidates))

    return Instance(
        scenario=scenario,
        grid=grid,
        parties=parties,
        num_buyers=num_buyers,
        location_ids=location_ids,
        location_tables=[loc.tables for loc in scenario.locations],
        location_hall=[hall_index[loc.hall] for loc in scenario.locations],
        hall_ids=hall_ids,
        walking=walking,
        languages=languages,
        interpreter_capacity=capacity,
        candidates=candidates,
        dropped_requests=dropped,
        candidates_before_pruning=before,
        weights=weights,
        party_index=party_index,
        precedences=[
            ((party_index[p.before.buyer], party_index[p.before.exhibitor]), (party_index[p.after.buyer], party_index[p.after.exhibitor]))
            for p in scenario.precedences
        ],
    )


def raise_exhibitor_minimums(scenario: Scenario, parties: list[Party], wanted: set[int]) -> None:
    """Event-wide fairness: every exhibitor someone is interested in (``wanted``) gets the fair's minimum."""
    floor = scenario.fairness.exhibitor_min_meetings
    for party in wanted if floor else ():
        parties[party].min_meetings = max(parties[party].min_meetings, min(floor, parties[party].max_meetings))


def slots_of_session(grid: SlotGrid, name: str) -> list[int]:
    """Slots of the day's first session by time ("morning") or of its later sessions ("afternoon")."""
    out = []
    for day_slots in grid.by_day:
        if not day_slots:
            continue
        first = grid.slots[day_slots[0]].session
        out.extend(s for s in day_slots if (grid.slots[s].session == first) == (name == "morning"))
    return out


def _participant_candidates(scenario, party_index, free_sets, pinned, location_index, hall_index, pair_maker) -> None:
    """Requested or pinned pairs with a kind-neutral participant on at least one side; they meet at shared_location."""
    participant_ids = {p.id for p in scenario.participants}
    people = {p.id: p for p in [*scenario.buyers, *scenario.exhibitors, *scenario.participants]}
    loc_index = location_index[scenario.shared_location]
    hall = hall_index[scenario.locations[loc_index].hall]
    for key in dict.fromkeys([*pair_maker.groups_of, *pinned]):
        a_id, b_id = key
        if a_id not in participant_ids and b_id not in participant_ids:
            continue
        a, b = party_index[a_id], party_index[b_id]
        person_a, person_b = people[a_id], people[b_id]
        priority = getattr(person_a, "priority", 1)
        common_sector = bool(set(person_a.sectors) & set(person_b.sectors))
        pair_maker.add(
            key, a, b, free_sets[a] & free_sets[b],
            needs_interpreter(person_a.languages, person_b.languages, getattr(person_a, "own_interpreter", False)),
            lambda by, common_sector=common_sector, priority=priority: pair_value(scenario.weights, 0, common_sector, by, priority),
            loc_index, hall,
        )


@dataclass
class _PairMaker:
    """Turns one pair that may meet into its candidates: one per requested meeting (copies), pins assigned."""

    groups_of: dict[tuple[str, str], list[RequestGroup]]
    blocked: dict[tuple[str, str], str]
    pinned: dict[tuple[str, str], list[int]]
    session_slots: dict[str, set[int]]
    language_index: dict[str, int]
    capacity: list[list[int]]
    candidates: list[Candidate]
    dropped: list[DroppedRequest]

    def add(
        self, key: tuple[str, str], a: int, b: int, both_free: set[int], language: str | None,
        value_of: Callable[[str | None], int], location: int, hall: int,
    ) -> None:
        groups = self.groups_of.get(key)
        if key in self.blocked:
            for group in groups or ():
                reason = f"{key[0]} and {key[1]} are a blocked pair" + (f" ({self.blocked[key]})" if self.blocked[key] else "")
                self.dropped.append(DroppedRequest(key[0], key[1], group.level, group.by, reason, group.meetings))
            return
        if groups is None:  # matching, pinned or forced only: one meeting
            groups = [RequestGroup(None, 1, None, None)]
        copies: list[Candidate] = []
        for group in groups:
            common = both_free if group.session is None else both_free & self.session_slots[group.session]
            slots, lang_index = _staffed(common, language, self.language_index, self.capacity)
            if not slots:
                if group.level is not None:
                    reason = _no_slot_reason(key, language, group.session, bool(common))
                    self.dropped.append(DroppedRequest(key[0], key[1], group.level, group.by, reason, group.meetings))
                continue
            for repeat in range(group.meetings):
                copies.append(
                    Candidate(
                        index=-1, buyer=a, exhibitor=b, value=value_of(group.by), location=location, hall=hall,
                        slots=sorted(slots), interpreter=lang_index, request_level=group.level, request_by=group.by,
                        repeat=repeat, meetings=group.meetings, session=group.session,
                    )
                )
        # Each pin takes a copy that may meet then (validation allows no more pins than meetings).
        for slot in sorted(s for s in self.pinned.get(key, ()) if s is not None):
            free = [c for c in copies if c.pinned_slot is None]
            if free:
                taker = next((c for c in free if slot in c.slots), free[0])
                taker.pinned_slot = slot
        self.candidates.extend(copies)


def _staffed(
    common: set[int], language: str | None, language_index: dict[str, int], capacity: list[list[int]]
) -> tuple[set[int], int | None]:
    """The common free slots in which a needed interpreter is on duty, and that language's index."""
    if language is None:
        return common, None
    lang_index = language_index.get(language)
    if lang_index is None:
        return set(), None
    return {s for s in common if capacity[lang_index][s] > 0}, lang_index


def _no_slot_reason(pair: tuple[str, str], language: str | None, session: str | None, both_free: bool) -> str:
    """Why a requested pair has no usable slot at all (``language`` set = an interpreter is needed)."""
    if language is not None and both_free:
        return f"the meeting needs an interpreter for {language!r} and none is on duty while both are free"
    return f"{pair[0]} and {pair[1]} are never available at the same time" + (f" in the {session}" if session else "")


def prune_instance(
    instance: Instance,
    candidates_per_meeting: int = DEFAULT_CANDIDATES_PER_MEETING,
    candidates_per_exhibitor: int = DEFAULT_CANDIDATES_PER_EXHIBITOR,
) -> Instance:
    """``instance`` with only the candidates ``build_instance`` would have kept (same pruning rule).

    Lets a solve match every pair once and still hand a small model the pruned set.
    """
    kept = _prune(instance.candidates, instance.parties, candidates_per_meeting, candidates_per_exhibitor, set())
    candidates = [dataclasses.replace(c, index=i) for i, c in enumerate(kept)]
    logger.info("candidates: %d matching pairs, %d kept after pruning", instance.candidates_before_pruning, len(candidates))
    return dataclasses.replace(instance, candidates=candidates)


def _prune_order(parties: list[Party]) -> Callable[[Candidate], tuple]:
    """Best first: value, then more usable slots, then ids (so pruning is deterministic)."""
    return lambda c: (-c.value, -len(c.slots), parties[c.buyer].id, parties[c.exhibitor].id)


def _prune(
    candidates: list[Candidate], parties: list[Party], per_meeting: int, per_exhibitor: int, forced: set[tuple[str, str]]
) -> list[Candidate]:
    """Keep requests, pins, forced pairs, each buyer's best ``per_meeting x capacity`` pairs and each exhibitor's best few.

    Ties are broken by ids so that pruning is deterministic.
    """
    keep = {
        id(c)
        for c in candidates
        if c.request_level is not None
        or c.pinned_slot is not None
        or (parties[c.buyer].id, parties[c.exhibitor].id) in forced
    }
    by_party: dict[int, list[Candidate]] = defaultdict(list)
    for c in candidates:
        by_party[c.buyer].append(c)
        by_party[c.exhibitor].append(c)
    for party_index, own in by_party.items():
        party = parties[party_index]
        limit = per_meeting * party.max_meetings if party.is_buyer else per_exhibitor
        limit = max(limit, 1)
        if len(own) <= limit:
            keep.update(id(c) for c in own)
            continue
        own.sort(key=_prune_order(parties))
        keep.update(id(c) for c in own[:limit])
    return [c for c in candidates if id(c) in keep]

