"""What every command shares: exit codes, the error-to-message mapping, shared options, logging."""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from ..errors import (
    DifferentEventError,
    InfeasibleError,
    InputError,
    MatchmakerError,
    OutputError,
    OutputExistsError,
)

EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 2
EXIT_NO_SCHEDULE = 3


def fail(lines: list[str], code: int) -> None:
    for line in lines:
        click.echo(line, err=True)
    sys.exit(code)


def library_errors(command):
    """Turn library exceptions into one-line-per-problem messages and exit codes, never tracebacks."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as error:
            fail([f"error: {line}" for line in error.lines()], EXIT_BAD_INPUT)
        except InfeasibleError as error:
            fail(
                ["error: the must requests and pinned meetings cannot all be met:"] + [f"  {r}" for r in error.reasons],
                EXIT_BAD_INPUT,
            )
        except (OutputExistsError, OutputError, DifferentEventError) as error:
            fail([f"error: {error}"], EXIT_BAD_INPUT)
        except MatchmakerError as error:
            fail([f"error: {error}"], EXIT_NO_SCHEDULE)

    return wrapper


def force_option(command):
    return click.option("--force", is_flag=True, help="Overwrite an existing output file.")(command)


def allow_other_event_option(help_text: str):
    """``--allow-other-event``: accept a schedule made for another event (never implied by --force)."""
    return click.option("--allow-other-event", "allow_other_event", is_flag=True, help=help_text)


def other_event_refusal(error: DifferentEventError, schedule_file: str | Path) -> DifferentEventError:
    """The library's same-event refusal, naming the schedule file and the option that overrides it."""
    message = error.problems[0].message if error.problems else str(error)
    return DifferentEventError(f"{message}; to use it anyway, add --allow-other-event", file=str(schedule_file))


def setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    # -v shows seconds since start-up: where a solve's time limit went, stage by stage.
    fmt = "%(levelname)s %(name)s: %(message)s" if verbose == 0 else "%(relativeCreated)7.0fms %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
