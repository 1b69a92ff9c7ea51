"""Why-commands (explain, bottlenecks); attached to the main group by cli/main.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .common import library_errors

KIND_LABELS = {
    "below_min": "below min_meetings",
    "no_meetings": "no meetings",
    "participant": "participant",
    "pair": "pair",
}


def _label(explanation) -> str:
    if explanation.kind == "request":
        if explanation.details.get("pinned"):
            return "pinned request"
        return f"{explanation.details.get('level', 'want')} request"
    return KIND_LABELS[explanation.kind]


def register(group: click.Group) -> None:
    """Add this module's commands to ``group``."""
    # Imported here: cli.py imports this module while it is being set up.

    @group.command("explain")
    @click.argument("schedule", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--scenario", "scenario", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The scenario the schedule was made from.")
    @click.option("-p", "--participant", default=None, help="Only what concerns this buyer or exhibitor, with a summary of all its matches.")
    @click.option("--candidates-per-meeting", type=click.IntRange(min=1), default=3, show_default=True, help="The value the schedule was solved with (decides what counts as pruned).")
    @click.option("--json", "as_json", is_flag=True, help="Print the explanations as a JSON list.")
    @library_errors
    def explain_command(schedule, scenario, participant, candidates_per_meeting, as_json):
        """Say why requested meetings are missing, why participants are below
        their min_meetings and why exhibitors have no meeting.

        One line per explanation: SUBJECT (KIND): CATEGORY: sentence. The
        categories (no_common_slot, no_interpreter, counterpart_booked,
        interpreter_full, table_full, walking_time, cap_reached, blocked, pruned,
        no_interest, traded_off) are described in docs/explanations.md. With
        --participant, everything about that buyer or exhibitor, including a
        summary of all its matching counterparts even when nothing is wrong.

        \b
        Example:
          matchmaker explain out/schedule.json --scenario scenarios/anping-2023.json
          matchmaker explain out/schedule.json --scenario scenarios/anping-2023.json --participant B004
        """
        from ..analysis.explain import explain_participant, explain_schedule
        from ..errors import Problem, ScenarioError, ScheduleFileError
        from ..spec.scenario import load_scenario
        from ..spec.schedule import bound_text, load_schedule

        loaded_schedule = load_schedule(schedule)
        loaded_scenario = load_scenario(scenario)
        if loaded_schedule.scenario.sha256 != loaded_scenario.fingerprint():
            click.echo("warning: the schedule was made from a different version of the scenario", err=True)
        try:
            if participant is None:
                explanations = explain_schedule(loaded_scenario, loaded_schedule, candidates_per_meeting)
            else:
                explanations = explain_participant(loaded_scenario, loaded_schedule, participant, candidates_per_meeting)
        except KeyError:
            raise ScenarioError([Problem("--participant", f"{participant!r} is not a buyer or exhibitor of the scenario")], str(scenario)) from None
        except ScheduleFileError as error:  # meetings that do not fit the scenario: name the schedule file
            raise ScheduleFileError(error.problems, str(schedule)) from None
        if as_json:
            click.echo(json.dumps([x.model_dump(mode="json") for x in explanations], indent=1, ensure_ascii=False))
            return
        if participant is None:  # the schedule's standing first, in the words of the solve summary and the report
            click.echo(f"schedule: {loaded_schedule.stats.meetings} meetings; {bound_text(loaded_schedule.stats)}")
        for x in explanations:
            click.echo(f"{x.subject} ({_label(x)}): {x.category}: {x.message}")
        if participant is None:
            click.echo(f"{len(explanations)} explanation(s)", err=True)

    @group.command("bottlenecks")
    @click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--schedule", "schedule", type=click.Path(dir_okay=False, path_type=Path), default=None, help="A schedule of SCENARIO: adds its figures and its unmet requests by category.")
    @click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many of each kind (languages, places, booths, buyers, slots) to name.")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @library_errors
    def bottlenecks_command(scenario, schedule, top, as_json):
        """Name the interpreter languages, shared tables, booths, buyers and time
        slots that limit the fair most, with what one more interpreter, table or
        hour would add to the upper bound on meetings and meeting value.

        The estimates re-solve the flow bound (no CP-SAT) with the capacity
        raised: they say what a change can add at most. 10-15 seconds for the
        Anping fair. See docs/explanations.md.

        \b
        Example:
          matchmaker bottlenecks scenarios/anping-2023.json --schedule out/schedule.json
          matchmaker bottlenecks scenarios/demo-small.json --top 3
        """
        from ..analysis.bottlenecks import find_bottlenecks
        from ..errors import ScheduleFileError
        from ..spec.scenario import load_scenario
        from ..spec.schedule import load_schedule

        loaded_scenario = load_scenario(scenario)
        loaded_schedule = load_schedule(schedule) if schedule is not None else None
        if loaded_schedule is not None and loaded_schedule.scenario.sha256 != loaded_scenario.fingerprint():
            click.echo("warning: the schedule was made from a different version of the scenario", err=True)
        try:
            report = find_bottlenecks(loaded_scenario, loaded_schedule, top=top)
        except ScheduleFileError as error:
            raise ScheduleFileError(error.problems, str(schedule)) from None
        if as_json:
            click.echo(report.model_dump_json(indent=1))
            return
        for line in report.lines():
            click.echo(line)
