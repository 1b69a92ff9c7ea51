"""The B2BSP variant generator (matchmaker/io/b2bsp_variants.py): the paper's recipes on any original."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchmaker.io.b2bsp import b2bsp_scenario, parse_dzn
from matchmaker.io.b2bsp_variants import RECIPES, _allowed_slots, make_variant, parse_recipe, to_dzn

TINY = Path(__file__).parent / "data" / "b2bsp" / "tiny.dzn"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "external" / "b2bsp" / "jair2022_instances"


def originals() -> list[Path]:
    found = sorted(SHARED.glob("*.original.dzn")) if SHARED.is_dir() else []
    return [TINY] + found


@pytest.mark.parametrize("path", originals(), ids=lambda p: p.name)
@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_gives_an_importable_variant_of_the_original(path: Path, recipe: str):
    data = parse_dzn(path.read_text())
    variant = parse_dzn(to_dzn(make_variant(data, recipe, seed=1)))
    assert variant["requested"] == data["requested"]  # the meetings stay; only the recipe's rule changes
    scenario = b2bsp_scenario(variant, f"{path.stem}.{recipe}")
    assert len(scenario.requests) == data["nMeetings"]
    how = parse_recipe(recipe)
    if how.kind == "fixed":
        fixed = variant["fixed"]
        placed = [(m, t) for m, t in enumerate(fixed) if t]
        assert len(placed) <= int(how.density * data["nMeetings"])
        if data["nMeetings"] >= 100:  # real events: the share is met
            assert len(placed) == int(how.density * data["nMeetings"])
        seen = set()
        for m, t in placed:
            assert t in _allowed_slots(data, m)
            a, b, _ = data["requested"][m]
            assert (a, t) not in seen and (b, t) not in seen  # no participant in two fixed meetings at once
            seen.update(((a, t), (b, t)))
        assert variant["forbidden"] == data["forbidden"]  # "-Forb": the original forbidden slots kept
    elif how.kind == "prec":
        for m, earlier in enumerate(variant["precedences"]):
            for e in earlier:
                assert set(data["requested"][e - 1][:2]) & set(data["requested"][m][:2])  # they share a participant
    else:
        assert all(0 < t <= data["nTotalSlots"] for s in variant["forbidden"] for t in s if t)


def test_same_seed_same_variant_other_seed_other_variant():
    data = parse_dzn(sorted(originals())[-1].read_text())
    for recipe in RECIPES:
        assert make_variant(data, recipe, 3) == make_variant(data, recipe, 3)
    assert any(make_variant(data, recipe, 3) != make_variant(data, recipe, 4) for recipe in RECIPES)


def test_unknown_recipe_is_refused_with_the_known_ones_named():
    with pytest.raises(ValueError, match="forbNNNN, fixedNNN-Forb or precNN"):
        parse_recipe("fixed20")


@st.composite
def instances(draw) -> dict:
    participants = draw(st.integers(2, 8))
    slots = draw(st.integers(1, 6))
    pairs = draw(st.lists(st.tuples(st.integers(1, participants), st.integers(1, participants)).filter(lambda p: p[0] != p[1]),
                          min_size=1, max_size=12))
    return {
        "nBusiness": participants,
        "nMeetings": len(pairs),
        "nTables": draw(st.integers(1, 4)),
        "nTotalSlots": slots,
        "nMorningSlots": draw(st.integers(1, slots)),
        "requested": [[a, b, draw(st.sampled_from([1, 2, 3]))] for a, b in pairs],
        "forbidden": [[0] + sorted(draw(st.sets(st.integers(1, slots), max_size=2))) for _ in range(participants)],
        "fixed": [0] * len(pairs),
        "precedences": [[] for _ in pairs],
    }


@settings(max_examples=60, deadline=None)
@given(instances(), st.sampled_from(RECIPES), st.integers(0, 5))
def test_variants_round_trip_through_dzn_and_keep_precedences_acyclic(data: dict, recipe: str, seed: int):
    variant = make_variant(data, recipe, seed)
    assert parse_dzn(to_dzn(variant)) == variant
    before = {m: set(e - 1 for e in earlier) for m, earlier in enumerate(variant["precedences"])}
    state: dict[int, int] = {}  # 1 = on the path, 2 = done: a cycle would revisit a node on the path

    def visit(m: int) -> None:
        state[m] = 1
        for e in before[m]:
            assert state.get(e) != 1, "a precedence cycle"
            if e not in state:
                visit(e)
        state[m] = 2

    for m in before:
        if m not in state:
            visit(m)


def test_import_b2bsp_writes_a_variant_and_refuses_an_unknown_recipe(tmp_path):
    from click.testing import CliRunner

    from matchmaker.cli import main

    out = tmp_path / "tiny.prec25.json"
    result = CliRunner().invoke(main, ["import-b2bsp", str(TINY), "--variant", "fixed040-Forb", "--variant-seed", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert '"name": "tiny.fixed040-Forb-s2"' in out.read_text()
    bad = tmp_path / "bad.json"
    result = CliRunner().invoke(main, ["import-b2bsp", str(TINY), "--variant", "fixed20", "-o", str(bad)])
    assert result.exit_code == 2 and "unknown B2BSP variant recipe 'fixed20'" in result.output
    assert not bad.exists()
