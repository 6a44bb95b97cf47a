"""``gabortag export``: a training checkpoint to an ONNX model with its card (a thin layer over
:func:`gabortag.training.checkpoints.export_checkpoint`; needs the ``train`` extra).

Exit codes: 0 written, 1 the export failed its check against torch or could not be written,
2 usage errors (torch missing, not a gabortag checkpoint, output exists without ``--force``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import error as _error


def export_command(
    checkpoint: Annotated[
        Path,
        typer.Argument(
            help="Checkpoint (.pt) written by `gabortag train` or the training scripts; the "
            "task (vad, birdcalls or scenes) is read from it.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    output: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional
        typer.Option(
            "-o", "--output", help="ONNX file to write \\[CHECKPOINT with the .onnx extension]."
        ),
    ] = None,
    name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Model name stored in the metadata \\[the output's stem]."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing ONNX file and card.")
    ] = False,
) -> None:
    """Export a checkpoint to ONNX with the metadata the runtime needs, and its card.

    The graph is checked against torch on random input before it is written; the card
    (<stem>.card.json) holds its sha256 and the model's facts, and no metrics.
    """
    import importlib.util

    missing = [m for m in ("torch", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise _error(
            f"export needs torch and onnx ({', '.join(missing)} missing): "
            "pip install 'gabortag[train]'",
            2,
        )
    from ..errors import ModelError, OutputError
    from ..training.checkpoints import export_checkpoint

    try:
        done = export_checkpoint(checkpoint, output, name=name, force=force)
    except (ModelError, OutputError) as err:
        raise _error(str(err), 2) from err
    except (RuntimeError, OSError) as err:
        raise _error(f"{checkpoint}: export failed: {err}", 1) from err
    card = done.card
    typer.echo(
        json.dumps(
            {
                "model": str(done.onnx),
                "card": str(done.card_path),
                "task": card["task"],
                "name": card["name"],
                "labels": card["labels"],
                "sample_rate": card["sample_rate"],
                "parameters": card["parameters"],
                "sha256": card["sha256"],
                "max_abs_diff_torch_vs_onnx": card["export"]["max_abs_diff_torch_vs_onnx"],
            },
            indent=2,
        )
    )
    typer.echo(
        f"gabortag export: wrote {done.onnx} ({card['task']}, {card['size_bytes']} bytes) and "
        f"{done.card_path}",
        err=True,
    )
