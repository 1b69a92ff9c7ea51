"""schedule.json: the pydantic output model, and reading/writing it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import Problem, ScheduleFileError
from .scenario import HHMM, validation_problems

# 2: stats.score, upper_bound_*, gap_percent and objective_gap_percent are filled on every path (one
# definition, docs/model.md "Bounds"; the objective gap is now against upper_bound_objective, not
# CP-SAT's own bound), solver.best_bound/gap_percent are internal.
# Files of format 1 still load (same fields).
SCHEDULE_FORMAT = 2


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScenarioRef(_Out):
    """Which scenario the schedule was made from."""

    name: str
    sha256: str


class Meeting(_Out):
    """One scheduled one-to-one meeting."""

    buyer: str
    exhibitor: str
    date: date
    start: HHMM
    end: HHMM
    location: str
    interpreter: str | None = Field(default=None, description="Language of the interpreter needed, or null")


class UnscheduledRequest(_Out):
    """A requested meeting that is not in the schedule, with a human-readable reason."""

    buyer: str
    exhibitor: str
    level: Literal["must", "want"]
    by: str = "buyer"
    reason: str


Category = Literal[
    "blocked",
    "no_interest",
    "no_common_slot",
    "no_interpreter",
    "cap_reached",
    "counterpart_booked",
    "interpreter_full",
    "table_full",
    "walking_time",
    "pruned",
    "traded_off",
]

# "request", "below_min" and "no_meetings" come from explain_schedule; "participant"
# (a summary for anyone) and "pair" (any unrequested pair) only from the on-demand helpers.
Kind = Literal["request", "below_min", "no_meetings", "participant", "pair"]



class Explanation(_Out):
    """Why something an organizer may be asked about is not in the schedule."""

    subject: str = Field(description='Participant id, or "BUYER-EXHIBITOR" for a pair')
    kind: Kind
    category: Category
    message: str = Field(description="One sentence naming ids, dates and times")
    details: dict[str, Any] = Field(default_factory=dict, description="The facts behind the message (JSON values)")




class Distribution(_Out):
    """Meetings per participant of one side."""

    min: int = 0
    median: float = 0
    max: int = 0
    zero: int = Field(default=0, description="Participants with no meeting")


class RequestStats(_Out):
    total: int = 0
    met: int = 0


class Stats(_Out):
    """Figures an organizer looks at first."""

    model_config = ConfigDict(extra="allow")

    meetings: int = 0
    value: int = 0
    buyers: int = 0
    exhibitors: int = 0
    per_buyer: Distribution = Field(default_factory=Distribution)
    per_exhibitor: Distribution = Field(default_factory=Distribution)
    must_requests: RequestStats = Field(default_factory=RequestStats)
    want_requests: RequestStats = Field(default_factory=RequestStats)
    min_meetings_shortfall: int = Field(default=0, description="Meetings missing below participants' min_meetings")
    idle_gaps: int = Field(default=0, description="Idle gaps between meetings of a participant within a day, summed")
    interpreted_meetings: int = 0
    candidates: int = Field(default=0, description="Candidate pairs given to the optimizer after pruning")
    candidates_before_pruning: int = 0
    variables: int = Field(default=0, description="Meeting variables (pair x slot) in the CP-SAT model")
    score: int | None = Field(
        default=None,
        description="value - min_shortfall x min_meetings_shortfall: what the schedule maximizes (besides compact agendas)",
    )
    upper_bound_meetings: int | None = Field(default=None, description="No schedule has more meetings; null: no bound")
    upper_bound_value: int | None = Field(
        default=None, description="No schedule has more meeting value (re-plans: kept meetings included); null: no bound"
    )
    upper_bound_objective: int | None = Field(
        default=None, description="No schedule has a higher score (re-plans: kept meetings included); null: no bound"
    )
    gap_percent: float | None = Field(
        default=None,
        description="(upper_bound_value - value) / upper_bound_value x 100: the meeting value the schedule may still "
        "miss; the figure every display shows; null: no bound",
    )
    objective_gap_percent: float | None = Field(
        default=None,
        description="(upper_bound_objective - score) / upper_bound_objective x 100: the score's own gap, what the "
        "solver closes (benchmarks); not shown by the summaries; null: no bound, or a negative score",
    )
    meetings_per_buyer: dict[str, int] = Field(default_factory=dict)


def bound_text(stats: Stats) -> str:
    """The schedule against its bound, in meeting value: the one wording of the CLI summary, reports and explain."""
    if stats.gap_percent is None or stats.upper_bound_value is None:
        return f"meeting value {stats.value:,} (no bound)"
    return f"meeting value {stats.value:,} of at most {stats.upper_bound_value:,} (within {stats.gap_percent:.2f}%)"


class SolverInfo(_Out):
    """How the schedule was found."""

    model_config = ConfigDict(extra="allow")

    status: str
    seconds: float
    seed: int
    workers: int
    time_limit: float
    deterministic: bool = False
    objective: float | None = Field(
        default=None, description="Internal: the solver's objective in its own scaled units (not comparable to stats)"
    )
    best_bound: float | None = Field(
        default=None,
        description="Internal: the solver's bound on `objective`, in its scaled units; the schedule's bound is stats.upper_bound_value",
    )
    gap_percent: float | None = Field(
        default=None, description="Internal: (best_bound - objective) / best_bound x 100; the schedule's gap is stats.gap_percent"
    )
    fallback: bool = Field(default=False, description="True when CP-SAT found nothing and the greedy schedule was kept")
    message: str = ""
    engine: str = Field(
        default="local",
        description="Where the solve's tasks ran: 'local' (this machine), or 'dask ADDRESS' (a Dask cluster; docs/cluster.md)",
    )
    tasks: int = Field(default=0, description="Tasks sent to the engine (day parts, portfolio members, a whole solve job)")


class PreviousRef(_Out):
    """The published schedule a re-plan started from."""

    file: str | None = None
    sha256: str | None = Field(default=None, description="sha256 of the previous schedule file's bytes")
    version: int


class Schedule(_Out):
    """The whole output of a solve."""

    format: int = SCHEDULE_FORMAT
    version: int = Field(default=1, description="1 for a first solve, one higher for each re-plan")
    previous: PreviousRef | None = None
    scenario: ScenarioRef
    meetings: list[Meeting] = Field(default_factory=list)
    unscheduled_requests: list[UnscheduledRequest] = Field(default_factory=list)
    explanations: list[Explanation] = Field(
        default_factory=list,
        description="Why requests are unscheduled, participants below min_meetings, exhibitors without meetings (docs/explanations.md)",
    )
    stats: Stats = Field(default_factory=Stats)
    solver: SolverInfo | None = None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def load_schedule(path: str | Path) -> Schedule:
    """Read a schedule.json; raise ScheduleFileError with one Problem per defect."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScheduleFileError([Problem("", "file not found")], str(path)) from None
    except RecursionError:
        raise ScheduleFileError([Problem("", "JSON is nested too deeply")], str(path)) from None
    except json.JSONDecodeError as error:
        raise ScheduleFileError(
            [Problem(f"line {error.lineno} column {error.colno}", f"malformed JSON: {error.msg}")], str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScheduleFileError([Problem("", f"cannot read file: {error}")], str(path)) from None
    try:
        return Schedule.model_validate(data)
    except ValidationError as error:
        raise ScheduleFileError(validation_problems(error), str(path)) from None
