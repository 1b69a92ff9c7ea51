"""Benchmark: does `matchmaker solve` honour --time-limit? Wall clock of the whole command.

Usage (from the repository root):

    python benchmarks/budget.py                              # every default row but xl
    python benchmarks/budget.py --preset xl                  # xl at 60 s (about 2 minutes with generation)
    python benchmarks/budget.py --preset large --limit 20    # one row

Each row generates the preset at its seed (not timed), then runs `matchmaker solve` as a
subprocess, so Python start-up, loading the scenario and writing schedule.json count.
Allowed: limit + max(2 s, 5% of the limit). Writes benchmarks/results/<date>-budget.md
(rows appended when the file exists) and prints the table. Timing goals live here, never
in unit tests; on a shared machine repeat a row before trusting an overrun.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
# (preset, seed, limit): tiny 5 s, anping 8 and 15 s, large 20 s (seed 5, the issue's) and 60 s, xl 60 s.
ROWS = [("tiny", 0, 5.0), ("anping", 0, 8.0), ("anping", 0, 15.0), ("large", 5, 20.0), ("large", 5, 60.0), ("xl", 0, 60.0)]
DEFAULT_PRESETS = ("tiny", "anping", "large")  # xl only when asked for (its 60 s row takes about 2 minutes)
HEADER = "| preset | seed | limit s | wall s | overrun s | allowed s | ok? | meetings | status |\n|---|---|---|---|---|---|---|---|---|"


def allowed_overrun(limit: float) -> float:
    return max(2.0, 0.05 * limit)


def measure(preset: str, seed: int, limit: float, folder: Path, extra: list[str]) -> dict:
    scenario = folder / f"{preset}-{seed}.json"
    if not scenario.exists():
        generate = [sys.executable, "-m", "matchmaker", "generate", "--preset", preset, "--seed", str(seed), "-o", str(scenario)]
        subprocess.run(generate, check=True, capture_output=True)
    out = folder / f"out-{preset}-{seed}-{limit:g}"
    command = [sys.executable, "-m", "matchmaker", "solve", str(scenario), "-o", str(out), "--time-limit", f"{limit:g}", "--force", "-q", *extra]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    meetings, status = None, f"exit {done.returncode}"
    if done.returncode == 0:
        schedule = json.loads((out / "schedule.json").read_text())
        meetings = len(schedule["meetings"])
        status = (schedule.get("solver") or {}).get("status", "?")
    else:
        print(done.stderr[-2000:], file=sys.stderr)
    overrun = wall - limit
    return {
        "preset": preset, "seed": seed, "limit": limit, "wall": wall, "overrun": overrun,
        "allowed": allowed_overrun(limit), "ok": overrun <= allowed_overrun(limit), "meetings": meetings, "status": status,
    }


def row(r: dict) -> str:
    return (
        f"| {r['preset']} | {r['seed']} | {r['limit']:g} | {r['wall']:.1f} | {r['overrun']:+.1f} | {r['allowed']:.1f} | "
        f"{'yes' if r['ok'] else '**no**'} | {r['meetings'] if r['meetings'] is not None else '-'} | {r['status']} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", help="Only this preset (repeatable); default tiny, anping, large.")
    parser.add_argument("--limit", type=float, action="append", help="Only rows at this limit (repeatable), or this limit for --preset.")
    parser.add_argument("--seed", type=int, help="Seed (default: the row's).")
    parser.add_argument("--repeat", type=int, default=1, help="Runs per row (the machine may be shared).")
    parser.add_argument("--workdir", type=Path, help="Folder for generated scenarios and schedules (default: a temporary one).")
    parser.add_argument("solve_args", nargs="*", help="Extra `matchmaker solve` options after --, e.g. -- --workers 2")
    args = parser.parse_args()

    presets = args.preset or list(DEFAULT_PRESETS)
    rows = [(p, s, t) for p, s, t in ROWS if p in presets and (not args.limit or t in args.limit)]
    for preset in presets:  # a limit no default row has
        for limit in args.limit or []:
            if not any(p == preset and t == limit for p, _s, t in rows):
                rows.append((preset, next((s for p, s, _t in ROWS if p == preset), 0), limit))
    if args.seed is not None:
        rows = [(p, args.seed, t) for p, _s, t in rows]

    results = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.workdir or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        print(HEADER, flush=True)
        for preset, seed, limit in rows:
            for _ in range(args.repeat):
                result = measure(preset, seed, limit, folder, args.solve_args)
                results.append(result)
                print(row(result), flush=True)

    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"{date.today().isoformat()}-budget.md"
    lines = [row(r) for r in results]
    if target.exists():
        target.write_text(target.read_text().rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    else:
        target.write_text(
            "# Time limit against wall clock (`matchmaker solve`, subprocess)\n\n"
            f"Allowed: limit + max(2 s, 5%). Machine: {_machine()}.\n\n{HEADER}\n" + "\n".join(lines) + "\n"
        )
    print(f"wrote {target}")
    return 0 if all(r["ok"] for r in results) else 1


def _machine() -> str:
    import os

    return f"{os.cpu_count()} cores, shared with other work (wall times are noisy)"


if __name__ == "__main__":
    sys.exit(main())
