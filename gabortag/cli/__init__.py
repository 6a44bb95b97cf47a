"""The ``gabortag`` command: a thin Typer layer that parses, validates and calls the library.

Exit codes: 0 when every input succeeded, 1 when any input failed, 2 for usage errors.
Results go to stdout (or ``-o``); progress, errors and the summary go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import typer

from .. import __version__
from ..io.formats import formats
from . import segments as seg
from .common import DeviceOption as Device
from .common import check_device, flag_message
from .common import error as _error
from .common import escape as _escape
from .common import one_line as _one_line
from .common import stderr as _stderr
from .eval import eval_command
from .export import export_command
from .filters import filters
from .flags import FlagHelpCommand, FlagHelpGroup
from .train import train_app

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from ..batch.plan import OutputPlan
    from ..batch.spec import TaskSpec
    from ..io.discover import InputItem

app = typer.Typer(
    name="gabortag",
    help="Tag audio with small, interpretable Gabor networks: where is speech, which bird calls, "
    "and more.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=FlagHelpGroup,
)
models_app = typer.Typer(
    help="List the bundled models, or show one model's card.", cls=FlagHelpGroup
)
app.add_typer(models_app, name="models")
app.add_typer(train_app, name="train")
app.command("filters", cls=FlagHelpCommand)(filters)
app.command("eval", cls=FlagHelpCommand)(eval_command)
app.command("export", cls=FlagHelpCommand)(export_command)


# Arguments and options shared by the task commands.
Inputs = Annotated[
    list[str],
    typer.Argument(
        help="Audio files, folders (searched recursively), glob patterns, or - for stdin.",
        show_default=False,
    ),
]
Output = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional on 3.9 syntax
    typer.Option(
        "-o",
        "--output",
        help="- for stdout (default); FILE ending in the format's extension for one combined "
        "file; DIR for one file per input, mirroring the input tree.",
    ),
]
ModelName = Annotated[
    str, typer.Option("-m", "--model", help="Bundled model name or path to an .onnx file.")
]
SkipExisting = Annotated[
    bool, typer.Option("--skip-existing", help="With -o DIR: skip inputs already done.")
]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")]
Threads = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        help="Threads of the whole run (worker processes × onnxruntime threads of each ≤ "
        "this), so --threads 1 keeps everything in this process; with --scheduler, the "
        "threads of each input's task on its worker \\[onnxruntime default in this process; "
        "with worker processes, the cores shared out].",
        min=1,
    ),
]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar or summary.")]
Jobs = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "-j",
        "--jobs",
        help="Worker processes, each loading the model once, onnxruntime threads shared out; "
        "1: all in this process; at most --threads \\[one per core, at most 4 and at most "
        "--threads, when the inputs add up to 32 MiB or more].",
        min=1,
        show_default=False,
    ),
]
Scheduler = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        metavar="ADDRESS",
        help="Process the inputs on the workers of this dask scheduler (tcp://host:8786); "
        'needs pip install "gabortag\\[dask]".',
        show_default=False,
    ),
]


OptionalFloat = Optional[float]  # noqa: UP045


def _seconds(text: str) -> Any:
    """A duration option (``None``: the model's default)."""
    return typer.Option(help=f"{text}, seconds \\[model default].", min=0.0)


def _format_option(task: str) -> Any:
    """The ``-f/--format`` option of a task command, listing the task's formats."""
    return typer.Option("-f", "--format", help=f"Output format: {', '.join(formats(task))}.")


VadFormat = Annotated[str, _format_option("vad")]
BirdcallFormat = Annotated[str, _format_option("birdcalls")]
SceneFormat = Annotated[str, _format_option("scenes")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gabortag {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Tag audio with small, interpretable Gabor networks."""


@app.command(cls=FlagHelpCommand)
def vad(
    inputs: Inputs,
    output: Output = None,
    fmt: VadFormat = "json",
    model: ModelName = "vad",
    onset: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Probability that starts speech \\[model default].", min=0.0, max=1.0),
    ] = None,
    offset: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Probability below which speech ends \\[model default].", min=0, max=1),
    ] = None,
    min_speech: Annotated[OptionalFloat, _seconds("Drop speech shorter than this")] = None,
    min_silence: Annotated[OptionalFloat, _seconds("Fill gaps shorter than this")] = None,
    pad: Annotated[OptionalFloat, _seconds("Widen each segment by this on both sides")] = None,
    scores: Annotated[
        bool, typer.Option("--scores", help="Add frame probabilities (json, jsonl).")
    ] = False,
    skip_existing: SkipExisting = False,
    force: Force = False,
    device: Device = "cpu",
    threads: Threads = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Find speech segments in audio files."""
    spec = _spec(
        "vad",
        model,
        device,
        threads,
        onset=onset,
        offset=offset,
        min_speech=min_speech,
        min_silence=min_silence,
        pad=pad,
        scores=scores,
    )
    _run_task(spec, inputs, output, fmt, skip_existing, force, quiet, jobs, scheduler)


@app.command(cls=FlagHelpCommand)
def birdcalls(
    inputs: Inputs,
    output: Output = None,
    fmt: BirdcallFormat = "json",
    model: ModelName = "birdcalls",
    skip_existing: SkipExisting = False,
    force: Force = False,
    device: Device = "cpu",
    threads: Threads = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    min_confidence: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            help="Call probability a frame needs, and confidence an event needs unless its type "
            "has a --threshold \\[model default].",
            min=0.0,
            max=1.0,
        ),
    ] = None,
    min_duration: Annotated[OptionalFloat, _seconds("Drop events shorter than this")] = None,
    min_gap: Annotated[OptionalFloat, _seconds("Bridge gaps shorter than this")] = None,
    threshold: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--threshold",
            metavar="LABEL=VALUE",
            help="Confidence that events of one call type need (repeatable) \\[model default].",
            show_default=False,
        ),
    ] = None,
    scores: Annotated[
        bool,
        typer.Option(
            "--scores", help="Add the frames' call probabilities, 1 - p(background) (json, jsonl)."
        ),
    ] = False,
    segments_only: Annotated[
        bool,
        typer.Option(
            "--segments-only",
            help=seg.SEGMENTS_ONLY_HELP,
            rich_help_panel=seg.PANEL,
        ),
    ] = False,
    energy_threshold: seg.EnergyThreshold = None,
    floor_percentile: seg.FloorPercentile = None,
    loud_percentile: seg.LoudPercentile = None,
    min_bout: seg.MinBout = None,
    bout_gap: seg.BoutGap = None,
    low_freq: seg.LowFreq = None,
    high_freq: seg.HighFreq = None,
) -> None:
    """Find bird calls in audio files: typed events with their frequency band."""
    try:
        thresholds = _parse_thresholds(threshold or [])
        segment_options = seg.overrides(
            segments_only,
            threshold=energy_threshold,
            floor_percentile=floor_percentile,
            loud_percentile=loud_percentile,
            min_confidence=min_confidence,
            min_duration=min_duration,
            min_gap=min_gap,
            min_bout=min_bout,
            bout_gap=bout_gap,
            low_freq=low_freq,
            high_freq=high_freq,
        )
    except ValueError as err:
        raise _error(str(err)) from err
    spec = _spec(
        "birdcalls",
        model,
        device,
        threads,
        min_confidence=None if segments_only else min_confidence,
        min_duration=None if segments_only else min_duration,
        min_gap=None if segments_only else min_gap,
        thresholds=thresholds,
        scores=scores,
        segments_only=segments_only,
        segment_options=segment_options,
    )
    _run_task(spec, inputs, output, fmt, skip_existing, force, quiet, jobs, scheduler)


