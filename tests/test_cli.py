"""The command line: exit codes, exact error text, files written or left alone.

Exit codes (see matchmaker/cli.py): 0 ok, 1 `check` found violations, 2 bad input /
infeasible commitments / existing output without --force, 3 no schedule in time.

Click >= 8.2: ``result.output`` is what a terminal would show (stdout and stderr
interleaved); ``result.stdout`` and ``result.stderr`` are the separate streams.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from helpers import assert_no_traceback, invoke

from matchmaker import bundled_scenario_path
from matchmaker.cli.main import main
from matchmaker.spec.scenario import load_scenario
from matchmaker.spec.schedule import bound_text, load_schedule

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "scenarios" / "demo-small.json"
FAST = ["--time-limit", "5", "--workers", "1"]






def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def demo_data() -> dict:
    return json.loads(DEMO.read_text(encoding="utf-8"))


def must_count(path: Path) -> int:
    return sum(1 for r in json.loads(path.read_text(encoding="utf-8"))["requests"] if r.get("level") == "must")


@pytest.fixture(scope="module")
def solved_demo(tmp_path_factory) -> Path:
    """demo-small solved once; the tests below only read this schedule."""
    out = tmp_path_factory.mktemp("solved") / "out"
    result = invoke("solve", DEMO, "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    return out / "schedule.json"


# ---------------------------------------------------------------------------
# Help, version, python -m
# ---------------------------------------------------------------------------


def test_group_help_has_example():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    for name in main.commands:
        assert name in result.stdout


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_help_has_example(name):
    result = invoke(name, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout, f"`matchmaker {name} --help` shows no example"


def test_every_command_docstring_has_example():
    # Independent of parametrization: a command added later without an example fails here too.
    assert set(main.commands) >= {"solve", "check", "validate", "generate", "schema"}
    missing = [name for name, command in main.commands.items() if "Example" not in (command.help or "")]
    assert missing == []


def test_short_help_option_and_version():
    assert invoke("-h").exit_code == 0
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("matchmaker, version ")


def test_python_dash_m():
    completed = subprocess.run(
        [sys.executable, "-m", "matchmaker", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert "Example" in completed.stdout
    assert "Traceback" not in completed.stderr


def test_console_process_exits_with_the_commands_code_and_all_its_output(tmp_path):
    solved = subprocess.run(
        [sys.executable, "-m", "matchmaker", "solve", DEMO, "-o", str(tmp_path / "out"), "--time-limit", "5"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert solved.returncode == 0, solved.stderr
    assert solved.stdout.rstrip().endswith(f"wrote {tmp_path / 'out' / 'schedule.json'}")
    assert (tmp_path / "out" / "schedule.json").is_file()
    refused = subprocess.run(
        [sys.executable, "-m", "matchmaker", "solve", DEMO, "-o", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert refused.returncode == 2
    assert "already exists; use --force" in refused.stderr


@pytest.mark.parametrize(
    "code, returncode, stderr", [(None, 0, ""), (3, 3, ""), ("stopped: reason", 1, "stopped: reason")]
)
def test_quick_exit_maps_the_code_and_flushes(code, returncode, stderr):
    script = f"import sys\nfrom matchmaker.cli.main import _exit_now\nsys.stdout.write('unterminated')\n_exit_now({code!r})"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert (done.returncode, done.stdout, done.stderr.strip()) == (returncode, "unterminated", stderr)


def test_quick_exit_waits_for_a_working_thread():
    script = (
        "import threading, time\nfrom matchmaker.cli.main import _exit_now\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('finished'))).start()\n_exit_now(0)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert (done.returncode, done.stdout) == (0, "finished\n")


def test_unknown_command_is_a_usage_error():
    result = invoke("frobnicate")
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr
    assert_no_traceback(result)


# ---------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------


def test_validate_demo_ok():
    result = invoke("validate", DEMO)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"OK: {DEMO}: 4 buyers, 6 exhibitors, 1 day(s), 6 requests")
    assert result.stderr == ""


def semantically_broken() -> dict:
    """demo-small with eight cross-reference problems, each at a distinct JSON path."""
    data = demo_data()
    data["days"][0]["sessions"] = [
        {"start": "12:00", "end": "11:00"},  # [0] reversed
        {"start": "09:30", "end": "11:10"},
        {"start": "14:00", "end": "15:40"},
        {"start": "15:00", "end": "16:00"},  # [3] overlaps [2]
    ]
    data["exhibitors"][0]["location"] = "NOPE"  # booth not in locations
    data["requests"][0]["buyer"] = "BX"  # unknown buyer
    data["blocked"][0]["exhibitor"] = "EX"  # unknown exhibitor
    data["buyers"][0]["availability"] = [{"date": "2023-10-22", "start": "11:00", "end": "10:00"}]  # reversed window
    data["buyers"].append({"id": "E1", "name": "Duplicate", "country": "X"})  # buyers[4]: id of exhibitors[0]
    # B3 is only available 14:00-15:40; 09:55 is a slot start of sessions[1].
    data["pinned"] = [{"buyer": "B3", "exhibitor": "E5", "date": "2023-10-22", "start": "09:55"}]
    return data


def test_validate_reports_every_semantic_problem_with_its_path(tmp_path):
    path = write_json(tmp_path / "broken.json", semantically_broken())
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert result.stdout == ""
    prefix = f"error: {path}: "
    expected = [
        f"{prefix}days[0].sessions[0].end: session ends at 11:00, not after its start 12:00",
        f"{prefix}days[0].sessions[3]: overlaps sessions[2] of the same day",
        f"{prefix}buyers[0].availability[0].end: ends at 10:00, not after its start 11:00",
        f"{prefix}buyers[4].id: duplicate id 'E1' (also exhibitors[0].id)",
        f"{prefix}exhibitors[0].location: booth 'NOPE' is not defined in locations",
        f"{prefix}blocked[0].exhibitor: unknown exhibitor 'EX'",
        f"{prefix}requests[0].buyer: unknown buyer 'BX'",
        f"{prefix}pinned[0]: buyer 'B3' is not available on 2023-10-22 09:55-10:15",
    ]
    lines = result.stderr.splitlines()
    assert sorted(lines) == sorted(expected)  # exactly one line per problem, nothing else
    assert all(line.startswith(prefix) for line in lines)


def structurally_broken() -> dict:
    """demo-small with four problems pydantic finds (types, patterns, unknown and missing fields)."""
    data = demo_data()
    data["slot_minutes"] = 0
    data["exhibitors"][1]["colour"] = "red"
    data["buyers"][0]["availability"] = [{"date": "2023-10-22", "start": "09:30", "end": "25:00"}]
    del data["buyers"][1]["country"]
    return data


def test_validate_reports_every_structural_problem_with_its_path(tmp_path):
    path = write_json(tmp_path / "structure.json", structurally_broken())
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert_no_traceback(result)
    prefix = f"error: {path}: "
    expected = [
        f"{prefix}slot_minutes: Input should be greater than or equal to 5",
        f"{prefix}exhibitors[1].colour: unknown field (check its spelling)",
        f"{prefix}buyers[0].availability[0].end: expected a time as HH:MM, got '25:00'",
        f"{prefix}buyers[1].country: required field is missing",
    ]
    assert sorted(result.stderr.splitlines()) == sorted(expected)


def test_validate_mixed_problems_reports_the_structural_ones(tmp_path):
    # Cross-reference checks need a structurally valid scenario, so a file with both kinds
    # reports at least the structural problems (one line each, no traceback).
    data = semantically_broken()
    data["buyers"][2]["availability"] = [{"date": "2023-10-22", "start": "14:00", "end": "25:00"}]
    path = write_json(tmp_path / "mixed.json", data)
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert f"error: {path}: buyers[2].availability[0].end: expected a time as HH:MM, got '25:00'" in result.stderr.splitlines()
    assert all(line.startswith(f"error: {path}: ") for line in result.stderr.splitlines())


def test_validate_malformed_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "name": "x",\n  "timezone": \n}\n', encoding="utf-8")
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert error_lines(result) == [f"error: {path}: line 4 column 1: malformed JSON: Expecting value"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "line 1 column 1: malformed JSON: Expecting value"),
        (b"\xef\xbb\xbf{}", "line 1 column 1: malformed JSON: Unexpected UTF-8 BOM"),
        (b"\xff\xfe{}", "cannot read file: 'utf-8' codec can't decode byte 0xff"),
        (b"[]", "(root): Input should be a valid dictionary"),
    ],
    ids=["empty", "bom", "not-utf8", "not-an-object"],
)
def test_validate_unreadable_files(tmp_path, content, message):
    path = tmp_path / "odd.json"
    path.write_bytes(content)
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert result.stderr.startswith(f"error: {path}: {message}")


def test_validate_deeply_nested_json_is_reported_not_a_traceback(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000, encoding="utf-8")
    result = invoke("validate", path)
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: ")


def test_validate_missing_file(tmp_path):
    path = tmp_path / "nowhere.json"
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert error_lines(result) == [f"error: {path}: file not found"]


def test_validate_directory_is_a_usage_error(tmp_path):
    result = invoke("validate", tmp_path)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert "is a directory" in result.stderr


# ---------------------------------------------------------------------------
# solve
# ---------------------------------------------------------------------------


def test_solve_demo_writes_a_valid_schedule(tmp_path):
    out = tmp_path / "out"
    result = invoke("solve", DEMO, "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    target = out / "schedule.json"
    assert target.is_file()
    assert [p.name for p in out.iterdir()] == ["schedule.json"]  # no temporary file left behind
    schedule = load_schedule(target)
    scenario = load_scenario(DEMO)
    assert schedule.scenario.name == scenario.name
    assert schedule.scenario.sha256 == scenario.fingerprint()

    text = result.stdout
    musts = must_count(DEMO)
    assert musts == 1
    assert f"  {len(schedule.meetings)} meetings for 4 buyers and 6 exhibitors; {bound_text(schedule.stats)}" in text
    assert f"must requests met: {musts}/{musts}" in text
    assert "meetings per buyer:" in text
    assert text.rstrip().endswith(f"wrote {target}")
    check = invoke("check", DEMO, target)
    assert check.exit_code == 0, check.output


def test_solve_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "out"
    target = out / "schedule.json"
    assert invoke("solve", DEMO, "-o", out, *FAST).exit_code == 0
    before = target.read_bytes()

    again = invoke("solve", DEMO, "-o", out, *FAST)
    assert again.exit_code == 2
    assert_no_traceback(again)
    assert error_lines(again) == [f"error: {target} already exists; use --force to overwrite it"]
    assert "already exists; use --force" in again.stderr
    assert again.stdout == ""
    assert target.read_bytes() == before

    forced = invoke("solve", DEMO, "-o", out, *FAST, "--force")
    assert forced.exit_code == 0, forced.output
    load_schedule(target)
    assert sorted(p.name for p in out.iterdir()) == ["schedule.json"]


def test_solve_invalid_scenario_writes_nothing(tmp_path):
    scenario = write_json(tmp_path / "broken.json", semantically_broken())
    out = tmp_path / "out"
    result = invoke("solve", scenario, "-o", out, *FAST)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert f"error: {scenario}: exhibitors[0].location: booth 'NOPE' is not defined in locations" in error_lines(result)
    assert not (out / "schedule.json").exists()


def test_solve_missing_scenario_writes_nothing(tmp_path):
    out = tmp_path / "out"
    result = invoke("solve", tmp_path / "nowhere.json", "-o", out, *FAST)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert error_lines(result) == [f"error: {tmp_path / 'nowhere.json'}: file not found"]
    assert not (out / "schedule.json").exists()


def conflicting_musts() -> dict:
    """One buyer, two exhibitors, a single 20-minute slot, two must requests."""
    return {
        "name": "conflicting musts",
        "timezone": "Europe/Berlin",
        "slot_minutes": 20,
        "days": [{"date": "2024-05-01", "sessions": [{"start": "10:00", "end": "10:20"}]}],
        "halls": [{"id": "H"}],
        "locations": [{"id": "L1", "hall": "H"}, {"id": "L2", "hall": "H"}],
        "exhibitors": [
            {"id": "E1", "name": "One", "location": "L1"},
            {"id": "E2", "name": "Two", "location": "L2"},
        ],
        "buyers": [{"id": "B1", "name": "Buyer", "country": "DE"}],
        "requests": [
            {"buyer": "B1", "exhibitor": "E1", "level": "must"},
            {"buyer": "B1", "exhibitor": "E2", "level": "must"},
        ],
    }


def test_solve_conflicting_musts_exit_2_and_nothing_written(tmp_path):
    scenario = write_json(tmp_path / "conflict.json", conflicting_musts())
    assert invoke("validate", scenario).exit_code == 0  # valid, just impossible
    out = tmp_path / "out"
    result = invoke("solve", scenario, "-o", out, *FAST)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert result.stderr.startswith("error: the must requests and pinned meetings cannot all be met:\n")
    assert "B1" in result.stderr
    assert not (out / "schedule.json").exists()


def test_solve_conflicting_musts_names_both_pairs(tmp_path):
    scenario = write_json(tmp_path / "conflict.json", conflicting_musts())
    result = invoke("solve", scenario, "-o", tmp_path / "out", *FAST)
    assert result.exit_code == 2
    assert "cannot all be met" in result.stderr
    assert "B1-E1" in result.stderr
    assert "B1-E2" in result.stderr


def test_solve_conflicting_musts_found_by_the_solver_names_both_pairs(tmp_path):
    # Two slots, so the counting pre-check passes; both exhibitors are only there in the first one.
    data = conflicting_musts()
    data["days"][0]["sessions"] = [{"start": "10:00", "end": "10:40"}]
    for exhibitor in data["exhibitors"]:
        exhibitor["availability"] = [{"date": "2024-05-01", "start": "10:00", "end": "10:20"}]
    scenario = write_json(tmp_path / "conflict.json", data)
    out = tmp_path / "out"
    result = invoke("solve", scenario, "-o", out, *FAST)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert "cannot all be met" in result.stderr
    assert "B1-E1 (must)" in result.stderr
    assert "B1-E2 (must)" in result.stderr
    assert not out.exists()


def test_solve_rejects_bad_options(tmp_path):
    result = invoke("solve", DEMO, "-o", tmp_path / "out", "--time-limit", "0.5")
    assert result.exit_code == 2
    assert "Invalid value for '--time-limit'" in result.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("solve", DEMO, "-o", blocker)
    assert result.exit_code == 2
    assert "is a file" in result.stderr
    assert blocker.read_text() == "x"


def test_solve_unwritable_output_folder_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("solve", DEMO, "-o", blocker / "sub", *FAST)
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_solve_bundled_anping(tmp_path):
    out = tmp_path / "out"
    result = invoke("solve", "-o", out, "--time-limit", "15", "--workers", "2", "-q")
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    assert "138 buyers and 420 exhibitors" in result.stdout
    musts = must_count(bundled_scenario_path())
    assert f"must requests met: {musts}/{musts}" in result.stdout
    assert "meetings per buyer" not in result.stdout  # -q
    schedule = load_schedule(out / "schedule.json")
    assert schedule.scenario.name == load_scenario(bundled_scenario_path()).name
    # The headline's one bound, in meeting value (the flow bound at Anping size); the solver's own units stay in the file.
    assert schedule.stats.gap_percent is not None and schedule.stats.upper_bound_value >= schedule.stats.value
    assert f"; {bound_text(schedule.stats)}; at most {schedule.stats.upper_bound_meetings:,} meetings" in result.stdout
    assert "objective" not in result.stdout


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------


def test_check_solved_schedule_ok(solved_demo):
    result = invoke("check", DEMO, solved_demo)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"OK: {solved_demo}: no violations\n"


def tampered(solved: Path, tmp_path: Path, change) -> Path:
    data = json.loads(solved.read_text(encoding="utf-8"))
    assert data["meetings"], "the demo schedule should have meetings"
    change(data["meetings"])
    return write_json(tmp_path / "tampered.json", data)


def violation_labels(result: Result) -> set[str]:
    return {line.split(":", 1)[0] for line in result.stdout.splitlines()}


def test_check_duplicated_meeting(solved_demo, tmp_path):
    path = tampered(solved_demo, tmp_path, lambda meetings: meetings.append(copy.deepcopy(meetings[0])))
    result = invoke("check", DEMO, path)
    assert result.exit_code == 1
    assert_no_traceback(result)
    labels = violation_labels(result)
    assert {"double-booked", "pair-repeated"} <= labels
    first = json.loads(path.read_text())["meetings"][0]
    pair = f"{first['buyer']}-{first['exhibitor']}"
    assert f"pair-repeated: {pair} meet 2 times" in result.stdout
    assert any(line.startswith(f"double-booked: buyer {first['buyer']} has 2 meetings") for line in result.stdout.splitlines())
    lines = result.stdout.splitlines()
    assert result.stderr.strip().endswith(f"{len(lines)} violation(s)")


def test_check_meeting_off_the_slot_grid(solved_demo, tmp_path):
    def move(meetings):
        meetings[0]["start"] = "09:31"

    path = tampered(solved_demo, tmp_path, move)
    result = invoke("check", DEMO, path)
    assert result.exit_code == 1
    assert_no_traceback(result)
    assert "not-a-slot" in violation_labels(result)
    first = json.loads(path.read_text())["meetings"][0]
    expected = f"not-a-slot: meeting {first['buyer']}-{first['exhibitor']} at {first['date']} 09:31: 09:31 is not the start of a slot"
    assert any(line.startswith(expected) for line in result.stdout.splitlines())


def test_check_schedule_with_missing_field(solved_demo, tmp_path):
    path = tampered(solved_demo, tmp_path, lambda meetings: meetings[0].pop("location"))
    result = invoke("check", DEMO, path)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert error_lines(result) == [f"error: {path}: meetings[0].location: required field is missing"]


def test_check_malformed_and_missing_schedule(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    result = invoke("check", DEMO, bad)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert error_lines(result)[0].startswith(f"error: {bad}: line 1 column 2: malformed JSON")
    result = invoke("check", DEMO, tmp_path / "none.json")
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert error_lines(result) == [f"error: {tmp_path / 'none.json'}: file not found"]


def test_check_against_invalid_scenario(solved_demo, tmp_path):
    scenario = write_json(tmp_path / "broken.json", semantically_broken())
    result = invoke("check", scenario, solved_demo)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert f"error: {scenario}: requests[0].buyer: unknown buyer 'BX'" in error_lines(result)


def test_check_warns_about_a_different_scenario(solved_demo, tmp_path):
    data = demo_data()
    data["description"] = "edited after the solve"
    scenario = write_json(tmp_path / "edited.json", data)
    result = invoke("check", scenario, solved_demo)
    assert result.exit_code == 0, result.output
    assert "warning: schedule was made from a different version of the scenario" in result.stderr


# ---------------------------------------------------------------------------
# generate, schema
# ---------------------------------------------------------------------------


def test_generate_to_file_validates_and_is_reproducible(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    result = invoke("generate", "--preset", "tiny", "--seed", "1", "-o", first)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {first}: ")
    assert invoke("generate", "--preset", "tiny", "--seed", "1", "-o", second).exit_code == 0
    assert first.read_bytes() == second.read_bytes()

    validated = invoke("validate", first)
    assert validated.exit_code == 0, validated.output
    assert validated.stdout.startswith(f"OK: {first}: ")

    to_stdout = invoke("generate", "--preset", "tiny", "--seed", "1")
    assert to_stdout.exit_code == 0
    assert to_stdout.stdout_bytes == first.read_bytes()
    assert isinstance(json.loads(to_stdout.stdout), dict)


def test_generate_refuses_to_overwrite(tmp_path):
    target = tmp_path / "f.json"
    target.write_text("keep me", encoding="utf-8")
    result = invoke("generate", "--preset", "tiny", "--seed", "1", "-o", target)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert error_lines(result) == [f"error: {target} already exists; use --force to overwrite it"]
    assert target.read_text(encoding="utf-8") == "keep me"
    forced = invoke("generate", "--preset", "tiny", "--seed", "1", "-o", target, "--force")
    assert forced.exit_code == 0, forced.output
    assert invoke("validate", target).exit_code == 0


def test_generate_unknown_preset_is_a_usage_error(tmp_path):
    target = tmp_path / "f.json"
    result = invoke("generate", "--preset", "huge", "-o", target)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert "Invalid value for '--preset': 'huge' is not one of" in result.stderr
    assert not target.exists()


def test_schema_is_json_schema_of_a_scenario():
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"buyers", "exhibitors", "days"} <= set(schema["properties"])
    assert schema["type"] == "object"


def test_click_version_separates_streams():
    # The assertions above rely on result.stderr being available separately (click >= 8.2).
    result = invoke("validate", "/definitely/not/here.json")
    assert result.stdout == ""
    assert result.stderr == result.output
