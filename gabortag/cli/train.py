"""``gabortag train``: train a task's network on your own data (needs the ``train`` extra)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional, cast

import typer

from .common import DeviceOption, error, flag_message
from .eval import AnnotFormat
from .flags import FlagHelpCommand, FlagHelpGroup

train_app = typer.Typer(
    help="Train a Gabor network on your own labelled recordings (pip install 'gabortag\\[train]').",
    no_args_is_help=True,
    cls=FlagHelpGroup,
)


def _need_torch() -> None:
    import importlib.util

    missing = [m for m in ("torch", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        typer.echo(
            f"error: training needs torch and onnx ({', '.join(missing)} missing): "
            "pip install 'gabortag[train]'",
            err=True,
        )
        raise typer.Exit(2)


def _kernel_size(text: str) -> tuple[int, int]:
    try:
        mel, frames = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise typer.BadParameter(f"expected MELxFRAMES such as 9x15, got {text!r}") from err
    if mel % 2 == 0 or frames % 2 == 0 or mel < 1 or frames < 1:
        raise typer.BadParameter(f"both sizes must be odd and positive, got {text!r}")
    return mel, frames


# option declarations shared by the ``train`` commands
AudioDir = Annotated[
    Path,
    typer.Option(help="Folder of the annotated recordings.", exists=True, file_okay=False),
]
OutDir = Annotated[Path, typer.Option(help="Folder for checkpoints, ONNX and card.")]
Init = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="Fine-tune from this checkpoint (.pt) or bundled model name."),
]
FromScratch = Annotated[
    bool,
    typer.Option(
        "--from-scratch/--no-from-scratch", help="Ignore --init; start from random weights."
    ),
]
Epochs = Annotated[int, typer.Option(min=1)]
Seed = Annotated[int, typer.Option()]
Threads = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(help="torch threads \\[all cores].", min=1),
]


def _torch_device(device: str) -> str:
    """``cpu``/``cuda``/``auto`` as a torch device; exit 2 when CUDA is asked for and absent."""
    from ..training.device import torch_device

    try:
        return torch_device(device)
    except ValueError as err:
        raise error(flag_message(err), 2) from err


ScratchKernels = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(help="Number of Gabor kernels (with --from-scratch) \\[the recipe's].", min=1),
]
ScratchKernelSize = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="Gabor kernel MELxFRAMES, odd (with --from-scratch) \\[the recipe's]."),
]


def _scratch_config(
    task: str, kernels: int | None, kernel_size: str | None, from_scratch: bool
) -> dict[str, Any]:
    """The architecture changes of ``--kernels``/``--kernel-size``; exit 2 without
    ``--from-scratch`` (fine-tuning keeps the bundled model's Gabor layer)."""
    changes: dict[str, Any] = {}
    if kernels is not None:
        changes["n_kernels"] = kernels
    if kernel_size is not None:
        changes["kernel_size"] = _kernel_size(kernel_size)
    if changes and not from_scratch:
        typer.echo(
            f"error: --kernels and --kernel-size change the architecture, so they need "
            f"--from-scratch (fine-tuning keeps the bundled {task} model's Gabor layer)",
            err=True,
        )
        raise typer.Exit(2)
    return changes


def _init_checkpoint(init: str | None, from_scratch: bool) -> Path | None:
    """The checkpoint to fine-tune: ``init`` as a ``.pt`` path, or the checkpoint a bundled
    model's card names (``None`` with ``--from-scratch``)."""
    if not init or from_scratch:
        return None
    if init.endswith(".pt"):
        return Path(init)
    from ..errors import GabortagError
    from ..models import bundled_checkpoint

    try:
        return bundled_checkpoint(init)
    except GabortagError as err:
        raise error(str(err), 2) from err


def _run_options(
    init: str | None,
    from_scratch: bool,
    epochs: int,
    seed: int,
    threads: int | None,
    device: str,
) -> dict[str, Any]:
    """The keyword arguments every training recipe takes, from the shared options; exits 2
    first when torch is missing or the device cannot be had."""
    _need_torch()
    return {
        "device": _torch_device(device),
        "init": _init_checkpoint(init, from_scratch),
        "epochs": epochs,
        "seed": seed,
        "threads": threads,
        "log": lambda msg: typer.echo(msg, err=True),
    }


@contextmanager
def _training_errors() -> Iterator[None]:
    """Report an expected failure of training or release as one line and exit 1."""
    from ..errors import GabortagError

    try:
        yield
    except (GabortagError, ValueError, KeyError, RuntimeError, OSError) as err:
        raise error(flag_message(err), 1) from err


def _print_result(out: Path, card: dict[str, Any], **extra: object) -> None:
    """The trained model's path and validation metrics, as JSON on stdout."""
    result = {"model": str(out / "model.onnx"), "validation": card["metrics"].get("validation")}
    typer.echo(json.dumps({**result, **extra}, indent=2))


@train_app.command("birdcalls", cls=FlagHelpCommand)
def train_birdcalls(
    audio: AudioDir,
    annotations: Annotated[
        Path,
        typer.Option(
            help="CSV (file,onset_s,offset_s,label), Raven selection table, the csv or "
            "raven output of gabortag birdcalls (corrected by hand), or any annotation file "
            "or folder of them: evsonganaly .not.mat, Praat TextGrid, Audacity labels, ... "
            "(see --annot-format).",
            exists=True,
        ),
    ],
    out: OutDir = Path("gabortag-birdcalls"),
    init: Init = "birdcalls",
    from_scratch: FromScratch = False,
    epochs: Epochs = 30,
    kernels: Annotated[int, typer.Option(help="Number of Gabor kernels.", min=1)] = 32,
    kernel_size: Annotated[str, typer.Option(help="Gabor kernel MELxFRAMES (odd).")] = "9x15",
    channels: Annotated[int, typer.Option(help="Width of the back end.", min=4)] = 64,
    seed: Seed = 0,
    threads: Threads = None,
    device: DeviceOption = "cpu",
    val_files: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--val-files",
            metavar="FILE[,FILE...]",
            help="Recordings that validate (names as in the annotations, or stems; repeatable "
            "or comma-separated) \\[every 8th file].",
            show_default=False,
        ),
    ] = None,
    val_fraction: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            help="Fraction of the recordings that validate, evenly spread over them sorted by "
            "name \\[every 8th file].",
            show_default=False,
        ),
    ] = None,
    annot_format: AnnotFormat = None,
    labels: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--labels",
            metavar="LABEL[,LABEL...]",
            help="The label set: the note types to learn (repeatable or comma-separated); "
            "notes with other labels (calls, noise, unsure marks) are left out of training "
            "and of the scores \\[every annotated label].",
            show_default=False,
        ),
    ] = None,
    lr: Annotated[float, typer.Option(help="Peak learning rate.", min=0.0)] = 3e-3,
    min_steps: Annotated[
        int,
        typer.Option(
            help="Fewest optimisation steps of the run: epochs are lengthened for a few "
            "minutes of song.",
            min=0,
        ),
    ] = 300,
    patience: Annotated[
        int,
        typer.Option(
            help="Stop after this many epochs without a lower validation frame error "
            "(0: run every epoch).",
            min=0,
        ),
    ] = 10,
) -> None:
    """Train a bird call / note type tagger; writes OUT/model.onnx and OUT/model.card.json.

    Files are split, not notes: every 8th file (sorted by name) validates, or those of
    --val-files, or a --val-fraction of them. Notes per type are printed first, with a warning
    for a type with fewer than 20 training notes. Progress and a validation summary are
    printed every epoch; run the same command again to resume. The decoding is tuned on the
    validation files when they are at least 3 with 100 notes, else the defaults of the model
    fine-tuned from are kept.
    """
    if val_files and val_fraction is not None:
        raise error("give --val-files or --val-fraction, not both", 2)
    if val_fraction is not None and not 0.0 < val_fraction < 1.0:
        raise error(f"--val-fraction must be between 0 and 1, got {val_fraction}", 2)
    names = _comma_list(val_files)
    label_set = _comma_list(labels)
    if labels is not None and not label_set:
        raise error("--labels: no label given (e.g. --labels a,b,c)", 2)
    size = _kernel_size(kernel_size)
    run = _run_options(init, from_scratch, epochs, seed, threads, device)
    from ..training.frames import BIRD_CONFIG, train
    from ..training.recipes.release_birdcalls import release

    config = dataclasses.replace(
        BIRD_CONFIG, n_kernels=kernels, kernel_size=size, channels=channels
    )
    with _training_errors(), _epoch_progress(epochs) as on_epoch:
        result = train(
            audio,
            annotations,
            out,
            config=config,
            on_epoch=on_epoch,
            val_files=names or None,
            val_fraction=val_fraction,
            annot_format=annot_format,
            lr=lr,
            labels=label_set or None,
            min_steps=min_steps,
            patience=patience or None,
            **run,
        )
    with _training_errors():
        card = release(
            out / "best.pt",
            audio,
            annotations,
            out / "model.onnx",
            "birdcalls-custom",
            fallback=_bird_decoding(init, from_scratch),
            log=run["log"],
            annot_format=annot_format,
        )
    from ..training.frames import MIN_TRAINING_NOTES, final_report

    for line in final_report(
        card["metrics"].get("validation"),
        cast("dict[str, int]", result["train_notes"]),
        MIN_TRAINING_NOTES,
    ):
        run["log"](line)
    _print_result(out, card, best_val_frame_error=result["best_val_frame_error"])


