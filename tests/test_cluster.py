"""Solves on a Dask cluster (issue 16): a LocalCluster of two one-thread worker processes, as `dask worker` would be.

Day parts and portfolio members run there as tasks, a worker killed mid-solve costs time
and not the result, an unreachable scheduler exits 2 at once, a task that raises is named,
and the desk's jobs run there two at a time.
"""

from __future__ import annotations

import datetime
import os
import signal
import threading
import time
import warnings
from pathlib import Path

import pytest

distributed = pytest.importorskip(
    "distributed", reason="Dask distributed is not installed: pip install '.[cluster]' (or '.[test]') to run the cluster tests"
)

from click.testing import CliRunner  # noqa: E402

from matchmaker.analysis.checker import check_schedule  # noqa: E402
from matchmaker.cli.main import main  # noqa: E402
from matchmaker.errors import TaskFailedError  # noqa: E402
from matchmaker.io.b2bsp import load_b2bsp  # noqa: E402
from matchmaker.io.generate import generate_scenario  # noqa: E402
from matchmaker.pipeline import SolveOptions, solve  # noqa: E402
from matchmaker.solver import executor  # noqa: E402
from matchmaker.solver.decompose import DayPart, solve_day_task  # noqa: E402
from matchmaker.spec.scenario import load_scenario  # noqa: E402
from matchmaker.spec.schedule import Schedule  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "demo-small.json"
ANPING = ROOT / "scenarios" / "anping-2023.json"
TINY_DZN = Path(__file__).resolve().parent / "data" / "b2bsp" / "tiny.dzn"
MARGIN = 3.0  # seconds a cluster solve may take beyond its limit on 2 shared cores


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes of one thread each (the scheduler runs in this process)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        with distributed.Client(local) as client:
            yield local.scheduler_address, client
    executor.close_clients()


def _three_day_fair():
    """The tiny preset over three days: a decomposition with a day part per day that has meetings, solved in seconds."""
    fair = generate_scenario("tiny", 4)
    first = fair.days[0]
    days = [first.model_copy(update={"date": first.date + datetime.timedelta(days=k)}) for k in range(3)]
    return fair.model_copy(update={"days": days})


def test_day_parts_run_on_the_cluster(cluster):
    address, _ = cluster
    scenario = _three_day_fair()
    schedule = solve(scenario, SolveOptions(time_limit=8, seed=1, strategy="decompose", cluster=address))
    assert check_schedule(scenario, schedule).ok
    assert schedule.solver.engine == f"dask {address}"
    days = [stage for stage in schedule.solver.stage_status if stage.startswith("day")]
    assert schedule.solver.tasks == len(days) >= 2  # one per day the selection put meetings on
    assert schedule.solver.strategy == "decompose" and schedule.meetings


def test_portfolio_races_on_a_brokerage_instance(cluster):
    address, _ = cluster
    scenario = load_b2bsp(TINY_DZN, 2)  # objective "breaks", every meeting committed
    schedule = solve(scenario, SolveOptions(time_limit=10, seed=0, cluster=address, portfolio=2))
    assert check_schedule(scenario, schedule).ok
    assert (schedule.solver.engine, schedule.solver.tasks) == (f"dask {address}", 2)
    assert schedule.solver.status == "OPTIMAL"
    assert schedule.stats.idle_gaps == 1  # the optimum (test_brokerage: the same instance solved here)


def test_monolithic_portfolio_on_a_small_fair(cluster):
    address, _ = cluster
    scenario = load_scenario(DEMO)
    schedule = solve(scenario, SolveOptions(time_limit=8, cluster=address))
    assert check_schedule(scenario, schedule).ok
    assert schedule.solver.tasks == 2  # one member per task slot
    assert schedule.solver.status == "OPTIMAL"


