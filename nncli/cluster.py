"""Runs of a sweep on a Dask distributed cluster (the optional `dask` extra: `pip install "nncli[dask]"`).

Each unit of work (a run, or a stack of runs) is one Dask task calling `executors.work` on a worker, which needs nncli installed and the
data reachable (built-in datasets are generated; data files by the same absolute path, or through
`$NNCLI_DATA`); the run's files travel back in the result and the client writes them, so no shared
filesystem is needed. A worker lost mid-run makes the scheduler run that task again on another worker
(Dask retries a task whose worker died up to `distributed.scheduler.allowed-failures` times, 3 by
default). Dask's nanny starts worker processes with one BLAS thread (`distributed.nanny.pre-spawn-environ`).
Stopping: a Dask Event that every run reads at most every STOP_CHECK_SECONDS.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable, Iterator

from .errors import NncliError
from .executors import POLL_SECONDS, Throttled, work
from .tasks import Outcome, Stack, Started, Task, failed, members

INSTALL_HINT = 'pip install "nncli[dask]"'
STOP_CHECK_SECONDS = 0.5


class SchedulerError(NncliError):
    """The Dask scheduler cannot be reached, or dask is not installed. Exit code 2."""


def _distributed():
    try:
        import distributed  # the optional extra: imported only for a sweep on a cluster
    except ImportError:
        raise SchedulerError(f"running on a Dask scheduler needs dask.distributed, which is not installed; "
                             f"install the dask extra: {INSTALL_HINT}") from None
    return distributed


def remote_execute(unit: Task | Stack, stop_event: str) -> list[Outcome]:
    """One unit of work (a run or a stack) on a Dask worker; skipped when the sweep was stopped before it
    began."""
    from distributed import Event, get_worker  # runs on a worker, where distributed is installed

    stop = Event(stop_event)
    if stop.is_set():
        return [Outcome(t.index, "skipped") for t in members(unit)]
    try:
        name = str(get_worker().name)
    except ValueError:
        name = "dask"
    return work(unit, Throttled(stop.is_set, STOP_CHECK_SECONDS), name)


class DaskExecutor:
    """The runs as tasks of the Dask scheduler at `address`; connecting (on entering) takes at most
    `timeout` seconds, else SchedulerError (exit 2) before anything is written."""

    def __init__(self, address: str, timeout: float = 10.0):
        self.address = address
        self.timeout = timeout
        self.client = None

    def __enter__(self):
        distributed = _distributed()
        try:
            self.client = distributed.Client(self.address, timeout=self.timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise SchedulerError(f"cannot reach the Dask scheduler at {self.address} within {self.timeout:g} s "
                                 f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); start one with "
                                 f"`dask scheduler` and workers with `dask worker {self.address}`, or leave out "
                                 f"the scheduler to use local worker processes") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    @property
    def workers(self) -> int:
        """Worker threads the scheduler has now (runs at a time)."""
        info = self.client.scheduler_info()
        return sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()) or 1

    def run(self, units: list[Task | Stack], should_stop: Callable[[], bool]) -> Iterator[Started | Outcome]:
        distributed = _distributed()
        sweep = uuid.uuid4().hex[:12]
        stop = distributed.Event(f"nncli-stop-{sweep}", client=self.client)
        futures = {self.client.submit(remote_execute, u, stop.name, key=f"nncli-{sweep}-{u.index}", pure=False): u
                   for u in units}
        done = distributed.as_completed(list(futures), loop=self.client.loop)
        stopping = False
        try:
            while not done.is_empty():
                if not stopping and should_stop():
                    stopping = True
                    stop.set()
                batch = done.next_batch(block=False)
                if not batch:
                    time.sleep(POLL_SECONDS / 2)
                for future in batch:
                    yield from self._outcomes(future, futures[future])
        finally:
            if not done.is_empty():
                self.client.cancel(list(futures))

    @staticmethod
    def _outcomes(future, unit: Task | Stack) -> list[Outcome]:
        try:
            return future.result()
        except Exception as e:  # KilledWorker (died too often), a worker without nncli, ...
            return failed(unit, f"failed on the cluster: {type(e).__name__}: {e}")
