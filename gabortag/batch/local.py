"""Processing many inputs at once: worker processes on this machine (``--jobs N``), and the
ordered, windowed submission that the dask runner (:mod:`gabortag.batch.dask`) shares.

Each worker process rebuilds the task from its :class:`~gabortag.batch.spec.TaskSpec` and loads the
model once (:func:`gabortag.batch.spec.processor`); results come back to this process, which
writes every output in input order (:func:`gabortag.batch.run.run_batch`), so outputs are the same,
byte for byte, as with one process.

Inputs that only this process can read (standard input, pipes such as ``<(cat a.wav)``) are
processed here, in their turn. Workers are started with ``spawn`` (a fresh interpreter: no
onnxruntime threads are forked) and only when at least two inputs are to be processed.
"""

from __future__ import annotations

import os
import signal
import stat
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from itertools import islice
from typing import TYPE_CHECKING

from ..io.discover import STDIN
from .run import Failure, InProcess, Process, Runner, attempt
from .spec import TaskSpec, processor, run_item

if TYPE_CHECKING:
    from ..io.discover import InputItem
    from ..io.formats import Result

#: Most worker processes that ``--jobs`` chooses by itself.
MAX_DEFAULT_JOBS = 4

#: With ``--jobs`` not given, inputs that add up to fewer bytes than this are processed in this
#: process: starting the workers (about half a second, measured on 2 cores) would cost more
#: than they save (32 MiB: 17 minutes of 16 kHz 16-bit WAV, 35 minutes of 128 kbit/s MP3).
AUTO_MIN_BYTES = 32 * 2**20

#: Inputs in flight per worker: submitted, running or done but waiting for an earlier input.
WINDOW_PER_WORKER = 4


def cpu_count() -> int:
    """CPU cores this process may use (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_jobs() -> int:
    """Worker processes when ``--jobs`` is not given: one per core, at most
    :data:`MAX_DEFAULT_JOBS`."""
    return min(MAX_DEFAULT_JOBS, cpu_count())


def threads_per_job(jobs: int, threads: int | None = None) -> int:
    """onnxruntime threads for each of ``jobs`` workers: ``threads`` when given, else the cores
    shared out (``jobs × threads ≈ cores``), at least 1."""
    return threads if threads is not None else max(1, cpu_count() // jobs)


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
                outcome = retry(item) if retry is not None else Failure(item.source, _lost(err))
            yield outcome
    finally:
        for _, future in pending:
            if future is not None:
                future.cancel()


def _lost(err: BaseException, alone: bool = False) -> str:
    """The failure reason of an input whose worker died (``alone``: processing it alone)."""
    where = "died processing it alone" if alone else "processing it died"
    return f"the worker {where} ({type(err).__name__}: killed, or out of memory?)"


def _failed(item: InputItem, err: BaseException) -> Future[Result | Failure]:
    future: Future[Result | Failure] = Future()
    future.set_result(Failure(item.source, _lost(err)))
    return future


def _worker_init() -> None:
    """Worker processes end at once on Ctrl-C, silently: this process reports it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


Target = Callable[[TaskSpec, "InputItem"], "Result | Failure"]


