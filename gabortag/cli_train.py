"""``gabortag train``: train a task's network on your own data (needs the ``train`` extra)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

train_app = typer.Typer(
    help="Train a Gabor network on your own labelled recordings (pip install 'gabortag\\[train]').",
    no_args_is_help=True,
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


@train_app.command("birdcalls")
def train_birdcalls(
    audio: Annotated[
        Path,
        typer.Option(help="Folder of the annotated recordings.", exists=True, file_okay=False),
    ],
    annotations: Annotated[
        Path,
        typer.Option(
            help="CSV (file,onset_s,offset_s,label) or Raven selection table.",
            exists=True,
            dir_okay=False,
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder for checkpoints, ONNX and card.")] = Path(
        "gabortag-birdcalls"
    ),
    init: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Fine-tune from this checkpoint (.pt) or bundled model name."),
    ] = "birdcalls",
    from_scratch: Annotated[
        bool, typer.Option("--from-scratch", help="Ignore --init; start from random weights.")
    ] = False,
    epochs: Annotated[int, typer.Option(min=1)] = 30,
    kernels: Annotated[int, typer.Option(help="Number of Gabor kernels.", min=1)] = 32,
    kernel_size: Annotated[str, typer.Option(help="Gabor kernel MELxFRAMES (odd).")] = "9x15",
    channels: Annotated[int, typer.Option(help="Width of the back end.", min=4)] = 64,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="torch threads \\[all cores].", min=1),
    ] = None,
) -> None:
    """Train a bird call / note type tagger; writes OUT/model.onnx and OUT/model.card.json.

    Files are split, not notes: every 8th file (sorted by name) validates. Progress and a
    validation summary are printed every epoch; run the same command again to resume.
    """
    size = _kernel_size(kernel_size)
    _need_torch()
    from .errors import GabortagError
    from .training.release_birdcalls import release
    from .training.train_birdcalls import BIRD_CONFIG, train

    checkpoint: Path | None = None
    if init and not from_scratch:
        if init.endswith(".pt"):
            checkpoint = Path(init)
        else:
            from .models import find_entry, models_dir, read_card

            try:
                card = read_card(find_entry(init))
            except GabortagError as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from err
            if "checkpoint" not in card:
                typer.echo(f"error: bundled model {init!r} ships no checkpoint", err=True)
                raise typer.Exit(2)
            checkpoint = models_dir() / card["checkpoint"]
    config = dataclasses.replace(
        BIRD_CONFIG, n_kernels=kernels, kernel_size=size, channels=channels
    )
    try:
        result = train(
            audio,
            annotations,
            out,
            config=config,
            epochs=epochs,
            seed=seed,
            threads=threads,
            init=checkpoint,
            log=lambda msg: typer.echo(msg, err=True),
        )
        card = release(out / "best.pt", audio, annotations, out / "model.onnx", "birdcalls-custom")
    except (GabortagError, ValueError, KeyError, RuntimeError, OSError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(
        json.dumps(
            {
                "model": str(out / "model.onnx"),
                "validation": card["metrics"]["validation"],
                "best_val_frame_error": result["best_val_frame_error"],
            },
            indent=2,
        )
    )