def _spec(task: str, model: str, device: str, threads: int | None, **options: Any) -> TaskSpec:
    """The :class:`~gabortag.batch.spec.TaskSpec` of a task command; options not given (``None``,
    ``False``, empty) are left out, so that they take the model's defaults."""
    from ..batch.spec import TaskSpec

    device = check_device(device)
    given = {k: v for k, v in options.items() if v is not None and v is not False and v != {}}
    return TaskSpec(task, model, given, device, threads)


@app.command(cls=FlagHelpCommand)
def scenes(
    inputs: Inputs,
    output: Output = None,
    fmt: SceneFormat = "json",
    model: ModelName = "scenes",
    window: Annotated[OptionalFloat, _seconds("Length of one analysis window")] = None,
    hop: Annotated[
        OptionalFloat,
        typer.Option(
            help="Seconds between window starts \\[the model's, at most the window].", min=0.0
        ),
    ] = None,
    top_k: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--top-k", help="Labels reported per window, at most \\[model default].", min=1
        ),
    ] = None,
    min_score: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            help="Score a label needs to be reported \\[model default].", min=0.0, max=1.0
        ),
    ] = None,
    labels: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="A,B,...",
            help="Consider only these labels (comma-separated) \\[all the model's].",
            show_default=False,
        ),
    ] = None,
    skip_existing: SkipExisting = False,
    force: Force = False,
    device: Device = "cpu",
    threads: Threads = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Label the sound scene over time: the top labels of each analysis window, and a summary."""
    from ..tasks.scenes.api import SceneOptions

    try:
        overrides: dict[str, Any] = {
            "window_s": window,
            "hop_s": hop,
            "top_k": top_k,
            "min_score": min_score,
            "labels": None if labels is None else _parse_labels(labels),
        }
        SceneOptions().with_overrides(**overrides)  # checked before any model is loaded
    except ValueError as err:
        raise _error(flag_message(err)) from err

    spec = _spec("scenes", model, device, threads, **overrides)
    _run_task(spec, inputs, output, fmt, skip_existing, force, quiet, jobs, scheduler)


def _parse_labels(text: str) -> tuple[str, ...]:
    """``"a, b,c"`` → ``("a", "b", "c")`` (repeats dropped); ``ValueError`` on an empty name."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise ValueError(f"--labels {text!r}: empty label name; give names separated by commas")
    return tuple(dict.fromkeys(names))


