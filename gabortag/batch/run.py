"""Running a task over many inputs: output routing, per-file failures, the :class:`Runner`.

Where outputs go is an :class:`~gabortag.batch.plan.OutputPlan` (:mod:`gabortag.batch.plan`);
outputs are written atomically (:mod:`gabortag.io.atomic`).

The batch does not care which task made the results: ``process(item)`` returns any result a
writer of that task accepts (:class:`~gabortag.io.formats.Result`), and ``task`` picks the writer.
Where the work runs is a :class:`Runner`'s business (here, worker processes, a dask cluster);
this module writes every output itself, in input order, so outputs are the same however the
work was spread. A failing input never stops the batch: its error is recorded and reported,
and the others go on.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO, runtime_checkable

from ..errors import GabortagError, OutputError
from ..io.atomic import atomic_open, remove_stale_temporaries
from ..io.discover import InputItem
from ..io.formats import Result, get_writer
from .plan import OutputPlan, output_path


@dataclass(frozen=True)
class Failure:
    """An input that could not be processed: its path as given and why (one line)."""

    path: str
    reason: str


@dataclass
class BatchSummary:
    """What happened to each input."""

    processed: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


Process = Callable[[InputItem], Result]
Progress = Callable[[InputItem, str], None]


def attempt(process: Process, item: InputItem) -> Result | Failure:
    """``process(item)``, or the failure it raised: errors of type
    :class:`~gabortag.errors.GabortagError`, ``OSError`` and ``ValueError`` become a
    :class:`Failure` with the reason, and so does ``MemoryError`` (an allocation that failed,
    such as NumPy's "Unable to allocate 1.83 GiB ..."), so that the batch goes on; anything
    else is a bug and propagates."""
    try:
        return process(item)
    except (GabortagError, OSError, ValueError) as err:
        return Failure(item.source, getattr(err, "reason", None) or str(err))
    except MemoryError as err:
        return Failure(item.source, out_of_memory_reason(err))


def out_of_memory_reason(err: MemoryError) -> str:
    """The one-line failure reason of an input whose processing ran out of memory."""
    detail = " ".join(str(err).split())
    return f"out of memory ({detail})" if detail else "out of memory"


@runtime_checkable
class Runner(Protocol):
    """Processes many inputs, maybe elsewhere (worker processes: :mod:`gabortag.batch.local`; a
    dask cluster: :mod:`gabortag.batch.dask`)."""

    def map(self, items: Sequence[InputItem]) -> Iterator[Result | Failure]:
        """One outcome per input, in the order of ``items``, each as soon as it and those
        before it are done; closing the iterator early stops the work still under way."""
        ...

    def close(self) -> None:
        """Release what the runner holds (a cluster client it opened); it cannot map again."""
        ...

    def where(self, provider: str) -> str:
        """Where the last :meth:`map` ran, for a summary line: ``on CPUExecutionProvider``,
        ``on CPUExecutionProvider, 2 worker processes``, ``on the dask cluster at ADDRESS``
        (``provider``: the onnxruntime provider of the model in this process)."""
        ...


class InProcess:
    """The :class:`Runner` that calls ``process`` on each input in turn, in this process."""

    def __init__(self, process: Process) -> None:
        self.process = process

    def map(self, items: Sequence[InputItem]) -> Iterator[Result | Failure]:
        return (attempt(self.process, item) for item in items)

    def close(self) -> None:
        pass

    def where(self, provider: str) -> str:
        return f"on {provider}"


@contextlib.contextmanager
def _closing(outcomes: Iterator[Result | Failure]) -> Iterator[Iterator[Result | Failure]]:
    """Close ``outcomes`` (a generator: stops its workers) however the loop over it ends."""
    try:
        yield outcomes
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()


_SKIPPED = "skipped"


def _dir_verdicts(
    items: Sequence[InputItem],
    plan: OutputPlan,
    fmt: str,
    task: str,
    skip_existing: bool,
    force: bool,
) -> list[tuple[Path, str | None]]:
    """Per input of a ``dir`` plan: its output path and ``None`` (to process), ``"skipped"``,
    or the reason it fails without being processed. Decided for all inputs before any work."""
    claimed: dict[Path, str] = {}  # output path -> the input it belongs to in this run
    swept: set[Path] = set()  # output folders cleared of stale temporary files
    verdicts: list[tuple[Path, str | None]] = []
    for item in items:
        target = output_path(plan, item, fmt, task)
        if target.parent not in swept:
            swept.add(target.parent)
            remove_stale_temporaries(target.parent)
        verdict: str | None = None
        if target in claimed:  # e.g. a/x.wav and a/x.flac both map to a/x.json
            verdict = (
                f"output {target} is already the output of {claimed[target]} "
                "(same name, different extension); rename one of them"
            )
        else:
            claimed[target] = item.source
            try:
                exists = target.exists()
            except OSError as err:  # e.g. a name longer than the file system allows
                exists, verdict = False, f"{target}: cannot write ({err.strerror or err})"
            if exists and skip_existing:
                verdict = _SKIPPED
            elif exists and not force:
                verdict = f"output {target} exists (use --force or --skip-existing)"
        verdicts.append((target, verdict))
    return verdicts


def run_batch(
    items: Sequence[InputItem],
    process: Process | Runner,
    fmt: str,
    plan: OutputPlan,
    *,
    task: str = "vad",
    skip_existing: bool = False,
    force: bool = False,
    stdout: TextIO | None = None,
    initial_failures: Sequence[Failure] = (),
    on_done: Progress | None = None,
) -> BatchSummary:
    """Process ``items``, writing each result as ``plan`` says, in format ``fmt`` of ``task``.

    ``process`` processes one input here (a function), or is a :class:`Runner` that processes
    them elsewhere (worker processes, a cluster); either way outputs are written by this
    process in input order, so they do not depend on how the work was spread. In ``dir`` mode
    only the inputs whose output is to be (re)written are processed.

    ``on_done(item, status)`` is called after each input, in input order, with status ``ok``,
    ``skipped`` or ``failed: reason``. Errors of type :class:`~gabortag.errors.GabortagError`
    (and ``OSError``, ``ValueError``) become failures; anything else is a bug and propagates.

    Raises:
        OutputError: the combined output (``file`` or ``stream`` mode) could not be written;
            a ``file`` output is then left as it was. ``BrokenPipeError`` propagates as is.
    """
    summary = BatchSummary(failures=list(initial_failures))
    writer = get_writer(fmt, task)
    runner = process if isinstance(process, Runner) else InProcess(process)

    def note(item: InputItem, status: str) -> None:
        if on_done is not None:
            on_done(item, status)

    def fail(item: InputItem, reason: str) -> None:
        summary.failures.append(Failure(item.source, reason))
        note(item, f"failed: {reason}")

    if plan.mode == "dir":
        verdicts = _dir_verdicts(items, plan, fmt, task, skip_existing, force)
        todo = [item for item, (_, verdict) in zip(items, verdicts, strict=True) if verdict is None]
        with _closing(runner.map(todo)) as outcomes:
            for item, (target, verdict) in zip(items, verdicts, strict=True):
                if verdict == _SKIPPED:
                    summary.skipped += 1
                    note(item, "skipped")
                    continue
                if verdict is not None:
                    fail(item, verdict)
                    continue
                outcome = next(outcomes)
                if isinstance(outcome, Failure):
                    fail(item, outcome.reason)
                    continue
                try:
                    with atomic_open(target) as f:
                        writer.write_one(outcome, f)
                except OutputError as err:
                    fail(item, str(err))
                    continue
                summary.processed += 1
                summary.outputs.append(target)
                note(item, "ok")
        return summary

    def combined(stream: TextIO) -> None:
        writer.begin(stream, n_files=len(items) + len(initial_failures))
        for failure in initial_failures:
            writer.write_error(failure.path, failure.reason, stream)
        with _closing(runner.map(items)) as outcomes:
            for item, outcome in zip(items, outcomes, strict=True):
                if isinstance(outcome, Failure):
                    fail(item, outcome.reason)
                    writer.write_error(item.source, outcome.reason, stream)
                    continue
                writer.write_item(outcome, stream)
                stream.flush()
                summary.processed += 1
                note(item, "ok")
        writer.end(stream)

    if plan.mode == "file":
        assert plan.path is not None
        remove_stale_temporaries(plan.path.parent)
        with atomic_open(plan.path) as f:
            combined(f)
        summary.outputs.append(plan.path)
    else:
        stream = stdout if stdout is not None else sys.stdout
        try:
            combined(stream)
        except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
            raise
        except OSError as err:  # e.g. a full disk under `> results.json`
            name = getattr(stream, "name", "the output stream")
            raise OutputError(f"{name}: cannot write ({err.strerror or err})") from err
    return summary
