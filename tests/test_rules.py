"""The hard-rule registry (solver/rules.py): every checker label has a home, every fit test refuses
exactly what breaks its rule, and the heuristics that place through it return schedules the checker accepts."""

from __future__ import annotations

import inspect
import random
import re

import pytest
from helpers import make_scenario, only_slot, pin, want
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_brokerage import brokerage
from test_brokerage import must as pmust

from matchmaker.analysis import checker
from matchmaker.analysis.checker import check_schedule
from matchmaker.instance.candidates import build_instance
from matchmaker.solver.break_search import improve_breaks
from matchmaker.solver.greedy import greedy_schedule
from matchmaker.solver.model import HARD_RULES
from matchmaker.solver.model.pairs import add_must_requests, add_pinned
from matchmaker.solver.polish import close_idle_gaps, insert_meetings
from matchmaker.solver.rules import RULE_OF_LABEL, RULES, Occupancy
from matchmaker.solver.solution import build_schedule
from matchmaker.spec import rules as labels
from matchmaker.spec.scenario import parse_scenario
from matchmaker.spec.schedule import SolverInfo

INFO = SolverInfo(status="FEASIBLE", seconds=0.0, seed=0, workers=1, time_limit=1.0, deterministic=True, strategy="monolithic")


def _instance(data: dict):
    return build_instance(parse_scenario(data), candidates_per_meeting=None)


def _cand(instance, a: str, b: str):
    return next(
        c for c in instance.candidates if (instance.parties[c.buyer].id, instance.parties[c.exhibitor].id) == (a, b)
    )


def _state(instance, placed: dict[tuple[str, str], int]) -> Occupancy:
    return Occupancy(instance, {_cand(instance, a, b).index: s for (a, b), s in placed.items()})


def _refused_by(occupancy: Occupancy, c, s: int) -> str | None:
    rule = occupancy.failing(c, s)
    assert (rule is None) == occupancy.fits(c, s)
    return None if rule is None else rule.name


# ---------------------------------------------------------------------------
# (a) one home per label
# ---------------------------------------------------------------------------


def test_every_checker_label_has_a_registry_entry():
    assert set(checker.LABELS) | set(checker.BROKERAGE_LABELS) == set(labels.ALL_LABELS)
    missing = [label for label in labels.ALL_LABELS if label not in RULE_OF_LABEL]
    assert not missing, f"checker labels without a registry entry: {missing}"
    assert len(RULE_OF_LABEL) == sum(len(rule.labels) for rule in RULES), "a label is claimed by two entries"


def test_every_entry_is_enforced_somewhere_and_every_model_rule_is_registered():
    for rule in RULES:
        assert rule.labels, rule.name
        assert rule.fit is not None or rule.enforced_by, f"{rule.name}: no fit test and no word on what enforces it"
        assert rule.fit is None or rule.reason is not None, rule.name
    adders = {adder for rule in RULES for adder in rule.adders}
    assert set(HARD_RULES) | {add_must_requests, add_pinned} <= adders


def test_the_checker_names_its_labels_only_through_spec_rules():
    source = inspect.getsource(checker)
    assert not re.search(r'Violation\(\s*"', source), "a checker rule spells its label instead of using spec/rules.py"


# ---------------------------------------------------------------------------
# (b) each fit test refuses what breaks its rule and accepts what does not
# ---------------------------------------------------------------------------


def test_availability_and_pins():
    data = make_scenario(["B1", {"id": "B2", "availability": only_slot(1)}], ["E1", "E2"], slots=3,
                         requests=[want("B1", "E1"), want("B2", "E2"), want("B1", "E2")],
                         pinned=[pin("B1", "E2", "09:40")])
    instance = _instance(data)
    occupancy = Occupancy(instance)
    b2 = _cand(instance, "B2", "E2")
    assert _refused_by(occupancy, b2, 0) == "availability"
    assert _refused_by(occupancy, b2, 1) is None
    pinned = _cand(instance, "B1", "E2")
    assert _refused_by(occupancy, pinned, 0) == "pins"
    assert _refused_by(occupancy, pinned, 2) is None
    assert occupancy.why(b2, 0) == "B2 is no longer available at 2024-05-14 09:00"


