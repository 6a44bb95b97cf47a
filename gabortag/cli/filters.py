"""``gabortag filters``: draw and tabulate what a model's Gabor first layer learned.

A thin layer over :mod:`gabortag.kernels.table` (tables, numpy only) and
:mod:`gabortag.kernels.plots` (figures, the ``plot`` extra). Registered on the main app as
``app.command("filters")(filters)``.

Exit codes: 0 done (also when matplotlib is missing: the tables are written and a warning says
how to get the figures), 1 an output could not be written, 2 usage error (unknown model, a model
without a Gabor first layer, a checkpoint without torch, ``--initial`` where the model stores no
initial values, bad options). Paths written go to stdout, one per line; messages to stderr.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional

import typer

from .common import error

if TYPE_CHECKING:
    from ..kernels.table import KernelTable

TABLE_FORMATS = ("csv", "json")


def _fail(message: str, code: int = 2) -> NoReturn:
    raise error(message, code)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"


def filters(
    models: Annotated[
        list[str],
        typer.Argument(
            help="Bundled model names (see `gabortag models`), .onnx paths or training "
            "checkpoints (.pt, needs the train extra).",
            metavar="MODEL",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Folder for the figures and tables.", file_okay=False),
    ] = Path("filters"),
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Draw every MODEL in one modulation plot (OUT/modulation-compare.png) instead "
            "of one per model: gabortag filters --compare vad birdcalls.",
        ),
    ] = False,
    table_format: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional
        typer.Option(
            "-f", "--format", help="Table formats, repeatable: csv, json \\[both].", metavar="FMT"
        ),
    ] = None,
    initial: Annotated[
        bool,
        typer.Option(
            "--initial",
            help="Also draw and tabulate the initial kernel values (only for models that "
            "store them).",
        ),
    ] = False,
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Draw the figures (the plot extra).")
    ] = True,
    reference_hz: Annotated[
        float,
        typer.Option(help="Frequency (Hz) at which octaves are measured on the mel grid.", min=1),
    ] = 1000.0,
) -> None:
    """Figures and tables of the learned Gabor kernels of MODEL, in physical units.

    Writes OUT/NAME-kernels.png (kernel images, real part), OUT/NAME-modulation.png (every
    kernel in the plane of temporal modulation, Hz, against spectral modulation,
    cycles/octave; marker area ∝ temporal envelope width) and OUT/NAME-kernels.csv/.json
    (one row per kernel). The figures need matplotlib: pip install 'gabortag\\[plot]'.
    """
    from ..errors import GabortagError
    from ..kernels import plots as plotting
    from ..kernels import table as lib

    formats = list(dict.fromkeys(table_format or TABLE_FORMATS))
    bad = [f for f in formats if f not in TABLE_FORMATS]
    if bad:
        _fail(f"unknown table format {bad[0]!r}; choose from {', '.join(TABLE_FORMATS)}")
    if compare and len(models) < 2:
        _fail("--compare needs at least two models, e.g. gabortag filters --compare vad birdcalls")

    tables: list[KernelTable] = []
    for model in models:
        try:
            tables.append(lib.load_kernel_table(model, reference_hz=reference_hz))
        except GabortagError as err:
            _fail(str(err))
    slugs = [_slug(t.name) for t in tables]
    for i, slug in enumerate(slugs):
        if slug in slugs[:i]:
            _fail(
                f"two models are named {slug!r} ({tables[slugs.index(slug)].source} and "
                f"{tables[i].source}); run them into different -o folders"
            )
    if initial:
        for t in tables:
            if t.initial is None:
                _fail(
                    f"{t.name} ({t.source}) does not store its initial Gabor values (checkpoint "
                    f"key {lib.CHECKPOINT_INITIAL_KEY!r} or ONNX metadata "
                    f"{lib.GABOR_INITIAL_KEY!r}); run without --initial"
                )
    draw = plots and plotting.available()
    if plots and not draw:
        typer.echo(
            "warning: matplotlib is not installed: writing the tables only. For the figures: "
            f"{plotting.INSTALL_HINT}",
            err=True,
        )

    def written(path: Path) -> None:
        typer.echo(str(path))

    try:
        for table, slug in zip(tables, slugs, strict=True):
            for fmt in formats:
                path = output / f"{slug}-kernels.{fmt}"
                (lib.write_csv if fmt == "csv" else lib.write_json)(table, path)
                written(path)
            if draw:
                path = output / f"{slug}-kernels.png"
                plotting.plot_table_kernels(table, path)
                written(path)
                if not compare:
                    path = output / f"{slug}-modulation.png"
                    plotting.plot_table_modulation([table], path, initial=initial)
                    written(path)
        if draw and compare:
            path = output / "modulation-compare.png"
            plotting.plot_table_modulation(tables, path, initial=initial)
            written(path)
    except GabortagError as err:
        _fail(str(err), code=1)
