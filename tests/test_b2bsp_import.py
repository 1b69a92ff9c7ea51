"""``import-b2bsp`` and its .dzn parser on a tiny instance of our own, so they are tested on every run.

The published instances (``../shared/external/b2bsp``) are used by test_brokerage.py
and test_break_search.py when present; this file needs nothing outside the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from matchmaker.analysis.checker import check_schedule
from matchmaker.cli.main import main
from matchmaker.errors import InputError
from matchmaker.io.b2bsp import load_b2bsp, parse_dzn
from matchmaker.pipeline import SolveOptions, solve

TINY = Path(__file__).parent / "data" / "b2bsp" / "tiny.dzn"


def test_parse_dzn_reads_ints_matrices_and_arrays_of_sets():
    data = parse_dzn(TINY.read_text())
    assert data["nBusiness"] == 5 and data["nMeetings"] == 5 and data["nMorningSlots"] == 2
    assert data["requested"] == [[1, 2, 3], [1, 3, 1], [2, 4, 2], [3, 5, 3], [4, 5, 3]]
    assert data["forbidden"] == [[], [4], [], [1], []]
    assert data["fixed"] == [0, 0, 0, 0, 4]
    assert data["precedences"] == [[], [], [], [1], []]


def test_load_b2bsp_maps_every_field():
    scenario = load_b2bsp(TINY, fairness=1)
    assert [p.id for p in scenario.participants] == ["P1", "P2", "P3", "P4", "P5"]
    assert all(r.level == "must" for r in scenario.requests) and len(scenario.requests) == 5
    sessions = {(r.buyer, r.exhibitor): r.session for r in scenario.requests}
    assert sessions[("P1", "P3")] == "morning" and sessions[("P2", "P4")] == "afternoon" and sessions[("P1", "P2")] is None
    assert [(p.buyer, p.exhibitor) for p in scenario.pinned] == [("P4", "P5")]
    assert len(scenario.precedences) == 1
    precedence = scenario.precedences[0]
    assert (precedence.before.buyer, precedence.before.exhibitor) == ("P1", "P2")
    assert (precedence.after.buyer, precedence.after.exhibitor) == ("P3", "P5")
    availability = {p.id: p.availability for p in scenario.participants}
    assert availability["P2"] and availability["P4"] and not availability["P1"]
    assert scenario.fairness.max_break_spread == 1


def test_tiny_instance_solves_to_a_checked_optimum():
    scenario = load_b2bsp(TINY)
    schedule = solve(scenario, SolveOptions(time_limit=10, workers=2))
    assert check_schedule(scenario, schedule).ok
    assert len(schedule.meetings) == 5 and schedule.solver.status == "OPTIMAL"


def test_import_b2bsp_cli_writes_once(tmp_path):
    out = tmp_path / "tiny.json"
    result = CliRunner().invoke(main, ["import-b2bsp", str(TINY), "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert len(data["participants"]) == 5 and data["fairness"]["max_break_spread"] == 2
    again = CliRunner().invoke(main, ["import-b2bsp", str(TINY), "-o", str(out)])
    assert again.exit_code == 2 and "exists" in again.output


@pytest.mark.parametrize(
    "replace, message",
    [
        ("nTables = 2;", "nTables"),  # a required field missing
        ("|4, 5,3|]", "requested[5]"),  # a participant out of range
        ("fixed = [0,0,0,0,4]", "fixed[5]"),  # a slot out of range
    ],
)
def test_bad_dzn_is_one_line_per_problem_and_nothing_written(tmp_path, replace, message):
    broken = TINY.read_text().replace(
        replace,
        {"nTables = 2;": "", "|4, 5,3|]": "|4, 9,3|]", "fixed = [0,0,0,0,4]": "fixed = [0,0,0,0,7]"}[replace],
    )
    source = tmp_path / "broken.dzn"
    source.write_text(broken)
    with pytest.raises(InputError):
        load_b2bsp(source)
    out = tmp_path / "broken.json"
    result = CliRunner().invoke(main, ["import-b2bsp", str(source), "-o", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines and all(line.startswith("error:") for line in lines) and message in result.output
    assert "broken.dzn" in result.output and "Traceback" not in result.output
    assert not out.exists()