def test_sessions():
    sessions = [{"start": "09:00", "end": "09:40"}, {"start": "14:00", "end": "14:40"}]
    data = make_scenario(["B1"], ["E1"], sessions=sessions, requests=[{**want("B1", "E1"), "session": "afternoon"}])
    instance = _instance(data)
    c = _cand(instance, "B1", "E1")
    occupancy = Occupancy(instance)
    # Candidate slots are already the afternoon's; the session test refuses the morning on its own.
    assert not occupancy.fits(c, 0)
    assert RULE_OF_LABEL[labels.SESSION].fit(occupancy, c, 0) is False
    assert RULE_OF_LABEL[labels.SESSION].fit(occupancy, c, 2) is True
    assert _refused_by(occupancy, c, 2) is None


def test_blocked_pairs_never_become_candidates():
    data = make_scenario(["B1"], ["E1", "E2"], requests=[want("B1", "E1"), want("B1", "E2")],
                         blocked=[{"buyer": "B1", "exhibitor": "E1"}])
    instance = _instance(data)
    assert [(instance.parties[c.buyer].id, instance.parties[c.exhibitor].id) for c in instance.candidates] == [("B1", "E2")]
    assert RULE_OF_LABEL[labels.BLOCKED_PAIR].fit is None


def test_pair_once_and_one_meeting_at_a_time():
    data = make_scenario(["B1", "B2"], ["E1", "E2"], slots=2,
                         requests=[want("B1", "E1"), want("B1", "E2"), want("B2", "E1")])
    instance = _instance(data)
    occupancy = _state(instance, {("B1", "E1"): 0})
    assert _refused_by(occupancy, _cand(instance, "B1", "E1"), 1) == "pair once"
    assert _refused_by(occupancy, _cand(instance, "B1", "E2"), 0) == "one meeting at a time"
    assert _refused_by(occupancy, _cand(instance, "B2", "E1"), 0) == "one meeting at a time"
    assert _refused_by(occupancy, _cand(instance, "B1", "E2"), 1) is None
    assert occupancy.why(_cand(instance, "B2", "E1"), 0) == "E1 has another fixed meeting at 2024-05-14 09:00"


def test_max_meetings_and_daily_caps():
    data = make_scenario([{"id": "B1", "max_meetings": 1}, {"id": "B2", "max_meetings_per_day": 1}], ["E1", "E2"], slots=3,
                         requests=[want("B1", "E1"), want("B1", "E2"), want("B2", "E1"), want("B2", "E2")])
    instance = _instance(data)
    occupancy = _state(instance, {("B1", "E1"): 0, ("B2", "E2"): 0})
    assert _refused_by(occupancy, _cand(instance, "B1", "E2"), 1) == "max meetings"
    assert _refused_by(occupancy, _cand(instance, "B2", "E1"), 1) == "daily caps"
    occupancy.remove(_cand(instance, "B2", "E2"))
    assert _refused_by(occupancy, _cand(instance, "B2", "E1"), 1) is None


def test_tables():
    data = make_scenario(["B1", "B2"], [{"id": "E1", "location": None}, {"id": "E2", "location": None}], slots=2,
                         lounge_tables=1, requests=[want("B1", "E1"), want("B2", "E2")])
    instance = _instance(data)
    occupancy = _state(instance, {("B1", "E1"): 0})
    assert _refused_by(occupancy, _cand(instance, "B2", "E2"), 0) == "tables"
    assert _refused_by(occupancy, _cand(instance, "B2", "E2"), 1) is None


def test_interpreters():
    data = make_scenario([{"id": "B1", "languages": ["zh"]}, {"id": "B2", "languages": ["zh"]}],
                         [{"id": "E1", "languages": ["en"]}, {"id": "E2", "languages": ["en"]}], slots=2,
                         requests=[want("B1", "E1"), want("B2", "E2")], interpreters=[{"language": "zh", "count": 1}])
    instance = _instance(data)
    occupancy = _state(instance, {("B1", "E1"): 0})
    assert _refused_by(occupancy, _cand(instance, "B2", "E2"), 0) == "interpreters"
    assert _refused_by(occupancy, _cand(instance, "B2", "E2"), 1) is None


