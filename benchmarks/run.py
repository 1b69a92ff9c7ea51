"""Benchmark: generated fairs at fixed seeds, solved, checked, compared with the greedy and the flow bound.

Usage (from the repository root):

    python benchmarks/run.py                         # anping (15 s) and large (120 s)
    python benchmarks/run.py --preset xl --time-limit 600
    python benchmarks/run.py --preset anping --time-limit 45 --seed 2023

Each preset runs in its own process so that peak memory (RSS) is its own.
Writes benchmarks/results/<date>.md and .csv and prints the Markdown table.
Timing goals live here, never in unit tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import resource
import sys
import time
from datetime import date
from pathlib import Path

DEFAULT_LIMITS = {"tiny": 5.0, "anping": 15.0, "large": 120.0, "xl": 600.0}
RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = (
    "preset", "seed", "time_limit", "build_s", "solve_s", "peak_rss_mb", "meetings", "value", "shortfall",
    "objective", "upper_bound", "gap_percent", "greedy_objective", "greedy_ratio", "idle_gaps",
    "idle_per_participant", "status", "check",
)


def _measure(preset: str, seed: int, time_limit: float, workers: int | None, queue) -> None:
    """Child process: generate, greedy, solve, check; report one row."""
    from matchmaker import SolveOptions, check_schedule, solve
    from matchmaker.instance.candidates import build_instance
    from matchmaker.io.generate import generate_scenario
    from matchmaker.relax.selection import score
    from matchmaker.solver.greedy import greedy_schedule

    started = time.monotonic()
    scenario = generate_scenario(preset, seed)
    instance = build_instance(scenario)
    greedy = greedy_schedule(instance)
    greedy_objective = score(instance, greedy.placed)
    build_seconds = time.monotonic() - started

    started = time.monotonic()
    schedule = solve(scenario, SolveOptions(time_limit=time_limit, workers=workers, seed=seed))
    solve_seconds = time.monotonic() - started
    report = check_schedule(scenario, schedule)
    stats = schedule.stats
    # The objective's value part, value - min_shortfall x shortfall, against its bound: the
    # selection LP over every pair (large fairs), else the flow bound on value alone.
    objective = stats.value - scenario.weights.min_shortfall * stats.min_meetings_shortfall
    bound = stats.upper_bound_objective if stats.upper_bound_objective is not None else stats.upper_bound_value
    queue.put(
        {
            "preset": preset,
            "seed": seed,
            "time_limit": time_limit,
            "build_s": round(build_seconds, 1),
            "solve_s": round(solve_seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "meetings": stats.meetings,
            "value": stats.value,
            "shortfall": stats.min_meetings_shortfall,
            "objective": objective,
            "upper_bound": bound,
            "gap_percent": round(100 * (bound - objective) / bound, 3) if bound else None,
            "greedy_objective": greedy_objective,
            "greedy_ratio": round(greedy_objective / bound, 4) if bound else None,
            "idle_gaps": stats.idle_gaps,
            "idle_per_participant": round(stats.idle_gaps / max(1, stats.buyers + stats.exhibitors), 3),
            "status": schedule.solver.status + (" (greedy fallback)" if schedule.solver.fallback else ""),
            "check": "clean" if report.ok else f"{len(report.violations)} violations",
        }
    )


def run_one(preset: str, seed: int, time_limit: float, workers: int | None) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(preset, seed, time_limit, workers, queue))
    process.start()
    row = queue.get()
    process.join()
    return row


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", action="append", choices=sorted(DEFAULT_LIMITS), help="repeatable; default anping and large")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=None, help="default per preset: " + json.dumps(DEFAULT_LIMITS))
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    rows = []
    for preset in args.preset or ["anping", "large"]:
        limit = args.time_limit or DEFAULT_LIMITS[preset]
        print(f"running {preset} (seed {args.seed}, {limit:g} s) ...", file=sys.stderr, flush=True)
        rows.append(run_one(preset, args.seed, limit, args.workers))
    table = markdown(rows)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"{date.today()}-{'-'.join(r['preset'] for r in rows)}"
    stem.with_suffix(".md").write_text(table, encoding="utf-8")
    with stem.with_suffix(".csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
