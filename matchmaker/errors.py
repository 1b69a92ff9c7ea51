"""Library exceptions. The CLI maps each to a message and an exit code."""

from __future__ import annotations

from dataclasses import dataclass


def _restore(cls: type, args: tuple, state: dict) -> MatchmakerError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class MatchmakerError(Exception):
    """Base class for every error the library raises on purpose."""

    def __reduce__(self):
        # Pickled whole (fields and message), not re-built from ``args``: an error raised in a
        # task on another process or machine (solver/executor.py) arrives as it was raised.
        return _restore, (type(self), self.args, dict(self.__dict__))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where (JSON path or row/column) and what."""

    path: str
    message: str

    def render(self, file: str | None = None) -> str:
        where = f"{file}: " if file else ""
        at = f"{self.path}: " if self.path else ""
        return f"{where}{at}{self.message}"


class InputError(MatchmakerError):
    """An input file is unusable; carries one Problem per defect."""

    def __init__(self, problems: list[Problem], file: str | None = None):
        self.problems = list(problems)
        self.file = file
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [p.render(self.file) for p in self.problems]


class ScenarioError(InputError):
    """The scenario file is malformed or inconsistent."""


class ScheduleFileError(InputError):
    """A schedule file is malformed."""


class InfeasibleError(MatchmakerError):
    """The hard rules (must requests, pinned meetings, caps) cannot all hold."""

    def __init__(self, reasons: list[str]):
        self.reasons = list(reasons)
        super().__init__("\n".join(self.reasons))


class OutputExistsError(MatchmakerError):
    """Refused to overwrite an existing output file without force."""


class OutputError(MatchmakerError):
    """An output file or folder cannot be written."""


class DifferentEventError(InputError):
    """A schedule (the previous one of a re-plan, or one to export) was made for another event.

    An InputError, so that it is reported like any other unusable input
    (``file: problem``; the CLI exits with 2, an API would answer 4xx).
    """

    def __init__(self, message: str, file: str | None = None):
        super().__init__([Problem("", message)], file)


class ClusterError(InputError):
    """The Dask cluster given with ``--cluster`` cannot be used: no scheduler answers there, or Dask
    is not installed. An InputError: CLI exit 2, one line, nothing written."""

    def __init__(self, address: str, reason: str):
        self.address, self.reason = address, reason
        super().__init__([Problem("", f"cannot use the Dask scheduler at {address}: {reason}")], file="--cluster")


class TaskFailedError(MatchmakerError):
    """A task of a solve (a day part, a portfolio member, a whole solve job) raised: a bug, named by its part."""

    def __init__(self, task: str, where: str, error: str):
        self.task, self.where, self.error = task, where, error
        super().__init__(f"{task} failed on {where}: {error} (a bug; please report this scenario)")
