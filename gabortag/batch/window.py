"""Ordered, windowed submission of inputs to workers elsewhere (worker processes:
:mod:`gabortag.batch.local`; a dask cluster: :mod:`gabortag.batch.dask`): outcomes come back in
input order whatever order the workers finish in, with a bounded number of inputs in flight,
and inputs that only this process can read (standard input, pipes) are processed here.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future
from itertools import islice
from typing import TYPE_CHECKING

from ..io.discover import STDIN
from .run import Failure, Process, attempt

if TYPE_CHECKING:
    from ..io.discover import InputItem
    from ..io.formats import Result

#: Inputs in flight per worker: submitted, running or done but waiting for an earlier input.
WINDOW_PER_WORKER = 4


def cpu_count() -> int:
    """CPU cores this process may use (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def threads_per_job(jobs: int, threads: int | None = None) -> int:
    """onnxruntime threads for each of ``jobs`` workers: ``threads``, the whole run's threads
    (the cores when ``None``), shared out so that ``jobs × threads per job ≤ threads``, at
    least 1."""
    total = cpu_count() if threads is None else threads
    return max(1, total // jobs)


def file_size(item: InputItem) -> int | None:
    """Bytes of ``item`` when it is a regular file, which any process can read; ``None`` when
    only this process can: standard input, or anything else that is not a regular file (a
    pipe; a missing file, which then fails here with its reason)."""
    if item.source == STDIN:
        return None
    try:
        info = os.stat(item.source)
    except (OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def here_only(item: InputItem) -> bool:
    """Whether only this process can read ``item`` (see :func:`file_size`)."""
    return file_size(item) is None


Submit = Callable[["InputItem"], "Future[Result | Failure]"]


def ordered_outcomes(
    items: Sequence[InputItem],
    submit: Submit,
    local: Callable[[], Process],
    window: int,
    lost: tuple[type[BaseException], ...] = (),
    retry: Callable[[InputItem], Result | Failure] | None = None,
) -> Generator[Result | Failure, None, None]:
    """Outcomes of ``items`` in their order, computed by ``submit`` (which starts one elsewhere
    and returns its future) while at most ``window`` inputs are in flight.

    Inputs for which :func:`here_only` holds are processed by ``local()`` in this process when
    their turn comes. An exception of a type in ``lost`` (the worker died) makes that input's
    outcome ``retry(item)``, or its failure when there is no ``retry``. Closing the iterator
    cancels what has not started.
    """
    todo = iter(items)
    pending: deque[tuple[InputItem, Future[Result | Failure] | None]] = deque()

    def push() -> None:
        for item in islice(todo, 1):
            if here_only(item):
                pending.append((item, None))
                continue
            try:
                pending.append((item, submit(item)))
            except lost as err:
                pending.append((item, _failed(item, err)))

    try:
        for _ in range(max(1, window)):
            push()
        while pending:
            item, future = pending.popleft()
            push()  # keep the workers busy while this one is awaited
            if future is None:
                yield attempt(local(), item)
                continue
            try:
                outcome = future.result()
            except lost as err:
                if retry is not None:
                    outcome = retry(item)
                else:
                    outcome = Failure(item.source, lost_reason(err))
            yield outcome
    finally:
        for _, future in pending:
            if future is not None:
                future.cancel()


def lost_reason(err: BaseException, alone: bool = False) -> str:
    """The failure reason of an input whose worker died (``alone``: processing it alone)."""
    where = "died processing it alone" if alone else "processing it died"
    return f"the worker {where} ({type(err).__name__}: killed, or out of memory?)"


def _failed(item: InputItem, err: BaseException) -> Future[Result | Failure]:
    future: Future[Result | Failure] = Future()
    future.set_result(Failure(item.source, lost_reason(err)))
    return future
