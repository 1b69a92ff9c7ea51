"""Benchmark: the public B2BSP brokerage-event instances (Bofill et al., JAIR 74 (2022) 263-301).

Usage (from the repository root):

    python benchmarks/b2bsp.py                          # every .dzn of the shared folder, d = 2, 60 s each
    python benchmarks/b2bsp.py --all-fairness           # also every other d the paper reports (0, 1, 3)
    python benchmarks/b2bsp.py FOLDER --time-limit 30 --workers 2

Each instance is converted with the import-b2bsp converter, solved with the ordinary
`solve` pipeline, checked with the independent checker (sessions, precedences and
break fairness included), and compared with the published optimum and MaxSAT time
(reference_results_jair2022.csv next to the instance folder). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "external" / "b2bsp"  # beside the repository
CSV_NAME = "reference_results_jair2022.csv"


def published(folder: Path) -> dict[tuple[str, int], tuple[str, str]]:
    """(instance.variant, d) -> (best_obj, MaxSAT seconds) from the paper's results file, if present."""
    path = folder / CSV_NAME
    if not path.exists():
        path = folder.parent / CSV_NAME
    out: dict[tuple[str, int], tuple[str, str]] = {}
    if not path.exists():
        return out
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["solver"] in ("MaxSAT", "maxsat_imp12+"):
                key = (f"{row['instance']}.{row['variant']}", int(row["fairness_d"]))
                if row["solver"] == "MaxSAT" or key not in out:
                    out[key] = (row["best_obj"], row["time_s"])
    return out


def run_one(path: Path, d: int, time_limit: float, workers: int) -> dict:
    from matchmaker.analysis.checker import check_schedule
    from matchmaker.errors import InfeasibleError, MatchmakerError
    from matchmaker.io.b2bsp import load_b2bsp
    from matchmaker.pipeline import SolveOptions, solve

    scenario = load_b2bsp(path, d)
    size = f"{len(scenario.participants)}p/{len(scenario.requests)}m/{len(list(_slots(scenario)))}s/{scenario.locations[0].tables}t"
    started = time.monotonic()
    try:
        schedule = solve(scenario, SolveOptions(time_limit=time_limit, workers=workers, seed=0))
    except InfeasibleError:
        return {"size": size, "breaks": "-", "optimal": "infeasible", "seconds": time.monotonic() - started, "check": "-"}
    except MatchmakerError as error:
        return {"size": size, "breaks": "?", "optimal": "no", "seconds": time.monotonic() - started, "check": str(error)[:60]}
    seconds = time.monotonic() - started
    report = check_schedule(scenario, schedule)
    return {
        "size": size,
        "breaks": str(schedule.stats.idle_gaps),
        "optimal": "yes" if schedule.solver.status == "OPTIMAL" else "no",
        "seconds": seconds,
        "check": "ok" if report.ok else f"{len(report.violations)} violations: {sorted(report.labels())}",
    }


def _slots(scenario):
    for day in scenario.days:
        for session in day.sessions:
            from matchmaker.spec.scenario import minutes

            t = minutes(session.start)
            while t + scenario.slot_minutes <= minutes(session.end):
                yield t
                t += scenario.slot_minutes + scenario.changeover_minutes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=SHARED / "jair2022_instances")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--all-fairness", action="store_true", help="also run every other d the paper reports")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"B2BSP data folder {args.folder} not found; nothing to run (the data is not part of the repository)")
        return 0
    reference = published(args.folder)
    files = sorted(args.folder.glob("*.dzn"))
    print("| instance | d | size | our breaks | proven optimal? | seconds | published optimum | MaxSAT s | check |")
    print("|---|---|---|---|---|---|---|---|---|")
    total = {"ours": 0.0, "maxsat": 0.0}
    failures = 0
    for path in files:
        name = path.name.removesuffix(".dzn")
        ds = sorted({d for (n, d) in reference if n == name} or {2}) if args.all_fairness else [2]
        for d in ds:
            result = run_one(path, d, args.time_limit, args.workers)
            best, maxsat = reference.get((name, d), ("?", "?"))
            ours = result["breaks"]
            match = best in ("?", "") or ours == best
            failures += (not match) or result["check"] not in ("ok", "-") or result["optimal"] == "no"
            if name.endswith(".original") and d == 2 and maxsat not in ("?", "TO"):
                total["ours"] += result["seconds"]
                total["maxsat"] += float(maxsat)
            print(
                f"| {name} | {d} | {result['size']} | {ours} | {result['optimal']} | {result['seconds']:.1f} | "
                f"{best} | {maxsat} | {result['check']} |",
                flush=True,
            )
    print(f"\noriginal instances, d = 2: ours {total['ours']:.1f} s in total, published MaxSAT {total['maxsat']:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
