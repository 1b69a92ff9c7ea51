"""One time budget: how ``--time-limit`` is split between the stages of a solve.

The limit is for the whole command: the clock starts when the process starts
(``SolveOptions.started``, set by the CLI; start-up and loading count) and what runs after the
engine (the pipeline's checker and explanations, writing the file) is reserved
up front (``after_engine_seconds``), so the engine's stages share what is left.

Wall-clock runs: a share of the engine's time *left* when the stage starts
("left"), so an early finish passes time on; a stage whose cost cannot be cut
(building a model or LP, rounding, merging) is skipped when its estimated cost
does not fit. Deterministic runs (``--deterministic``): a fixed share of the
*limit* in CP-SAT deterministic time ("limit"), never a clock reading.

Read ``SHARES`` as: stage -> (share, of what), and the comment says why.
"""

from __future__ import annotations

# stage -> share. "of" in the comment: limit = of the whole limit; left = of the engine's time
# left when the stage starts; stage = of its parent stage's time.
SHARES: dict[str, float] = {
    # --- every fair ---
    "commitments": 0.2,  # left (deterministic: limit). Must/pinned model: proves infeasibility, usually < 1 s
    "diagnosis": 0.5,  # left. Naming conflicting commitments after an infeasible solve; the rest is kept
    # for the shrink solves, each capped at DIAGNOSIS_SHRINK_SECONDS (out of time: a larger set is named)
    # --- small fairs: one monolithic CP-SAT model ---
    "flow_bound": 0.15,  # limit. Subgradient rounds of the flow bound; only a statistic, so it is skipped (the
    # counting and LP bounds stand) when FLOW_MIN_ROUNDS rounds (FLOW_ROUND_PER_PAIR) do not fit
    "monolithic": 0.9,  # deterministic: limit (the rest for the flow bound and commitments); wall clock: all left
    # --- large fairs: decomposition (docs/performance.md, "Strategy") ---
    "column_generation": 0.3,  # left. xl: 3 rounds of ~30 s at 600 s; a round is started only when it fits
    "selection_lp": 0.5,  # left. The LP decides the days and the bound: the most productive stage
    "selection_pdlp": 0.6,  # stage (of the LP's solve time): PDLP's duals (large: 23 s to converge, xl: 17 s,
    # then it stops); the restricted HiGHS vertex gets the rest (large: 3 s, xl: 134 s)
    "day_value": 0.5,  # stage (a day's time). Value phase; compaction gets the rest and what value left
    "day_keep_attempt": 0.7,  # stage (what is left of a day's value phase): one attempt to timetable the selection
    "day_fallback_from_compaction": 0.5,  # stage (a day's compaction). When the keep attempt found no
    # timetable, the fallback (the greedy's meetings kept) may use this part of compaction's time too
    "day_compact_moves": 0.2,  # stage (a day's compaction), at most: the polish's moves before its model
    "fixed_day_value": 0.55,  # limit, split by the days' meetings (deterministic runs cannot pass time on)
    "fixed_day_compact": 0.45,  # limit, likewise
    "insertion": 0.5,  # left after the merge: selected meetings the days left out, then other pairs; polish the rest
    # --- objective "breaks" (brokerage.py) ---
    "breaks_exact": 0.6,  # limit, at most. "Total breaks <= k?" for k = floor sum, +1, ... (breaks_exact.py):
    # every shared original is decided there; what is left goes to the LP bound, search and stage 2
    "breaks_first_question": 0.3,  # limit, at most, of breaks_exact: the first question (k = floor sum), which settles
    # most real events at once; the rest keeps time for the commitments' schedule and the fallback stages
    "breaks_quick_question": 0.1,  # limit, at most, of breaks_exact: questions from the pattern LP bound before the
    # local search (tic-13crafc and forumt-14crafe: found in 0.3-0.6 s, where the search took 2.7 s to reach 8)
    "breaks_whole_question": 0.05,  # limit: the question "total <= floor sum + 1?" asked whole, before it is split
    # per participant ("only p above its floor?", breaks_exact.Split); forumt-14crafe: found whole in 0.3 s
    "breaks_whole_large": 0.02,  # limit: the same on large pattern models (refuted in 0.1-0.3 s, or undecided)
    "breaks_alone_question": 0.075,  # limit: the first budget of each question per participant, doubling when
    # undecided (ticf-13crafc: P40's question found in 0.9-1.2 s, the busier ones' in 2-6 s)
    "breaks_alone_large": 0.5,  # limit, at most. Large pattern models, first question refuted: the question "floor
    # sum + 1?" whole and per participant, before the generic model, which keeps the rest
    "breaks_without_fairness": 0.1,  # limit, at most. When no total of breaks meets the fairness rule: whether the
    # meetings fit without it (then the rule is the cause, said at once; else the commitments' diagnosis)
    "breaks_search": 0.1,  # limit, at most. Kempe-chain annealing; stops at the lower bound
    "breaks_total": 0.9,  # limit (deterministic): stages 1-3 together; stage 2 or the generic model get the rest
    # --- re-planning (replan.py) ---
    "replan_keep_of_minimal": 0.7,  # limit. Policy minimal solves keep first (its floor and hint), then improves
}