def test_walking():
    data = make_scenario(["B1"], [{"id": "E1", "hall": "H1"}, {"id": "E2", "hall": "H2"}], slots=3, halls=["H1", "H2"],
                         walking={("H1", "H2"): 10}, requests=[want("B1", "E1"), want("B1", "E2")])
    instance = _instance(data)
    occupancy = _state(instance, {("B1", "E1"): 0})
    assert _refused_by(occupancy, _cand(instance, "B1", "E2"), 1) == "walking"
    assert _refused_by(occupancy, _cand(instance, "B1", "E2"), 2) is None


def test_precedences_in_either_orientation():
    order = [{"before": {"buyer": "B1", "exhibitor": "E2"}, "after": {"buyer": "B1", "exhibitor": "E1"}}]
    data = make_scenario(["B1"], ["E1", "E2"], slots=3, requests=[want("B1", "E1"), want("B1", "E2")], precedences=order)
    instance = _instance(data)
    occupancy = _state(instance, {("B1", "E1"): 1})
    assert _refused_by(occupancy, _cand(instance, "B1", "E2"), 2) == "precedences"
    assert _refused_by(occupancy, _cand(instance, "B1", "E2"), 0) is None
    assert occupancy.why(_cand(instance, "B1", "E2"), 2).startswith("it must precede B1-E1")
    # The second meeting placed first, then the first: refused after it, accepted before it.
    occupancy = _state(instance, {("B1", "E2"): 1})
    assert _refused_by(occupancy, _cand(instance, "B1", "E1"), 0) == "precedences"
    assert _refused_by(occupancy, _cand(instance, "B1", "E1"), 2) is None


def _star(spread: int, slots: int = 4) -> dict:
    """A meets B, C and D; nobody else meets twice (so nobody else can have a break)."""
    data = brokerage(["A", "B", "C", "D"], [pmust("A", "B"), pmust("A", "C"), pmust("A", "D")], slots=slots)
    data["fairness"] = {"max_break_spread": spread}
    return data


def test_break_fairness_per_placement():
    instance = _instance(_star(0))
    occupancy = _state(instance, {("A", "B"): 0})
    assert _refused_by(occupancy, _cand(instance, "A", "C"), 2) == "break fairness"  # A would have a break, B none
    assert _refused_by(occupancy, _cand(instance, "A", "C"), 1) is None
    roomy = _instance(_star(1))
    assert _refused_by(_state(roomy, {("A", "B"): 0}), _cand(roomy, "A", "C"), 2) is None


def test_break_fairness_is_judged_after_a_whole_move():
    instance = _instance(_star(0))
    ab, ac, ad = (_cand(instance, "A", x) for x in "BCD")
    occupancy = _state(instance, {("A", "B"): 0, ("A", "C"): 1, ("A", "D"): 2})
    # A-C to 0 first leaves A a break until A-B reaches 1: fair as a whole, so the move is made.
    assert occupancy.try_moves({ac.index: 0, ab.index: 1})
    assert occupancy.slot_of == {ab.index: 1, ac.index: 0, ad.index: 2} and occupancy.fair()
    # A move that leaves A a break is refused and changes nothing; keep=False only tests.
    assert not occupancy.try_moves({ad.index: 3})
    assert occupancy.slot_of == {ab.index: 1, ac.index: 0, ad.index: 2}
    assert occupancy.try_moves({ac.index: 3}, keep=False) and occupancy.slot_of[ac.index] == 0


def test_greedy_keeps_a_fair_preferred_schedule_whose_steps_are_unfair():
    instance = _instance(_star(0))
    ab, ac, ad = (_cand(instance, "A", x) for x in "BCD")
    preferred = [(ab.index, 0), (ac.index, 2), (ad.index, 1)]  # A has a break after the first two
    assert greedy_schedule(instance, preferred).placed == dict(preferred)


