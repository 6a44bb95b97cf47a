"""Running a task over many inputs, the pipeline every task command runs:
discover the inputs (:mod:`gabortag.io.discover`) → plan the outputs (:mod:`.plan`) → build the
task's processor from a :class:`~.spec.TaskSpec` (:mod:`.spec`) → spread the work with a
:class:`~.run.Runner` (this process, worker processes: :mod:`.local`, a dask cluster:
:mod:`.dask`; ordered outcomes: :mod:`.window`) → write every output here, in input order,
atomically (:mod:`.run`, :mod:`gabortag.io.atomic`).

:func:`tag_files` runs it all, as ``gabortag vad|birdcalls|scenes`` does::

    report = gabortag.tag_files(TaskSpec("vad"), ["recordings/"], "out/", "rttm", jobs=4)
    print(report.summary.processed, report.summary.failed)

:func:`process_files` yields the results instead of writing them; :func:`runner` makes the
runner of a spec. Everything heavy is imported on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import OptionError

if TYPE_CHECKING:
    from ..io.discover import InputItem
    from ..io.formats import Result
    from .plan import OutputPlan
    from .run import BatchSummary, Failure, Process, Progress, Runner
    from .spec import Processor, TaskSpec


def runner(
    spec: TaskSpec,
    *,
    jobs: int | None = None,
    scheduler: object | None = None,
    local: Process | None = None,
) -> Runner:
    """The runner for ``spec``: on the dask cluster of ``scheduler`` (an address such as
    ``tcp://host:8786`` or a ``distributed.Client``), else in ``jobs`` worker processes
    (``None``: :func:`~.local.default_jobs`; 1: in this process)."""
    if scheduler is not None:
        from .dask import DaskRunner

        return DaskRunner(scheduler, spec, local=local)
    from .local import WorkerPool

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
    :class:`~gabortag.tasks.results.EventResult`, :class:`~gabortag.tasks.results.SceneResult`)
    or a :class:`~.run.Failure` for an input that could not be processed.

    ``jobs`` and ``scheduler`` are as for :func:`runner`: worker processes on this machine, or
    the workers of a dask cluster (which must see the same paths and have gabortag).
    """
    from ..io.discover import InputItem

    items = [InputItem(os.fspath(s), os.path.basename(os.fspath(s))) for s in sources]
    run = runner(spec, jobs=jobs, scheduler=scheduler)  # connects to a scheduler now
    return _closing_after(run, items)


def _closing_after(run: Runner, items: Sequence[InputItem]) -> Iterator[Result | Failure]:
    """``run.map(items)``, then ``run.close()``."""
    try:
        yield from run.map(items)
    finally:
        run.close()


@dataclass(frozen=True)
class Batch:
    """A batch ready to run, every check done (what :func:`tag_files` shows ``on_ready``)."""

    spec: TaskSpec
    items: list[InputItem]
    #: inputs that were not found, failed before any work
    missing: list[Failure]
    plan: OutputPlan
    processor: Processor
    runner: Runner


@dataclass(frozen=True)
class BatchReport:
    """What :func:`tag_files` did."""

    summary: BatchSummary
    #: the model's name
    model: str
    #: where the work ran, e.g. ``on CPUExecutionProvider, 2 worker processes``
    where: str


def tag_files(
    spec: TaskSpec,
    inputs: Sequence[str | os.PathLike[str]],
    output: str | None = None,
    fmt: str = "json",
    *,
    skip_existing: bool = False,
    force: bool = False,
    jobs: int | None = None,
    scheduler: object | None = None,
    on_ready: Callable[[Batch], None] | None = None,
    on_done: Progress | None = None,
) -> BatchReport:
    """Run ``spec``'s task on ``inputs`` (files, folders searched recursively, glob patterns,
    ``"-"``) and write the results in format ``fmt`` to ``output``: ``None`` or ``"-"``
    stdout, a file named with the format's extension (one combined output), or a folder (one
    output per input); see :mod:`.plan`.

    Every check (inputs, output, model, options, runner) is done before any audio is
    processed; then ``on_ready(batch)`` is called, and the batch runs with ``on_done(item,
    status)`` after each input (see :func:`~.run.run_batch`). Inputs that fail (missing,
    unreadable) are counted in the summary's failures; the batch goes on.

    Raises:
        ValueError: nothing to process, an impossible output request, an option out of
            range (raised before ``on_ready``).
        GabortagError: the model cannot be loaded, the cluster cannot be reached (before
            ``on_ready``); :class:`~gabortag.errors.OutputError`: a combined output could not be
            written (after).
    """
    from ..io.discover import discover
    from .plan import plan_output
    from .run import Failure, run_batch
    from .spec import build_processor

    items, not_found = discover([os.fspath(i) for i in inputs])
    if not items and not_found:
        raise ValueError("no audio to process: " + "; ".join(str(e) for e in not_found))
    plan = plan_output(output, fmt, len(items), force=force, task=spec.task)
    if skip_existing and plan.mode != "dir":
        raise OptionError(
            "skip_existing",
            "{skip_existing} needs {output} DIR (one output file per input)",
            ("output",),
        )
    processor = build_processor(spec)  # the model and options are checked here
    run = runner(spec, jobs=jobs, scheduler=scheduler, local=processor.process)
    try:
        missing = [Failure(e.path, e.reason) for e in not_found]
        batch = Batch(spec, items, missing, plan, processor, run)
        if on_ready is not None:
            on_ready(batch)
        summary = run_batch(
            items,
            run,
            fmt,
            plan,
            task=spec.task,
            skip_existing=skip_existing,
            force=force,
            initial_failures=missing,
            on_done=on_done,
        )
    finally:
        run.close()
    return BatchReport(summary, processor.model.name, run.where(processor.model.provider))
