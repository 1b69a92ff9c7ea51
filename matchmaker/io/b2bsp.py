"""Importer for B2BSP instances (MiniZinc .dzn data of Bofill et al., JAIR 74 (2022) 263-301).

A symmetric brokerage event: participants 1..P, every requested meeting is a
must, all meetings take place at one shared pool of ``nTables`` tables, one day
of ``nTotalSlots`` slots, the first ``nMorningSlots`` of which are the morning
session (the rest the afternoon session; the two count as adjacent for breaks).
Quality is the number of breaks, with the hard fairness rule
max breaks - min breaks <= d. Clock times are synthetic. A pair listed in several
rows (either way round) is one request with ``meetings`` = its rows.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ..errors import InputError, Problem
from ..spec.scenario import Scenario, hhmm, parse_scenario

DATE = "2022-01-10"  # synthetic: the .dzn files carry no dates or clock times
SLOT_MINUTES = 20
MORNING_START = 8 * 60
LUNCH_MINUTES = 60
TABLES_ID = "TABLES"
DEFAULT_FAIRNESS = 2
SESSION_CODES = {1: "morning", 2: "afternoon", 3: None}

logger = logging.getLogger(__name__)


def participant_id(number: int) -> str:
    return f"P{number}"


def parse_dzn(text: str, file: str | None = None) -> dict:
    """The assignments of a .dzn file: ints, [| rows |] matrices, arrays of ints and arrays of sets."""
    text = re.sub(r"%[^\n]*", "", text)
    out: dict = {}
    for match in re.finditer(r"(\w+)\s*=\s*(.*?);", text, re.S):
        name, raw = match.group(1), match.group(2).strip()
        try:
            if raw.startswith("[|"):
                rows = [r for r in raw[2:-1].split("|") if r.strip()]
                out[name] = [[int(x) for x in re.split(r"[,\s]+", r.strip()) if x] for r in rows]
            elif raw.startswith("[") and "{" in raw:
                out[name] = [[int(x) for x in re.split(r"[,\s]+", s.strip()) if x] for s in re.findall(r"\{([^}]*)\}", raw)]
            elif raw.startswith("["):
                out[name] = [int(x) for x in re.split(r"[,\s]+", raw[1:-1].strip()) if x]
            else:
                out[name] = int(raw)
        except ValueError:
            raise InputError([Problem(name, f"cannot read the value {raw[:40]!r}")], file) from None
    return out


def _windows(allowed: list[int], sessions: list[tuple[int, int, int]]) -> list[dict]:
    """Availability windows covering exactly the allowed slots (1-based), split at session ends."""
    windows: list[dict] = []
    for first, last, start in sessions:
        run_start = None
        for slot in range(first, last + 2):
            ok = slot <= last and slot in allowed
            if ok and run_start is None:
                run_start = slot
            elif not ok and run_start is not None:
                begin = start + (run_start - first) * SLOT_MINUTES
                end = start + (slot - first) * SLOT_MINUTES
                windows.append({"date": DATE, "start": hhmm(begin), "end": hhmm(end)})
                run_start = None
    return windows


def _pair_sides(requested: list[list[int]]) -> list[tuple[int, int]]:
    """Each row's two participants, in the order of the pair's first row (the scenario lists a pair one way)."""
    first: dict[frozenset[int], tuple[int, int]] = {}
    return [first.setdefault(frozenset((a, b)), (a, b)) for a, b, _code in requested]


def _repeat_requests(requested: list[list[int]], side_of: list[tuple[int, int]], name: str) -> list[dict]:
    """One must request per pair with ``meetings`` = its rows, in the strictest session its rows allow.

    Rows restricted to different sessions (one morning-only, one afternoon-only) stay
    separate requests, one per session; "either" rows of such a pair join its morning
    request. Either rows merged into a session are stricter than the file (logged).
    """
    codes: dict[tuple[int, int], list[int]] = {}
    for sides, (_a, _b, code) in zip(side_of, requested):
        codes.setdefault(sides, []).append(code)
    requests = []
    for (a, b), own in codes.items():
        morning, afternoon, either = own.count(1), own.count(2), own.count(3)
        if morning and afternoon:
            parts = [("morning", morning + either), ("afternoon", afternoon)]
        elif morning or afternoon:
            parts = [("morning" if morning else "afternoon", len(own))]
        else:
            parts = [(None, either)]
        if either and (morning or afternoon):
            logger.warning(
                "%s: P%d-P%d: %d row(s) for either session held in the %s with the pair's other meetings",
                name, a, b, either, parts[0][0],
            )
        for session, meetings in parts:
            request: dict = {"buyer": participant_id(a), "exhibitor": participant_id(b), "by": "organizer", "level": "must"}
            if session is not None:
                request["session"] = session
            if meetings > 1:
                request["meetings"] = meetings
            requests.append(request)
    return requests


def _precedences(rows: list[list[int]], side_of: list[tuple[int, int]], count: int, file: str | None) -> list[dict]:
    """The file's precedences between pairs; a repeated pair's rows must agree (the rule binds all its meetings)."""
    rules: dict[tuple[tuple[int, int], tuple[int, int]], None] = {}
    per_row: list[set] = [set() for _ in range(count)]
    for index, earlier in enumerate(rows):
        for other in earlier:
            if not 1 <= other <= count or index >= count:
                raise InputError([Problem(f"precedences[{index + 1}]", f"meeting {other} is not within 1..{count}")], file)
            before, after = side_of[other - 1], side_of[index]
            if before == after:
                continue  # two meetings of one pair: they are interchangeable, any order holds
            rules[(before, after)] = None
            per_row[index].add(("after", before))
            per_row[other - 1].add(("before", after))
    seen: dict[tuple[int, int], int] = {}
    for index, sides in enumerate(side_of):
        first = seen.setdefault(sides, index)
        if per_row[index] != per_row[first]:
            raise InputError(
                [
                    Problem(
                        f"precedences[{index + 1}]",
                        f"meetings {first + 1} and {index + 1} are one pair (P{sides[0]}-P{sides[1]}) with different "
                        "precedences; a precedence binds every meeting of a pair",
                    )
                ],
                file,
            )
    return [
        {
            "before": {"buyer": participant_id(before[0]), "exhibitor": participant_id(before[1])},
            "after": {"buyer": participant_id(after[0]), "exhibitor": participant_id(after[1])},
        }
        for before, after in rules
    ]


def b2bsp_scenario(data: dict, name: str, fairness: int | None = DEFAULT_FAIRNESS, file: str | None = None) -> Scenario:
    """Build the scenario of one parsed .dzn instance (see the module docstring)."""
    problems = [Problem(k, "missing") for k in ("nBusiness", "nMeetings", "nTables", "nTotalSlots", "requested") if k not in data]
    if problems:
        raise InputError(problems, file)
    people, count, slots = data["nBusiness"], data["nMeetings"], data["nTotalSlots"]
    morning = data.get("nMorningSlots", slots)
    requested = data["requested"]
    if len(requested) != count:
        problems.append(Problem("requested", f"{len(requested)} rows but nMeetings = {count}"))
    if not 0 < morning <= slots:
        problems.append(Problem("nMorningSlots", f"{morning} is not within 1..nTotalSlots ({slots})"))
    for index, row in enumerate(requested):
        if len(row) != 3 or not (1 <= row[0] <= people and 1 <= row[1] <= people) or row[2] not in SESSION_CODES or row[0] == row[1]:
            problems.append(Problem(f"requested[{index + 1}]", f"expected 'a, b, s' with participants in 1..{people} and s in 1..3, got {row}"))
    if problems:
        raise InputError(problems, file)

    sessions = [(1, morning, MORNING_START)]
    afternoon_start = MORNING_START + morning * SLOT_MINUTES + LUNCH_MINUTES
    if slots > morning:
        sessions.append((morning + 1, slots, afternoon_start))
    if afternoon_start + (slots - morning) * SLOT_MINUTES > 23 * 60 + 59:
        raise InputError([Problem("nTotalSlots", f"{slots} slots do not fit in one day of {SLOT_MINUTES}-minute slots")], file)

    def slot_start(slot: int) -> str:
        for first, last, start in sessions:
            if first <= slot <= last:
                return hhmm(start + (slot - first) * SLOT_MINUTES)
        raise ValueError(slot)

    forbidden = data.get("forbidden", [[] for _ in range(people)])
    participants = []
    for number in range(1, people + 1):
        banned = {s for s in forbidden[number - 1] if s != 0} if number - 1 < len(forbidden) else set()
        spec: dict = {"id": participant_id(number), "name": f"Company {number}"}
        if banned:
            spec["availability"] = _windows([s for s in range(1, slots + 1) if s not in banned], sessions)
        participants.append(spec)

    # A pair may be listed in several rows ("a, b" and "b, a" too): each row is one of its meetings.
    side_of = _pair_sides(requested)
    requests = _repeat_requests(requested, side_of, name)
    pinned = []
    for index, slot in enumerate(data.get("fixed", [])):
        if slot:
            if not 1 <= slot <= slots or index >= count:
                raise InputError([Problem(f"fixed[{index + 1}]", f"slot {slot} is not within 1..{slots}")], file)
            a, b = side_of[index]
            pinned.append({"buyer": participant_id(a), "exhibitor": participant_id(b), "date": DATE, "start": slot_start(slot)})
    precedences = _precedences(data.get("precedences", []), side_of, count, file)
    scenario = {
        "name": name,
        "description": (
            "B2BSP instance (Bofill et al., JAIR 74 (2022) 263-301) converted by matchmaker import-b2bsp; "
            "clock times are synthetic: slot 1 starts at 08:00"
        ),
        "synthetic": True,
        "timezone": "UTC",
        "slot_minutes": SLOT_MINUTES,
        "changeover_minutes": 0,
        "days": [
            {
                "date": DATE,
                "sessions": [
                    {"start": hhmm(start), "end": hhmm(start + (last - first + 1) * SLOT_MINUTES)} for first, last, start in sessions
                ],
            }
        ],
        "halls": [{"id": "H", "name": "Brokerage hall"}],
        "locations": [{"id": TABLES_ID, "hall": "H", "tables": data["nTables"], "name": "Meeting tables"}],
        "shared_location": TABLES_ID,
        "participants": participants,
        "requests": requests,
        "pinned": pinned,
        "precedences": precedences,
        "objective": "breaks",
        "fairness": {"max_break_spread": fairness},
    }
    return parse_scenario(scenario, file)


def load_b2bsp(path: str | Path, fairness: int | None = DEFAULT_FAIRNESS, variant: tuple[str, int] | None = None) -> Scenario:
    """Read a .dzn file and convert it; the scenario is named after the file (``forum-13.original``).

    ``variant`` = (recipe, seed): a crafted variant of it instead (``io/b2bsp_variants.py``),
    named ``forum-13.prec15-s1``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError([Problem("", f"cannot read file: {error.strerror or error}")], str(path)) from None
    name = path.name.removesuffix(".dzn")
    data = parse_dzn(text, str(path))
    if variant is not None:
        from .b2bsp_variants import make_variant

        recipe, seed = variant
        data = make_variant(data, recipe, seed)
        name = f"{name.removesuffix('.original')}.{recipe}-s{seed}"
    return b2bsp_scenario(data, name, fairness, str(path))
