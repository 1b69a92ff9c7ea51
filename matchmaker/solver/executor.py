"""Where a solve's tasks run: local processes by default, a Dask cluster when ``SolveOptions.cluster`` names one.

A task is a pure function ``fn(payload, context)`` of a small picklable payload: a day part
of the decomposition (``decompose.solve_day_task``), a portfolio member racing on one instance
(``portfolio.py``), or a whole solve job of ``matchmaker serve`` (``run_job``). ``context``
(TaskContext) tells it how many cores its CP-SAT may use, the seconds it has left and when to
stop. Nothing here knows what a task computes.

On a cluster (Dask distributed: ``Client.submit`` futures, no scheduler of our own;
docs/cluster.md):

- cores: when workers advertise a ``cores`` resource (``dask worker --resources cores=N``),
  each task reserves the smallest N advertised and CP-SAT gets N workers; otherwise a task
  takes one of its worker's threads and CP-SAT one worker. Nothing is oversubscribed.
- time: a task's budget counts from its submission (wall clock, so the machines' clocks
  must agree): a task that waited in the queue or is re-run after its worker was lost gets
  only what is left.
- faults: the scheduler re-runs a lost worker's task on another worker; a task with no
  answer by its budget plus TASK_GRACE_SECONDS, or whose cluster lost every worker or the
  connection, runs here with the time it has left. A task that raises fails the solve with
  TaskFailedError naming its part; a MatchmakerError (e.g. an infeasibility proof) arrives
  as it was raised.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import math
import multiprocessing
import os
import re
import socket
import struct
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from ..errors import ClusterError, MatchmakerError, TaskFailedError
from .budget import (
    CLUSTER_CONNECT_SECONDS,
    CLUSTER_POLL_SECONDS,
    NO_WORKERS_SECONDS,
    TASK_GRACE_SECONDS,
)
from .run import Progress, Run

logger = logging.getLogger(__name__)

LOCAL = "local"
CORES = "cores"  # the Dask worker resource from which a task reserves its CP-SAT workers
DEFAULT_PORT = 8786  # Dask's scheduler port when an address has none
MAX_GREETING_BYTES = 2**20  # a scheduler's handshake is a few hundred bytes

# Set while a whole solve job runs on a cluster worker: the engine label its schedule records.
_HOSTED: contextvars.ContextVar[str | None] = contextvars.ContextVar("matchmaker_hosted", default=None)


@dataclass(frozen=True)
class TaskContext:
    """What a task is told where it runs."""

    cores: int  # CP-SAT workers it may use
    seconds: float | None = None  # wall seconds it has left; None: the budget in its payload stands
    stop: Callable[[], bool] | None = None  # true once it should end with its best (a race was won, a stop)


TaskFunction = Callable[[Any, TaskContext], Any]


@dataclass
class _Answer:
    """What a task sends back: its value, or what it raised (a MatchmakerError as is, anything else as text)."""

    value: Any = None
    error: MatchmakerError | None = None
    failure: str | None = None
    trace: str = ""
    where: str = ""


def _answer(fn: TaskFunction, payload: Any, context: TaskContext, where: str) -> _Answer:
    try:
        return _Answer(value=fn(payload, context), where=where)
    except MatchmakerError as error:
        return _Answer(error=error, where=where)
    except Exception as error:  # noqa: BLE001 - the caller reports it with the task's name
        return _Answer(failure=f"{type(error).__name__}: {error}", trace=traceback.format_exc(), where=where)


def _value(answer: _Answer, name: str) -> Any:
    if answer.error is not None:
        raise answer.error
    if answer.failure is not None:
        logger.debug("%s on %s:\n%s", name, answer.where, answer.trace)
        raise TaskFailedError(name, answer.where, answer.failure)
    return answer.value


def either_stop(first: Callable[[], bool] | None, second: Callable[[], bool] | None) -> Callable[[], bool] | None:
    """A stop that is true when either is (None when both are)."""
    if first is None or second is None:
        return first or second
    return lambda: bool(first()) or bool(second())


# --------------------------------------------------------------------------------------------
# This machine
# --------------------------------------------------------------------------------------------


def local_processes_allowed() -> bool:
    """Whether this process may start processes: a daemonic one (a Dask worker running a whole solve job) may not."""
    return not multiprocessing.current_process().daemon


class LocalTasks:
    """Tasks in this process, or in spawned local processes when ``map`` is given more than one."""

    remote = False

    def __init__(self, cores: int, engine: str = LOCAL, sent: int = 0):
        self.cores, self.engine, self.sent = cores, engine, sent

    def map(
        self, fn: TaskFunction, payloads: Sequence[Any], names: Sequence[str], processes: int = 1, cores: int | None = None
    ) -> list[Any]:
        """``fn`` of every payload, in order; in ``processes`` local processes when more than one."""
        context = TaskContext(cores or self.cores)
        if processes <= 1 or len(payloads) <= 1 or not local_processes_allowed():
            return [_value(_answer(fn, payload, context, "this process"), name) for payload, name in zip(payloads, names)]
        self.sent += len(payloads)
        results = []
        # Spawned, not forked: the parent may hold solver and logging threads.
        with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_answer, fn, payload, context, "a local process") for payload in payloads]
            for future, payload, name in zip(futures, payloads, names):
                try:
                    answer = future.result()
                except BrokenProcessPool:  # the process died (killed, out of memory): solve the part here
                    logger.warning("%s: its process was lost; solving it here", name)
                    answer = _answer(fn, payload, context, "this process")
                results.append(_value(answer, name))
        return results

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------------------------
# A Dask cluster
# --------------------------------------------------------------------------------------------

_CLIENTS: dict[str, Any] = {}  # address -> Client, one per scheduler and process
_CLIENTS_LOCK = threading.Lock()


def connect(address: str) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, made once per process.

    Raises ClusterError (CLI exit 2) when Dask distributed is not installed or no scheduler
    answers within CLUSTER_CONNECT_SECONDS; a refused connection fails at once.
    """
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(address)
        if client is not None and client.status == "running":
            return client
        try:
            from distributed import Client
        except ImportError:
            raise ClusterError(address, "Dask distributed is not installed (pip install 'matchmaker[cluster]')") from None
        deadline = time.monotonic() + CLUSTER_CONNECT_SECONDS
        _probe(address, CLUSTER_CONNECT_SECONDS)
        try:
            client = Client(address, timeout=max(1.0, deadline - time.monotonic()), set_as_default=False)
        except (OSError, TimeoutError):
            raise ClusterError(address, f"no Dask scheduler answered within {CLUSTER_CONNECT_SECONDS:g} s") from None
        except Exception as error:  # noqa: BLE001 - not an address Dask understands, a handshake it refuses
            raise ClusterError(address, f"{type(error).__name__}: {error}") from None
        _CLIENTS[address] = client
        logger.info("connected to the Dask scheduler at %s (%d workers)", address, len(client.nthreads()))
        return client


