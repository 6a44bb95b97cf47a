"""``gabortag eval``: measure a model on your annotated recordings (a thin layer that parses,
validates and calls :func:`gabortag.tasks.vad.evaluate.evaluate_vad_files`,
:func:`gabortag.tasks.birdcalls.evaluate.evaluate_bird_files` or
:func:`gabortag.tasks.scenes.evaluate.evaluate_scene_files`).

The metrics go to stdout as a table (to stderr when ``--json -`` puts the JSON on stdout);
failed files and the one-line summary go to stderr. Exit codes: 0 every file was evaluated,
1 some file could not be (no reference entry, unreadable audio: each is reported), 2 usage
errors (unknown task, unreadable reference, wrong model, options of the other task).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ..tasks import TASKS, get_task
from ..tasks.base import Task
from .common import DeviceOption, check_device, flag_message, flag_of
from .common import error as _usage_error

if TYPE_CHECKING:
    from rich.console import Console

    from ..tasks.birdcalls.evaluate import EventFilesEvaluation
    from ..tasks.scenes.evaluate import SceneFilesEvaluation
    from ..tasks.vad.evaluate import FileFailure, VadFilesEvaluation

#: ``--tolerance`` when not given: the segmentation score's default (20 ms).
DEFAULT_TOLERANCE_S = 0.02

#: The command-line flag of each task-specific option of the evaluators (registry field
#: :attr:`~gabortag.tasks.base.Task.eval_options`).
EVAL_FLAGS = {
    name: flag_of(name)
    for name in ("uem", "collar", "ignore_labels", "label_map", "tolerance", "annot_format")
}


def _check_task_options(entry: Task, given: set[str]) -> None:
    """A usage error when an option in ``given`` is not one of ``entry``'s evaluator's."""
    foreign = sorted(given - entry.eval_options, key=list(EVAL_FLAGS).index)
    if foreign:
        owners = [t.name for t in TASKS.values() if set(foreign) <= t.eval_options]
        flags = " and ".join(EVAL_FLAGS[name] for name in foreign)
        where = f"for {' or '.join(owners)} only" if owners else "not for one task"
        raise _usage_error(f"{flags} {'is' if len(foreign) == 1 else 'are'} {where}")


def _annot_format(value: str | None) -> str | None:
    from ..io.labfiles import check_format

    if value is None:
        return None
    try:
        return check_format(value)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


#: ``--annot-format`` of the commands that read bird annotations (``eval``, ``train birdcalls``).
AnnotFormat = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional
    typer.Option(
        "--annot-format",
        metavar="NAME",
        help="Format of the annotations: table, raven (read by gabortag) or a crowsetta format: "
        "notmat, textgrid, aud-seq, aud-bbox, generic-seq, simple-seq, ... (needs the "
        "[annotations] extra) \\[inferred from each file's extension and first line].",
        callback=_annot_format,
        show_default=False,
    ),
]


def _console(stderr: bool) -> Console:
    from rich.console import Console

    return Console(file=sys.stderr if stderr else sys.stdout, highlight=False, soft_wrap=True)


def _repeatable(flag: str, metavar: str, text: str) -> Any:
    """A repeatable ``birdcalls`` option of ``gabortag eval``."""
    return typer.Option(
        flag, metavar=metavar, help=f"birdcalls: {text} (repeatable).", show_default=False
    )


def eval_command(
    task: Annotated[str, typer.Argument(help=f"{', '.join(TASKS)}.", show_default=False)],
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Audio files, folders (searched recursively) or glob patterns; each file is "
            "matched to the reference by its stem (RTTM file id = file name without extension).",
            show_default=False,
        ),
    ],
    reference: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional
        typer.Option(
            "-r",
            "--reference",
            help="vad: an RTTM file, or a CSV file,start,end of speech segments; birdcalls: a "
            "CSV file,onset_s,offset_s,label, a Raven selection table, gabortag birdcalls "
            "csv output, or any annotation file or folder of them (see --annot-format); "
            "scenes: a CSV file,label \\[scenes: each file's folder name is its label].",
            exists=True,
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional
        typer.Option(
            "-m", "--model", help="Bundled model name or .onnx path \\[the task's bundled model]."
        ),
    ] = None,
    uem: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="vad: UEM file of the regions to score \\[whole files].",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    collar: Annotated[
        float,
        typer.Option(
            help="vad: seconds on each side of a reference speech boundary left unscored "
            "(md-eval -c; pyannote's collar=0.5 is 0.25 here).",
            min=0.0,
        ),
    ] = 0.0,
    json_out: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--json",
            metavar="FILE",
            help="Also write the results as JSON to FILE (- for stdout; the table then goes "
            "to stderr).",
        ),
    ] = None,
    ignore_label: Annotated[
        Optional[list[str]],  # noqa: UP045
        _repeatable(
            "--ignore-label",
            "LABEL",
            "leave the reference's notes of LABEL out of every metric, with the events inside "
            "them (e.g. evsonganaly's unlabelled 0)",
        ),
    ] = None,
    map_label: Annotated[
        Optional[list[str]],  # noqa: UP045
        _repeatable(
            "--map-label", "REF=TYPE", "score the reference's label REF as the model's type TYPE"
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            help="birdcalls: onset and offset tolerance of the type-agnostic segmentation "
            "score, seconds.",
            min=0.0,
        ),
    ] = DEFAULT_TOLERANCE_S,
    device: DeviceOption = "cpu",
    threads: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="onnxruntime threads \\[onnxruntime default].", min=1),
    ] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No summary line.")] = False,
    annot_format: AnnotFormat = None,
) -> None:
    """Measure a model against reference annotations with the task's standard metrics.

    vad: ROC-AUC, F1, precision, recall, detection error rate (missed, false alarm), 10 ms frames.

    birdcalls: note error rate, note-type accuracy, frame error, onset/offset error, per type P/R,
    and the type-agnostic segmentation score (notes whose onset and offset are within
    --tolerance). Reference labels the model lacks are reported with their note counts and
    scored by segmentation only; --ignore-label drops a label, --map-label renames one.

    scenes: accuracy, macro F1, per-class precision/recall and the confusion matrix of clip
    labels (the arg-max of a file's window scores, averaged with weights = window lengths).

    Decisions are the model's defaults, as the task commands make them.
    """
    from ..errors import GabortagError
    from ..io.discover import STDIN, discover

    try:
        entry = get_task(task)
    except ValueError as err:
        raise _usage_error(str(err)) from None
    try:
        label_map = _parse_label_map(map_label or [])
    except ValueError as err:
        raise _usage_error(str(err)) from err
    given = {
        "uem": uem,
        "collar": collar or None,
        "ignore_labels": tuple(ignore_label or ()) or None,
        "label_map": label_map or None,
        "tolerance": None if tolerance == DEFAULT_TOLERANCE_S else tolerance,
        "annot_format": annot_format,
    }
    _check_task_options(entry, {k for k, v in given.items() if v is not None})
    if reference is not None and reference.is_dir() and not entry.reference_folder:
        folders = " or ".join(t.name for t in TASKS.values() if t.reference_folder)
        raise _usage_error(f"--reference {reference}: a folder of annotations is for {folders}")
    if reference is None and entry.reference_required:
        raise _usage_error(
            f"eval {task} needs --reference (see `gabortag eval --help` for its formats)"
        )
    device = check_device(device)
    if STDIN in inputs:
        raise _usage_error(
            "standard input (-) has no file name to match a reference entry; give files"
        )
    items, missing = discover(inputs)
    if not items:
        raise _usage_error("no audio to evaluate: " + "; ".join(str(e) for e in missing))
    paths = [item.source for item in items]
    options = {k: v for k, v in given.items() if v is not None and k in entry.eval_options}
    try:
        evaluate = entry.load("evaluator")
        result = evaluate(
            model or entry.default_model,
            paths,
            reference,
            device=device,
            threads=threads,
            **options,
        )
    except (GabortagError, ValueError) as err:
        raise _usage_error(flag_message(err)) from err

    from ..tasks.vad.evaluate import FileFailure

    failures = [FileFailure(e.path, e.reason) for e in missing] + list(result.failures)
    _report_failures(failures)
    if entry.name == "birdcalls" and result.overall is not None:
        _report_untyped(result)
    document = result.to_dict()
    document["errors"] = [f.to_dict() for f in failures]
    if json_out is not None:
        text = json.dumps(document, indent=2) + "\n"
        if json_out == "-":
            sys.stdout.write(text)
        else:
            from ..errors import OutputError
            from ..io.atomic import atomic_open

            try:
                with atomic_open(Path(json_out)) as f:
                    f.write(text)
            except OutputError as err:
                _console(True).print(f"error: {err}", markup=False)
                raise typer.Exit(1) from err
    table_console = _console(json_out == "-")
    if result.overall is None:
        _console(True).print("error: no file could be evaluated", markup=False)
    else:
        TABLES[entry.name](table_console, result)
    if not quiet:
        total = len(items) + len(missing)
        _console(True).print(
            f"gabortag eval {task}: {total} input{'s' * (total != 1)}: "
            f"{len(result.files)} evaluated, {len(failures)} failed (model {result.model})",
            markup=False,
        )
    raise typer.Exit(1 if failures or result.overall is None else 0)


def _report_failures(failures: list[FileFailure]) -> None:
    from rich.markup import escape

    console = _console(True)
    for f in failures:
        console.print(f"[red]failed[/] {escape(f.path)}: {escape(f.reason)}", markup=True)


def _parse_label_map(values: list[str]) -> dict[str, str]:
    """``["REF=TYPE", ...]`` → ``{ref: type}``; ``ValueError`` naming the faulty value."""
    out: dict[str, str] = {}
    for text in values:
        ref, eq, target = text.partition("=")
        if not eq or not ref.strip() or not target.strip():
            raise ValueError(f"--map-label {text!r}: expected REF=TYPE, e.g. --map-label i=1")
        out[ref.strip()] = target.strip()
    return out


def _report_untyped(result: EventFilesEvaluation) -> None:
    """One stderr line naming the reference labels the model lacks, with their note counts."""
    m = result.overall
    assert m is not None
    if result.ignored_notes:
        _console(True).print(
            f"ignored: {result.ignored_notes} reference notes labelled "
            f"{', '.join(map(repr, result.ignored_labels))}",
            markup=False,
        )
    if m.untyped_notes:
        listed = ", ".join(f"{lab!r} ({n} note{'s' * (n != 1)})" for lab, n in m.untyped_notes)
        _console(True).print(
            f"warning: reference labels not among model {result.model}'s call types: {listed}; "
            "they are scored by segmentation (and onset/offset errors) only. "
            "--ignore-label LABEL leaves them out, --map-label REF=TYPE renames them.",
            markup=False,
        )


def _num(value: float, digits: int = 4) -> str:
    return "-" if isinstance(value, float) and math.isnan(value) else f"{value:.{digits}f}"


def _metric_table(console: Console, title: str, rows: list[tuple[str, str]]) -> None:
    from rich.table import Table

    table = Table("metric", "value", title=title)
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def _vad_tables(console: Console, result: VadFilesEvaluation) -> None:

    m = result.overall
    assert m is not None
    title = (
        f"vad: model {result.model}, {len(result.files)} file{'s' * (len(result.files) != 1)}, "
        f"collar {result.collar:g} s"
    )
    rows: list[tuple[str, str]] = [
        ("ROC-AUC", _num(m.roc_auc)),
        ("F1", _num(m.f1)),
        ("precision", _num(m.precision)),
        ("recall", _num(m.recall)),
        ("detection error rate", _num(m.detection_error_rate)),
        ("  missed", _num(m.missed)),
        ("  false alarm", _num(m.false_alarm)),
        ("scored seconds", _num(m.scored_seconds, 2)),
        ("speech seconds", _num(m.speech_seconds, 2)),
    ]
    _metric_table(console, title, rows)


def _bird_tables(console: Console, result: EventFilesEvaluation) -> None:
    from rich.table import Table

    m = result.overall
    assert m is not None
    title = (
        f"birdcalls: model {result.model}, {len(result.files)} "
        f"file{'s' * (len(result.files) != 1)}, {m.true_notes} notes"
    )
    rows: list[tuple[str, str]] = [
        ("note error rate", _num(m.note_error_rate)),
        ("note-type accuracy", _num(m.note_type_accuracy)),
        ("frame error rate", _num(m.frame_error_rate)),
        ("onset error, median (ms)", _num(m.onset_error_ms_median, 2)),
        ("offset error, median (ms)", _num(m.offset_error_ms_median, 2)),
        ("true notes", str(m.true_notes)),
        ("decoded events", str(m.decoded_events)),
        ("notes matched (boundaries)", str(m.matched_notes)),
    ]
    if m.untyped_notes:
        rows.append(
            ("untyped notes (labels the model lacks)", str(sum(n for _, n in m.untyped_notes)))
        )
    seg = m.segmentation
    if seg is not None:
        tol = f"{seg.tolerance_s * 1000:g} ms"
        rows += [
            (f"segmentation F1 (onset and offset within {tol})", _num(seg.f1)),
            ("  segmentation precision", _num(seg.precision)),
            ("  segmentation recall", _num(seg.recall)),
            (
                "  notes / events / matched",
                f"{seg.true_notes} / {seg.decoded_events} / {seg.matched}",
            ),
        ]
    _metric_table(console, title, rows)
    types = Table(
        "type", "true", "decoded", "matched", "precision", "recall", "F1", title="per type"
    )
    for t in m.per_type:
        types.add_row(
            t.label,
            str(t.true_notes),
            str(t.decoded_events),
            str(t.matched),
            _num(t.precision),
            _num(t.recall),
            _num(t.f1),
        )
    console.print(types)


def _scene_tables(console: Console, result: SceneFilesEvaluation) -> None:
    from rich.table import Table

    m = result.overall
    assert m is not None
    title = f"scenes: model {result.model}, {m['clips']} clip{'s' * (m['clips'] != 1)}"
    rows: list[tuple[str, str]] = [
        ("accuracy", _num(m["accuracy"])),
        ("accuracy within the reference's labels", _num(m["accuracy_within_reference_labels"])),
        ("macro F1", _num(m["macro_f1"])),
    ]
    _metric_table(console, title, rows)
    per = Table("label", "clips", "precision", "recall", "F1", title="per class")
    for c in m["per_class"]:
        per.add_row(
            c["label"], str(c["clips"]), _num(c["precision"]), _num(c["recall"]), _num(c["f1"])
        )
    console.print(per)
    _confusion_table(console, m["confusion"])


def _confusion_table(console: Console, conf: dict[str, Any]) -> None:
    """The confusion matrix with numbered labels, so that it fits a narrow terminal: a row
    per true label (``3 clock_tick``), a column per predicted label that occurs, headed by
    the number of that label (a true label's own number; the others numbered after them and
    named in a legend). When even that is wider than the console, the confusions are listed
    instead (``baby_cry → rooster: 2``)."""
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table

    true, predicted, rows = conf["labels"], conf["predicted_labels"], conf["rows"]
    shown = [j for j, _ in enumerate(predicted) if any(row[j] for row in rows)]
    number = {label: i + 1 for i, label in enumerate(true)}
    for j in shown:
        number.setdefault(predicted[j], len(number) + 1)
    others = [predicted[j] for j in shown if predicted[j] not in true]
    legend = "columns: predicted labels, numbered as the rows"
    if others:
        legend += "; " + ", ".join(f"{number[label]} {label}" for label in others)
    matrix = Table(
        "true \\ predicted",
        *[str(number[predicted[j]]) for j in shown],
        title="confusion",
        caption=legend,
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    for label, row in zip(true, rows, strict=True):
        matrix.add_row(f"{number[label]} {label}", *[str(row[j]) if row[j] else "." for j in shown])
    unbounded = console.options.update_width(10**6)  # its natural width, not clamped
    if Measurement.get(console, unbounded, matrix).maximum <= console.width:
        console.print(matrix)
        return
    console.print("confusion (true → predicted: clips)", markup=False)
    for label, row in zip(true, rows, strict=True):
        for j in shown:
            if row[j]:
                console.print(f"  {label} → {predicted[j]}: {row[j]}", markup=False)


#: How ``gabortag eval`` prints each task's metrics (one entry per registry task; a test
#: checks that none is missing).
TABLES: dict[str, Any] = {
    "vad": _vad_tables,
    "birdcalls": _bird_tables,
    "scenes": _scene_tables,
}
