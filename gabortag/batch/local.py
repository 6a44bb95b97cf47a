"""Processing many inputs at once in worker processes on this machine (``--jobs N``), submitted
in order through a bounded window (:mod:`gabortag.batch.window`).

Each worker process rebuilds the task from its :class:`~gabortag.batch.spec.TaskSpec` and loads the
model once (:func:`gabortag.batch.spec.processor`); results come back to this process, which
writes every output in input order (:func:`gabortag.batch.run.run_batch`), so outputs are the same,
byte for byte, as with one process.

Inputs that only this process can read (standard input, pipes such as ``<(cat a.wav)``) are
processed here, in their turn. Workers are started with ``spawn`` (a fresh interpreter: no
onnxruntime threads are forked) and only when at least two inputs are to be processed.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import OptionError
from .run import Failure, InProcess, Process, Runner
from .spec import TaskSpec, processor, run_item
from .window import (
    WINDOW_PER_WORKER,
    cpu_count,
    file_size,
    lost_reason,
    ordered_outcomes,
    threads_per_job,
)

if TYPE_CHECKING:
    from ..io.discover import InputItem
    from ..io.formats import Result

#: Most worker processes that ``--jobs`` chooses by itself.
MAX_DEFAULT_JOBS = 4

#: With ``--jobs`` not given, inputs that add up to fewer bytes than this are processed in this
#: process: starting the workers (about half a second, measured on 2 cores) would cost more
#: than they save (32 MiB: 17 minutes of 16 kHz 16-bit WAV, 35 minutes of 128 kbit/s MP3).
AUTO_MIN_BYTES = 32 * 2**20


def default_jobs() -> int:
    """Worker processes when ``--jobs`` is not given: one per core, at most
    :data:`MAX_DEFAULT_JOBS`."""
    return min(MAX_DEFAULT_JOBS, cpu_count())


def plan_workers(
    jobs: int | None, threads: int | None, sizes: Sequence[int]
) -> tuple[int, int | None]:
    """How a batch of inputs whose sizes (bytes) are ``sizes`` runs on this machine:
    ``(worker processes, onnxruntime threads of each)``; 0 workers: all in this process, on
    ``threads`` threads.

    ``threads`` (``--threads``) is the whole run's: the workers never use more together
    (``workers × threads of each ≤ threads``), so ``threads=1`` keeps the run in this
    process. ``jobs`` ``None``: :func:`default_jobs`, at most ``threads``, and none when the
    inputs add up to less than :data:`AUTO_MIN_BYTES`. Never more workers than inputs.

    Raises:
        ValueError: ``jobs`` is more than ``threads`` (each worker needs a thread).
    """
    check_jobs(jobs, threads)
    workers = min(default_jobs() if jobs is None else jobs, len(sizes))
    if jobs is None:
        if threads is not None:
            workers = min(workers, threads)
        if sum(sizes) < AUTO_MIN_BYTES:
            workers = 1
    if workers <= 1:
        return 0, threads
    return workers, threads_per_job(workers, threads)


def check_jobs(jobs: int | None, threads: int | None) -> None:
    """``ValueError`` when ``jobs`` worker processes cannot share ``threads`` threads (``None``:
    no limit), or ``jobs < 1``."""
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if jobs is not None and threads is not None and jobs > threads:
        raise OptionError(
            "jobs",
            f"{{jobs}} {jobs} needs at least {jobs} threads, and {{threads}} {threads} is what "
            f"the whole run may use (worker processes × threads of each); give {{threads}} "
            f"{jobs} or more, or fewer {{jobs}}",
            ("threads",),
        )


def _worker_init() -> None:
    """Worker processes end at once on Ctrl-C, silently: this process reports it; they print
    gabortag's warnings as one line each, as the command line does."""
    from ..errors import show_warnings_as_lines

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    show_warnings_as_lines()


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
            return Failure(item.source, lost_reason(err, alone=True))

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
        spec: the task; its ``threads`` are the whole run's, shared out among the workers
            (``None``: the cores; see :func:`plan_workers`).
        jobs: worker processes, never more than the inputs to process nor ``spec.threads``;
            with one, or one input, inputs are processed in this process. ``None``:
            :func:`default_jobs` (at most ``spec.threads``), or none when the inputs add up
            to less than :data:`AUTO_MIN_BYTES`.
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
        check_jobs(jobs, spec.threads)
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
        jobs, threads = plan_workers(None if self.auto else self.jobs, self.spec.threads, sizes)
        self.used = jobs
        if jobs <= 1:
            yield from InProcess(self.local()).map(items)
            return
        spec = replace(self.spec, threads=threads)
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

    def close(self) -> None:
        pass  # each map() shuts its workers down

    def where(self, provider: str) -> str:
        if self.used:
            return f"on {provider}, {self.used} worker processes"
        return f"on {provider}"
