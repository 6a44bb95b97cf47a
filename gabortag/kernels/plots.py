"""Figures of learned Gabor kernels (the ``plot`` extra: matplotlib).

Two figures, as in Riad et al. (2021), section IV: the kernels as images, and every kernel as a
point in the modulation plane (temporal modulation in Hz against spectral modulation in
cycles/octave), several models in one plot to compare tasks.

matplotlib is imported inside the functions, and figures are drawn with the object-oriented
API on the Agg canvas (no pyplot, no global backend change, nothing shown on screen), so
importing this module is free and plotting works on headless machines. Files are written to a
temporary name beside the target and renamed into place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..tasks import TASKS
from .table import KernelRow, KernelTable, fold_modulation, kernel_images

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'gabortag[plot]'"
#: Marker area (points²) per ms of temporal envelope width σ_t in :func:`plot_modulation`.
AREA_PER_MS = 2.5
#: Colour-blind-safe first pair (blue, orange), then the rest of matplotlib's tab10.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728", "#8c564b", "#e377c2")


def available() -> bool:
    """Whether matplotlib can be imported (the ``plot`` extra is installed)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _new_figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(f"plots need matplotlib: {INSTALL_HINT}") from err
    return Figure(figsize=(width, height), dpi=150, layout="constrained")


def _save(fig: Figure, path: Path) -> None:
    from ..io.atomic import atomic_open_binary

    with atomic_open_binary(path) as f:
        fig.savefig(f, format="png")


def plot_kernels(
    images: np.ndarray,
    path: Path,
    title: str,
    labels: Sequence[str] | None = None,
    caption: str | None = None,
    columns: int = 8,
) -> None:
    """A grid of kernel images ``(K, L_f, L_t)`` (:func:`~.table.kernel_images`).

    Each panel is one kernel with time (frames) left to right and mel bins low to high from
    the bottom, on a diverging colour map scaled to that kernel's own maximum |value| (red
    positive, blue negative). ``labels`` (one per kernel) are printed above the panels,
    ``caption`` under the figure.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"images must be (K, L_f, L_t) with K >= 1, got {images.shape}")
    if labels is not None and len(labels) != images.shape[0]:
        raise ValueError(f"{len(labels)} labels for {images.shape[0]} kernels")
    k, lf, lt = images.shape
    cols = max(1, min(columns, k))
    rows = math.ceil(k / cols)
    panel_w = 1.55
    panel_h = min(1.5, max(0.9, panel_w * lf / lt * 1.6))
    fig = _new_figure(cols * panel_w, rows * (panel_h + 0.3) + 0.6 + (0.2 if caption else 0))
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= k:
            ax.set_axis_off()
            continue
        vmax = float(np.abs(images[i]).max()) or 1.0
        ax.imshow(
            images[i],
            origin="lower",
            aspect="auto",
            cmap="RdBu_r",
            vmin=-vmax,
            vmax=vmax,
            interpolation="nearest",
        )
        ax.set_title(labels[i] if labels is not None else f"#{i}", fontsize=7, pad=2)
    fig.suptitle(title, fontsize=11)
    if caption:
        fig.supxlabel(caption, fontsize=8)
    _save(fig, path)


def plot_modulation(
    tables: Sequence[tuple[str, Sequence[KernelRow]]],
    path: Path,
    title: str | None = None,
    initial: Mapping[str, Sequence[KernelRow]] | None = None,
    fold: bool = True,
    nyquist_hz: float | None = None,
    reference_hz: float = 1000.0,
) -> None:
    """Every kernel of every model as a point in the modulation plane.

    x: temporal modulation (Hz); y: spectral modulation (cycles/octave at ``reference_hz``,
    the reference the rows were computed with); marker area ∝ the temporal envelope width σ_t
    (:data:`AREA_PER_MS` points² per ms); one colour per ``(label, rows)`` entry.

    With ``fold`` (default) each kernel is drawn at ``(|ω|, sign(ω)·Ω)``
    (:func:`gabortag.kernels.table.fold_modulation`): the real kernel is the same for ``(ω, Ω)`` and
    ``(-ω, -Ω)``, so x ≥ 0 and the sign of y tells the sweep direction (y > 0: ridges falling
    in frequency over time, y < 0: rising). Without it, signed ω and Ω are drawn as stored.

    ``initial`` maps a label to the initial rows of that model (same order): they are drawn
    as hollow markers joined to their learned kernel by a thin line. ``nyquist_hz`` draws the
    frame grid's Nyquist limit when it falls inside the plot.
    """
    if not tables:
        raise ValueError("plot_modulation needs at least one (label, rows) entry")
    fig = _new_figure(10.0, 5.8)
    ax, legend_ax = fig.subplots(1, 2, width_ratios=(3.2, 1.0))
    x_all: list[float] = []
    y_all: list[float] = []
    for n, (label, rows) in enumerate(tables):
        colour = _COLOURS[n % len(_COLOURS)]
        x, y = _coords(rows, fold)
        size = np.array([r.sigma_time_ms for r in rows]) * AREA_PER_MS
        ax.scatter(
            x,
            y,
            s=size,
            c=colour,
            alpha=0.55,
            edgecolors="black",
            linewidths=0.4,
            marker="o",
            label=f"{label}, {len(rows)} kernels",
            zorder=3,
        )
        x_all += list(x)
        y_all += list(y)
        start = None if initial is None else initial.get(label)
        if start is not None:
            x0, y0 = _coords(start, fold)
            ax.scatter(
                x0,
                y0,
                s=np.array([r.sigma_time_ms for r in start]) * AREA_PER_MS,
                facecolors="none",
                edgecolors=colour,
                linewidths=0.8,
                marker="o",
                label=f"{label}, initial values",
                zorder=2,
            )
            for a, b, c, d in zip(x0, y0, x, y, strict=True):
                ax.plot([a, c], [b, d], color=colour, linewidth=0.6, alpha=0.6, zorder=1)
            x_all += list(x0)
            y_all += list(y0)
    x_max = max(1.0, max(abs(v) for v in x_all)) * 1.12
    y_max = max(0.1, max(abs(v) for v in y_all)) * 1.15
    ax.set_xlim(0.0 if fold else -x_max, x_max)
    ax.set_ylim(-y_max, y_max)
    ax.axhline(0.0, color="0.5", linewidth=0.6, zorder=0)
    if not fold:
        ax.axvline(0.0, color="0.5", linewidth=0.6, zorder=0)
    if nyquist_hz is not None and nyquist_hz < x_max:
        ax.axvline(nyquist_hz, color="0.4", linestyle=":", linewidth=0.8)
    ax.grid(True, color="0.9", zorder=0)
    ax.set_xlabel("temporal modulation |ω| (Hz)" if fold else "temporal modulation ω (Hz)")
    ax.set_ylabel(f"spectral modulation Ω (cycles/octave at {reference_hz:g} Hz)")
    if fold:
        for y_text, text, va in (
            (0.98, "downward sweeps", "top"),
            (0.02, "upward sweeps", "bottom"),
        ):
            ax.text(
                0.99,
                y_text,
                text,
                transform=ax.transAxes,
                ha="right",
                va=va,
                fontsize=8,
                color="0.35",
            )
    _legends(ax, legend_ax)
    fig.suptitle(title or "Gabor kernels in the modulation plane", fontsize=11)
    _save(fig, path)


def _coords(rows: Sequence[KernelRow], fold: bool) -> tuple[np.ndarray, np.ndarray]:
    if fold:
        return fold_modulation(rows)
    x = np.array([r.temporal_modulation_hz for r in rows], dtype=np.float64)
    y = np.array([r.spectral_modulation_cyc_per_octave for r in rows], dtype=np.float64)
    return x, y


def _legends(ax: Any, legend_ax: Any) -> None:
    """Model legend (top) and a legend of marker sizes for σ_t (bottom) in ``legend_ax``."""
    legend_ax.set_axis_off()
    models = legend_ax.legend(
        *ax.get_legend_handles_labels(), loc="upper left", fontsize=8, title="model"
    )
    for handle in models.legend_handles:
        if handle is not None and hasattr(handle, "set_sizes"):
            handle.set_sizes([40.0])
    legend_ax.add_artist(models)
    handles = [
        ax.scatter([], [], s=ms * AREA_PER_MS, c="0.7", edgecolors="black", linewidths=0.4)
        for ms in (20, 50, 150)
    ]
    legend_ax.legend(
        handles,
        ["20 ms", "50 ms", "150 ms"],
        loc="lower left",
        fontsize=8,
        title="temporal envelope\nwidth $\\sigma_t$ (area)",
        title_fontsize=8,
        labelspacing=1.3,
        borderpad=0.9,
    )


# --- figures of whole models --------------------------------------------------------------------

#: Each task's title (from the task registry), for plot headings.
TASK_NAMES = {name: task.title for name, task in TASKS.items()}


def model_label(table: KernelTable) -> str:
    """``"vad (speech activity)"``: a model's name and its task, for titles and legends."""
    return f"{table.name} ({TASK_NAMES.get(table.task, table.task)})"