def _parse_thresholds(values: list[str]) -> dict[str, float]:
    """``["LABEL=VALUE", ...]`` → ``{label: value}``; ``ValueError`` with the faulty value."""
    out: dict[str, float] = {}
    for text in values:
        label, eq, value = text.rpartition("=")
        label = label.strip()
        if not eq or not label or not value.strip():
            raise ValueError(f"--threshold {text!r}: expected LABEL=VALUE, e.g. --threshold 3=0.7")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--threshold {text!r}: {value!r} is not a number") from None
        if not 0.0 <= number <= 1.0:
            raise ValueError(f"--threshold {text!r}: {value} is not within [0, 1]")
        if label in out:
            raise ValueError(f"--threshold: call type {label!r} is given twice")
        out[label] = number
    return out


@dataclass
class _Progress:
    """How far a task command got: its inputs, its output plan, and how each finished input
    ended (``ok``, ``skipped``, ``failed``)."""

    total: int = 0
    plan: OutputPlan | None = None
    ended: Counter[str] = field(default_factory=Counter)


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler's time limit) while a task command runs."""


def _interrupted(task: str, state: _Progress, how: str = "interrupted") -> str:
    """The one line printed when a task command is interrupted (``how``: by what)."""
    n = sum(state.ended.values())
    text = f"gabortag {task}: {how}"
    if state.plan is None:
        return text + " before any input was processed"
    text += (
        f" after {n} of {state.total} input{'s' * (state.total != 1)} ({state.ended['ok']} done, "
        f"{state.ended['skipped']} skipped, {state.ended['failed']} failed)"
    )
    if state.plan.mode == "dir":
        return text + "; the outputs written are complete: add --skip-existing to go on"
    if state.plan.mode == "file":
        return text + f"; {_one_line(str(state.plan.path))} was not written"
    return text + "; the output is incomplete"


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


