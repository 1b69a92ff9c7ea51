"""Benchmark: the public B2BSP brokerage-event instances (Bofill et al., JAIR 74 (2022) 263-301).

Usage (from the repository root):

    python benchmarks/b2bsp.py                     # the whole benchmark: 20 s, seeds 0 1 2 (about an hour)
    python benchmarks/b2bsp.py --d2-only --no-variants      # only the shared files at d = 2
    python benchmarks/b2bsp.py FOLDER --time-limit 30 --workers 2 --seeds 0 1 2

The whole benchmark: every .dzn of the shared folder at d = 2; for the originals also every
other d the paper reports (0, 1, 3; ``--d2-only`` skips them); then the generated variants
(``--no-variants`` skips them): for every ``*.original.dzn``, the paper's six recipes made by
``matchmaker/io/b2bsp_variants.py`` (forb0003, forb0007, fixed020-Forb, fixed040-Forb, prec15,
prec25; generator seed 1, named ``<base>.<recipe>-s1``): no optimum is published for them, so
the table shows whether every seed proves the same optimum (or infeasibility).

Each instance is converted with the import-b2bsp converter, solved once per seed by a child
process `python -m matchmaker solve` (the ordinary pipeline, which checks the schedule with the
independent checker; the wall time includes Python's start-up and loading, from bytecode compiled
beforehand), checked again here
(sessions, precedences and break fairness included), and compared with the published optimum
and MaxSAT time (reference_results_jair2022.csv next to the instance folder: the MaxSAT row of
Tables 5-11, else maxsat_best, else maxsat_imp12+). Prints a Markdown table: per seed the
seconds, and the median.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "external" / "b2bsp"  # beside the repository
CSV_NAME = "reference_results_jair2022.csv"
ROOT = Path(__file__).resolve().parents[1]  # the child processes run this checkout's code
SOLVERS = ("MaxSAT", "maxsat_best", "maxsat_imp12+")  # first found wins
# Exit 2 with one of these in its first line is a proof of infeasibility (else it is bad input).
INFEASIBLE_WORDS = ("cannot all be met", "infeasible", "fairness")


def published(folder: Path) -> dict[tuple[str, int], tuple[str, str]]:
    """(instance.variant, d) -> (best_obj, MaxSAT seconds) from the paper's results file, if present."""
    path = folder / CSV_NAME
    if not path.exists():
        path = folder.parent / CSV_NAME
    out: dict[tuple[str, int], tuple[str, str]] = {}
    ranks: dict[tuple[str, int], int] = {}
    if not path.exists():
        return out
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["solver"] in SOLVERS:
                key = (f"{row['instance']}.{row['variant']}", int(row["fairness_d"]))
                rank = SOLVERS.index(row["solver"])
                if key not in out or rank < ranks[key]:
                    ranks[key] = rank
                    # empty best_obj: no optimum reported (tic-14crafd.fixed040-Forb: infeasible, as "-" elsewhere)
                    out[key] = (row["best_obj"] or "-", row["time_s"])
    return out


def run_one(path: Path, d: int, time_limit: float, workers: int, seed: int = 0, variant: tuple[str, int] | None = None) -> dict:
    """Convert, then solve in a child process (``python -m matchmaker solve``); wall seconds include its start-up."""
    from matchmaker.analysis.checker import check_schedule
    from matchmaker.io.b2bsp import load_b2bsp
    from matchmaker.spec.schedule import load_schedule

    scenario = load_b2bsp(path, d, variant)
    size = f"{len(scenario.participants)}p/{len(scenario.requests)}m/{len(list(_slots(scenario)))}s/{scenario.locations[0].tables}t"
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "scenario.json"
        source.write_text(scenario.model_dump_json())
        command = [
            sys.executable, "-m", "matchmaker", "solve", str(source), "-o", str(Path(folder) / "out"), "--force", "-q",
            "--time-limit", str(time_limit), "--workers", str(workers), "--seed", str(seed),
        ]
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        seconds = time.monotonic() - started
        first = (done.stderr.strip().splitlines() or [""])[0]
        if done.returncode == 2 and any(word in first for word in INFEASIBLE_WORDS):
            return {"size": size, "breaks": "-", "optimal": "infeasible", "seconds": seconds, "check": "-"}
        if done.returncode == 2:  # bad input or usage: a failure of the benchmark, not a result
            return {"size": size, "breaks": "?", "optimal": "no", "seconds": seconds, "check": f"exit 2: {first[:60]}"}
        if done.returncode != 0:
            return {"size": size, "breaks": "?", "optimal": "no", "seconds": seconds, "check": done.stderr.strip()[-60:]}
        schedule = load_schedule(Path(folder) / "out" / "schedule.json")
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
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--d2-only", action="store_true", help="skip the other d the paper reports for the originals (0, 1, 3)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per seed (default 0 1 2)")
    parser.add_argument("--no-variants", action="store_true", help="skip the six generated variants of every original (d = 2)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"B2BSP data folder {args.folder} not found; nothing to run (the data is not part of the repository)")
        return 0
    reference = published(args.folder)
    # Bytecode first, as an installation from a wheel has it: with PYTHONDONTWRITEBYTECODE set (as on our benchmark
    # machine) every child would otherwise compile matchmaker's modules again, 0.15 s of each run.
    compileall.compile_dir(ROOT / "matchmaker", quiet=1)
    from matchmaker.io.b2bsp_variants import RECIPES

    cases: list[tuple[Path, str, tuple[str, int] | None]] = [(p, p.name.removesuffix(".dzn"), None) for p in sorted(args.folder.glob("*.dzn"))]
    if not args.no_variants:
        for path in sorted(args.folder.glob("*.original.dzn")):
            base = path.name.removesuffix(".original.dzn")
            cases += [(path, f"{base}.{recipe}-s1", (recipe, 1)) for recipe in RECIPES]
    print("| instance | d | size | our breaks | proven optimal? | seconds per seed (wall, with start-up) | median | published optimum | MaxSAT s | check |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    total = {"ours": 0.0, "maxsat": 0.0}
    failures = 0
    for path, name, variant in cases:
        ds = sorted({d for (n, d) in reference if n == name} or {2}) if not args.d2_only and variant is None else [2]
        for d in ds:
            results = [run_one(path, d, args.time_limit, args.workers, seed, variant) for seed in args.seeds]
            best, maxsat = reference.get((name, d), ("?", "?"))
            breaks = sorted({r["breaks"] for r in results}, key=lambda b: (not b.isdigit(), int(b) if b.isdigit() else 0, b))
            proven = sorted({r["optimal"] for r in results})
            checks = sorted({r["check"] for r in results})
            median = statistics.median(r["seconds"] for r in results)
            match = breaks == [best] if best not in ("?", "") else len(breaks) == 1  # unpublished: every seed agrees
            failures += (not match) or any(c not in ("ok", "-") for c in checks) or "no" in proven
            if name.endswith(".original") and d == 2 and maxsat not in ("?", "TO"):
                total["ours"] += median
                total["maxsat"] += float(maxsat)
            seconds = ", ".join(f"{r['seconds']:.1f}" for r in results)
            print(
                f"| {name} | {d} | {results[0]['size']} | {breaks[0] if len(breaks) == 1 else ', '.join(r['breaks'] for r in results)} | {'/'.join(proven)} | {seconds} | {median:.1f} | "
                f"{best} | {maxsat} | {'; '.join(checks)} |",
                flush=True,
            )
    print(
        f"\noriginal instances, d = 2: ours {total['ours']:.1f} s in total (sum of the medians), "
        f"published MaxSAT {total['maxsat']:.1f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