def test_musts_have_no_fit_test_but_go_in_first():
    data = make_scenario(["B1"], ["E1", "E2"], slots=1, requests=[want("B1", "E1"), {**want("B1", "E2"), "level": "must"}])
    instance = _instance(data)
    assert RULE_OF_LABEL[labels.MUST_MISSING].fit is None
    result = greedy_schedule(instance)
    assert result.complete and list(result.placed) == [_cand(instance, "B1", "E2").index]
    assert [c.committed for c in instance.candidates] == [c.request_level == "must" for c in instance.candidates]


# ---------------------------------------------------------------------------
# (c) heuristics forced to decide return schedules the checker accepts
# ---------------------------------------------------------------------------

ALLOWED_WHEN_INCOMPLETE = {labels.MUST_MISSING, labels.PINNED_MISSING}


def _assert_valid(data: dict, instance, placed: dict[int, int], complete: bool) -> None:
    report = check_schedule(parse_scenario(data), build_schedule(instance, placed, INFO))
    found = report.labels()
    if complete and not instance.dropped_requests:
        assert report.ok, report.violations
    else:
        assert found <= ALLOWED_WHEN_INCOMPLETE, report.violations


def _fair_scenario(rng: random.Random) -> dict:
    """Buyers and exhibitors with every rule family: availability, sessions, halls and walks, lounge tables,
    interpreters, caps, blocked pairs, musts, pins and precedences."""
    buyers = []
    for i in range(rng.randint(2, 6)):
        buyer = {"id": f"B{i}", "languages": ["zh" if rng.random() < 0.3 else "en"]}
        if rng.random() < 0.4:
            buyer["max_meetings"] = rng.randint(1, 3)
        if rng.random() < 0.4:
            buyer["max_meetings_per_day"] = rng.randint(1, 2)
        if rng.random() < 0.3:
            buyer["availability"] = [{"date": "2024-05-14", "start": "09:00", "end": "10:00"}]
        buyers.append(buyer)
    exhibitors = []
    for j in range(rng.randint(2, 5)):
        exhibitor = {"id": f"E{j}", "languages": ["en"], "hall": rng.choice(["H1", "H2"])}
        if rng.random() < 0.4:
            exhibitor["location"] = None  # the shared lounge, few tables
        exhibitors.append(exhibitor)
    pairs = [(b["id"], e["id"]) for b in buyers for e in exhibitors]
    rng.shuffle(pairs)
    requests, blocked = [], []
    for buyer, exhibitor in pairs[: rng.randint(2, len(pairs))]:
        request = {"buyer": buyer, "exhibitor": exhibitor, "by": "buyer", "level": "must" if rng.random() < 0.2 else "want"}
        if rng.random() < 0.3:
            request["session"] = rng.choice(["morning", "afternoon"])
        requests.append(request)
    for buyer, exhibitor in pairs[len(requests):][:1]:
        blocked.append({"buyer": buyer, "exhibitor": exhibitor})
    sessions = [{"start": "09:00", "end": "10:20"}, {"start": "13:00", "end": "14:20"}]  # 4 + 4 slots of 20 minutes
    pinned = []
    free = {b["id"] for b in buyers if "availability" not in b}
    pinnable = [r for r in requests if r["buyer"] in free]
    if pinnable and rng.random() < 0.3:
        r = rng.choice(pinnable)
        start = {"morning": "09:20", "afternoon": "13:40"}.get(r.get("session"), rng.choice(["09:20", "13:40"]))
        pinned.append(pin(r["buyer"], r["exhibitor"], start))
    wanted = [(r["buyer"], r["exhibitor"]) for r in requests]
    precedences = []
    for _ in range(rng.randint(0, 4)):
        i, j = sorted(rng.sample(range(len(wanted)), 2))
        precedences.append({"before": dict(zip(("buyer", "exhibitor"), wanted[i])), "after": dict(zip(("buyer", "exhibitor"), wanted[j]))})
    data = make_scenario(
        buyers, exhibitors, sessions=sessions, halls=["H1", "H2"], walking={("H1", "H2"): rng.choice([5, 10, 30])},
        lounge_tables=rng.randint(1, 2), requests=requests, blocked=blocked, pinned=pinned,
        interpreters=[{"language": "zh", "count": rng.randint(0, 1)}], precedences=precedences,
    )
    if rng.random() < 0.3:
        data["fairness"] = {"max_break_spread": rng.randint(1, 2)}
    return data