@contextlib.contextmanager
def _interruptible(task: str, state: _Progress) -> Iterator[None]:
    """Turn Ctrl-C (``KeyboardInterrupt``) into one line saying how far ``state`` got and exit
    code 130, and SIGTERM into the same line and exit code 143, instead of a traceback or a
    silent end. Outputs already renamed into place are complete either way."""
    import signal

    previous = None
    with contextlib.suppress(ValueError):  # only the main thread may set handlers
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except _Terminated:
        _stderr().print(_interrupted(task, state, "terminated (SIGTERM)"), markup=False)
        raise typer.Exit(143) from None
    except KeyboardInterrupt:
        _stderr().print(_interrupted(task, state), markup=False)
        raise typer.Exit(130) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_task(
    spec: TaskSpec,
    inputs: list[str],
    output: str | None,
    fmt: str,
    skip_existing: bool,
    force: bool,
    quiet: bool,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> NoReturn:
    """What every task command does: check the request, find the inputs, plan the outputs, load
    the model (here, and in each worker: ``jobs`` processes, or the workers of a dask
    ``scheduler``), run the batch with progress, print the summary, exit 0/1/2; 130 (Ctrl-C)
    or 143 (SIGTERM) with one line saying how far it got when interrupted."""
    from ..batch import Batch, tag_files
    from ..errors import GabortagError, OutputError

    task = spec.task
    fmt = fmt.lower()
    choices = formats(task)
    if fmt not in choices:
        raise _error(f"unknown format {fmt!r}; choose one of {', '.join(choices)}")
    if scheduler is not None and jobs is not None:
        raise _error(
            "--jobs is for worker processes on this machine; with --scheduler the cluster's "
            "workers set how many inputs run at once"
        )
    if inputs.count("-") > 1:
        raise _error("stdin (-) can be given only once")
    state = _Progress()
    console = _stderr()
    progress = _progress(console, quiet)
    ready: list[Batch] = []
    started: list[float] = []  # when the work began, after every check

    def on_ready(batch: Batch) -> None:
        ready.append(batch)
        for f in batch.missing:
            console.print(f"[red]failed[/] {_escape(f.path)}: {_escape(f.reason)}", markup=True)
        state.total, state.plan = len(batch.items), batch.plan
        if batch.plan.mode == "stream":
            _stdout_keeps_file_names()
        progress.start()
        progress.add_task(task, total=len(batch.items))
        started.append(time.perf_counter())

    def on_done(item: InputItem, status: str) -> None:
        state.ended[status.partition(":")[0]] += 1
        if status.startswith("failed"):
            progress.console.print(
                f"[red]failed[/] {_escape(item.source)}: "
                f"{_escape(status.removeprefix('failed: '))}",
                markup=True,
            )
        progress.advance(progress.task_ids[0])

    with _interruptible(task, state):
        try:
            report = tag_files(
                spec,
                inputs,
                output,
                fmt,
                skip_existing=skip_existing,
                force=force,
                jobs=jobs,
                scheduler=scheduler,
                on_ready=on_ready,
                on_done=on_done,
            )
        except OutputError as err:  # the combined output could not be written
            if not ready:
                raise _error(str(err)) from err
            progress.stop()
            console.print(f"[bold red]error:[/] {_escape(str(err))}", markup=True)
            if state.plan is not None and state.plan.mode == "stream":
                _drop_stdout()
            raise typer.Exit(1) from err
        except (GabortagError, ValueError) as err:
            if ready:
                raise
            raise _error(flag_message(err)) from err
        finally:
            progress.stop()
        elapsed = time.perf_counter() - started[0]
        summary = report.summary
        if not quiet:
            total = state.total + len(ready[0].missing)
            console.print(
                f"gabortag {task}: {total} input{'s' * (total != 1)}: {summary.processed} done, "
                f"{summary.skipped} skipped, {summary.failed} failed in {elapsed:.1f} s "
                f"(model {report.model} {report.where})",
                markup=False,
            )
        raise typer.Exit(1 if summary.failed else 0)


def _stdout_keeps_file_names() -> None:
    """Let standard output write file names that are not valid UTF-8 as their own bytes (as
    :func:`gabortag.io.atomic.atomic_open` does for files), whatever ``PYTHONIOENCODING`` says."""
    from ..io.atomic import TEXT_ERRORS

    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if callable(reconfigure):
        reconfigure(errors=TEXT_ERRORS)


def _drop_stdout() -> None:
    """Point standard output at the null device after a failed write, so that what is still
    buffered does not fail again, with a traceback, when Python flushes it at exit."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # not a real file (e.g. captured by a test runner)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _progress(console: Console, quiet: bool) -> Progress:
    """The progress bar of a task command (on a terminal, unless ``quiet``; gone when done)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    )


@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context) -> None:
    """List the bundled models with task, labels, size, licence and headline metrics."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from ..errors import GabortagError
    from ..models import manifest, read_card

    try:
        entries = manifest()
    except GabortagError as err:
        raise _error(str(err)) from err
    table = Table(
        "name", "task", "labels", "rate", "size", "parameters", "licence", "headline metrics"
    )
    for e in entries:
        card = read_card(e)
        headline = card.get("headline", {})
        table.add_row(
            e.name,
            e.task,
            ", ".join(e.labels),
            f"{e.sample_rate} Hz",
            f"{e.size_bytes / 1024:.0f} KiB",
            str(card.get("parameters", "?")),
            e.licence or "MIT",
            "; ".join(f"{k} {v}" for k, v in headline.items()),
        )
    Console(soft_wrap=True).print(table)


@models_app.command("info", cls=FlagHelpCommand)
def models_info(
    name: Annotated[str, typer.Argument(help="Bundled model name (see `gabortag models`).")],
) -> None:
    """Show a bundled model's card (JSON)."""
    from ..errors import GabortagError
    from ..models import find_entry, read_card

    try:
        entry = find_entry(name)
    except GabortagError as err:
        raise _error(str(err)) from err
    card = read_card(entry)
    card.setdefault("sha256", entry.sha256)
    typer.echo(json.dumps(card, indent=2, ensure_ascii=False))


def main() -> None:
    """Console-script entry point."""
    from ..errors import show_warnings_as_lines

    show_warnings_as_lines()
    app()


if __name__ == "__main__":
    main()