def _probe(address: str, timeout: float) -> None:
    """Fail fast, with a clear reason, on a TCP address where no Dask scheduler listens.

    Dask itself retries a refused connection until its timeout, and waits without end on a
    server that never speaks (an HTTP server), or reads a proxy's "HTTP/1.1" as a message of
    exabytes. A scheduler greets each connection at once with a handshake: 8 bytes of length
    (little-endian), then that many bytes; anything else is no scheduler.
    """
    scheme, _, location = address.rpartition("://")
    if scheme not in ("", "tcp", "tls"):
        return
    host, colon, port_text = location.rpartition(":")
    if not colon or "]" in port_text:  # no port ("tcp://host", "tcp://[::1]"): Dask's default
        host, port_text = location, str(DEFAULT_PORT)
    try:
        port = int(port_text)
    except ValueError:
        raise ClusterError(address, "not a scheduler address (tcp://HOST:PORT)") from None
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout) as connection:
            if scheme == "tls":
                return  # the greeting comes after the TLS handshake: Dask checks the rest
            connection.settimeout(max(0.1, deadline - time.monotonic()))
            greeting = b""
            while len(greeting) < 8:
                chunk = connection.recv(8 - len(greeting))
                if not chunk:
                    raise ClusterError(address, "the server closed the connection; no Dask scheduler there")
                greeting += chunk
    except ConnectionRefusedError:
        raise ClusterError(address, "connection refused (is `dask scheduler` running there?)") from None
    except socket.gaierror:
        raise ClusterError(address, f"unknown host {host}") from None
    except TimeoutError:
        raise ClusterError(address, f"no Dask scheduler answered within {timeout:g} s") from None
    except OSError as error:
        raise ClusterError(address, error.strerror or str(error)) from None
    (length,) = struct.unpack("<Q", greeting)
    if not 0 < length < MAX_GREETING_BYTES:
        shown = greeting.decode("ascii", "replace").strip()
        raise ClusterError(address, f"not a Dask scheduler (it answered {shown!r})")