def _brokerage_scenario(rng: random.Random) -> dict:
    """Kind-neutral participants: sessions, precedences, break fairness, tables, availability."""
    people = [f"P{i}" for i in range(rng.randint(4, 9))]
    pairs = sorted({tuple(sorted(rng.sample(people, 2))) for _ in range(rng.randint(3, 16))})
    requests = []
    for a, b in pairs:
        extra = {"session": rng.choice(["morning", "afternoon"])} if rng.random() < 0.2 else {}
        requests.append({"buyer": a, "exhibitor": b, "level": "must" if rng.random() < 0.7 else "want", **extra})
    precedences = []
    for _ in range(rng.randint(0, 3) if len(pairs) > 1 else 0):
        i, j = sorted(rng.sample(range(len(pairs)), 2))
        precedences.append({"before": dict(zip(("buyer", "exhibitor"), pairs[i])), "after": dict(zip(("buyer", "exhibitor"), pairs[j]))})
    sessions = [{"start": "09:00", "end": "10:20"}, {"start": "13:00", "end": "14:00"}]
    data = brokerage(people, requests, tables=rng.randint(1, 3), sessions=sessions, precedences=precedences)
    if rng.random() < 0.8:
        data["fairness"] = {"max_break_spread": rng.randint(0, 1)}
    if rng.random() < 0.3:
        data["participants"][0]["availability"] = [{"date": "2024-05-14", "start": "09:00", "end": "10:00"}]
    return data


def _heuristics(data: dict, rng: random.Random) -> None:
    instance = _instance(data)
    # Other stages' answers may break any rule: the greedy keeps only what fits.
    preferred = [(c.index, rng.choice(range(len(instance.grid)))) for c in instance.candidates if rng.random() < 0.7]
    result = greedy_schedule(instance, preferred)
    _assert_valid(data, instance, result.placed, result.complete)
    unplaced = [c.index for c in instance.candidates if c.index not in result.placed]
    inserted = insert_meetings(instance, result.placed, unplaced)
    assert set(result.placed) <= set(inserted)
    _assert_valid(data, instance, inserted, result.complete)
    compact = close_idle_gaps(instance, inserted)
    assert set(compact) == set(inserted)
    _assert_valid(data, instance, compact, result.complete)
    found = improve_breaks(instance, compact, iterations=400, seed=rng.randrange(4))
    if found.placed is not None:
        _assert_valid(data, instance, found.placed, True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_heuristics_keep_every_rule_on_fairs(seed: int):
    rng = random.Random(seed)
    _heuristics(_fair_scenario(rng), rng)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_heuristics_keep_every_rule_on_brokerage_events(seed: int):
    rng = random.Random(seed)
    _heuristics(_brokerage_scenario(rng), rng)


@pytest.mark.parametrize(("seed", "strategy"), [(5, "auto"), (6, "decompose"), (8, "decompose"), (9, "auto"), (12, "decompose"), (14, "decompose")])
def test_engine_under_a_short_limit_returns_checked_schedules(seed: int, strategy: str):
    """The raw engine (no pipeline fallback) at a short limit; the decomposition merges, inserts and polishes."""
    from matchmaker.errors import InfeasibleError, MatchmakerError
    from matchmaker.solver.engine import solve_scenario
    from matchmaker.solver.run import SolveOptions

    rng = random.Random(seed)
    data = _brokerage_scenario(rng) if seed % 2 else _fair_scenario(rng)
    scenario = parse_scenario(data)
    try:
        options = SolveOptions(time_limit=1.0, workers=1, seed=seed, explain=False, bound=False, strategy=strategy)
        solved = solve_scenario(scenario, options)
    except (InfeasibleError, MatchmakerError):
        return
    report = check_schedule(scenario, solved.schedule)
    if solved.instance.dropped_requests:
        assert report.labels() <= ALLOWED_WHEN_INCOMPLETE, report.violations
    else:
        assert report.ok, report.violations