def plot_table_kernels(table: KernelTable, path: Path) -> None:
    """:func:`plot_kernels` of one model: titled with its name and task, each panel labelled
    with its folded modulations, the caption stating the panel's extent in ms and octaves."""
    lf, lt = table.params.kernel_size
    grid = table.grid
    x, y = fold_modulation(table.rows)
    labels = [f"#{i}  {a:.1f} Hz  {b:+.2f} c/o" for i, (a, b) in enumerate(zip(x, y, strict=True))]
    plot_kernels(
        kernel_images(table.params),
        path,
        title=f"{model_label(table)}: {len(table.params)} learned Gabor kernels (real part)",
        labels=labels,
        caption=(
            f"each panel: {lt} frames ({lt * 1000 / grid.frame_rate_hz:.0f} ms) left to right, "
            f"{lf} mel bins ({lf / grid.bins_per_octave:.2f} octaves at "
            f"{grid.reference_hz:g} Hz) low to high; colour scaled per kernel (red +, blue −)\n"
            "labels: |temporal modulation| (Hz), spectral modulation (cycles/octave; "
            "+: downward sweep, −: upward sweep)"
        ),
    )


def plot_table_modulation(tables: Sequence[KernelTable], path: Path, initial: bool = False) -> None:
    """:func:`plot_modulation` of one or several models (folded), titled with their names and
    tasks; with ``initial``, the initial values of the models that store them are drawn too.
    The octave reference is the first table's."""
    if not tables:
        raise ValueError("plot_table_modulation needs at least one table")
    labels = [model_label(t) for t in tables]
    starts = {
        label: rows
        for label, t in zip(labels, tables, strict=True)
        if initial and (rows := t.initial_rows) is not None
    }
    if len(tables) == 1:
        title = f"{labels[0]}: {len(tables[0].params)} Gabor kernels in the modulation plane"
    else:
        title = "Gabor kernels in the modulation plane: " + " vs ".join(labels)
    plot_modulation(
        [(label, t.rows) for label, t in zip(labels, tables, strict=True)],
        path,
        title=title,
        initial=starts or None,
        nyquist_hz=min(t.grid.frame_rate_hz for t in tables) / 2,
        reference_hz=tables[0].grid.reference_hz,
    )