def close_clients() -> None:
    """Close every cached cluster client (tests, a library user done with its cluster)."""
    with _CLIENTS_LOCK:
        for client in _CLIENTS.values():
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a client whose cluster is gone
                pass
        _CLIENTS.clear()


@dataclass(frozen=True)
class Capacity:
    """What a cluster offers: CP-SAT cores per task, tasks that run at once, the resource each task reserves."""

    cores: int
    slots: int
    resources: dict[str, float] | None


def capacity_of(client: Any) -> Capacity:
    workers = list(client.scheduler_info(n_workers=-1)["workers"].values())
    advertised = [w["resources"][CORES] for w in workers if (w.get("resources") or {}).get(CORES)]
    if advertised:
        per_task = max(1, int(min(advertised)))
        slots = sum(min(w["nthreads"], int((w.get("resources") or {}).get(CORES, 0) // per_task)) for w in workers)
        return Capacity(per_task, max(1, slots), {CORES: per_task})
    return Capacity(1, max(1, sum(w["nthreads"] for w in workers)), None)


class ClusterTasks:
    """Tasks on the Dask cluster at ``address``; the ones it cannot answer run here (see the module docstring)."""

    remote = True

    def __init__(self, address: str, client: Any, local_cores: int, stop: Callable[[], bool] | None = None):
        self.address, self.client = address, client
        self.engine = f"dask {address}"
        self.local_cores = local_cores
        self.stop = stop  # the solve's own stop (SolveOptions.stop), passed on to the tasks
        self.sent = 0
        self._capacity: Capacity | None = None
        self._events: list[Any] = []

    @property
    def capacity(self) -> Capacity:
        if self._capacity is None:
            self._capacity = capacity_of(self.client)
            logger.info("cluster %s: %d task slots of %d core(s)", self.address, self._capacity.slots, self._capacity.cores)
        return self._capacity

    def map(
        self, fn: TaskFunction, payloads: Sequence[Any], names: Sequence[str], budgets: Sequence[float | None],
        cores: int | None = None, here: TaskFunction | None = None,
    ) -> list[Any]:
        """``fn`` of every payload, in order, each within its budget (seconds from now; None: untimed).

        A task with no answer from the cluster runs here (``here``, default ``fn``) with the
        time it has left; None in its place when none is left.
        """
        return self._run(fn, payloads, names, budgets, cores, None, here or fn)

    def race(
        self, fn: TaskFunction, payloads: Sequence[Any], names: Sequence[str], budget: float | None,
        proven: Callable[[Any], bool],
    ) -> list[Any]:
        """Portfolio: every payload at once; the first answer ``proven`` accepts wins and stops the rest.

        Returns the answers in order (None for members stopped, lost or out of time); when
        every member was lost, the first one runs here with the time left.
        """
        return self._run(fn, payloads, names, [budget] * len(payloads), None, proven, fn)

    def _run(self, fn, payloads, names, budgets, cores, proven, here) -> list[Any]:
        capacity = self.capacity
        cores = cores or capacity.cores
        event = self._event()
        submitted, started = time.time(), time.monotonic()
        futures = [
            self.client.submit(
                _hosted_task, fn, payload, budget, submitted, cores, event.name,
                key=f"matchmaker-{_slug(name)}-{uuid.uuid4().hex[:8]}", pure=False, resources=capacity.resources,
            )
            for payload, name, budget in zip(payloads, names, budgets)
        ]
        self.sent += len(futures)
        timed = all(budget is not None for budget in budgets)
        deadline = started + max(budgets, default=0.0) + TASK_GRACE_SECONDS if timed else math.inf
        results: list[Any] = [None] * len(futures)
        pending = dict(enumerate(futures))
        lost: list[int] = []
        watch = _Watch(self.client)
        try:
            while pending:
                _wait_any(list(pending.values()))
                for i, future in list(pending.items()):
                    if not future.done():
                        continue
                    del pending[i]
                    answer = _answer_of(future, names[i])
                    if answer is None:
                        lost.append(i)
                        continue
                    results[i] = _value(answer, names[i])
                    logger.info("%s: answered by %s after %.1f s", names[i], answer.where, time.monotonic() - started)
                    if proven is not None and proven(results[i]):
                        logger.info("%s proved first (on %s); stopping the others", names[i], answer.where)
                        return results
                if not pending:
                    break
                if self.stop is not None and self.stop():
                    _set(event)  # the tasks end with their best; their answers still count
                if time.monotonic() > deadline:
                    logger.warning("%s: no answer from the cluster in time", ", ".join(names[i] for i in pending))
                    lost += list(pending)
                    break
                if not watch.alive():
                    lost += list(pending)
                    break
        finally:
            if pending or proven is not None:
                _set(event)  # members still searching, or whatever no one waits for any more, stop
            for future in pending.values():
                future.cancel()
            for future in futures:  # the answers are here: the cluster need not keep them
                future.release()
        lost.sort()
        for position, i in enumerate(lost):
            if proven is not None and any(result is not None for result in results):
                break  # a race needs one answer, and has it
            left = None if budgets[i] is None else budgets[i] - (time.time() - submitted)
            if left is not None and proven is None:
                left /= len(lost) - position  # the lost parts share what is left, in turn
            if left is not None and left <= 0:
                continue
            logger.warning("%s: solving it here%s", names[i], "" if left is None else f" with {left:.1f} s")
            context = TaskContext(self.local_cores, left, self.stop)
            results[i] = _value(_answer(here, payloads[i], context, "this process"), names[i])
        return results

    def _event(self) -> Any:
        """A fresh cluster Event that tells a call's tasks to stop."""
        from distributed import Event

        event = Event(f"matchmaker-stop-{uuid.uuid4().hex}", client=self.client)
        self._events.append(event)
        return event

    def close(self) -> None:
        """Forget this solve's stop events on the scheduler (a cleared Event without waiters is deleted)."""
        for event in self._events:
            try:
                event.clear()
            except Exception:  # noqa: BLE001 - the scheduler is gone
                pass
        self._events.clear()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "task"


def _set(event: Any) -> None:
    try:
        event.set()
    except Exception:  # noqa: BLE001 - the scheduler is gone; the tasks' budgets end them
        pass


def _wait_any(futures: list[Any]) -> None:
    from distributed import wait

    try:
        wait(futures, timeout=CLUSTER_POLL_SECONDS, return_when="FIRST_COMPLETED")
    except Exception:  # noqa: BLE001 - a timeout (nothing finished yet) or a lost connection, seen below
        pass


def _answer_of(future: Any, name: str) -> _Answer | None:
    """The task's answer; None when the cluster never produced one (worker lost too often, cancelled,
    connection gone, or the worker could not even load the task: matchmaker missing or another version)."""
    try:
        return future.result(timeout=CLUSTER_POLL_SECONDS * 4)
    except Exception as error:  # noqa: BLE001 - every way a cluster can fail to answer
        reason = (str(error).splitlines() or [""])[0]
        if "deserializ" in reason:  # the scheduler or a worker cannot import the task's code
            reason += " (install this matchmaker version where the scheduler and the workers run: docs/cluster.md)"
        logger.warning("%s: no answer from the cluster (%s: %s)", name, type(error).__name__, reason)
        return None


class _Watch:
    """Whether the cluster can still answer: the client is connected and it has had a worker lately."""

    def __init__(self, client: Any):
        self.client = client
        self._checked = 0.0
        self._last_worker = time.monotonic()

    def alive(self) -> bool:
        if self.client.status not in ("running", "connecting"):
            logger.warning("lost the connection to the Dask scheduler")
            return False
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            try:
                if self.client.nthreads():
                    self._last_worker = now
            except Exception:  # noqa: BLE001 - the scheduler is not answering
                pass
        if now - self._last_worker > NO_WORKERS_SECONDS:
            logger.warning("the Dask cluster has had no worker for %.0f s", now - self._last_worker)
            return False
        return True


def _hosted_task(fn: TaskFunction, payload: Any, budget: float | None, submitted: float, cores: int, event: str) -> _Answer:
    """Runs on a cluster worker: ``fn`` with the cores reserved for it, what is left of its budget and a stop."""
    from distributed import get_worker

    where = f"worker {get_worker().address}"
    seconds = None if budget is None else budget - max(0.0, time.time() - submitted)
    with _StopWhenSet(event) as stop:
        return _answer(fn, payload, TaskContext(cores, seconds, stop), where)


class _StopWhenSet:
    """A local flag that turns true once the cluster Event ``name`` is set; a thread waits on it.

    The task's stop is asked often (every CP-SAT stop poll, every ``Run.remaining``), so it reads
    a local flag, never the scheduler.
    """

    def __init__(self, name: str):
        from distributed import Event, get_client

        self._flag, self._done = threading.Event(), threading.Event()
        self._event = Event(name, client=get_client())  # bound here: the waiting thread is no task thread

    def __enter__(self) -> Callable[[], bool]:
        threading.Thread(target=self._wait, daemon=True).start()
        return self._flag.is_set

    def __exit__(self, *exc) -> None:
        self._done.set()

    def _wait(self) -> None:
        while not self._done.is_set():
            try:
                if self._event.wait(timeout=4 * CLUSTER_POLL_SECONDS):
                    self._flag.set()
                    return
            except Exception:  # noqa: BLE001 - the scheduler is gone: the task's budget ends it
                return


# --------------------------------------------------------------------------------------------
# The solve's runner, and whole solve jobs
# --------------------------------------------------------------------------------------------


def tasks_for(run: Run) -> LocalTasks | ClusterTasks:
    """The runner of ``run``'s tasks, made once per Run: the cluster's when ``options.cluster`` is set."""
    if run.tasks is None:
        options = run.options
        if options.cluster:
            run.tasks = ClusterTasks(options.cluster, connect(options.cluster), options.num_workers, options.stop)
        else:
            hosted = _HOSTED.get()  # a whole solve job on a cluster worker: one task, its own
            run.tasks = LocalTasks(options.num_workers, engine=hosted or LOCAL, sent=1 if hosted else 0)
    return run.tasks


def task_slots(address: str) -> int:
    """Tasks the cluster at ``address`` runs at once (ClusterError when it cannot be reached)."""
    return capacity_of(connect(address)).slots


JobFunction = Callable[..., Any]  # fn(payload, stop, on_progress, cores=None, started=None)


def run_job(
    address: str, fn: JobFunction, payload: Any, name: str,
    stop: Callable[[], bool] | None = None, on_progress: Callable[[Progress], None] | None = None,
) -> Any:
    """A whole solve job ``fn(payload, stop, on_progress, cores=, started=)`` as one task on the cluster.

    Its progress comes back through the scheduler's event log, ``stop`` reaches it through a
    cluster Event, and its time limit counts from its first start on a worker (a re-run after
    a lost worker continues that clock; waiting in the queue does not count). When the
    cluster cannot be reached or answers nothing, the job runs here.
    """
    try:
        tasks = ClusterTasks(address, connect(address), os.cpu_count() or 1, stop)
    except ClusterError as error:
        logger.warning("%s; solving here", error)
        return fn(payload, stop, on_progress)
    topic = f"matchmaker-job-{uuid.uuid4().hex}"
    if on_progress is not None:
        tasks.client.subscribe_topic(topic, lambda event: on_progress(Progress(**event[1])))

    def here(payload: Any, context: TaskContext) -> Any:
        return fn(payload, stop, on_progress)

    try:
        [result] = tasks.map(_Job(fn, topic, address), [payload], [name], [None], here=here)
    finally:
        if on_progress is not None:
            try:
                tasks.client.unsubscribe_topic(topic)
            except Exception:  # noqa: BLE001 - the connection is gone
                pass
        tasks.close()
    return result


@dataclass(frozen=True)
class _Job:
    """A whole solve job as a task: runs on a worker with its progress sent to ``topic``."""

    fn: JobFunction
    topic: str
    address: str

    def __call__(self, payload: Any, context: TaskContext) -> Any:
        from distributed import get_worker

        worker = get_worker()

        def report(progress: Progress) -> None:
            worker.log_event(self.topic, dataclasses.asdict(progress))  # thread-safe: CP-SAT calls it from its threads

        token = _HOSTED.set(f"dask {self.address} (whole solve on worker {worker.address})")
        try:
            return self.fn(payload, context.stop, report, cores=context.cores, started=_first_start())
        finally:
            _HOSTED.reset(token)


def _first_start() -> float:
    """``time.monotonic()`` reading of this job's first start on any worker.

    Kept in the scheduler's metadata of the job's task, which Dask drops with the task:
    a re-run after a lost worker reads the first run's start.
    """
    from distributed import get_client, get_worker

    client, where = get_client(), [get_worker().get_current_task(), "matchmaker-first-start"]
    first = client.get_metadata(where, default=None)
    if first is None:
        first = time.time()
        client.set_metadata(where, first)
    return time.monotonic() - max(0.0, time.time() - float(first))