class _SpawnPool:
    """``jobs`` spawned worker processes running ``target``; when one dies (killed, out of
    memory) the pool is broken, and the next :meth:`submit` starts a new one."""

    def __init__(self, jobs: int, spec: TaskSpec, target: Target) -> None:
        self.jobs, self.spec, self.target = jobs, spec, target
        self._pool: ProcessPoolExecutor | None = None

    def _new(self) -> ProcessPoolExecutor:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_worker_init)

    def submit(self, item: InputItem) -> Future[Result | Failure]:
        if self._pool is None:
            self._pool = self._new()
        try:
            return self._pool.submit(self.target, self.spec, item)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new()
            return self._pool.submit(self.target, self.spec, item)

    def alone(self, item: InputItem) -> Result | Failure:
        """``item`` processed with nothing else in flight here (a pool of one worker): after a
        worker died, each input it took down is retried so, and only one that kills its
        worker again fails."""
        try:
            return self.submit(item).result()
        except BrokenProcessPool as err:
            return Failure(item.source, _lost(err, alone=True))

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class WorkerPool(Runner):
    """The :class:`~gabortag.batch.run.Runner` of ``--jobs N``: inputs processed in ``jobs`` worker
    processes, each building ``spec`` (loading the model) once.

    A worker that dies (killed, out of memory) takes down the inputs in flight: each of them
    is then processed again in a worker of its own, so that only an input that kills its
    worker a second time fails, and the batch goes on in new workers.

    Args:
        spec: the task; its ``threads`` (``None``: cores shared out, see
            :func:`threads_per_job`) apply to each worker.
        jobs: worker processes, never more than the inputs to process; with one, or one
            input, inputs are processed in this process. ``None``: :func:`default_jobs`, or
            none when the inputs add up to less than :data:`AUTO_MIN_BYTES`.
        local: processes an input in this process (inputs only it can read, or one job);
            ``None`` builds it from ``spec`` when needed.
        target: what a worker runs on an input (a module-level function, so that it pickles).
    """

    def __init__(
        self,
        spec: TaskSpec,
        jobs: int | None = None,
        local: Process | None = None,
        target: Target = run_item,
    ):
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.spec = spec
        self.auto = jobs is None
        self.jobs = default_jobs() if jobs is None else jobs
        self._local = local
        self.target = target
        self.used = 0  # worker processes started by the last map()

    def local(self) -> Process:
        """What processes an input in this process."""
        if self._local is None:
            self._local = processor(self.spec).process
        return self._local

    def map(self, items: Sequence[InputItem]) -> Iterator[Result | Failure]:
        sizes = [size for size in map(file_size, items) if size is not None]
        jobs = min(self.jobs, len(sizes))
        if self.auto and sum(sizes) < AUTO_MIN_BYTES:
            jobs = 1
        self.used = jobs if jobs > 1 else 0
        if jobs <= 1:
            yield from InProcess(self.local()).map(items)
            return
        spec = replace(self.spec, threads=threads_per_job(jobs, self.spec.threads))
        pool = _SpawnPool(jobs, spec, self.target)
        solo = _SpawnPool(1, spec, self.target)
        try:
            yield from ordered_outcomes(
                items,
                pool.submit,
                self.local,
                WINDOW_PER_WORKER * jobs,
                lost=(BrokenProcessPool,),
                retry=solo.alone,
            )
        finally:
            pool.shutdown()
            solo.shutdown()


def runner(
    spec: TaskSpec,
    *,
    jobs: int | None = None,
    scheduler: object | None = None,
    local: Process | None = None,
) -> Runner:
    """The runner for ``spec``: on the dask cluster of ``scheduler`` (an address such as
    ``tcp://host:8786`` or a ``distributed.Client``), else in ``jobs`` worker processes
    (``None``: :func:`default_jobs`; 1: in this process)."""
    if scheduler is not None:
        from .dask import DaskRunner

        return DaskRunner(scheduler, spec, local=local)
    return WorkerPool(spec, jobs, local=local)


def process_files(
    spec: TaskSpec,
    sources: Sequence[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    scheduler: object | None = None,
) -> Iterator[Result | Failure]:
    """Results of ``spec``'s task on each of ``sources`` (paths, or ``"-"``), in their order: a
    result (:class:`~gabortag.tasks.results.VadResult`,
    :class:`~gabortag.tasks.results.EventResult`) or a :class:`~gabortag.batch.run.Failure` for
    an input that could not be processed.

    ``jobs`` and ``scheduler`` are as for :func:`runner`: worker processes on this machine, or
    the workers of a dask cluster (which must see the same paths and have gabortag).
    """
    from ..io.discover import InputItem

    items = [InputItem(os.fspath(s), os.path.basename(os.fspath(s))) for s in sources]
    run = runner(spec, jobs=jobs, scheduler=scheduler)  # connects to a scheduler now
    return _closing_after(run, items)


def _closing_after(run: Runner, items: Sequence[InputItem]) -> Iterator[Result | Failure]:
    """``run.map(items)``, then ``run.close()`` (a client it opened) when there is one."""
    try:
        yield from run.map(items)
    finally:
        close = getattr(run, "close", None)
        if close is not None:
            close()
