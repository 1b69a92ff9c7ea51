"""The synthetic scenario generator and the shipped scenario files."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from ortools.sat.python import cp_model

from matchmaker.instance.slots import build_slot_grid
from matchmaker.io.generate import PRESETS, generate_scenario
from matchmaker.spec.scenario import Scenario, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "matchmaker" / "data" / "anping-2023.json"
DEMO = ROOT / "scenarios" / "demo-small.json"
SEEDS = (0, 1, 7, 2023)


def as_json(scenario: Scenario) -> dict:
    return scenario.model_dump(mode="json", by_alias=True)


def needs_interpreter(scenario: Scenario, buyer_id: str, exhibitor_id: str) -> bool:
    buyer = next(b for b in scenario.buyers if b.id == buyer_id)
    exhibitor = next(e for e in scenario.exhibitors if e.id == exhibitor_id)
    if buyer.own_interpreter or not buyer.languages or not exhibitor.languages:
        return False
    return not set(buyer.languages) & set(exhibitor.languages)


def common_slots(scenario: Scenario, buyer_id: str, exhibitor_id: str) -> set[int]:
    grid = build_slot_grid(scenario)
    buyer = next(b for b in scenario.buyers if b.id == buyer_id)
    exhibitor = next(e for e in scenario.exhibitors if e.id == exhibitor_id)
    return set(grid.free_slots(buyer.availability)) & set(grid.free_slots(exhibitor.availability))


@pytest.mark.parametrize("preset", [p for p in PRESETS if p != "xl"])
@pytest.mark.parametrize("seed", SEEDS)
def test_presets_validate_and_round_trip(preset, seed):
    scenario = generate_scenario(preset, seed)
    assert scenario.synthetic
    assert "synthetic" in scenario.description
    assert parse_scenario(as_json(scenario)) == scenario


def test_xl_generates_quickly_and_validates():
    started = time.perf_counter()
    scenario = generate_scenario("xl", 0)
    assert time.perf_counter() - started < 10
    assert (len(scenario.buyers), len(scenario.exhibitors), len(scenario.halls)) == (5000, 2000, 10)


def test_unknown_preset_is_a_value_error():
    with pytest.raises(ValueError, match="unknown preset"):
        generate_scenario("huge", 0)


def test_same_seed_same_scenario_regardless_of_global_random():
    random.seed(1)
    first = json.dumps(as_json(generate_scenario("anping", 5)), sort_keys=True)
    random.seed(2)
    second = json.dumps(as_json(generate_scenario("anping", 5)), sort_keys=True)
    assert first == second


@pytest.mark.parametrize("preset", ["tiny", "anping"])
def test_different_seeds_differ(preset):
    assert as_json(generate_scenario(preset, 0)) != as_json(generate_scenario(preset, 1))


def test_anping_shape():
    scenario = generate_scenario("anping", 2023)
    assert (len(scenario.buyers), len(scenario.exhibitors)) == (138, 420)
    assert [str(d.date) for d in scenario.days] == ["2023-10-22", "2023-10-23", "2023-10-24"]
    assert [len(d.sessions) for d in scenario.days] == [2, 2, 1]
    assert scenario.timezone == "Asia/Shanghai"
    assert (scenario.slot_minutes, scenario.changeover_minutes) == (20, 5)
    assert [h.id for h in scenario.halls] == ["H1", "H2", "H3", "H4"]
    booths = {loc.id: loc for loc in scenario.locations}
    assert all(e.location in booths and booths[e.location].tables == 1 for e in scenario.exhibitors)
    assert len({e.location for e in scenario.exhibitors}) == 420
    assert scenario.shared_location == "LOUNGE" and booths["LOUNGE"].tables == 10
    pools = {pool.language: pool.count for pool in scenario.interpreters}
    assert pools["ru"] == 4 and pools["ar"] == 2
    assert scenario.buyers[0].id == "B001" and scenario.exhibitors[0].id == "E001"
    assert all(e.languages[0] == "zh" for e in scenario.exhibitors)
    # Neighbouring halls are within the changeover, the others are not.
    for walk in scenario.walking_minutes:
        adjacent = abs(int(walk.from_[1:]) - int(walk.to[1:])) == 1
        assert (4 <= walk.minutes <= 5) if adjacent else (8 <= walk.minutes <= 10)


def test_large_has_boothless_exhibitors_at_the_lounge():
    scenario = generate_scenario("large", 0)
    assert (len(scenario.buyers), len(scenario.exhibitors), len(scenario.days), len(scenario.halls)) == (1000, 800, 3, 6)
    boothless = sum(e.location is None for e in scenario.exhibitors)
    assert 0.03 * len(scenario.exhibitors) <= boothless <= 0.07 * len(scenario.exhibitors)
    assert next(loc for loc in scenario.locations if loc.id == scenario.shared_location).tables == 20


@pytest.mark.parametrize("preset,seed", [("tiny", s) for s in range(10)] + [("anping", s) for s in SEEDS] + [("large", 0)])
def test_hard_rules_keep_their_guarantees(preset, seed):
    scenario = generate_scenario(preset, seed)
    blocked = {(p.buyer, p.exhibitor) for p in scenario.blocked}
    musts = [(r.buyer, r.exhibitor) for r in scenario.requests if r.level == "must"]
    assert musts, "every preset has must requests"
    for pair in musts:
        assert pair not in blocked
        assert len(common_slots(scenario, *pair)) >= 4
        assert not needs_interpreter(scenario, *pair)
    assert max(Counter(b for b, _ in musts).values()) <= 2
    assert max(Counter(e for _, e in musts).values()) <= 2
    for pin in scenario.pinned:
        assert (pin.buyer, pin.exhibitor) not in blocked
        assert not needs_interpreter(scenario, pin.buyer, pin.exhibitor)
    assert len({(r.buyer, r.exhibitor) for r in scenario.requests}) == len(scenario.requests)


def _hard_rules_feasible(scenario: Scenario) -> bool:
    """Independent check: musts and pins fit together with availability, caps and lounge tables."""
    grid = build_slot_grid(scenario)
    people = {p.id: p for p in [*scenario.buyers, *scenario.exhibitors]}
    free = {pid: set(grid.free_slots(p.availability)) for pid, p in people.items()}
    lounge = {e.id for e in scenario.exhibitors if e.location is None}
    tables = {loc.id: loc.tables for loc in scenario.locations}
    meetings = [(p.buyer, p.exhibitor, [grid.slot_at(p.date, p.start)]) for p in scenario.pinned]
    meetings += [(r.buyer, r.exhibitor, sorted(free[r.buyer] & free[r.exhibitor])) for r in scenario.requests if r.level == "must"]
    model = cp_model.CpModel()
    at: dict[tuple[str, int], list] = {}
    per_day: dict[tuple[str, int], list] = {}
    for buyer, exhibitor, slots in meetings:
        choice = [model.NewBoolVar("") for _ in slots]
        model.AddExactlyOne(choice)
        for slot, var in zip(slots, choice):
            day = grid.slots[slot].day
            for who in (buyer, exhibitor) + (("LOUNGE",) if exhibitor in lounge else ()):
                at.setdefault((who, slot), []).append(var)
            for who in (buyer, exhibitor):
                per_day.setdefault((who, day), []).append(var)
    for (who, _slot), vars_ in at.items():
        model.Add(sum(vars_) <= (tables[scenario.shared_location] if who == "LOUNGE" else 1))
    for (who, _day), vars_ in per_day.items():
        cap = people[who].max_meetings_per_day
        if cap is not None:
            model.Add(sum(vars_) <= cap)
    return cp_model.CpSolver().Solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)


@pytest.mark.parametrize("preset,seed", [("tiny", 0), ("tiny", 3), ("anping", 2023), ("anping", 1)])
def test_hard_rules_are_jointly_feasible(preset, seed):
    assert _hard_rules_feasible(generate_scenario(preset, seed))


def test_bundled_file_is_the_generator_output():
    on_disk = json.loads(BUNDLED.read_text(encoding="utf-8"))
    assert "weights" not in on_disk  # the bundled fair follows the library's default weights
    assert load_scenario(BUNDLED) == generate_scenario("anping", 2023)
    assert on_disk["name"] == "China Anping International Wire Mesh Fair 2023 (synthetic participants)"
    assert on_disk["synthetic"] is True


def test_scenarios_symlink_points_at_bundled_file():
    link = ROOT / "scenarios" / "anping-2023.json"
    assert link.is_symlink()
    assert link.resolve() == BUNDLED.resolve()


@pytest.mark.parametrize("path", [DEMO, BUNDLED, ROOT / "scenarios" / "anping-2023.json"])
def test_shipped_files_load(path):
    scenario = load_scenario(path)
    assert scenario.buyers and scenario.exhibitors


def test_demo_small_has_what_it_promises():
    scenario = load_scenario(DEMO)
    assert (len(scenario.days), len(scenario.days[0].sessions), len(scenario.halls)) == (1, 2, 2)
    assert (len(scenario.buyers), len(scenario.exhibitors)) == (4, 6)
    assert sum(e.location is None for e in scenario.exhibitors) == 1
    assert [r.level for r in scenario.requests].count("must") == 1
    assert len(scenario.blocked) == 1 and len(scenario.pinned) == 1
    assert [(p.language, p.count) for p in scenario.interpreters] == [("ru", 1)]
    russian = next(b for b in scenario.buyers if b.languages == ["ru"])
    assert any(needs_interpreter(scenario, russian.id, e.id) for e in scenario.exhibitors)
    assert _hard_rules_feasible(scenario)


def test_docs_example_validates():
    text = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    parse_scenario(json.loads(example))
