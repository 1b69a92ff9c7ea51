"""Crafted B2BSP variants: the recipes of Bofill et al. (JAIR 74, 2022, Section 6), applied to any original.

The paper derives harder cases from each real event; its variant files name the recipe:

- ``forbNNNN``: the original forbidden slots replaced by random ones, each (participant, slot)
  cell forbidden with probability NNNN / 10,000 (``forb0003`` = 0.3%, ``forb0007`` = 0.7%;
  the published forumt-14.forb0003 has 1 of 600 cells, forum-13crafc.forb0007 10 of 1,470);
- ``fixedNNN-Forb``: the original forbidden slots kept and ⌊NNN% × meetings⌋ meetings fixed to a
  slot (the published fixed020 and fixed040 files fix 30 of 154 and 94 of 236);
- ``precNN``: random precedences between meetings that share a participant (every published
  precedence does).

What the paper does not say, chosen here and documented in docs/brokerage.md: a fixed meeting
gets a random slot allowed by its session and both participants' forbidden slots, never one
where one of its participants already has a fixed meeting nor where the tables are all taken by
fixed meetings (so a fixed variant is not infeasible for a trivial reason; it may still be, like
the published tic-14crafd.fixed040-Forb); a precedence is drawn, with probability NN%, for each
pair of consecutive meetings of a participant in a random order of its meetings, and dropped
when it would close a cycle. Same original, recipe and seed → the same variant.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass

RECIPES = ("forb0003", "forb0007", "fixed020-Forb", "fixed040-Forb", "prec15", "prec25")


@dataclass(frozen=True)
class Recipe:
    kind: str  # "forb", "fixed" or "prec"
    density: float  # probability per cell (forb), share of meetings (fixed), probability per pair (prec)


def parse_recipe(name: str) -> Recipe:
    """``forb0003`` → (forb, 0.003); ``fixed040-Forb`` → (fixed, 0.40); ``prec25`` → (prec, 0.25)."""
    match = re.fullmatch(r"forb(\d{4})|fixed(\d{3})-Forb|prec(\d{2})", name)
    if match is None:
        raise ValueError(f"unknown B2BSP variant recipe {name!r}; expected forbNNNN, fixedNNN-Forb or precNN, e.g. {', '.join(RECIPES)}")
    forb, fixed, prec = match.groups()
    if forb is not None:
        return Recipe("forb", int(forb) / 1000)
    if fixed is not None:
        return Recipe("fixed", int(fixed) / 100)
    return Recipe("prec", int(prec) / 100)


def make_variant(data: dict, recipe: str, seed: int) -> dict:
    """A copy of parsed .dzn ``data`` (``b2bsp.parse_dzn``) with the recipe applied."""
    how = parse_recipe(recipe)
    rng = random.Random(f"{recipe}:{seed}")  # a string seed: stable across Python versions
    out = {key: (list(value) if isinstance(value, list) else value) for key, value in data.items()}
    participants, slots, meetings = data["nBusiness"], data["nTotalSlots"], data["nMeetings"]
    if how.kind == "forb":
        out["forbidden"] = [
            [0] + [t for t in range(1, slots + 1) if rng.random() < how.density] for _ in range(participants)
        ]
    elif how.kind == "fixed":
        out["fixed"] = _fixed(data, int(how.density * meetings), rng)
    else:
        out["precedences"] = _precedences(data, how.density, rng)
    return out


def _allowed_slots(data: dict, meeting: int) -> list[int]:
    """1-based slots where the meeting may take place: its session, neither participant forbidden."""
    a, b, session = data["requested"][meeting]
    morning, slots = data["nMorningSlots"], data["nTotalSlots"]
    span = range(1, morning + 1) if session == 1 else range(morning + 1, slots + 1) if session == 2 else range(1, slots + 1)
    forbidden = data.get("forbidden") or [[0]] * data["nBusiness"]
    return [t for t in span if t not in forbidden[a - 1] and t not in forbidden[b - 1]]


def _fixed(data: dict, count: int, rng: random.Random) -> list[int]:
    meetings = data["nMeetings"]
    fixed = [0] * meetings
    busy: set[tuple[int, int]] = set()  # (participant, slot) of fixed meetings
    used: dict[int, int] = defaultdict(int)  # slot -> fixed meetings
    chosen = 0
    for m in rng.sample(range(meetings), meetings):
        if chosen == count:
            break
        a, b, _ = data["requested"][m]
        options = [t for t in _allowed_slots(data, m) if (a, t) not in busy and (b, t) not in busy and used[t] < data["nTables"]]
        if not options:
            continue
        t = rng.choice(options)
        fixed[m] = t
        busy.update(((a, t), (b, t)))
        used[t] += 1
        chosen += 1
    return fixed


def _precedences(data: dict, density: float, rng: random.Random) -> list[list[int]]:
    """Per meeting (0-based), the 1-based meetings that must come before it (the .dzn form)."""
    own: dict[int, list[int]] = defaultdict(list)
    for m, (a, b, _) in enumerate(data["requested"]):
        own[a].append(m)
        own[b].append(m)
    before: list[set[int]] = [set() for _ in range(data["nMeetings"])]
    after: dict[int, set[int]] = defaultdict(set)
    for participant in sorted(own):
        order = rng.sample(own[participant], len(own[participant]))
        for first, then in zip(order, order[1:]):
            if rng.random() < density and not _reaches(after, then, first):
                before[then].add(first)
                after[first].add(then)
    return [sorted(m + 1 for m in earlier) for earlier in before]


def _reaches(after: dict[int, set[int]], start: int, goal: int) -> bool:
    """``goal`` comes after ``start`` through the precedences so far (adding goal → start would close a cycle)."""
    seen, stack = {start}, [start]
    while stack:
        for nxt in after[stack.pop()]:
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def to_dzn(data: dict) -> str:
    """MiniZinc data text in the layout of the published files (``b2bsp.parse_dzn`` reads it back)."""
    lines = [f"{key} = {data[key]};" for key in ("nBusiness", "nMeetings", "nTables", "nTotalSlots", "nMorningSlots")]
    rows = "".join(f"|{a}, {b},{s}, \n" for a, b, s in data["requested"])
    lines.append(f"\nrequested = [{rows}|];")
    for key in ("meetingsxBusiness", "forbidden", "precedences"):
        if key in data:
            lines.append(f"{key} = [" + ",\n".join("{" + ",".join(str(x) for x in s) + "}" for s in data[key]) + "];")
    for key in ("nMeetingsBusiness", "fixed"):
        if key in data:
            lines.append(f"{key} = [" + ",".join(str(x) for x in data[key]) + "];")
    return "\n".join(lines) + "\n"
