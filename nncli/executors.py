"""Where the runs of a sweep train: in this process, in a pool of long-lived local worker processes, or on
a Dask cluster (nncli/cluster.py). Every executor calls the same `work(unit)`: a Task is one run trained in
memory exactly as the Python API's `nncli.train(config, runs_dir=None)` does (`execute`), a Stack several
runs trained together (nncli/stack_runner.py); either hands back the runs' files and the client writes
them, so a worker never needs the sweep directory.

An executor is a context manager with `workers` (units at a time) and `run(units, should_stop)`, a
generator that yields `Started(index)` when a run begins (where it can tell) and each run's `Outcome` when
it ends, in any order. Once `should_stop()` turns true, no new unit starts and running runs are asked to
stop: they end "interrupted" with a checkpoint, as `nncli train` does on Ctrl-C; runs never started yield
nothing.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Callable, Iterator

from .config import validate
from .errors import ConfigError, NncliError, argument
from .runner import from_checkpoint, in_memory, prepare
from .stack_runner import execute_stack
from .tasks import Outcome, Stack, Started, Task, failed, members, trained

#: environment of the local worker processes: one BLAS thread each (unless the user chose a number)
ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
POLL_SECONDS = 0.1  # how often the client looks at should_stop while waiting for results


def work(unit: Task | Stack, should_stop: Callable[[], bool] | None = None, worker: str = "") -> list[Outcome]:
    """Train a unit of work, one run or a stack of runs; the Outcome of each of its runs."""
    if isinstance(unit, Stack):
        return execute_stack(unit, should_stop, worker)
    return [execute(unit, should_stop, worker)]


def execute(task: Task, should_stop: Callable[[], bool] | None = None, worker: str = "") -> Outcome:
    """Train one run in memory (from its checkpoint, for an interrupted run being resumed); errors become
    a "failed" Outcome with the message `nncli train` prints."""
    started = time.perf_counter()
    stop = should_stop or _never
    try:  # what nncli.train(config, runs_dir=None) does
        cfg = validate(task.config)
        if task.resume is None:
            memory, summary = in_memory(prepare(cfg), None, task.command, stop, name=task.name)
        else:
            p, state = from_checkpoint(cfg, task.resume, task.name)
            memory, summary = in_memory(p, None, task.command, stop, name=task.name, state=state,
                                        history=task.resume.get("history"), snapshots=task.resume.get("snapshots"))
    except NncliError as e:
        return failed(task, e.text(), worker, time.perf_counter() - started)[0]
    except MemoryError:
        return failed(task, "out of memory", worker, time.perf_counter() - started)[0]
    except Exception as e:  # a bug: reported with the run, the other runs go on
        return failed(task, f"internal error ({type(e).__name__}: {e})", worker, time.perf_counter() - started)[0]
    try:
        return trained(task, memory, time.perf_counter() - started, worker)
    except NncliError as e:  # its run directory could not be written (a full disk)
        return failed(task, e.text(), worker, time.perf_counter() - started)[0]


def _never() -> bool:
    return False


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def open_executor(workers: int | None = None, scheduler: str | None = None, timeout: float = 10.0):
    """The executor for `workers` local processes (1: this process), or the Dask scheduler at `scheduler`
    (connected within `timeout` seconds when entered)."""
    if scheduler is not None:
        from .cluster import DaskExecutor  # the optional dask extra, imported only when a scheduler is given

        return DaskExecutor(scheduler, timeout)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ConfigError(f"must be at least 1, got {workers}", where=argument("workers"))
    return InProcess() if workers == 1 else LocalPool(workers)


class InProcess:
    """Runs one after the other in this process (`workers=1`)."""

    workers = 1
    shared_filesystem = True  # it writes the run directories itself

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, units: list[Task | Stack], should_stop: Callable[[], bool]) -> Iterator[Started | Outcome]:
        for unit in units:
            if should_stop():
                return
            for task in members(unit):
                yield Started(task.index, "main")
            yield from work(unit, should_stop, "main")


class _Worker:
    """A local worker process and the client's end of its pipe."""

    def __init__(self, ctx, stop, number: int):
        self.conn, child = ctx.Pipe()
        self.name = f"worker-{number}"
        self.process = ctx.Process(target=_work, args=(child, stop, self.name), name=self.name, daemon=True)
        self.process.start()
        child.close()


