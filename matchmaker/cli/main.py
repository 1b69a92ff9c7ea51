"""Command line: parse, call the library, map its exceptions to messages and exit codes.

Exit codes: 0 success; 1 `check` found violations; 2 bad input, an infeasible
set of must/pinned meetings, or an output that exists without --force;
3 no schedule could be produced in the time given.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import click

from ..analysis.checker import check_schedule
from ..analysis.diff import ChangeReport, diff_schedules
from ..errors import DifferentEventError, MatchmakerError, OutputExistsError
from ..io.files import check_writable_folder, refuse_overwrite, write_atomic
from ..io.generate import PRESETS, generate_scenario
from ..pipeline import Progress, SolveOptions, connect_cluster, reschedule, solve
from ..solver.replan import Moment, check_same_event, file_sha256
from ..spec.scenario import bundled_scenario_path, load_scenario, scenario_json_schema
from ..spec.schedule import Schedule, bound_text, load_schedule
from . import b2bsp, explain, import_export, serve
from .common import (
    EXIT_VIOLATIONS,
    allow_other_event_option,
    force_option,
    library_errors,
    other_event_refusal,
    setup_logging,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matchmaker", prog_name="matchmaker")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv includes the CP-SAT search log).")
def main(verbose: int) -> None:
    """B2B matchmaking scheduler for trade fairs.

    \b
    Example:
      matchmaker solve -o out/          # the bundled Anping 2023 fair
      matchmaker check scenarios/anping-2023.json out/schedule.json
    """
    setup_logging(verbose)


def _terminal_progress(progress: Progress) -> None:
    if progress.objective is not None:
        figures = f"best {progress.objective:,.0f}  bound {progress.bound:,.0f}"
    elif progress.value is not None:
        figures = f"meeting value {progress.value:,}" + (f" of at most {progress.value_bound:,}" if progress.value_bound else "")
    else:
        figures = ""
    click.echo(f"\r  {progress.stage}: {progress.seconds:6.1f}s  {figures}   ", err=True, nl=False)


def solve_options(command):
    """Options shared by solve and reschedule."""
    for option in reversed(
        [
            click.option("-o", "--output", "outdir", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True, help="Folder for schedule.json (and changes.json/.csv when re-planning)."),
            click.option("--time-limit", type=click.FloatRange(min=1), default=45.0, show_default=True, help="Seconds for the whole solve."),
            click.option("--workers", type=click.IntRange(min=1), default=None, help="CP-SAT worker threads [default: all cores]."),
            click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the solver."),
            click.option("--deterministic", is_flag=True, help="Count the time limit in deterministic solver time: same input, seed and workers give the same schedule."),
            click.option("--strategy", type=click.Choice(["auto", "monolithic", "decompose"]), default="auto", show_default=True, help="One CP-SAT model, or selection by day then timetabling per day."),
            click.option("--candidates-per-meeting", type=click.IntRange(min=1), default=3, show_default=True, help="Keep each buyer's best N x max_meetings pairs (requests always kept)."),
            click.option("--policy", type=click.Choice(["keep", "minimal", "full"]), default="keep", show_default=True, help="With --previous: keep published meetings, move few of them, or re-optimize freely."),
            click.option("--max-changes-per-participant", type=click.IntRange(min=0), default=None, help="With --policy minimal: hard cap on moved/cancelled meetings per participant."),
            click.option("--freeze-before", default=None, metavar="'YYYY-MM-DD HH:MM'", help="With --previous: nothing before this local time changes or is added."),
            click.option("--cluster", default=None, metavar="tcp://HOST:PORT", help="Send the solve's tasks (day parts, portfolio members) to this Dask scheduler's workers (docs/cluster.md); unreachable: exit 2."),
            click.option("--portfolio", type=click.IntRange(min=1), default=None, help="With --cluster: members (seeds) racing on one-model solves (small fairs, brokerage events) [default: one per task slot]."),
            click.option("-q", "--quiet", is_flag=True, help="Print only the headline, not every buyer's count."),
            allow_other_event_option(
                "With --previous: accept a previous schedule made for another event (its scenario name differs, "
                "or its meetings lie on days that are not days of SCENARIO), e.g. after renaming the fair: "
                "matchmaker solve fair-renamed.json --previous out/schedule.json -o out/v2 --allow-other-event. "
                "--force never does this."
            ),
            force_option,
        ]
    ):
        command = option(command)
    return command


@main.command("solve")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--previous", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Published schedule.json to re-plan against (see docs/replanning.md).")
@solve_options
@library_errors
def solve_command(scenario, previous, **kwargs):
    """Solve a scenario and write OUTDIR/schedule.json.

    Without SCENARIO, solves the bundled Anping 2023 wire-mesh fair. A solve
    that runs out of time still writes the best valid schedule found. With
    --previous, re-plans against a published schedule and also writes
    changes.json and changes.csv (who must be told what).

    \b
    Example:
      matchmaker solve scenarios/demo-small.json -o out/ --time-limit 10
      matchmaker solve fair-v2.json --previous out/schedule.json -o out/v2 --policy minimal --max-changes-per-participant 2
    """
    _solve(scenario, previous, **kwargs)


@main.command("reschedule")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--previous", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Published schedule.json to re-plan against.")
@solve_options
@library_errors
def reschedule_command(scenario, previous, **kwargs):
    """Re-plan SCENARIO against a published schedule (solve --previous).

    \b
    Example:
      matchmaker reschedule fair-v2.json --previous out/schedule.json -o out/v2 --freeze-before "2023-10-23 12:00"
    """
    _solve(scenario, previous, **kwargs)


def run() -> None:
    """The console command (``matchmaker``, ``python -m matchmaker``): the process is the command."""
    try:
        main(obj=STANDALONE)
        code = 0
    except SystemExit as done:  # click's standalone mode ends every command this way
        code = done.code
    _exit_now(code)


def _exit_now(code) -> None:
    """End the process once the command is done: output flushed and the exit hooks run (logging's among them),
    without tearing the interpreter down. The teardown of what a solve loads (ortools, pandas, numpy) took
    0.08-0.14 s of every run, 10-15% of a small event's whole run. The usual exit where it matters: a thread other
    than the main one still working (not a daemon), which it waits for, and a profiler or tracer (cProfile,
    coverage), which writes its results then."""
    if not isinstance(code, int):  # sys.exit("message") or None
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    working = any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread())
    if working or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a broken pipe: nothing more can reach it
            pass
    os._exit(code)


STANDALONE = "standalone"  # click's ctx.obj of a console run (CliRunner and other embedders leave it None)


def _solve_started() -> float:
    """When ``--time-limit`` starts counting: the process' start in a console run (Python's start-up
    and imports take 0.5-2 s on a busy machine, and count), else now (an embedded run, e.g. a test
    through CliRunner, whose process may have started long before)."""
    context = click.get_current_context(silent=True)
    if context is not None and context.find_root().obj == STANDALONE:
        return _process_started()
    return time.monotonic()


def _process_started() -> float:
    """The ``time.monotonic()`` reading when this process started (Linux), else now."""
    now = time.monotonic()
    try:
        with open("/proc/self/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - age if 0.0 <= age < 60.0 else now


def _solve(scenario, previous, outdir, time_limit, workers, seed, deterministic, strategy, candidates_per_meeting,
           policy, max_changes_per_participant, freeze_before, cluster, portfolio, quiet, allow_other_event, force):
    started = _solve_started()  # --time-limit counts from here: start-up and loading are part of the solve
    path = scenario or bundled_scenario_path()
    target = outdir / "schedule.json"
    if previous is None and (policy != "keep" or freeze_before or max_changes_per_participant is not None or allow_other_event):
        raise click.UsageError("--policy, --freeze-before, --max-changes-per-participant and --allow-other-event need --previous")
    try:
        freeze = Moment.parse(freeze_before) if freeze_before else None
    except MatchmakerError as error:
        raise click.BadParameter(str(error).removeprefix("--freeze-before "), param_hint="--freeze-before") from None
    if previous is not None and target.resolve() == previous.resolve():
        raise OutputExistsError(f"{target} is the previous schedule; write the re-plan to another folder")
    refuse_overwrite(target, force)  # before solving, so no work is wasted
    if portfolio is not None and cluster is None:
        raise click.UsageError("--portfolio needs --cluster")
    if cluster:
        connect_cluster(cluster)  # an unreachable scheduler: exit 2 before anything is read or written
    loaded = load_scenario(path)
    check_writable_folder(outdir)
    options = SolveOptions(
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
        strategy=strategy,
        candidates_per_meeting=candidates_per_meeting,
        on_progress=_terminal_progress if sys.stderr.isatty() else None,
        started=started,
        cluster=cluster,
        portfolio=portfolio,
    )
    if previous is None:
        schedule, report = solve(loaded, options), None
    else:
        old = load_schedule(previous)
        if not allow_other_event:  # --force only overwrites the output; it never accepts another fair's schedule
            try:
                check_same_event(loaded, old)
            except DifferentEventError as error:
                raise other_event_refusal(error, previous) from None
        result = reschedule(
            loaded,
            old,
            options,
            policy=policy,
            max_changes_per_participant=max_changes_per_participant,
            freeze_before=freeze,
            previous_sha256=file_sha256(previous),
            previous_file=str(previous),
        )
        schedule, report = result.schedule, result.changes
    if options.on_progress:
        click.echo("", err=True)
    write_atomic(target, schedule.to_json(), force=force)
    if report is not None:
        write_atomic(outdir / "changes.json", report.to_json(), force=True)
        write_atomic(outdir / "changes.csv", report.to_csv(), force=True)
    click.echo(summary(schedule, quiet))
    if report is not None:
        click.echo(change_summary(report))
    click.echo(f"wrote {target}" + (f", {outdir / 'changes.json'}, {outdir / 'changes.csv'}" if report else ""))


def change_summary(report: ChangeReport) -> str:
    return (
        f"  changes from version {report.old_version}: {report.kept} kept, {report.added} added, "
        f"{report.moved} moved, {report.cancelled} cancelled; {report.participants_to_notify} participants to notify"
    )


@main.command("diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--csv", "as_csv", is_flag=True, help="Print the per-participant CSV instead of the text report.")
@library_errors
def diff_command(old, new, as_csv):
    """List the meetings added, moved and cancelled between two schedules.

    \b
    Example:
      matchmaker diff out/schedule.json out/v2/schedule.json
    """
    report = diff_schedules(load_schedule(old), load_schedule(new))
    if as_csv:
        click.echo(report.to_csv(), nl=False)
        return
    for c in report.changes:
        before = f"{c.old_date} {c.old_start} {c.old_location}" if c.old_date else "-"
        after = f"{c.new_date} {c.new_start} {c.new_location}" if c.new_date else "-"
        click.echo(f"{c.change:9} {c.buyer}-{c.exhibitor}: {before} -> {after}")
    click.echo(change_summary(report).strip())


SUMMARY_MAX_ROWS = 20  # rows of per-buyer counts (8 a row); more buyers get a count of buyers per number of meetings


def summary(schedule: Schedule, quiet: bool = False) -> str:
    """The few lines an organizer reads after a solve (``quiet``: without the per-buyer counts)."""
    stats, solver = schedule.stats, schedule.solver
    headline = f"  {stats.meetings} meetings for {stats.buyers} buyers and {stats.exhibitors} exhibitors; {bound_text(stats)}"
    if stats.upper_bound_meetings is not None:
        headline += f"; at most {stats.upper_bound_meetings:,} meetings"
    lines = [
        f"{schedule.scenario.name}",
        headline,
        (
            f"  per buyer: min {stats.per_buyer.min}, median {stats.per_buyer.median:g}, max {stats.per_buyer.max}"
            f" ({stats.per_buyer.zero} without a meeting)"
        ),
        (
            f"  per exhibitor: min {stats.per_exhibitor.min}, median {stats.per_exhibitor.median:g}, max {stats.per_exhibitor.max}"
            f" ({stats.per_exhibitor.zero} without a meeting)"
        ),
        (
            f"  must requests met: {stats.must_requests.met}/{stats.must_requests.total};"
            f" want requests met: {stats.want_requests.met}/{stats.want_requests.total}"
        ),
        (
            f"  idle gaps: {stats.idle_gaps}; interpreted meetings: {stats.interpreted_meetings};"
            f" below min_meetings: {stats.min_meetings_shortfall}"
        ),
    ]
    if solver is not None:  # its objective and bound are in the solver's own units: schedule.json only
        where = "" if solver.engine == "local" else f" on {solver.engine}, {solver.tasks} tasks"
        lines.append(f"  solver: {solver.status} ({getattr(solver, 'strategy', '?')}) in {solver.seconds:.1f}s{where}")
        lines.append(f"  {solver.message}")
    if not quiet:
        counts = stats.meetings_per_buyer or Counter(m.buyer for m in schedule.meetings)
        cells = [f"{buyer} {count:>2}" for buyer, count in sorted(counts.items())]
        if len(cells) <= 8 * SUMMARY_MAX_ROWS:
            lines.append("  meetings per buyer:")
            for row in range(0, len(cells), 8):
                lines.append("    " + "  ".join(cells[row : row + 8]))
        else:
            histogram = Counter(counts.values())
            lines.append(f"  buyers per number of meetings ({len(counts):,} buyers; each buyer's count: stats.meetings_per_buyer):")
            cells = [f"{n:>2}: {histogram[n]:,}" for n in sorted(histogram)]
            for row in range(0, min(len(cells), 8 * SUMMARY_MAX_ROWS), 8):
                lines.append("    " + "  ".join(cells[row : row + 8]))
    return "\n".join(lines)


@main.command("check")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("schedule", type=click.Path(dir_okay=False, path_type=Path))
@library_errors
def check_command(scenario, schedule):
    """Check SCHEDULE against every hard rule of SCENARIO, independently of the solver.

    Prints one labelled line per violation and exits with 1 if there is any.

    \b
    Example:
      matchmaker check scenarios/anping-2023.json out/schedule.json
    """
    report = check_schedule(load_scenario(scenario), load_schedule(schedule))
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for violation in report.violations:
        click.echo(f"{violation.label}: {violation.message}")
    if not report.ok:
        click.echo(f"{len(report.violations)} violation(s)", err=True)
        sys.exit(EXIT_VIOLATIONS)
    click.echo(f"OK: {schedule}: no violations")


@main.command("validate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@library_errors
def validate_command(scenario):
    """Validate a scenario file; print each problem with its JSON path.

    \b
    Example:
      matchmaker validate scenarios/demo-small.json
    """
    loaded = load_scenario(scenario)
    click.echo(
        f"OK: {scenario}: {len(loaded.buyers)} buyers, {len(loaded.exhibitors)} exhibitors, "
        f"{len(loaded.days)} day(s), {len(loaded.requests)} requests"
    )


@main.command("generate")
@click.option("--preset", type=click.Choice(PRESETS), default="tiny", show_default=True, help="Size and shape of the fair.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same preset and seed give the same file.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Scenario file to write [default: stdout].")
@force_option
@library_errors
def generate_command(preset, seed, output, force):
    """Generate a synthetic wire-mesh fair scenario.

    \b
    Example:
      matchmaker generate --preset anping --seed 7 -o anping-7.json
    """
    scenario = generate_scenario(preset, seed)
    text = json.dumps(scenario.model_dump(mode="json", by_alias=True), indent=1, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    write_atomic(output, text, force=force)
    click.echo(f"wrote {output}: {len(scenario.buyers)} buyers, {len(scenario.exhibitors)} exhibitors")


@main.command("schema")
def schema_command():
    """Print the JSON Schema of the scenario format.

    \b
    Example:
      matchmaker schema > scenario.schema.json
    """
    click.echo(json.dumps(scenario_json_schema(), indent=2))


def _register_extra_commands() -> None:
    """Commands that live in their own modules (organizer I/O, explanations, B2BSP, the web desk), attached to the group."""
    for module in (import_export, explain, b2bsp, serve):
        module.register(main)


_register_extra_commands()