# Seconds below which a CP-SAT stage is not worth starting (presolve alone takes about that).
MIN_STAGE_SECONDS = 0.2
DIAGNOSIS_SHRINK_SECONDS = 10.0  # at most per shrink solve (one per member of the conflict)
# At most for all shrink solves together (wall-clock runs): a conflict named within seconds, a few meetings
# too many at worst, beats the smallest one a minute later (a B2BSP instance with 40% of its meetings fixed
# spent 19 s of a 20 s limit shrinking a conflict of 6 meetings).
DIAGNOSIS_SHRINK_TOTAL_SECONDS = 4.0
DIAGNOSIS_MIN_SECONDS = 1.0  # the first diagnosis solve gets at least this

# What runs after the engine, measured on 2 shared cores (checker + explanations + summary + writing):
# anping ~1.1 s (558 participants, 1,350 meetings: 176 explanations, 1 s), large ~2.3 s (1,800
# participants, 10,000 meetings), xl ~10.5 s (7,000 participants, 45,000-50,000 meetings: checker
# 4.8 s, explanations 4-5 s). The checker grows with the meetings, the explanations with the
# participants to summarize and the requests left out; the explanations also stop at the limit.
AFTER_ENGINE_SECONDS = 0.2
AFTER_ENGINE_PER_PARTICIPANT = 6e-4
AFTER_ENGINE_PER_MEETING = 1.2e-4

# The decomposition's final merge (a greedy pass over every candidate) and the schedule's
# statistics: large 2.4 s (394k pairs), xl 3 s (242k pairs, more meetings); plus, when the
# pairs are a pool (xl), pricing every pool row once more for the bound (2.6 s for 4.85M rows).
MERGE_SECONDS = 0.5
MERGE_PER_PAIR = 1.2e-5
MERGE_PER_POOL_ROW = 6e-7
GREEDY_TO_MERGE = 1.0  # the merge's seconds per second of the start greedy (the same pass; anping 0.5, large 1.1)

# After the polish, the engine's schedule and statistics (bounds by counting, build_schedule): large
# 0.5 s (394k pairs), xl 6.8 s on a busy machine (pricing the pool's 4.85M rows).
STATISTICS_SECONDS = 0.3
STATISTICS_PER_PAIR = 2e-6
STATISTICS_PER_POOL_ROW = 1.2e-6

# The flow bound's first round, per matching pair (anping, 29k pairs: 1.0-1.1 s on 2 shared cores). Its
# first round alone is looser than the selection LP's bound (Anping seed 1: 52,573 against 50,818), so it
# runs only when a few rounds fit (at Anping: from a limit of about 15 s).
FLOW_ROUND_PER_PAIR = 3.7e-5
FLOW_MIN_ROUNDS = 2

# Non-interruptible steps of the decomposition, estimated from their size to decide whether they fit:
# a day model's build (MIN_DAY_SECONDS per day below which timetabling is skipped), process start-up.
MIN_DAY_SECONDS = 1.0
PROCESS_STARTUP = 1.5  # seconds a spawned day process takes to import the solver


# A Dask cluster (``--cluster``; executor.py, docs/cluster.md). A task's budget counts from its
# submission, so a task that waited in the cluster's queue or was re-run after its worker was lost
# gets only what is left of it.
CLUSTER_CONNECT_SECONDS = 8.0  # the scheduler must answer within this (a wrong address: exit 2 within 15 s, start-up included)
TASK_STARTUP = 0.5  # seconds from submitting a task to its start on a warm worker (a 1.5 MB Anping day part)
TASK_GRACE_SECONDS = 1.0  # how long after its budget the client still waits for a task's answer, then runs it here
CLUSTER_POLL_SECONDS = 0.25  # how often the client looks at its tasks, the solve's stop and the workers
NO_WORKERS_SECONDS = 2.0  # a cluster without a worker this long: its tasks run here
MAX_PORTFOLIO = 8  # members of a portfolio (seeds racing on one model), at most; default: one per task slot

# Writing the schedule file and the summary after the explanations (xl: 15 MB of JSON, about 0.3 s),
# and the process' exit (freeing the instance and the solver's threads: 0.2-0.5 s).
WRITE_SECONDS = 0.3


def statistics_seconds(pairs: int, pool_rows: int = 0) -> float:
    """Seconds the polish leaves for the engine's schedule and statistics."""
    return STATISTICS_SECONDS + STATISTICS_PER_PAIR * pairs + STATISTICS_PER_POOL_ROW * pool_rows


def share(stage: str) -> float:
    return SHARES[stage]


def after_engine_seconds(participants: int, meetings: int) -> float:
    """Seconds kept for what runs after the engine: checker, explanations, writing the file."""
    return AFTER_ENGINE_SECONDS + WRITE_SECONDS + AFTER_ENGINE_PER_PARTICIPANT * participants + AFTER_ENGINE_PER_MEETING * meetings


def merge_seconds(pairs: int, pool_rows: int = 0, greedy_seconds: float = 0.0) -> float:
    """Seconds kept at the end of the decomposition for the merge and the statistics.

    The merge is a greedy pass like the start schedule's: ``greedy_seconds`` (that one's
    measured time) counts when it says more than the per-pair estimate (a busy machine).
    """
    return MERGE_SECONDS + max(MERGE_PER_PAIR * pairs, GREEDY_TO_MERGE * greedy_seconds) + MERGE_PER_POOL_ROW * pool_rows
