"""Scenario file: the pydantic boundary model, cross-reference validation and loading.

Everything that comes from a user's file is checked here, once. Problems are
reported with the JSON path they concern (``buyers[17].availability[0].end``)
so that the CLI can print one line per problem.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import Problem, ScenarioError

logger = logging.getLogger(__name__)

HHMM = Annotated[
    str,
    Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Local time, 24-hour HH:MM", examples=["09:30"]),
]
Id = Annotated[str, Field(min_length=1, max_length=100)]
Weight = Annotated[int, Field(ge=1, le=5)]
MAX_REPEAT_MEETINGS = 20  # a request's `meetings`: more would be a typo, not a follow-up


def minutes(hhmm: str) -> int:
    """Minutes after midnight of an ``HH:MM`` string."""
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def hhmm(total_minutes: int) -> str:
    """``HH:MM`` of minutes after midnight."""
    return f"{total_minutes // 60:02d}:{total_minutes % 60:02d}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Session(_Strict):
    """A block of back-to-back meeting slots within one day."""

    start: HHMM
    end: HHMM


class Day(_Strict):
    """One fair day and its meeting sessions."""

    date: date
    sessions: list[Session] = Field(min_length=1)


class Window(_Strict):
    """A time window on one day in which a participant (or interpreter pool) is available."""

    date: date
    start: HHMM
    end: HHMM


class Hall(_Strict):
    id: Id
    name: str | None = None


class Walk(_Strict):
    """Walking time between two halls (symmetric)."""

    from_: Id = Field(alias="from")
    to: Id
    minutes: int = Field(ge=0, le=600)


class Location(_Strict):
    """A booth or shared meeting area; ``tables`` meetings can run there at once."""

    id: Id
    hall: Id
    tables: int = Field(default=1, ge=1, le=1000)
    name: str | None = None


class _Participant(_Strict):
    id: Id
    name: str = Field(min_length=1)
    sectors: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list, description="Spoken languages, first = preferred")
    availability: list[Window] | None = Field(
        default=None, description="Windows when the participant can meet; absent = the whole fair"
    )
    max_meetings: int | None = Field(default=None, ge=0)
    max_meetings_per_day: int | None = Field(default=None, ge=0)
    min_meetings: int = Field(default=0, ge=0)


class Exhibitor(_Participant):
    location: Id | None = Field(default=None, description="Booth id; null = meets at shared_location")
    offers: list[str] = Field(default_factory=list, description="Product categories offered")
    country: str | None = None


class Buyer(_Participant):
    country: str
    interests: dict[str, Weight] = Field(default_factory=dict, description="Product category -> weight 1-5")
    priority: int = Field(default=3, ge=1, le=5)
    own_interpreter: bool = False


class Participant(_Participant):
    """A kind-neutral company of a symmetric brokerage event: it may meet anyone, at `shared_location`."""


class Request(_Strict):
    """A wish that a buyer and an exhibitor (or two participants: the two sides) meet."""

    buyer: Id
    exhibitor: Id
    by: Literal["buyer", "exhibitor", "both", "organizer"] = "buyer"
    level: Literal["must", "want"] = "want"
    session: Literal["morning", "afternoon"] | None = Field(
        default=None, description="Only in the first session of a day (morning) or a later one (afternoon)"
    )
    meetings: int = Field(
        default=1, ge=1, le=MAX_REPEAT_MEETINGS,
        description="How many times the pair should meet, each in its own slot (a follow-up, another team member)",
    )


class MeetingRef(_Strict):
    """A meeting named by its two sides, as in `requests`."""

    buyer: Id
    exhibitor: Id


class Precedence(_Strict):
    """Meeting `before` ends before meeting `after` starts (when both take place)."""

    before: MeetingRef
    after: MeetingRef


class BlockedPair(_Strict):
    """A buyer and exhibitor who must never meet (competitors, met before)."""

    buyer: Id
    exhibitor: Id
    reason: str = ""


class InterpreterPool(_Strict):
    """Interpreters of one language; at most ``count`` interpreted meetings run at once."""

    language: str = Field(min_length=1)
    count: int = Field(ge=0)
    availability: list[Window] | None = None


class Pinned(_Strict):
    """A meeting that must appear exactly as given."""

    buyer: Id
    exhibitor: Id
    date: date
    start: HHMM


class Weights(_Strict):
    """Objective weights (small integers); see docs/model.md."""

    interest_cap: int = Field(default=10, ge=1, le=100, description="Cap on the summed interest weights of a pair")
    sector_bonus: int = Field(default=2, ge=0, le=100)
    request_one_side: int = Field(default=10, ge=0, le=100, description="Bonus for a want/must asked by one side")
    request_both: int = Field(default=20, ge=0, le=100, description="Bonus when buyer and exhibitor both asked")
    request_organizer: int = Field(default=15, ge=0, le=100)
    min_shortfall: int = Field(
        default=200, ge=0, le=10000, description="Penalty per meeting missing below a participant's min_meetings"
    )
    idle_gap: int = Field(default=1, ge=0, le=100, description="Penalty per idle gap between meetings in a day")
    change: int = Field(
        default=40, ge=0, le=10000, description="Re-planning (minimal policy): cost of moving or cancelling a published meeting"
    )

    def value_scale(self) -> int:
        """Factor on meeting value and shortfall in the objective.

        Dropping one meeting removes at most two idle gaps (one per side), so with
        every meeting worth more than 2 x idle_gap, compactness never costs a meeting.
        """
        return 2 * self.idle_gap + 1


class Fairness(_Strict):
    """Event-wide fairness rules (soft, weighted like min_meetings)."""

    exhibitor_min_meetings: int = Field(
        default=0,
        ge=0,
        le=50,
        description="Every exhibitor with at least one interested buyer should get at least this many meetings",
    )
    max_break_spread: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="Hard: most breaks of any participant minus fewest breaks of any participant is at most this",
    )


class Scenario(_Strict):
    """A fair: its days, places, participants, wishes and rules."""

    name: str = Field(min_length=1)
    description: str = ""
    synthetic: bool = Field(default=False, description="True when the participants are made-up data")
    timezone: str = Field(examples=["Asia/Shanghai"])
    slot_minutes: int = Field(ge=5, le=480)
    changeover_minutes: int = Field(default=0, ge=0, le=240)
    days: list[Day] = Field(min_length=1)
    halls: list[Hall] = Field(default_factory=list)
    walking_minutes: list[Walk] = Field(default_factory=list)
    locations: list[Location] = Field(default_factory=list)
    shared_location: Id | None = None
    exhibitors: list[Exhibitor] = Field(default_factory=list)
    buyers: list[Buyer] = Field(default_factory=list)
    requests: list[Request] = Field(default_factory=list)
    blocked: list[BlockedPair] = Field(default_factory=list)
    interpreters: list[InterpreterPool] = Field(default_factory=list)
    pinned: list[Pinned] = Field(default_factory=list)
    weights: Weights = Field(default_factory=Weights)
    fairness: Fairness = Field(default_factory=Fairness)
    participants: list[Participant] = Field(
        default_factory=list, description="Kind-neutral companies (symmetric brokerage events); meet at shared_location"
    )
    precedences: list[Precedence] = Field(default_factory=list, description="Meeting A strictly before meeting B")
    objective: Literal["value", "breaks"] = Field(
        default="value", description="value: most valuable meetings; breaks: fewest breaks first, then value"
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value

    # --- convenience lookups (boundary side only; the solver uses integer indices) ---

    def participant_ids(self) -> set[str]:
        return {b.id for b in self.buyers} | {e.id for e in self.exhibitors} | {p.id for p in self.participants}

    def meeting_location(self, exhibitor: Exhibitor) -> str | None:
        """Where an exhibitor's meetings are held: its booth, else the shared location."""
        return exhibitor.location if exhibitor.location is not None else self.shared_location

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON form, so a schedule can name the scenario it was made from."""
        canonical = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RequestGroup:
    """The merged requests of one pair for one session (None: any time): ``meetings`` meetings at that level."""

    session: str | None
    meetings: int
    level: str
    by: str


def request_groups(requests: list[Request]) -> dict[tuple[str, str], list[RequestGroup]]:
    """Requests merged per pair: one group, or a morning and an afternoon group.

    The requests of a pair describe the same meetings (a buyer's and an exhibitor's
    wish make "both", must wins, the larger ``meetings`` counts, a session-less
    request takes the pair's one named session) unless they name both the morning
    and the afternoon: those are separate meetings, one group per session.
    """
    by_pair: dict[tuple[str, str], list[Request]] = {}
    for request in requests:
        by_pair.setdefault((request.buyer, request.exhibitor), []).append(request)
    merged: dict[tuple[str, str], list[RequestGroup]] = {}
    for pair, own in by_pair.items():
        named = sorted({r.session for r in own if r.session is not None})
        if len(named) < 2:
            parts = [(named[0] if named else None, own)]
        else:  # each session its own meetings; a session-less request here is a validation problem, counted in the morning
            parts = [(name, [r for r in own if r.session in (name, None if name == "morning" else name)]) for name in named]
        groups = []
        for session, members in parts:
            by = members[0].by
            for r in members[1:]:
                by = combine_sides(by, r.by)
            level = "must" if any(r.level == "must" for r in members) else "want"
            groups.append(RequestGroup(session, max(r.meetings for r in members), level, by))
        merged[pair] = groups
    return merged


def combine_sides(first: str, second: str) -> str:
    """Who asked, when two requests of one pair are merged: a buyer's and an exhibitor's wish make "both"."""
    sides = {first, second}
    if "both" in sides or {"buyer", "exhibitor"} <= sides:
        return "both"
    if "organizer" in sides:
        return "organizer"
    return first


# ---------------------------------------------------------------------------
# Cross-reference validation: what pydantic's per-field checks cannot see.
# ---------------------------------------------------------------------------


def _window_problems(windows: list[Window] | None, path: str, fair_dates: set[date]) -> list[Problem]:
    problems = []
    for w_index, window in enumerate(windows or []):
        where = f"{path}[{w_index}]"
        if window.date not in fair_dates:
            problems.append(Problem(f"{where}.date", f"{window.date} is not a day of the fair"))
        if minutes(window.end) <= minutes(window.start):
            problems.append(Problem(f"{where}.end", f"ends at {window.end}, not after its start {window.start}"))
    return problems


def _first_slot_starts(scenario: Scenario) -> dict[date, set[int]]:
    """Slot start minutes per date, derived from the session rule (used to validate pins)."""
    step = scenario.slot_minutes + scenario.changeover_minutes
    starts: dict[date, set[int]] = {}
    for day in scenario.days:
        bucket = starts.setdefault(day.date, set())
        for session in day.sessions:
            t = minutes(session.start)
            while t + scenario.slot_minutes <= minutes(session.end):
                bucket.add(t)
                t += step
    return starts


def _available(windows: list[Window] | None, day: date, start: int, end: int) -> bool:
    if windows is None:
        return True
    return any(w.date == day and minutes(w.start) <= start and end <= minutes(w.end) for w in windows)


def semantic_problems(scenario: Scenario) -> list[Problem]:
    """Every cross-reference and consistency defect of a structurally valid scenario."""
    problems: list[Problem] = []
    add = problems.append

    # Days and sessions.
    seen_dates: dict[date, int] = {}
    for d_index, day in enumerate(scenario.days):
        if day.date in seen_dates:
            add(Problem(f"days[{d_index}].date", f"{day.date} is listed twice (also days[{seen_dates[day.date]}])"))
        seen_dates.setdefault(day.date, d_index)
        spans = []
        for s_index, session in enumerate(day.sessions):
            where = f"days[{d_index}].sessions[{s_index}]"
            start, end = minutes(session.start), minutes(session.end)
            if end <= start:
                add(Problem(f"{where}.end", f"session ends at {session.end}, not after its start {session.start}"))
                continue
            if end - start < scenario.slot_minutes:
                add(Problem(where, f"session {session.start}-{session.end} is shorter than one {scenario.slot_minutes}-minute slot"))
            spans.append((start, end, s_index))
        spans.sort()
        for (a_start, a_end, a_index), (b_start, _b_end, b_index) in zip(spans, spans[1:]):
            if b_start < a_end:
                add(Problem(f"days[{d_index}].sessions[{b_index}]", f"overlaps sessions[{a_index}] of the same day"))
    fair_dates = set(seen_dates)

    # Halls, walking, locations.
    hall_ids = _unique_ids(scenario.halls, "halls", problems)
    for w_index, walk in enumerate(scenario.walking_minutes):
        for key, hall in (("from", walk.from_), ("to", walk.to)):
            if hall not in hall_ids:
                add(Problem(f"walking_minutes[{w_index}].{key}", f"unknown hall {hall!r}"))
    location_ids = _unique_ids(scenario.locations, "locations", problems)
    for l_index, location in enumerate(scenario.locations):
        if location.hall not in hall_ids:
            add(Problem(f"locations[{l_index}].hall", f"unknown hall {location.hall!r}"))
    if scenario.shared_location is not None and scenario.shared_location not in location_ids:
        add(Problem("shared_location", f"unknown location {scenario.shared_location!r}"))

    # Participants: ids unique across buyers and exhibitors together.
    owner: dict[str, str] = {}
    for kind, people in (("exhibitors", scenario.exhibitors), ("buyers", scenario.buyers), ("participants", scenario.participants)):
        for p_index, person in enumerate(people):
            where = f"{kind}[{p_index}]"
            if person.id in owner:
                add(Problem(f"{where}.id", f"duplicate id {person.id!r} (also {owner[person.id]})"))
            else:
                owner[person.id] = f"{where}.id"
            problems.extend(_window_problems(person.availability, f"{where}.availability", fair_dates))
            if person.max_meetings is not None and person.min_meetings > person.max_meetings:
                add(Problem(f"{where}.min_meetings", f"min_meetings {person.min_meetings} exceeds max_meetings {person.max_meetings}"))
    for e_index, exhibitor in enumerate(scenario.exhibitors):
        if exhibitor.location is None:
            if scenario.shared_location is None:
                add(Problem(f"exhibitors[{e_index}].location", "no booth and the scenario has no shared_location"))
        elif exhibitor.location not in location_ids:
            add(Problem(f"exhibitors[{e_index}].location", f"booth {exhibitor.location!r} is not defined in locations"))

    participant_by_id = {p.id: p for p in scenario.participants}
    buyer_by_id = {b.id: b for b in scenario.buyers} | participant_by_id
    exhibitor_by_id = {e.id: e for e in scenario.exhibitors} | participant_by_id
    if scenario.participants and scenario.shared_location is None:
        add(Problem("participants", "participants meet at shared_location, and the scenario has none"))

    def check_pair(item, where: str) -> bool:
        ok = True
        if item.buyer not in buyer_by_id:
            add(Problem(f"{where}.buyer", f"unknown buyer {item.buyer!r}"))
            ok = False
        if item.exhibitor not in exhibitor_by_id:
            add(Problem(f"{where}.exhibitor", f"unknown exhibitor {item.exhibitor!r}"))
            ok = False
        if ok and item.buyer == item.exhibitor:
            add(Problem(where, f"{item.buyer!r} cannot meet itself"))
            ok = False
        return ok

    blocked = set()
    for b_index, pair in enumerate(scenario.blocked):
        if check_pair(pair, f"blocked[{b_index}]"):
            blocked.add((pair.buyer, pair.exhibitor))
    for r_index, request in enumerate(scenario.requests):
        if check_pair(request, f"requests[{r_index}]") and request.level == "must":
            if (request.buyer, request.exhibitor) in blocked:
                add(Problem(f"requests[{r_index}]", f"must meeting {request.buyer!r}-{request.exhibitor!r} is a blocked pair"))

    # Interpreters.
    languages: dict[str, int] = {}
    for i_index, pool in enumerate(scenario.interpreters):
        if pool.language in languages:
            add(Problem(f"interpreters[{i_index}].language", f"language {pool.language!r} is listed twice (also interpreters[{languages[pool.language]}])"))
        languages.setdefault(pool.language, i_index)
        problems.extend(_window_problems(pool.availability, f"interpreters[{i_index}].availability", fair_dates))

    # Pinned meetings.
    slot_starts = _first_slot_starts(scenario)
    pinned_pairs: dict[tuple[str, str], list[int]] = {}
    allowed_meetings = {pair: sum(g.meetings for g in groups) for pair, groups in request_groups(scenario.requests).items()}
    pinned_times: dict[tuple[str, date, str], int] = {}
    for p_index, pin in enumerate(scenario.pinned):
        where = f"pinned[{p_index}]"
        if not check_pair(pin, where):
            continue
        pair = (pin.buyer, pin.exhibitor)
        if pair in blocked:
            add(Problem(where, f"pinned meeting {pin.buyer!r}-{pin.exhibitor!r} is a blocked pair"))
        pinned_pairs.setdefault(pair, []).append(p_index)
        allowed = allowed_meetings.get(pair, 1)
        if len(pinned_pairs[pair]) > allowed:
            first = pinned_pairs[pair][0]
            if allowed == 1:
                add(Problem(where, f"pair {pin.buyer!r}-{pin.exhibitor!r} is pinned twice (also pinned[{first}])"))
            else:
                add(Problem(where, f"pair {pin.buyer!r}-{pin.exhibitor!r} is pinned {len(pinned_pairs[pair])} times (from pinned[{first}]) but requested for {allowed} meetings"))
        if pin.date not in fair_dates:
            add(Problem(f"{where}.date", f"{pin.date} is not a day of the fair"))
            continue
        start = minutes(pin.start)
        if start not in slot_starts.get(pin.date, set()):
            add(Problem(f"{where}.start", f"{pin.start} on {pin.date} is not the start of a meeting slot"))
            continue
        end = start + scenario.slot_minutes
        for who, person in (("buyer", buyer_by_id[pin.buyer]), ("exhibitor", exhibitor_by_id[pin.exhibitor])):
            if not _available(person.availability, pin.date, start, end):
                add(Problem(where, f"{who} {person.id!r} is not available on {pin.date} {pin.start}-{hhmm(end)}"))
            key = (person.id, pin.date, pin.start)
            if key in pinned_times:
                add(Problem(where, f"{person.id!r} already has pinned[{pinned_times[key]}] at {pin.date} {pin.start}"))
            pinned_times.setdefault(key, p_index)
    problems.extend(_brokerage_problems(scenario, set(participant_by_id), blocked, check_pair))
    return problems


def _brokerage_problems(scenario: Scenario, participant_ids: set[str], blocked: set, check_pair) -> list[Problem]:
    """Participants' pairs listed once per unordered pair; precedences name known, acyclic meetings."""
    problems: list[Problem] = []
    oriented: dict[frozenset[str], tuple[str, str]] = {}
    for kind, items in (("requests", scenario.requests), ("pinned", scenario.pinned)):
        for index, item in enumerate(items):
            if item.buyer in participant_ids or item.exhibitor in participant_ids:
                key, pair = frozenset((item.buyer, item.exhibitor)), (item.buyer, item.exhibitor)
                if oriented.setdefault(key, pair) != pair:
                    problems.append(Problem(f"{kind}[{index}]", f"pair {item.buyer!r}-{item.exhibitor!r} is already listed the other way round; list both sides in one order"))
    sessions: dict[tuple[str, str], dict] = {}
    for index, request in enumerate(scenario.requests):
        sessions.setdefault((request.buyer, request.exhibitor), {}).setdefault(request.session, index)
    for (buyer, exhibitor), kinds in sessions.items():
        if {"morning", "afternoon"} <= kinds.keys() and None in kinds:
            problems.append(
                Problem(
                    f"requests[{kinds[None]}].session",
                    f"{buyer!r}-{exhibitor!r} has morning and afternoon requests: say which session this one is for",
                )
            )
    known = {(r.buyer, r.exhibitor) for r in scenario.requests} | {(p.buyer, p.exhibitor) for p in scenario.pinned}
    edges: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for index, rule in enumerate(scenario.precedences):
        ends = []
        for side in ("before", "after"):
            ref = getattr(rule, side)
            where = f"precedences[{index}].{side}"
            if not check_pair(ref, where):
                continue
            pair = (ref.buyer, ref.exhibitor)
            if pair not in known:
                problems.append(Problem(where, f"{ref.buyer!r}-{ref.exhibitor!r} is not a requested or pinned meeting"))
            elif pair in blocked:
                problems.append(Problem(where, f"{ref.buyer!r}-{ref.exhibitor!r} is a blocked pair"))
            else:
                ends.append(pair)
        if len(ends) == 2:
            if ends[0] == ends[1]:
                problems.append(Problem(f"precedences[{index}]", "a meeting cannot come before itself"))
            else:
                edges.setdefault(ends[0], set()).add(ends[1])
    cycle = _find_cycle(edges)
    if cycle:
        path = " -> ".join(f"{b}-{e}" for b, e in cycle)
        problems.append(Problem("precedences", f"the precedences form a cycle: {path}"))
    return problems


def _find_cycle(edges: dict) -> list | None:
    """One directed cycle of ``edges`` (node -> successors) as a closed path, or None."""
    state: dict = {}
    for root in edges:
        if root in state:
            continue
        stack = [(root, iter(edges.get(root, ())))]
        path = [root]
        state[root] = 1
        while stack:
            node, successors = stack[-1]
            for nxt in successors:
                if state.get(nxt) == 1:
                    return path[path.index(nxt):] + [nxt]
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(edges.get(nxt, ()))))
                    path.append(nxt)
                    break
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    return None


