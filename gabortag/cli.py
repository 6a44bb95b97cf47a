"""The ``gabortag`` command: a thin Typer layer that parses, validates and calls the library.

Exit codes: 0 when every input succeeded, 1 when any input failed, 2 for usage errors.
Results go to stdout (or ``-o``); progress, errors and the summary go to stderr.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import __version__

if TYPE_CHECKING:
    from rich.console import Console

    from .batch import BatchSummary, Failure, OutputPlan, Process
    from .discover import InputItem
    from .results import VadResult

app = typer.Typer(
    name="gabortag",
    help="Tag audio with small, interpretable Gabor networks: where is speech, and more.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="List the bundled models, or show one model's card.")
app.add_typer(models_app, name="models")

FORMAT_CHOICES = ("json", "jsonl", "rttm", "csv", "audacity", "textgrid")


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _usage_error(message: str) -> typer.Exit:
    _stderr().print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(2)


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


@app.command()
def vad(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Audio files, folders (searched recursively), glob patterns, or - for stdin.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on 3.9 syntax
        typer.Option(
            "-o",
            "--output",
            help="- for stdout (default); FILE ending in the format's extension for one combined "
            "file; DIR for one file per input, mirroring the input tree.",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option("-f", "--format", help=f"Output format: {', '.join(FORMAT_CHOICES)}."),
    ] = "json",
    model: Annotated[
        str, typer.Option("-m", "--model", help="Bundled model name or path to an .onnx file.")
    ] = "vad",
    onset: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Probability that starts speech [model default].", min=0.0, max=1.0),
    ] = None,
    offset: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Probability below which speech ends [model default].", min=0, max=1),
    ] = None,
    min_speech: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Drop speech shorter than this, seconds [model default].", min=0.0),
    ] = None,
    min_silence: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Fill gaps shorter than this, seconds [model default].", min=0.0),
    ] = None,
    pad: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            help="Widen each segment by this on both sides, seconds [model default].", min=0.0
        ),
    ] = None,
    scores: Annotated[
        bool, typer.Option("--scores", help="Add frame probabilities (json, jsonl).")
    ] = False,
    skip_existing: Annotated[
        bool, typer.Option("--skip-existing", help="With -o DIR: skip inputs already done.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    threads: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="onnxruntime threads [onnxruntime default].", min=1),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="No progress bar or summary.")
    ] = False,
) -> None:
    """Find speech segments in audio files."""
    from .batch import Failure, plan_output
    from .discover import discover
    from .errors import GabortagError
    from .postprocess import VadOptions
    from .vad import default_options, detect_speech

    fmt = fmt.lower()
    if fmt not in FORMAT_CHOICES:
        raise _usage_error(f"unknown format {fmt!r}; choose one of {', '.join(FORMAT_CHOICES)}")
    if device not in ("cpu", "cuda", "auto"):
        raise _usage_error(f"unknown device {device!r}; choose cpu, cuda or auto")
    if inputs.count("-") > 1:
        raise _usage_error("stdin (-) can be given only once")
    items, missing = discover(inputs)
    if not items and missing:
        raise _usage_error("no audio to process: " + "; ".join(str(e) for e in missing))
    try:
        plan = plan_output(output, fmt, len(items) + len(missing), force=force)
    except ValueError as err:
        raise _usage_error(str(err)) from err
    if skip_existing and plan.mode != "dir":
        raise _usage_error("--skip-existing needs -o DIR (one output file per input)")
    try:
        from .inference import load_model

        m = load_model(model, device=device, threads=threads)
        opts: VadOptions = default_options(m).with_overrides(
            onset=onset, offset=offset, min_speech=min_speech, min_silence=min_silence, pad=pad
        )
    except (GabortagError, ValueError) as err:
        raise _usage_error(str(err)) from err

    def process(item: InputItem) -> VadResult:
        return detect_speech(item.source, model=m, options=opts, return_scores=scores)

    console = _stderr()
    failures = [Failure(e.path, e.reason) for e in missing]
    for f in failures:
        console.print(f"[red]failed[/] {f.path}: {f.reason}", markup=True)
    started = time.perf_counter()
    summary = _run_with_progress(
        console, items, process, fmt, plan, skip_existing, force, failures, quiet
    )
    elapsed = time.perf_counter() - started
    if not quiet:
        total = len(items) + len(missing)
        console.print(
            f"gabortag vad: {total} input{'s' * (total != 1)}: {summary.processed} done, "
            f"{summary.skipped} skipped, {summary.failed} failed in {elapsed:.1f} s"
            + (f" (model {m.name} on {m.providers[0]})" if m.providers else ""),
            markup=False,
        )
    raise typer.Exit(1 if summary.failed else 0)


def _run_with_progress(
    console: Console,
    items: list[InputItem],
    process: Process,
    fmt: str,
    plan: OutputPlan,
    skip_existing: bool,
    force: bool,
    failures: list[Failure],
    quiet: bool,
) -> BatchSummary:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .batch import run_batch

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    )

    with progress:
        task = progress.add_task("vad", total=len(items))

        def done(item: InputItem, status: str) -> None:
            if status.startswith("failed"):
                progress.console.print(
                    f"[red]failed[/] {item.source}: {status.removeprefix('failed: ')}",
                    markup=True,
                )
            progress.advance(task)

        return run_batch(
            items,
            process,
            fmt,
            plan,
            skip_existing=skip_existing,
            force=force,
            initial_failures=failures,
            on_done=done,
        )


@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context) -> None:
    """List the bundled models with task, labels, size and headline metrics."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from .errors import GabortagError
    from .models import manifest, read_card

    try:
        entries = manifest()
    except GabortagError as err:
        raise _usage_error(str(err)) from err
    table = Table("name", "task", "labels", "rate", "size", "parameters", "headline metrics")
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
            "; ".join(f"{k} {v}" for k, v in headline.items()),
        )
    Console(soft_wrap=True).print(table)


@models_app.command("info")
def models_info(
    name: Annotated[str, typer.Argument(help="Bundled model name (see `gabortag models`).")],
) -> None:
    """Show a bundled model's card (JSON)."""
    from .errors import GabortagError
    from .models import find_entry, read_card

    try:
        entry = find_entry(name)
    except GabortagError as err:
        raise _usage_error(str(err)) from err
    card = read_card(entry)
    card.setdefault("sha256", entry.sha256)
    typer.echo(json.dumps(card, indent=2, ensure_ascii=False))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