def _comma_list(values: list[str] | None) -> list[str]:
    """The items of a repeatable, comma-separated option, stripped, empty ones dropped."""
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


def _bird_decoding(init: str | None, from_scratch: bool) -> Any:
    """The decoding options a fine-tuned model keeps when its validation set is too small to
    tune them: the bundled model's it started from, else ``None`` (the generic defaults)."""
    if from_scratch or not init or init.endswith(".pt"):
        return None
    from ..errors import GabortagError
    from ..tasks.birdcalls.api import default_options, resolve_model

    try:
        return default_options(resolve_model(init, threads=1))
    except GabortagError:
        return None


@train_app.command("vad", cls=FlagHelpCommand)
def train_vad(
    audio: AudioDir,
    reference: Annotated[
        Path,
        typer.Option(
            help="RTTM file, or CSV file,start,end of speech segments (seconds); matched to "
            "the audio files by stem.",
            exists=True,
            dir_okay=False,
        ),
    ],
    uem: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="UEM of the scored regions \\[whole files].", exists=True, dir_okay=False
        ),
    ] = None,
    out: OutDir = Path("gabortag-vad"),
    init: Init = "vad",
    from_scratch: FromScratch = False,
    epochs: Epochs = 20,
    kernels: ScratchKernels = None,
    kernel_size: ScratchKernelSize = None,
    seed: Seed = 0,
    threads: Threads = None,
    device: DeviceOption = "cpu",
) -> None:
    """Fine-tune the voice activity model on your recordings; writes OUT/model.onnx and
    OUT/model.card.json.

    Files are split, not segments: every 8th matched file (sorted by id) validates; the epoch
    with the best validation ROC-AUC is kept. Run the same command again to resume.
    """
    config = _scratch_config("vad", kernels, kernel_size, from_scratch)
    run = _run_options(init, from_scratch, epochs, seed, threads, device)
    from ..training.vad import VAD_CONFIG, release, train

    with _training_errors(), _epoch_progress(epochs) as on_epoch:
        result = train(
            audio,
            reference,
            out,
            uem=uem,
            config=dataclasses.replace(VAD_CONFIG, **config),
            on_epoch=on_epoch,
            **run,
        )
    with _training_errors():
        card = release(out / "best.pt", audio, reference, out / "model.onnx", uem=uem)
    _print_result(out, card, best_val_auc=result["best_val_auc"])


