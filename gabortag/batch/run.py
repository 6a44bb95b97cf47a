"""Running a task over many inputs: output routing, atomic writes, per-file failures.

Output modes (decided once, before any audio is read, by :func:`plan_output`):

- ``stream``: one combined output on stdout (``-o -`` or no ``-o``), written as results arrive;
- ``file``: one combined output file (``-o results.json``: a path whose name ends in the format's
  extension, compared case-insensitively; extensions may hold several dots, such as Raven's
  ``.selections.txt``), written to a temporary file and renamed into place at the end;
- ``dir``: one output file per input (``-o DIR``: an existing folder, a path ending in ``/``,
  or a path without the format's extension), mirroring the input tree, each written atomically.

The batch does not care which task made the results: ``process(item)`` returns any result a
writer of that task accepts (:class:`~gabortag.io.formats.Result`), and ``task`` picks the writer.
Where the work runs is a :class:`Runner`'s business (here, worker processes, a dask cluster);
this module writes every output itself, in input order, so outputs are the same however the
work was spread. A failing input never stops the batch: its error is recorded and reported,
and the others go on.
A temporary file left behind by a run that was killed outright is removed by the next run
that writes into its folder (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol, TextIO, runtime_checkable

from ..errors import GabortagError, OutputError
from ..io.discover import InputItem
from ..io.formats import Result, get_writer


@dataclass(frozen=True)
class OutputPlan:
    """Where results go: ``mode`` is ``stream``, ``file`` or ``dir``; ``path`` for the last two."""

    mode: str
    path: Path | None = None


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


def _has_extension(name: str, ext: str) -> bool:
    """Whether file ``name`` ends in ``ext`` (case-insensitive) and has a stem before it."""
    return len(name) > len(ext) and name.lower().endswith(ext.lower())


def plan_output(
    output: str | None, fmt: str, n_inputs: int, force: bool = False, task: str = "vad"
) -> OutputPlan:
    """Decide the output mode; raises ``ValueError`` (a usage error) on an impossible request."""
    writer = get_writer(fmt, task)
    ext = writer.extension
    if output is None or output == "-":
        plan = OutputPlan("stream")
    else:
        path = Path(output)
        if path.is_dir() or output.endswith(("/", os.sep)) or not _has_extension(path.name, ext):
            if path.exists() and not path.is_dir():
                raise ValueError(
                    f"-o {output}: exists and is not a folder; for one combined {fmt} file give "
                    f"a name ending in {ext}"
                )
            return OutputPlan("dir", path)
        if path.exists() and not force:
            raise ValueError(f"-o {output}: file exists; add --force to overwrite it")
        if not path.parent.exists():
            raise ValueError(f"-o {output}: folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise ValueError(f"-o {output}: folder {path.parent} is not writable")
        plan = OutputPlan("file", path)
    if not writer.combinable and n_inputs > 1:
        raise ValueError(
            f"format {fmt} holds one file only; with {n_inputs} inputs use -o DIR "
            "to write one output per input"
        )
    return plan


def output_path(plan: OutputPlan, item: InputItem, fmt: str, task: str = "vad") -> Path:
    """Per-input output path in ``dir`` mode: the input's relative path with its suffix (if any)
    replaced by the format's extension (``a/x.wav`` → ``a/x.selections.txt``)."""
    assert plan.path is not None
    rel = Path(item.relative)
    ext = get_writer(fmt, task).extension
    return plan.path / rel.with_name((rel.stem if rel.suffix else rel.name) + ext)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: How text outputs encode what UTF-8 cannot: file names that are not valid UTF-8 reach Python
#: as lone surrogates (PEP 383), and are written back as the bytes they came from.
TEXT_ERRORS = "surrogateescape"


# Temporary outputs are ``.NAME.<8 random characters of mkstemp>.<pid>.tmp`` beside NAME.
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.(\d+)\.tmp")


