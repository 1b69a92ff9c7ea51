"""Benchmark: solves on a Dask cluster against the same solves on this machine (docs/cluster.md).

Usage (from the repository root; needs ``pip install '.[cluster]'``):

    python benchmarks/cluster.py                        # both parts on a local cluster of 2 one-thread workers
    python benchmarks/cluster.py --part fairs --time-limit 15
    python benchmarks/cluster.py --part portfolio --instances tic-13crafc.original --seeds 5

1. Fairs: 8 fairs (demo-small at solver seeds 0-3, the anping preset generated at seeds 0-3),
   each a whole solve job on the cluster (``executor.run_job``, as ``matchmaker serve --cluster``
   runs the desk's jobs; two at a time, one core each), against the same 8 solved one after another
   here with every core. Wall time for all 8, and each fair's meetings and gap to its bound.
2. Portfolio: the hardest B2BSP brokerage instances (``../shared/external/b2bsp`` relative to the
   repository root; the data is not in the repository), time to a proven optimum over seeds
   0..N-1: a single solve here with 2 CP-SAT workers, a single solve on the cluster (one
   member, one core), and a portfolio of 2 on the cluster (2 members of one core). Median and worst.

Prints Markdown tables; the machine's load matters (2 cores shared with other work: run it idle).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's matchmaker, also for the cluster's worker processes

B2BSP = ROOT / ".." / "shared" / "external" / "b2bsp" / "jair2022_instances"
# The slowest to prove on 2 cores (python benchmarks/b2bsp.py --time-limit 30): stage 1 refuted, then the
# LP bound and the seeded local search (tic-13crafc), or the generic model's core search (fixed020); tic-14crafd: 5.9 s.
HARDEST = ["tic-13crafc.original", "forum-13.fixed020-Forb", "tic-14crafd.original"]


def fair_job(payload, stop=None, on_progress=None, cores=None, started=None) -> dict:
    """One fair as a whole solve job (run_job's signature): its figures, measured where it ran."""
    from matchmaker.pipeline import SolveOptions, solve
    from matchmaker.spec.scenario import parse_scenario

    name, scenario_json, seed, limit = payload
    began = started if started is not None else time.monotonic()
    scenario = parse_scenario(json.loads(scenario_json), "scenario")
    schedule = solve(scenario, SolveOptions(time_limit=limit, workers=cores, seed=seed, stop=stop, started=began))
    return {
        "name": name,
        "seconds": time.monotonic() - began,
        "meetings": schedule.stats.meetings,
        "gap": schedule.stats.gap_percent,
        "engine": schedule.solver.engine,
    }


def fairs(limit: float) -> list[tuple]:
    from matchmaker.io.generate import generate_scenario
    from matchmaker.spec.scenario import load_scenario

    demo = load_scenario(ROOT / "scenarios" / "demo-small.json").model_dump_json(by_alias=True)
    out = [(f"demo-small (seed {seed})", demo, seed, limit) for seed in range(4)]
    for seed in range(4):
        text = generate_scenario("anping", seed).model_dump_json(by_alias=True)
        out.append((f"anping preset, seed {seed}", text, 0, limit))
    return out


def part_fairs(address: str, limit: float) -> None:
    from matchmaker.solver.executor import run_job

    jobs = fairs(limit)
    began = time.monotonic()
    here = [fair_job(job) for job in jobs]
    here_wall = time.monotonic() - began

    began = time.monotonic()
    with ThreadPoolExecutor(len(jobs)) as pool:  # the cluster queues what its two workers cannot run yet
        there = list(pool.map(lambda job: run_job(address, fair_job, job, job[0]), jobs))
    there_wall = time.monotonic() - began

    print(f"\n### 8 fairs, --time-limit {limit:g}: one after another here (2 CP-SAT workers) against whole jobs on the cluster (2 workers x 1 core)\n")
    print("| fair | here: s | here: meetings (gap) | cluster: s | cluster: meetings (gap) |")
    print("|---|---|---|---|---|")
    for a, b in zip(here, there):
        print(
            f"| {a['name']} | {a['seconds']:.1f} | {a['meetings']:,} ({_gap(a['gap'])}) "
            f"| {b['seconds']:.1f} | {b['meetings']:,} ({_gap(b['gap'])}) |"
        )
    print(f"| **all 8, wall** | **{here_wall:.1f}** | | **{there_wall:.1f}** | |")
    print(f"\ncluster jobs ran on: {sorted({b['engine'] for b in there})}")


def _gap(gap: float | None) -> str:
    return "-" if gap is None else f"{gap:.2f}%"


def part_portfolio(address: str, instances: list[str], seeds: int, limit: float) -> None:
    from matchmaker.analysis.checker import check_schedule
    from matchmaker.io.b2bsp import load_b2bsp
    from matchmaker.pipeline import SolveOptions, solve

    ways = [
        ("here, 2 CP-SAT workers", {"workers": 2}),
        ("cluster, 1 member (1 core)", {"cluster": address, "portfolio": 1}),
        ("cluster, portfolio of 2 (1 core each)", {"cluster": address, "portfolio": 2}),
    ]
    print(f"\n### Time to a proven optimum, seeds 0-{seeds - 1}, --time-limit {limit:g} (`solve()` time; '>' = not proven in time)\n")
    print("| instance | how | breaks | proven | median s | worst s |")
    print("|---|---|---|---|---|---|")
    for name in instances:
        path = B2BSP / f"{name}.dzn"
        if not path.exists():
            print(f"| {name} | not found at {path} | | | | |")
            continue
        scenario = load_b2bsp(path, 2)
        for label, extra in ways:
            times, breaks, proven = [], set(), 0
            for seed in range(seeds):
                began = time.monotonic()
                schedule = solve(scenario, SolveOptions(time_limit=limit, seed=seed, **extra))
                seconds = time.monotonic() - began
                assert check_schedule(scenario, schedule).ok, (name, label, seed)
                breaks.add(schedule.stats.idle_gaps)
                if schedule.solver.status == "OPTIMAL":
                    proven += 1
                    times.append(seconds)
                else:
                    times.append(float("inf"))
            shown = [f"{t:.2f}" if t != float("inf") else f">{limit:g}" for t in (statistics.median(times), max(times))]
            print(f"| {name} | {label} | {'/'.join(map(str, sorted(breaks)))} | {proven}/{seeds} | {shown[0]} | {shown[1]} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["fairs", "portfolio", "both"], default="both")
    parser.add_argument("--time-limit", type=float, default=15.0, help="per fair (part 1)")
    parser.add_argument("--instances", nargs="*", default=HARDEST, help="B2BSP instances (part 2)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per instance and way (part 2)")
    parser.add_argument("--portfolio-limit", type=float, default=60.0, help="per brokerage solve (part 2)")
    parser.add_argument("--cluster", default=None, help="an existing scheduler's address instead of a local cluster")
    args = parser.parse_args()

    from distributed import LocalCluster

    local = None
    address = args.cluster
    if address is None:
        local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        address = local.scheduler_address
    try:
        if args.part in ("fairs", "both"):
            part_fairs(address, args.time_limit)
        if args.part in ("portfolio", "both"):
            part_portfolio(address, args.instances, args.seeds, args.portfolio_limit)
    finally:
        from matchmaker.solver.executor import close_clients

        close_clients()
        if local is not None:
            local.close()


if __name__ == "__main__":
    main()