@train_app.command("scenes", cls=FlagHelpCommand)
def train_scenes(
    audio: Annotated[
        Path,
        typer.Option(
            help="Folder with one sub-folder of clips per class (AUDIO/<class>/<files>).",
            exists=True,
            file_okay=False,
        ),
    ],
    out: OutDir = Path("gabortag-scenes"),
    init: Init = "scenes",
    from_scratch: FromScratch = False,
    epochs: Epochs = 30,
    kernels: ScratchKernels = None,
    kernel_size: ScratchKernelSize = None,
    seed: Seed = 0,
    threads: Threads = None,
    device: DeviceOption = "cpu",
) -> None:
    """Train a sound-scene classifier on a folder per class; writes OUT/model.onnx and
    OUT/model.card.json, for `gabortag scenes -m OUT/model.onnx`.

    Files are split, not windows: every 5th file of each class validates. Fine-tunes the
    bundled scenes model unless --from-scratch; keeps the epoch with the best validation
    accuracy; run the same command again to resume.
    """
    changes = _scratch_config("scenes", kernels, kernel_size, from_scratch)
    run = _run_options(init, from_scratch, epochs, seed, threads, device)
    from ..training.nets.scenenet import SceneConfig
    from ..training.scenes import release, train

    config = dataclasses.replace(SceneConfig(), **changes)
    with _training_errors(), _epoch_progress(epochs) as on_epoch:
        result = train(audio, out, config=config, on_epoch=on_epoch, **run)
    with _training_errors():
        card = release(out / "best.pt", out / "model.onnx")
    _print_result(out, card, best_val_accuracy=result["best_val_accuracy"])


@contextmanager
def _epoch_progress(epochs: int) -> Iterator[Any]:
    """A rich progress bar over epochs on stderr, and a line per epoch; yields the callback."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    progress = Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        bar = progress.add_task("epochs", total=epochs)

        def on_epoch(record: dict[str, float]) -> None:
            parts = [f"epoch {int(record['epoch'])}/{epochs}", f"loss {record['loss']:.3f}"]
            parts += [
                f"validation {k.removeprefix('val_').replace('_', ' ')} {v:.3f}"
                for k, v in record.items()
                if k.startswith("val_")
            ]
            parts.append(f"{record['seconds']:.1f} s")
            progress.console.print("  ".join(parts), markup=False)
            progress.update(bar, completed=int(record["epoch"]))

        yield on_epoch