def _running(pid: int) -> bool:
    """Whether a process with id ``pid`` runs on this machine (``True`` when unsure)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none has it, or no process can
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary outputs that killed processes left in ``folder``; return them.

    Outputs are written to a temporary file that is renamed into place, or deleted on any
    error; only a process killed outright (``SIGKILL``, power loss) leaves one behind. Its
    name holds the id of the process that wrote it, and it is stale when no process of that id
    runs on this machine. Problems (a missing or unreadable folder, a file gone meanwhile) are
    ignored.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or _running(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


#: Longest file name, in bytes, of the usual file systems (ext4, XFS, APFS, NTFS, ...).
NAME_MAX = 255


def _temporary_affixes(path: Path) -> tuple[str, str]:
    """``mkstemp``'s prefix and suffix for a temporary file beside ``path``: hidden, named
    after it, and ending in this process's id; the name is shortened so that the temporary
    file's name fits :data:`NAME_MAX` whenever ``path``'s does."""
    suffix = f".{os.getpid()}.tmp"
    room = NAME_MAX - len(suffix) - len(".") - 8 - len(".")  # mkstemp adds 8 characters
    name = path.name[:room]
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}.", suffix


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM arriving inside the block are delivered on leaving it (main thread
    only: elsewhere the block runs as it is). Used so that a temporary file cannot be created
    without its name being known to the code that removes it."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    kinds = (signal.SIGINT, signal.SIGTERM)
    previous = {
        kind: signal.signal(kind, lambda signum, _frame: held.append(signum)) for kind in kinds
    }
    try:
        yield
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)  # runs the restored handler now


@contextlib.contextmanager
def _atomic(path: Path, mode: str) -> Iterator[IO[Any]]:
    tmp: str | None = None
    stream: IO[Any] | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix, suffix = _temporary_affixes(path)
        binary = "b" in mode
        with _signals_deferred():  # a signal lands once the file and its name are held here
            fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
            stream = os.fdopen(
                fd,
                mode,
                encoding=None if binary else "utf-8",
                errors=None if binary else TEXT_ERRORS,
                newline=None if binary else "",
            )
        with stream as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; outputs follow umask
        os.replace(tmp, path)
    except BaseException as err:
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()  # a no-op when the with block closed it
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"{path}: cannot write ({err.strerror or err})") from err
        raise


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[TextIO]:
    """Write text to a temporary file beside ``path``; rename it into place only on success.

    The text is UTF-8; a lone surrogate (a file name that is not valid UTF-8, as Python decodes
    it) is written as the byte it stands for, as Python writes it to a POSIX terminal.
    """
    with _atomic(path, "w") as f:
        yield f  # type: ignore[misc]


@contextlib.contextmanager
def atomic_open_binary(path: Path) -> Iterator[BinaryIO]:
    """Like :func:`atomic_open`, for bytes."""
    with _atomic(path, "wb") as f:
        yield f  # type: ignore[misc]


Process = Callable[[InputItem], Result]
Progress = Callable[[InputItem, str], None]


def attempt(process: Process, item: InputItem) -> Result | Failure:
    """``process(item)``, or the failure it raised: errors of type
    :class:`~gabortag.errors.GabortagError`, ``OSError`` and ``ValueError`` become a
    :class:`Failure` with the reason; anything else is a bug and propagates."""
    try:
        return process(item)
    except (GabortagError, OSError, ValueError) as err:
        return Failure(item.source, getattr(err, "reason", None) or str(err))


@runtime_checkable
class Runner(Protocol):
    """Processes many inputs, maybe elsewhere (worker processes: :mod:`gabortag.batch.local`; a
    dask cluster: :mod:`gabortag.batch.dask`)."""

    def map(self, items: Sequence[InputItem]) -> Iterator[Result | Failure]:
        """One outcome per input, in the order of ``items``, each as soon as it and those
        before it are done; closing the iterator early stops the work still under way."""
        ...


class InProcess:
    """The :class:`Runner` that calls ``process`` on each input in turn, in this process."""

    def __init__(self, process: Process) -> None:
        self.process = process

    def map(self, items: Sequence[InputItem]) -> Iterator[Result | Failure]:
        return (attempt(self.process, item) for item in items)


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
