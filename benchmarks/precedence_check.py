"""Precedence check: do the engine's heuristics keep the precedence rule on a large fair?

Reproduces issue "one home per hard rule": the construction heuristics (greedy,
idle-gap polish, insertion, Kempe-chain search) each kept their own partial copy of
the hard rules, and precedences were missing from several, so an Anping-size fair
with precedences came back with precedence violations from the raw engine.

For each seed, the generated ``anping`` fair gets ``--precedences`` (default 60)
precedences among buyers' ``want`` requests: per buyer, its requested pairs sorted
by meeting value, each less valuable request before the next more valuable one
(same buyer); a seeded sample of those chains is kept. Each scenario is solved at
each time limit with ``matchmaker.solver.engine.solve_scenario`` (the raw engine,
bypassing the pipeline's fallback to the start schedule) and checked with
``matchmaker.analysis.checker.check_schedule``. Prints one row per seed x limit:
meetings, violations in total and per label, and wall seconds.

Usage (from the repository root):

    python benchmarks/precedence_check.py                      # seeds 1-3, limits 2 and 8
    python benchmarks/precedence_check.py --seeds 1 --limits 8 --precedences 60
    python benchmarks/precedence_check.py --write /tmp/a1p.json   # also save seed 1's scenario

Exit status 1 when any schedule has a violation.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matchmaker.analysis.checker import check_schedule
from matchmaker.instance.candidates import build_instance
from matchmaker.io.generate import generate_scenario
from matchmaker.solver.engine import solve_scenario
from matchmaker.solver.run import SolveOptions
from matchmaker.spec.scenario import Scenario


def with_precedences(scenario: Scenario, count: int, seed: int) -> Scenario:
    """``scenario`` plus ``count`` precedences: a buyer's less valuable want request before its more valuable one."""
    instance = build_instance(scenario, candidates_per_meeting=None)
    value = {(instance.parties[c.buyer].id, instance.parties[c.exhibitor].id): c.value for c in instance.candidates}
    by_buyer: dict[str, list[tuple[int, str]]] = defaultdict(list)
    seen = set()
    for request in scenario.requests:
        pair = (request.buyer, request.exhibitor)
        if request.level == "want" and pair in value and pair not in seen:
            seen.add(pair)
            by_buyer[request.buyer].append((value[pair], request.exhibitor))
    chains = []
    for buyer in sorted(by_buyer):
        own = sorted(by_buyer[buyer])
        for (low, first), (high, second) in itertools.pairwise(own):
            if low < high:
                chains.append((buyer, first, second))
    chosen = sorted(random.Random(seed).sample(chains, min(count, len(chains))))
    data = scenario.model_dump(mode="json", by_alias=True)
    data["precedences"] = [
        {"before": {"buyer": b, "exhibitor": first}, "after": {"buyer": b, "exhibitor": second}} for b, first, second in chosen
    ]
    return Scenario.model_validate(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--limits", type=float, nargs="+", default=[2.0, 8.0])
    parser.add_argument("--precedences", type=int, default=60)
    parser.add_argument("--preset", default="anping")
    parser.add_argument("--write", help="write the first seed's scenario (with precedences) to this JSON file")
    args = parser.parse_args()
    bad = False
    print("| seed | limit | precedences | meetings | violations | by label | seconds |")
    print("|---|---|---|---|---|---|---|")
    for i, seed in enumerate(args.seeds):
        scenario = with_precedences(generate_scenario(args.preset, seed), args.precedences, seed)
        if args.write and i == 0:
            Path(args.write).write_text(scenario.model_dump_json(by_alias=True, indent=1))
        for limit in args.limits:
            started = time.monotonic()
            solved = solve_scenario(scenario, SolveOptions(time_limit=limit, seed=0, explain=False))
            seconds = time.monotonic() - started
            report = check_schedule(scenario, solved.schedule)
            labels = Counter(v.label for v in report.violations)
            bad |= bool(report.violations)
            by_label = ", ".join(f"{k} {n}" for k, n in sorted(labels.items())) or "-"
            print(
                f"| {seed} | {limit:g} | {len(scenario.precedences)} | {len(solved.schedule.meetings)} "
                f"| {len(report.violations)} | {by_label} | {seconds:.1f} |",
                flush=True,
            )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