def _work(conn, stop, name: str) -> None:
    """A worker process: receive units of work, train each in memory, send the Outcomes back; None ends it.
    Ctrl-C reaches the whole process group: workers ignore it, the client asks them to stop through the
    shared `stop` flag, which training reads after every batch."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(work(task, lambda: stop.value != 0, name))


@contextlib.contextmanager
def _worker_start_environment() -> Iterator[None]:
    """While worker processes start: one BLAS thread in their environment (it must be set before numpy
    loads in the child, so it goes through the environment the child inherits; the user's own
    setting is kept) and SIGINT ignored (inherited too, so a Ctrl-C while a worker starts does not kill
    it). Both are restored at once; only the worker processes see them."""
    saved = {k: os.environ.get(k) for k in ONE_THREAD}
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        for k in ONE_THREAD:
            os.environ.setdefault(k, "1")
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if main:
            signal.signal(signal.SIGINT, previous)


class LocalPool:
    """`workers` long-lived processes (started with 'spawn', one BLAS thread each) that import nncli once
    and train one run at a time; the client hands each idle worker the next task. A worker that dies
    (killed, out of memory) fails its run and is replaced. Workers write the run directories themselves."""

    shared_filesystem = True

    def __init__(self, workers: int):
        self.workers = workers
        self._ctx = multiprocessing.get_context("spawn")
        self._pool: list[_Worker] = []
        self._started = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._shutdown(graceful=exc[0] is None)

    def _spawn(self, stop) -> _Worker:
        self._started += 1
        with _worker_start_environment():
            worker = _Worker(self._ctx, stop, self._started)
        self._pool.append(worker)
        return worker

    def run(self, units: list[Task | Stack], should_stop: Callable[[], bool]) -> Iterator[Started | Outcome]:
        stop = self._ctx.RawValue("b", 0)
        pending = deque(units)
        idle = [self._spawn(stop) for _ in range(min(self.workers, len(units)))]
        busy: dict[_Worker, Task | Stack] = {}
        try:
            while busy or (pending and not stop.value):
                if not stop.value and should_stop():
                    stop.value = 1
                while idle and pending and not stop.value:
                    worker, unit = idle.pop(), pending.popleft()
                    worker.conn.send(unit)
                    busy[worker] = unit
                    for task in members(unit):
                        yield Started(task.index, worker.name)
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=POLL_SECONDS)
                for worker in [w for w in busy if w.conn in ready or w.process.sentinel in ready]:
                    outcomes = self._receive(worker, busy.pop(worker))
                    if not worker.process.is_alive():  # it died: replace it
                        self._pool.remove(worker)
                        worker = self._spawn(stop) if pending and not stop.value else None
                    if worker is not None:
                        idle.append(worker)
                    yield from outcomes
        finally:
            stop.value = 1

    @staticmethod
    def _receive(worker: _Worker, unit: Task | Stack) -> list[Outcome]:
        try:
            if worker.conn.poll():
                return worker.conn.recv()
        except (EOFError, OSError):
            pass
        worker.process.join(1.0)
        return failed(unit, f"the worker process died (exit code {worker.process.exitcode}) while training this run")

    def _shutdown(self, graceful: bool) -> None:
        """Ask every worker to quit (or, after a second Ctrl-C or an error, terminate it); wait for all."""
        for w in self._pool:
            try:
                if graceful:
                    w.conn.send(None)
                else:
                    w.process.terminate()
            except (OSError, ValueError):
                pass
        for w in self._pool:
            w.process.join(5.0)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
        self._pool = []


class Throttled:
    """`check()` asked at most every `seconds` (its last answer in between): for a stop flag that costs a
    network round trip, asked after every batch."""

    def __init__(self, check: Callable[[], bool], seconds: float = 0.5):
        self.check, self.seconds = check, seconds
        self.last, self.value = -float("inf"), False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.value and now - self.last >= self.seconds:
            self.last, self.value = now, bool(self.check())
        return self.value
