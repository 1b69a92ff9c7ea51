"""matchmaker: B2B matchmaking scheduler for trade fairs.

Library entry points (the CLI is a thin layer over these)::

    scenario = load_scenario("scenarios/anping-2023.json")
    schedule = solve(scenario, SolveOptions(time_limit=30))
    report = check_schedule(scenario, schedule)
"""

from importlib import resources
from pathlib import Path

from .checker import check_schedule
from .errors import InfeasibleError, InputError, MatchmakerError, ScenarioError
from .scenario import Scenario, load_scenario
from .schedule import Schedule, load_schedule
from .solver import SolveOptions, solve

__version__ = "0.1.0"


def bundled_scenario_path() -> Path:
    """The shipped Anping 2023 scenario (synthetic participants)."""
    return Path(str(resources.files("matchmaker") / "data" / "anping-2023.json"))


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
    "solve",
]
