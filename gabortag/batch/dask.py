"""Processing inputs on a dask cluster (the ``[dask]`` extra: ``pip install "gabortag[dask]"``).

``--scheduler tcp://host:8786`` on a task command, or in Python::

    from gabortag.batch.dask import DaskRunner
    from gabortag.batch.spec import TaskSpec

    with DaskRunner("tcp://host:8786", TaskSpec("vad")) as runner:
        for outcome in runner.map(items):  # results (or Failures), in input order
            ...

Each input is one task on the cluster; a worker builds the task from its
:class:`~gabortag.batch.spec.TaskSpec` once and keeps it (:func:`gabortag.batch.spec.processor`), so
the model is loaded once per worker process. Results come back as they complete and are
yielded in input order (:func:`gabortag.batch.window.ordered_outcomes`), with the paths as given
here, so outputs written from them equal those of a local run. Workers read the inputs (and a
model given as a path) themselves: they must see the same files, at the same absolute paths,
and have gabortag installed. Standard input and pipes are processed in this process.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import ClusterError
from .run import Failure, Process, Runner
from .spec import TaskSpec, processor, run_item
from .window import WINDOW_PER_WORKER, ordered_outcomes, threads_per_job

if TYPE_CHECKING:
    from ..io.discover import InputItem
    from ..io.formats import Result

#: Seconds to wait for the scheduler to answer, and for its first worker.
CONNECT_TIMEOUT = 10.0


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as err:
        raise ClusterError(
            "a dask scheduler needs dask.distributed, which is not installed: "
            f'`pip install "gabortag[dask]"` (the import said: {err})'
        ) from err
    return distributed


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address`` that has at least one worker.

    Raises:
        ClusterError: dask is not installed, the scheduler does not answer within ``timeout``
            seconds, or no worker joins it within ``timeout`` seconds.
    """
    distributed = _distributed()
    from distributed.comm.addressing import get_address_host_port

    try:  # before the client: one made for a bad address takes its time to go away
        get_address_host_port(address)
    except ValueError as err:
        raise ClusterError(
            f"{address!r} is not a dask scheduler address ({err}); give one such as "
            "tcp://192.168.1.10:8786, as printed by `dask scheduler`"
        ) from err
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise ClusterError(
            f"cannot reach the dask scheduler at {address!r}: {err}; start one with "
            "`dask scheduler` and pass the address it prints"
        ) from err
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as err:
        client.close()
        raise ClusterError(
            f"the dask scheduler at {address} has no worker after {timeout:g} s; "
            f"start some with `dask worker {address}`"
        ) from err
    return client


def run_on_worker(spec: TaskSpec, item: InputItem) -> Result | Failure:
    """What a dask worker runs for one input: :func:`gabortag.batch.spec.run_item`, with the cores
    of the worker's machine shared out among its threads when ``spec.threads`` is ``None``."""
    if spec.threads is None:
        from distributed import get_worker

        try:
            nthreads = get_worker().state.nthreads
        except ValueError:  # not inside a worker (called directly)
            nthreads = 1
        spec = dataclasses.replace(spec, threads=threads_per_job(nthreads))
    return run_item(spec, item)


def _absolute(item: InputItem) -> InputItem:
    return dataclasses.replace(item, source=os.path.abspath(item.source))


def _as_given(outcome: Result | Failure, item: InputItem) -> Result | Failure:
    """``outcome`` of ``item`` sent with an absolute path, named by the path as given."""
    if isinstance(outcome, Failure):
        return Failure(item.source, outcome.reason)
    if dataclasses.is_dataclass(outcome) and outcome.path != item.source:
        return dataclasses.replace(outcome, path=item.source)
    return outcome


class DaskRunner(Runner):
    """The :class:`~gabortag.batch.run.Runner` of ``--scheduler``: one dask task per input.

    Args:
        scheduler: the scheduler's address (``tcp://host:8786``; connected at once, closed by
            :meth:`close`) or a ``distributed.Client`` (left open).
        spec: the task. A model given as a path is sent as an absolute path; ``threads``
            ``None`` shares each worker machine's cores among the worker's threads.
        local: processes inputs only this process can read (standard input, pipes); ``None``
            builds it from ``spec`` when needed.

    Raises:
        ClusterError: see :func:`connect`.
    """

    def __init__(self, scheduler: Any, spec: TaskSpec, local: Process | None = None) -> None:
        self._own = isinstance(scheduler, str)
        self.client = connect(scheduler) if self._own else scheduler
        self.address = str(self.client.scheduler.address)  # the scheduler's
        model = spec.model
        if os.path.isfile(model):
            model = os.path.abspath(model)
        self.spec = dataclasses.replace(spec, model=model)
        self._local = local

    def local(self) -> Process:
        if self._local is None:
            self._local = processor(self.spec).process
        return self._local

    def map(self, items: Sequence[InputItem]) -> Iterator[Result | Failure]:
        from distributed import KilledWorker

        executor = self.client.get_executor(pure=False)
        threads = sum(self.client.nthreads().values())
        outcomes = ordered_outcomes(
            items,
            lambda item: executor.submit(run_on_worker, self.spec, _absolute(item)),
            self.local,
            WINDOW_PER_WORKER * max(threads, 2),
            lost=(KilledWorker,),
        )
        try:
            for item, outcome in zip(items, outcomes, strict=True):
                yield _as_given(outcome, item)
        finally:
            outcomes.close()

    def close(self) -> None:
        """Close the client if this runner opened it."""
        if self._own:
            self.client.close()

    def where(self, provider: str) -> str:
        return f"on the dask cluster at {self.address}"

    def __enter__(self) -> DaskRunner:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
