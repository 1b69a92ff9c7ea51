"""Every matching pair of a fair as numpy arrays: the same pairs as ``candidates.py``, without an object each.

Fairs with millions of matching pairs (xl: 4.85 million of 10 million
combinations) cannot hold a ``Candidate`` per pair, and a Python matching pass
over them takes about 90 s. Here the pairs are rows of integer arrays, made by
matrix products per block of buyers in a few seconds, so column generation
(``pricing.py``) can price all of them many times within a solve. A row turns
into a ``Candidate`` only when a model needs it. ``build_instance`` stays the
reference: ``tests/test_pricing.py`` checks that both make the same pairs.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from ..spec.scenario import Scenario
from .candidates import Candidate, Instance

logger = logging.getLogger(__name__)

BUYERS_PER_BLOCK = 256  # buyers matched per matrix product (a block x exhibitors dense matrix)
WORD = 64  # slots per mask word


@dataclass
class PairTable:
    """Pairs as rows: parties, value, location, interpreter language, and usable slots as bitmasks.

    ``masks[r, d, w]`` bit i is slot ``grid.by_day[d][WORD * w + i]``: a slot both
    sides are free in (and, when the meeting needs one, an interpreter is on duty).
    """

    buyer: np.ndarray  # int64 party index (the first side of the pair)
    exhibitor: np.ndarray  # int64 party index
    value: np.ndarray  # int64 meeting value
    location: np.ndarray  # int64 location index
    interpreter: np.ndarray  # int64 language index, -1 when none is needed
    masks: np.ndarray  # uint64, rows x days x words

    def __len__(self) -> int:
        return int(self.buyer.size)

    def slot_counts(self) -> np.ndarray:
        """Usable slots per row."""
        return np.bitwise_count(self.masks).sum(axis=(1, 2), dtype=np.int64)

    def on_day(self, day: int) -> np.ndarray:
        """Rows with a usable slot on ``day``."""
        return np.any(self.masks[:, day, :] != 0, axis=1)

    def keys(self, parties: int) -> np.ndarray:
        """One integer per row naming its pair, for lookups."""
        return self.buyer * parties + self.exhibitor

    def candidates(self, instance: Instance, rows: np.ndarray, first_index: int) -> list[Candidate]:
        """Rows as candidates of ``instance`` (indices from ``first_index``)."""
        by_day = instance.grid.by_day
        hall = instance.location_hall
        out = []
        for offset, r in enumerate(rows.tolist()):
            slots = []
            for d, words in enumerate(self.masks[r].tolist()):
                for w, word in enumerate(words):
                    while word:
                        low = word & -word
                        slots.append(by_day[d][WORD * w + low.bit_length() - 1])
                        word ^= low
            interpreter = int(self.interpreter[r])
            location = int(self.location[r])
            out.append(
                Candidate(
                    index=first_index + offset, buyer=int(self.buyer[r]), exhibitor=int(self.exhibitor[r]),
                    value=int(self.value[r]), location=location, hall=hall[location], slots=sorted(slots),
                    interpreter=None if interpreter < 0 else interpreter,
                )
            )
        return out

    @classmethod
    def from_candidates(cls, instance: Instance, candidates: list[Candidate]) -> PairTable:
        """The table of some candidates (their own slots, pins aside), e.g. requests next to the matched rows."""
        masks = _slot_masks(instance, [c.slots for c in candidates])

        def column(get) -> np.ndarray:
            return np.array([get(c) for c in candidates], dtype=np.int64)

        return cls(
            column(lambda c: c.buyer), column(lambda c: c.exhibitor), column(lambda c: c.value),
            column(lambda c: c.location), column(lambda c: -1 if c.interpreter is None else c.interpreter), masks,
        )

    @classmethod
    def concat(cls, *tables: PairTable) -> PairTable:
        return cls(*(np.concatenate([getattr(t, f.name) for t in tables]) for f in dataclasses.fields(cls)))


def _shape(instance: Instance) -> tuple[int, int]:
    by_day = instance.grid.by_day
    return len(by_day), max(1, -(-max((len(d) for d in by_day), default=0) // WORD))


def _slot_masks(instance: Instance, slots_of) -> np.ndarray:
    """items x days x words masks of the slot lists ``slots_of`` (one list per item)."""
    days, words = _shape(instance)
    position = {}
    for d, day_slots in enumerate(instance.grid.by_day):
        for i, s in enumerate(day_slots):
            position[s] = (d, i // WORD, 1 << (i % WORD))
    masks = np.zeros((len(slots_of), days, words), dtype=np.uint64)
    for item, slots in enumerate(slots_of):
        for s in slots:
            d, w, bit = position[s]
            masks[item, d, w] |= np.uint64(bit)
    return masks


def match_pairs(scenario: Scenario, instance: Instance, excluded: set[tuple[str, str]]) -> PairTable:
    """Every buyer-exhibitor pair matching by interests, except ``excluded`` ones, as ``build_instance`` makes them.

    ``instance`` supplies the numbering (parties, locations, languages, slot grid);
    its candidates are not used. Requested, pinned, blocked and forced pairs
    belong in ``excluded``: their value and slots depend on the request, so they
    come from ``build_instance`` itself.
    """
    buyers, exhibitors = scenario.buyers, scenario.exhibitors
    num_buyers = len(buyers)
    weights = scenario.weights
    categories = sorted({c for b in buyers for c in b.interests} | {c for e in exhibitors for c in e.offers})
    category = {c: i for i, c in enumerate(categories)}
    sectors = sorted({s for p in [*buyers, *exhibitors] for s in p.sectors})
    sector = {s: i for i, s in enumerate(sectors)}
    languages = sorted({lang for p in [*buyers, *exhibitors] for lang in p.languages})
    language = {lang: i for i, lang in enumerate(languages)}

    def incidence(rows: list, items, index: dict, weights_of=None) -> np.ndarray:
        matrix = np.zeros((len(rows), max(1, len(index))), dtype=np.int64)
        for r, row in enumerate(rows):
            for item in items(row):
                matrix[r, index[item]] = 1 if weights_of is None else weights_of(row, item)
        return matrix

    interest_weights = incidence(buyers, lambda b: b.interests, category, lambda b, c: b.interests[c])
    offers = incidence(exhibitors, lambda e: e.offers, category).T
    buyer_sectors = incidence(buyers, lambda b: b.sectors, sector)
    exhibitor_sectors = incidence(exhibitors, lambda e: e.sectors, sector).T
    buyer_languages = incidence(buyers, lambda b: b.languages, language)
    exhibitor_languages = incidence(exhibitors, lambda e: e.languages, language).T
    priority = np.array([b.priority for b in buyers], dtype=np.int64)
    own_interpreter = np.array([b.own_interpreter for b in buyers])
    # The interpreter a buyer would need: its first language's pool (-1 none in pools: no slot), -2 no languages.
    pools = {lang: i for i, lang in enumerate(instance.languages)}
    needed_pool = np.array([pools.get(b.languages[0], -1) if b.languages else -2 for b in buyers], dtype=np.int64)
    exhibitor_speaks = exhibitor_languages.sum(axis=0) > 0

    free = _slot_masks(instance, [p.free for p in instance.parties[: num_buyers + len(exhibitors)]])
    staffed = _slot_masks(instance, [[s for s, n in enumerate(row) if n > 0] for row in instance.interpreter_capacity])
    location_index = {loc: i for i, loc in enumerate(instance.location_ids)}
    location = np.array([location_index[scenario.meeting_location(e)] for e in exhibitors], dtype=np.int64)
    excluded_keys = np.array(
        sorted(
            instance.party_index[b] * len(instance.parties) + instance.party_index[e]
            for b, e in excluded
            if b in instance.party_index and e in instance.party_index
        ),
        dtype=np.int64,
    )

    parts = [PairTable.from_candidates(instance, [])]
    for first in range(0, num_buyers, BUYERS_PER_BLOCK):
        block = slice(first, min(num_buyers, first + BUYERS_PER_BLOCK))
        matching = (np.minimum(interest_weights[block], 1) @ offers) > 0
        b_local, e_index = np.nonzero(matching)
        b_index = b_local + first
        interest = (interest_weights[block] @ offers)[b_local, e_index]
        common_sector = (buyer_sectors[block] @ exhibitor_sectors)[b_local, e_index] > 0
        base = np.minimum(interest, weights.interest_cap) + np.where(common_sector, weights.sector_bonus, 0)
        value = np.maximum(1, base) * priority[b_index]
        # needs_interpreter: both sides list languages, none in common, and no own interpreter.
        share = (buyer_languages[block] @ exhibitor_languages)[b_local, e_index] > 0
        needs = (needed_pool[b_index] != -2) & exhibitor_speaks[e_index] & ~share & ~own_interpreter[b_index]
        interpreter = np.where(needs, needed_pool[b_index], -1)
        masks = free[b_index] & free[num_buyers + e_index]
        staffed_rows = interpreter >= 0
        masks[staffed_rows] &= staffed[interpreter[staffed_rows]]
        masks[needs & (interpreter < 0)] = 0  # the language has no interpreter pool: never staffed
        keys = b_index * len(instance.parties) + num_buyers + e_index
        keep = np.any(masks != 0, axis=(1, 2)) & ~np.isin(keys, excluded_keys)
        parts.append(
            PairTable(
                b_index[keep].astype(np.int64), (num_buyers + e_index[keep]).astype(np.int64), value[keep].astype(np.int64),
                location[e_index[keep]], interpreter[keep], masks[keep],
            )
        )
    table = PairTable.concat(*parts)
    logger.info("pair table: %d matching pairs (%.0f MB)", len(table), sum(getattr(table, f.name).nbytes for f in dataclasses.fields(PairTable)) / 1e6)
    return table
