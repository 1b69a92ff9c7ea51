"""matchmaker: B2B matchmaking scheduler for trade fairs.

Library entry points (the CLI is a thin layer over these)::

    scenario = load_scenario("scenarios/anping-2023.json")
    schedule = solve(scenario, SolveOptions(time_limit=30))
    report = check_schedule(scenario, schedule)
"""

from .analysis.checker import check_schedule
from .errors import InfeasibleError, InputError, MatchmakerError, ScenarioError
from .pipeline import SolveOptions, reschedule, solve
from .spec.scenario import Scenario, bundled_scenario_path, load_scenario
from .spec.schedule import Schedule, load_schedule

__version__ = "0.1.0"


__all__ = [
    "InfeasibleError",
    "InputError",
    "MatchmakerError",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "SolveOptions",
    "bundled_scenario_path",
    "check_schedule",
    "load_scenario",
    "load_schedule",
    "reschedule",
    "solve",
]