def _unique_ids(items, kind: str, problems: list[Problem]) -> set[str]:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.id in seen:
            problems.append(Problem(f"{kind}[{index}].id", f"duplicate id {item.id!r} (also {kind}[{seen[item.id]}])"))
        seen.setdefault(item.id, index)
    return set(seen)


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def json_path(loc: tuple) -> str:
    """Render a pydantic error location as a JSON path: ``buyers[17].availability[0].end``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).isidentifier() or str(part).replace("-", "_").isidentifier():
            out += ("." if out else "") + str(part)
        else:  # odd keys (spaces, newlines, empty) are quoted so the line stays one line
            out += f"[{json.dumps(str(part))}]"
    return out or "(root)"


def validation_problems(error: ValidationError) -> list[Problem]:
    """One Problem per pydantic error, with the JSON path it concerns."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if p not in ("function-after",))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "string_pattern_mismatch":  # only HH:MM fields carry a pattern
            message = f"expected a time as HH:MM, got {item.get('input')!r}"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(Problem(json_path(loc), message))
    return problems


def parse_scenario(data: object, file: str | None = None) -> Scenario:
    """Validate already-parsed JSON data; raise ScenarioError listing every problem."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(validation_problems(error), file) from None
    problems = semantic_problems(scenario)
    if problems:
        raise ScenarioError(problems, file)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError with one Problem per defect."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem("", "file not found")], str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError([Problem("", f"cannot read file: {error}")], str(path)) from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise ScenarioError([Problem("", "JSON is nested too deeply")], str(path)) from None
    except json.JSONDecodeError as error:
        raise ScenarioError(
            [Problem(f"line {error.lineno} column {error.colno}", f"malformed JSON: {error.msg}")], str(path)
        ) from None
    scenario = parse_scenario(data, str(path))
    logger.info("loaded scenario %r: %d buyers, %d exhibitors", scenario.name, len(scenario.buyers), len(scenario.exhibitors))
    return scenario


def scenario_json_schema() -> dict:
    """JSON Schema of the scenario format (by alias, as written in files)."""
    return Scenario.model_json_schema(by_alias=True)


def bundled_scenario_path() -> Path:
    """The shipped Anping 2023 scenario (synthetic participants)."""
    return Path(str(resources.files("matchmaker") / "data" / "anping-2023.json"))