def test_a_task_that_raises_is_reported_with_its_part_named(cluster):
    address, client = cluster
    broken = DayPart(None, [], set(), {}, 0, SolveOptions(workers=1), 1.0, 1.0)  # no sub-instance: solve_day raises
    tasks = executor.ClusterTasks(address, executor.connect(address), local_cores=1)
    with pytest.raises(TaskFailedError) as raised:
        tasks.map(solve_day_task, [broken], ["day part 2024-05-14"], budgets=[5.0])
    message = str(raised.value)
    assert message.startswith("day part 2024-05-14 failed on worker tcp://") and "AttributeError" in message
    assert tasks.sent == 1


def test_a_worker_killed_mid_solve_costs_time_not_the_result(cluster):
    address, client = cluster
    client.wait_for_workers(2, timeout=30)
    pids = client.run(os.getpid)
    scenario = load_scenario(ANPING)
    limit = 20.0
    options = SolveOptions(time_limit=limit, seed=0, strategy="decompose", cluster=address, bound=False, explain=False)
    outcome: dict = {}

    def solving():
        started = time.monotonic()
        outcome["schedule"] = solve(scenario, options)
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=solving)
    thread.start()
    victim = None
    deadline = time.monotonic() + limit
    while victim is None and time.monotonic() < deadline and thread.is_alive():
        busy = [worker for worker, keys in client.processing().items() if any(str(k).startswith("matchmaker-day-part") for k in keys)]
        victim = busy[0] if busy else None
        time.sleep(0.1)
    assert victim is not None, "no day part ever ran on the cluster"
    time.sleep(1.0)  # well into its timetable
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(limit + 30)
    schedule = outcome["schedule"]
    assert check_schedule(scenario, schedule).ok
    assert schedule.solver.engine == f"dask {address}" and schedule.solver.tasks >= 3
    assert outcome["seconds"] < limit + MARGIN, outcome["seconds"]
    client.wait_for_workers(2, timeout=30)  # the nanny starts a new worker


def test_unreachable_scheduler_exits_2_at_once(tmp_path):
    out = tmp_path / "out"
    started = time.monotonic()
    result = CliRunner().invoke(main, ["solve", str(DEMO), "-o", str(out), "--cluster", "tcp://127.0.0.1:9", "--time-limit", "5"])
    assert time.monotonic() - started < 15
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --cluster: cannot use the Dask scheduler at tcp://127.0.0.1:9"), lines
    assert "Traceback" not in result.output and not out.exists()


def test_desk_runs_two_events_on_the_cluster_at_once(cluster, tmp_path):
    with warnings.catch_warnings():  # starlette's note that its TestClient will move to httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from matchmaker.web.app import create_app

    address, client = cluster
    client.wait_for_workers(2, timeout=30)
    with TestClient(create_app(tmp_path / "ws", jobs=2, cluster=address), base_url="http://localhost") as desk:
        events = [
            desk.post("/api/events", files={"scenario": (f"anping-{k}.json", ANPING.read_bytes(), "application/json")}).json()["id"]
            for k in range(2)
        ]
        jobs = [desk.post(f"/api/events/{event}/solve", json={"time_limit": 8}).json()["job"] for event in events]
        together = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [keys for keys in client.processing().values() if any(str(k).startswith("matchmaker-solve-job") for k in keys)]
            together = together or len(busy) == 2  # one job on each worker
            states = [desk.get(f"/api/jobs/{job}").json() for job in jobs]
            if all(state["status"] not in ("queued", "running") for state in states):
                break
            time.sleep(0.1)
        assert together, "the two jobs never ran on the cluster at the same time"
        for event, state in zip(events, states):
            assert state["status"] == "done", state
            text = desk.get(f"/api/events/{event}/schedules/{state['schedule_version']}").content
            schedule = Schedule.model_validate_json(text)
            assert check_schedule(load_scenario(ANPING), schedule).ok
            assert schedule.solver.engine.startswith(f"dask {address} (whole solve on worker tcp://")
            assert schedule.solver.tasks == 1
