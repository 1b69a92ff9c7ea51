"""Test helpers: a compact builder for tiny scenarios, and solve-and-assert shortcuts.

Importable from any test module in this folder as ``from helpers import ...``
(pytest's default "prepend" import mode puts the test file's folder on sys.path).

The builder returns plain dicts in the scenario file format, so a test can tweak
any field before parsing. Defaults: one day (``DAY``), one session of ``slots``
back-to-back 20-minute slots starting at 09:00, one hall ``H1``, a booth
``L-<id>`` with one table for every exhibitor, and a one-table ``LOUNGE`` for
exhibitors whose ``location`` is None. Participants have no interests,
languages or limits unless given, so the only candidate pairs are the ones a
test requests or pins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner, Result
from ortools.sat.python import cp_model

import matchmaker.solver.model as model_package
from matchmaker.analysis.checker import check_schedule
from matchmaker.cli.main import main
from matchmaker.instance.candidates import Instance, build_instance
from matchmaker.pipeline import SolveOptions, solve
from matchmaker.solver.model import BuiltModel, build_model
from matchmaker.spec.scenario import Scenario, hhmm, minutes, parse_scenario
from matchmaker.spec.schedule import Schedule

DAY = "2024-05-14"
DAY2 = "2024-05-15"
SLOT = 20
SEED = 0
TIME_LIMIT = 5.0

Spec = str | dict[str, Any]


# ---------------------------------------------------------------------------
# Building scenarios
# ---------------------------------------------------------------------------


def slot_start(k: int, changeover: int = 0, first: str = "09:00") -> str:
    """HH:MM start of slot ``k`` (0-based) of a session starting at ``first``."""
    return hhmm(minutes(first) + k * (SLOT + changeover))


def session(slots: int, changeover: int = 0, first: str = "09:00") -> dict:
    """A session holding exactly ``slots`` slots."""
    end = minutes(first) + slots * SLOT + (slots - 1) * changeover
    return {"start": first, "end": hhmm(end)}


def window(start: str, end: str, day: str = DAY) -> dict:
    """An availability window."""
    return {"date": day, "start": start, "end": end}


def only_slot(k: int, changeover: int = 0, day: str = DAY) -> list[dict]:
    """Availability covering exactly slot ``k`` of the default session."""
    start = minutes(slot_start(k, changeover))
    return [window(hhmm(start), hhmm(start + SLOT), day)]


def must(buyer: str, exhibitor: str, by: str = "buyer") -> dict:
    return {"buyer": buyer, "exhibitor": exhibitor, "by": by, "level": "must"}


def want(buyer: str, exhibitor: str, by: str = "buyer") -> dict:
    return {"buyer": buyer, "exhibitor": exhibitor, "by": by, "level": "want"}


def pin(buyer: str, exhibitor: str, start: str, day: str = DAY) -> dict:
    return {"buyer": buyer, "exhibitor": exhibitor, "date": day, "start": start}


def _spec(item: Spec) -> dict:
    return {"id": item} if isinstance(item, str) else dict(item)


def make_scenario(
    buyers: Iterable[Spec] = ("B1",),
    exhibitors: Iterable[Spec] = ("E1",),
    *,
    slots: int = 2,
    changeover: int = 0,
    sessions: list[dict] | None = None,
    halls: Iterable[str] = ("H1",),
    walking: dict[tuple[str, str], int] | None = None,
    lounge_tables: int = 1,
    requests: Iterable[dict] = (),
    pinned: Iterable[dict] = (),
    blocked: Iterable[dict] = (),
    interpreters: Iterable[dict] = (),
    **overrides: Any,
) -> dict:
    """A tiny one-day scenario as a dict; any top-level field can be overridden by keyword.

    ``buyers``/``exhibitors`` are ids or partial dicts (``id`` required; other
    fields default). An exhibitor dict may carry the builder-only key ``hall``:
    its booth is then placed in that hall. ``"location": None`` sends it to the
    shared ``LOUNGE`` (``lounge_tables`` tables, first hall).
    """
    halls = list(halls)
    buyer_list = []
    for item in buyers:
        spec = _spec(item)
        spec.setdefault("name", f"Buyer {spec['id']}")
        spec.setdefault("country", "XX")
        buyer_list.append(spec)
    exhibitor_list, locations = [], [{"id": "LOUNGE", "hall": halls[0], "tables": lounge_tables}]
    for item in exhibitors:
        spec = _spec(item)
        spec.setdefault("name", f"Exhibitor {spec['id']}")
        hall = spec.pop("hall", halls[0])
        if "location" not in spec:
            spec["location"] = f"L-{spec['id']}"
        if spec["location"] is not None and spec["location"] not in {loc["id"] for loc in locations}:
            locations.append({"id": spec["location"], "hall": hall, "tables": 1})
        exhibitor_list.append(spec)
    data = {
        "name": "tiny test fair",
        "timezone": "Europe/Berlin",
        "slot_minutes": SLOT,
        "changeover_minutes": changeover,
        "days": [{"date": DAY, "sessions": sessions or [session(slots, changeover)]}],
        "halls": [{"id": h} for h in halls],
        "walking_minutes": [{"from": a, "to": b, "minutes": m} for (a, b), m in (walking or {}).items()],
        "locations": locations,
        "shared_location": "LOUNGE",
        "exhibitors": exhibitor_list,
        "buyers": buyer_list,
        "requests": list(requests),
        "blocked": list(blocked),
        "interpreters": list(interpreters),
        "pinned": list(pinned),
    }
    data.update(overrides)
    return data


def as_scenario(data: dict | Scenario) -> Scenario:
    return data if isinstance(data, Scenario) else parse_scenario(data)


# ---------------------------------------------------------------------------
# Solving the raw CP-SAT model (no pruning, no greedy, no decomposition)
# ---------------------------------------------------------------------------

# Constraint adders that ``without=`` may switch off: the hard-rule families of
# matchmaker.solver.model.HARD_RULES plus the two commitment adders.
COMMITMENT_ADDERS = ("add_must_requests", "add_pinned")


@dataclass
class Solved:
    """A raw model solve: what was built and what CP-SAT said."""

    instance: Instance
    built: BuiltModel
    solver: cp_model.CpSolver
    status: int

    @property
    def status_name(self) -> str:
        return self.solver.status_name(self.status)

    def meetings(self) -> set[tuple[str, str, str]]:
        """(buyer, exhibitor, HH:MM) of every active meeting variable."""
        mv, inst = self.built.vars, self.instance
        out = set()
        for v, var in enumerate(mv.x):
            if self.solver.boolean_value(var):
                c = inst.candidates[mv.cand_of[v]]
                out.add((inst.parties[c.buyer].id, inst.parties[c.exhibitor].id, hhmm(inst.grid.slots[mv.slot_of[v]].start)))
        return out


def _build(instance: Instance, without: Iterable[str]) -> BuiltModel:
    """build_model with the named constraint adders switched off (restored afterwards)."""
    without = set(without)
    known = {rule.__name__ for rule in model_package.HARD_RULES} | set(COMMITMENT_ADDERS)
    assert without <= known, f"unknown constraint adders {sorted(without - known)}; known: {sorted(known)}"
    saved_rules = model_package.HARD_RULES
    saved_adders = {name: getattr(model_package, name) for name in COMMITMENT_ADDERS}
    try:
        model_package.HARD_RULES = tuple(rule for rule in saved_rules if rule.__name__ not in without)
        for name in COMMITMENT_ADDERS:
            if name in without:
                setattr(model_package, name, lambda *args, **kwargs: None)
        return build_model(instance)
    finally:
        model_package.HARD_RULES = saved_rules
        for name, adder in saved_adders.items():
            setattr(model_package, name, adder)


def solve_model(
    data: dict | Scenario,
    extra: Callable[[Instance, BuiltModel], None] | None = None,
    without: Iterable[str] = (),
    time_limit: float = TIME_LIMIT,
) -> Solved:
    """Build the unpruned instance and the full CP-SAT model, optionally add ``extra`` constraints, solve."""
    instance = build_instance(as_scenario(data), candidates_per_meeting=None)
    dropped = [d for d in instance.dropped_requests if d.level == "must"]
    assert not dropped, f"a must request has no candidate at all, so the model cannot show it: {dropped}"
    built = _build(instance, without)
    if extra is not None:
        extra(instance, built)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = SEED
    solver.parameters.max_time_in_seconds = time_limit
    status = solver.solve(built.model)
    return Solved(instance, built, solver, status)


def assert_feasible(data: dict | Scenario, **kwargs: Any) -> Solved:
    """The model (every hard rule, no pruning) has a solution; returns it for further checks."""
    solved = solve_model(data, **kwargs)
    assert solved.status in (cp_model.OPTIMAL, cp_model.FEASIBLE), f"expected a feasible model, got {solved.status_name}"
    return solved


def assert_infeasible(data: dict | Scenario, because: str | None = None, **kwargs: Any) -> Solved:
    """The model is proven INFEASIBLE; with ``because`` (a constraint adder's name),
    also that switching that adder off makes it feasible, i.e. that family is the cause."""
    solved = solve_model(data, **kwargs)
    assert solved.status == cp_model.INFEASIBLE, f"expected an infeasible model, got {solved.status_name}"
    if because is not None:
        relaxed_kwargs = {**kwargs, "without": [because, *kwargs.get("without", ())]}
        relaxed = solve_model(data, **relaxed_kwargs)
        assert relaxed.status in (cp_model.OPTIMAL, cp_model.FEASIBLE), (
            f"still {relaxed.status_name} without {because}: the infeasibility does not come from that family"
        )
    return solved


# ---------------------------------------------------------------------------
# Solving through the library entry point
# ---------------------------------------------------------------------------


def solve_and_check(scenario: dict | Scenario, **options: Any) -> Schedule:
    """``solve`` then assert the independent checker finds nothing wrong; returns the schedule.

    Options are SolveOptions fields; defaults: time_limit 5 s, 1 worker, seed 0.
    """
    scenario = as_scenario(scenario)
    options = {"time_limit": TIME_LIMIT, "workers": 1, "seed": SEED, **options}
    schedule = solve(scenario, SolveOptions(**options))
    report = check_schedule(scenario, schedule)
    if not report.ok:
        print(f"{len(report.violations)} violation(s) in the schedule of {scenario.name!r}:")
        for line in report.lines():
            print("  " + line)
    assert report.ok, f"checker found {sorted(report.labels())}: {[str(v) for v in report.violations[:5]]}"
    assert not report.warnings, report.warnings
    assert schedule.stats.meetings == len(schedule.meetings)
    assert schedule.stats.must_requests.met == schedule.stats.must_requests.total
    assert not [u for u in schedule.unscheduled_requests if u.level == "must"]
    return schedule


def meetings_of(schedule: Schedule) -> set[tuple[str, str, str]]:
    """(buyer, exhibitor, HH:MM) of every meeting (one-day fairs)."""
    return {(m.buyer, m.exhibitor, m.start) for m in schedule.meetings}


def pairs_of(schedule: Schedule) -> set[tuple[str, str]]:
    return {(m.buyer, m.exhibitor) for m in schedule.meetings}


def meeting_key(schedule: Schedule) -> list[tuple]:
    """The meeting list in a comparable form (for determinism checks)."""
    return [(m.buyer, m.exhibitor, m.date.isoformat(), m.start, m.location, m.interpreter) for m in schedule.meetings]


def invoke(*args: object) -> Result:
    """Run the CLI in-process with every argument as a string."""
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_no_traceback(result: Result) -> None:
    """The command ended normally or through sys.exit, never through an exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unexpected {type(result.exception).__name__}: {result.exception}\n{result.output}"
    )
    assert "Traceback" not in result.output
