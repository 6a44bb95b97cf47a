"""What a model's Gabor first layer learned, in physical units (numpy only, no torch).

Riad et al. (2021), JASA 150(1), section II: kernel ``k`` of the first layer is a 2-D Gabor
function of four numbers, σ_t (frames), σ_f (mel bins), the carrier F (cycles per grid step) and
its orientation γ (radians), over mel-bin offset ``f`` and frame offset ``t`` on a centred unit
grid::

    g_k(t, f) = 1 / (2π σ_t σ_f) · exp(-½ (t²/σ_t² + f²/σ_f²)) · exp(j 2π F (t cos γ + f sin γ))

Its temporal modulation is ω = F cos γ cycles/frame, its spectral modulation Ω = F sin γ
cycles/bin. This module reads those numbers from a model and states them in physical units
(:class:`KernelRow`), exactly as :meth:`gabortag.training.nets.gabor.GaborConv2d.describe` does:

- temporal modulation (Hz) = ω × frame rate, where the frame rate is ``sample_rate / mel_hop``
  (the log-mel grid the kernels live on, not the model's output hop);
- spectral modulation (cycles/octave) = Ω × mel bins per octave at ``reference_hz`` (1 kHz by
  default; the mel grid is not uniform in octaves, so one reference frequency is stated);
- widths: σ_t in ms, σ_f in octaves at the same reference.

Sources of the numbers (:func:`load_kernel_table`):

- an exported ONNX model (a bundled name such as ``"vad"`` or an ``.onnx`` path): the metadata
  key ``gabortag.gabor`` (see :func:`gabortag.training.export.gabor_parameters`) and
  ``gabortag.config`` (sample rate, ``mel_hop``, ``n_mels``, ``f_min``, ``f_max``);
- a training checkpoint (``.pt``, read with torch, the ``train`` extra): ``config`` and the
  ``gabor.*`` tensors of the ``model`` state dict.

Initial values are reported only when the model stores them: the ONNX metadata key
``gabortag.gabor_initial`` or the checkpoint key ``gabor_initial``, both in the format of
``gabortag.gabor``. The checkpoints and models of this repository do not store them yet.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import ModelError
from ..melscale import bins_per_octave

SCHEMA_VERSION = "1.0"
REFERENCE_HZ = 1000.0
#: Checkpoint suffixes read with torch.
CHECKPOINT_SUFFIXES = (".pt", ".pth")
GABOR_KEY = "gabortag.gabor"
GABOR_INITIAL_KEY = "gabortag.gabor_initial"
CHECKPOINT_INITIAL_KEY = "gabor_initial"


@dataclass(frozen=True)
class KernelRow:
    """One kernel in physical units (also what ``GaborConv2d.describe`` returns).

    ``temporal_modulation_hz`` and ``spectral_modulation_cyc_per_octave`` are signed (their
    signs come from γ); ``(ω, Ω)`` and ``(-ω, -Ω)`` give the same real kernel.
    """

    index: int
    temporal_modulation_hz: float
    spectral_modulation_cyc_per_octave: float
    sigma_time_ms: float
    sigma_freq_octaves: float
    carrier_cycles_per_step: float
    orientation_rad: float


#: Column names of :func:`write_csv`, in order (``initial_*`` columns follow when present).
ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(KernelRow))


@dataclass(frozen=True)
class GaborParams:
    """The four numbers of every kernel, as stored under ``gabortag.gabor``.

    ``sigma_t`` (frames), ``sigma_f`` (mel bins), ``carrier`` (cycles per step, in (0, 0.5)),
    ``gamma`` (radians); each a tuple of ``K`` floats. ``kernel_size`` is ``(L_f, L_t)``.
    """

    kernel_size: tuple[int, int]
    sigma_t: tuple[float, ...]
    sigma_f: tuple[float, ...]
    carrier: tuple[float, ...]
    gamma: tuple[float, ...]
    mode: str = "concat"
    stride: int = 1

    def __post_init__(self) -> None:
        k = len(self.sigma_t)
        if not all(len(v) == k for v in (self.sigma_f, self.carrier, self.gamma)):
            raise ValueError(
                "sigma_t, sigma_f, carrier and gamma must have one value per kernel, got "
                f"{len(self.sigma_t)}, {len(self.sigma_f)}, {len(self.carrier)}, "
                f"{len(self.gamma)}"
            )
        if len(self.kernel_size) != 2:
            raise ValueError(f"kernel_size must be (L_f, L_t), got {self.kernel_size}")

    def __len__(self) -> int:
        return len(self.sigma_t)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GaborParams:
        """From the ``gabortag.gabor`` JSON (a dict); ``KeyError``/``ValueError`` if malformed."""
        lf, lt = (int(v) for v in data["kernel_size"])
        return cls(
            kernel_size=(lf, lt),
            sigma_t=tuple(float(v) for v in data["sigma_t"]),
            sigma_f=tuple(float(v) for v in data["sigma_f"]),
            carrier=tuple(float(v) for v in data["carrier"]),
            gamma=tuple(float(v) for v in data["gamma"]),
            mode=str(data.get("mode", "concat")),
            stride=int(data.get("stride", 1)),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``gabortag.gabor`` JSON form."""
        out = asdict(self)
        out["kernel_size"] = list(self.kernel_size)
        for key in ("sigma_t", "sigma_f", "carrier", "gamma"):
            out[key] = list(out[key])
        return out


@dataclass(frozen=True)
class Grid:
    """The log-mel grid the kernels live on, and the reference frequency used for octaves."""

    frame_rate_hz: float
    n_mels: int
    f_min: float
    f_max: float
    reference_hz: float = REFERENCE_HZ

    @property
    def bins_per_octave(self) -> float:
        """Mel bins per octave at :attr:`reference_hz`."""
        return bins_per_octave(self.reference_hz, self.n_mels, self.f_min, self.f_max)


@dataclass(frozen=True)
class KernelTable:
    """Every Gabor kernel of one model, in physical units.

    Attributes:
        name: model name (bundled name, or the file's stem).
        task: the model's task (``"vad"``, ``"birdcalls"``, ...).
        source: where the numbers were read (a file path).
        grid: frame rate and mel geometry.
        params: the learned numbers.
        initial: the numbers at initialisation, when the model stores them, else ``None``.
    """

    name: str
    task: str
    source: str
    grid: Grid
    params: GaborParams
    initial: GaborParams | None = None

    @property
    def rows(self) -> list[KernelRow]:
        """The learned kernels in physical units."""
        return describe(self.params, self.grid)

    @property
    def initial_rows(self) -> list[KernelRow] | None:
        """The initial kernels in physical units, or ``None`` when not stored."""
        return None if self.initial is None else describe(self.initial, self.grid)

    def context(self) -> dict[str, Any]:
        """Model name, task and grid as a plain dict (see :func:`kernels_of_model`)."""
        return {
            "model": self.name,
            "task": self.task,
            "source": self.source,
            "frame_rate_hz": self.grid.frame_rate_hz,
            "n_mels": self.grid.n_mels,
            "f_min": self.grid.f_min,
            "f_max": self.grid.f_max,
            "reference_hz": self.grid.reference_hz,
            "bins_per_octave": self.grid.bins_per_octave,
            "kernel_size": list(self.params.kernel_size),
            "mode": self.params.mode,
            "stride": self.params.stride,
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON document written by :func:`write_json` (has ``schema_version``)."""
        initial = self.initial_rows
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": "gabortag",
            "version": __version__,
            **self.context(),
            "units": {
                "temporal_modulation_hz": "Hz (ω cycles/frame × frame_rate_hz)",
                "spectral_modulation_cyc_per_octave": (
                    "cycles/octave at reference_hz (Ω cycles/bin × bins_per_octave)"
                ),
                "sigma_time_ms": "ms",
                "sigma_freq_octaves": "octaves at reference_hz",
                "carrier_cycles_per_step": "cycles per grid step",
                "orientation_rad": "radians",
            },
            "kernels": [asdict(r) for r in self.rows],
            "initial": None if initial is None else [asdict(r) for r in initial],
            "parameters": self.params.to_dict(),
            "initial_parameters": None if self.initial is None else self.initial.to_dict(),
        }


def describe(params: GaborParams, grid: Grid) -> list[KernelRow]:
    """Every kernel of ``params`` in physical units on ``grid``, as ``GaborConv2d.describe``."""
    bpo = grid.bins_per_octave
    rows = []
    for i in range(len(params)):
        carrier, gamma = params.carrier[i], params.gamma[i]
        rows.append(
            KernelRow(
                index=i,
                temporal_modulation_hz=carrier * math.cos(gamma) * grid.frame_rate_hz,
                spectral_modulation_cyc_per_octave=carrier * math.sin(gamma) * bpo,
                sigma_time_ms=params.sigma_t[i] * 1000.0 / grid.frame_rate_hz,
                sigma_freq_octaves=params.sigma_f[i] / bpo,
                carrier_cycles_per_step=carrier,
                orientation_rad=gamma,
            )
        )
    return rows


def fold_modulation(rows: Sequence[KernelRow]) -> tuple[np.ndarray, np.ndarray]:
    """``(|ω| Hz, sign(ω)·Ω cycles/octave)`` of each row, shapes ``(K,)``.

    The real part of a kernel is unchanged by ``(ω, Ω) → (-ω, -Ω)``, so the temporal
    modulation can be folded to ``|ω| ≥ 0`` with its sign moved to Ω. After folding, Ω < 0 is a
    kernel whose ridges rise in frequency over time (an upward sweep) and Ω > 0 one whose
    ridges fall (a downward sweep); Ω = 0 is a purely temporal kernel.
    """
    omega = np.array([r.temporal_modulation_hz for r in rows], dtype=np.float64)
    big_omega = np.array([r.spectral_modulation_cyc_per_octave for r in rows], dtype=np.float64)
    sign = np.where(omega < 0, -1.0, 1.0)
    return np.abs(omega), sign * big_omega


def kernel_images(
    params: GaborParams | Mapping[str, Any], kernel_size: tuple[int, int] | None = None
) -> np.ndarray:
    """Real parts of the kernels, float64 ``(K, L_f, L_t)``: rows are mel-bin offsets (low to
    high), columns frame offsets, both on the centred unit grid of the paper's formula.

    ``params`` is a :class:`GaborParams` or the ``gabortag.gabor`` dict; ``kernel_size``
    ``(L_f, L_t)`` overrides the stored one.
    """
    p = params if isinstance(params, GaborParams) else GaborParams.from_dict(params)
    lf, lt = kernel_size if kernel_size is not None else p.kernel_size
    t = np.arange(lt, dtype=np.float64) - (lt - 1) / 2
    f = np.arange(lf, dtype=np.float64) - (lf - 1) / 2
    st = np.asarray(p.sigma_t, np.float64)[:, None, None]
    sf = np.asarray(p.sigma_f, np.float64)[:, None, None]
    carrier = np.asarray(p.carrier, np.float64)[:, None, None]
    gamma = np.asarray(p.gamma, np.float64)[:, None, None]
    tt, ff = t[None, None, :], f[None, :, None]
    envelope = np.exp(-0.5 * (tt**2 / st**2 + ff**2 / sf**2)) / (2 * np.pi * st * sf)
    phase = 2 * np.pi * carrier * (tt * np.cos(gamma) + ff * np.sin(gamma))
    images: np.ndarray = envelope * np.cos(phase)
    return images


# --- reading models ----------------------------------------------------------------------------


def is_checkpoint(model: str | Path) -> bool:
    """Whether ``model`` names a training checkpoint (read with torch) rather than ONNX."""
    return Path(str(model)).suffix.lower() in CHECKPOINT_SUFFIXES


def load_kernel_table(model: str | Path, reference_hz: float = REFERENCE_HZ) -> KernelTable:
    """The Gabor kernels of a bundled model name, an ``.onnx`` path or a ``.pt`` checkpoint.

    Raises :class:`~gabortag.errors.ModelError` for an unknown model, a model without a Gabor
    first layer, unreadable metadata, or a checkpoint when torch is not installed.
    """
    if reference_hz <= 0:
        raise ValueError(f"reference_hz must be positive, got {reference_hz}")
    if is_checkpoint(model):
        return _from_checkpoint(Path(str(model)), reference_hz)
    return _from_onnx(model, reference_hz)


def kernels_of_model(
    model: str | Path, reference_hz: float = REFERENCE_HZ
) -> tuple[list[KernelRow], dict[str, Any]]:
    """``(rows, context)``: every kernel in physical units, and the model's name, task and grid
    (``frame_rate_hz``, ``n_mels``, ``f_min``, ``f_max``, ``reference_hz``, ``model``,
    ``task``, ...). See :func:`load_kernel_table` for what ``model`` may be."""
    table = load_kernel_table(model, reference_hz)
    return table.rows, table.context()


def _grid(config: Mapping[str, Any], where: str, reference_hz: float) -> Grid:
    try:
        grid = Grid(
            frame_rate_hz=float(config["sample_rate"]) / float(config["mel_hop"]),
            n_mels=int(config["n_mels"]),
            f_min=float(config["f_min"]),
            f_max=float(config["f_max"]),
            reference_hz=reference_hz,
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as err:
        raise ModelError(
            f"{where}: the model's config lacks or garbles {err} (needs sample_rate, mel_hop, "
            "n_mels, f_min, f_max)"
        ) from err
    if not (grid.frame_rate_hz > 0 and grid.n_mels > 0 and 0 <= grid.f_min < grid.f_max):
        raise ModelError(f"{where}: implausible mel grid in the model's config: {grid}")
    return grid


def _not_gabor(where: str, first_layer: object) -> ModelError:
    return ModelError(
        f"{where}: the model's first layer is {first_layer!r}, not a bank of Gabor kernels; "
        "`gabortag filters` needs a model trained with first_layer='gabor'"
    )


def _params(data: Mapping[str, Any], where: str, key: str) -> GaborParams:
    try:
        return GaborParams.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"{where}: unreadable Gabor parameters under {key!r} ({err})") from err


def _from_onnx(model: str | Path, reference_hz: float) -> KernelTable:
    from ..models import resolve
    from ..runtime import create_session

    spec = resolve(model)
    session = create_session(spec.path, device="cpu", threads=1)
    meta: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)
    where = str(spec.path)
    try:
        config = json.loads(meta.get("gabortag.config", "{}"))
    except ValueError as err:
        raise ModelError(f"{where}: unreadable 'gabortag.config' metadata ({err})") from err
    first_layer = config.get("first_layer")
    if first_layer not in (None, "gabor"):
        raise _not_gabor(where, first_layer)
    if GABOR_KEY not in meta:
        raise ModelError(
            f"{where}: no {GABOR_KEY!r} metadata: not a gabortag model with a Gabor first "
            "layer; export it with gabortag.training.export"
        )
    try:
        learned = json.loads(meta[GABOR_KEY])
        initial = json.loads(meta[GABOR_INITIAL_KEY]) if GABOR_INITIAL_KEY in meta else None
    except ValueError as err:
        raise ModelError(f"{where}: unreadable Gabor metadata ({err})") from err
    return KernelTable(
        name=meta.get("gabortag.name", spec.name),
        task=meta.get("gabortag.task", "unknown"),
        source=where,
        grid=_grid(config, where, reference_hz),
        params=_params(learned, where, GABOR_KEY),
        initial=None if initial is None else _params(initial, where, GABOR_INITIAL_KEY),
    )


def _from_checkpoint(path: Path, reference_hz: float) -> KernelTable:
    where = str(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {where!r} does not exist")
    try:
        import torch  # noqa: TID251 - checkpoints are torch files; imported only for them
    except ImportError as err:
        raise ModelError(
            f"{where}: reading a checkpoint (.pt) needs torch: pip install 'gabortag[train]', "
            "or give the exported .onnx model instead"
        ) from err
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds (pickle, zip, runtime)
        raise ModelError(f"{where}: torch could not read the checkpoint ({err})") from err
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise ModelError(
            f"{where}: not a gabortag checkpoint (expected a dict with 'model' and 'config')"
        )
    config = dict(ckpt["config"])
    first_layer = config.get("first_layer", "gabor")
    if first_layer != "gabor":
        raise _not_gabor(where, first_layer)
    state = ckpt["model"]
    names = ("gabor.log_sigma_t", "gabor.log_sigma_f", "gabor.freq_logit", "gabor.gamma")
    missing = [n for n in names if n not in state]
    if missing:
        raise ModelError(f"{where}: the checkpoint's model lacks {', '.join(missing)}")
    log_st, log_sf, logit, gamma = (state[n].detach().double().cpu().numpy() for n in names)
    try:
        lf, lt = (int(v) for v in config["kernel_size"])
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"{where}: the checkpoint's config has no usable kernel_size") from err
    params = GaborParams(
        kernel_size=(lf, lt),
        sigma_t=tuple(float(v) for v in np.exp(log_st)),
        sigma_f=tuple(float(v) for v in np.exp(log_sf)),
        carrier=tuple(float(v) for v in 0.5 / (1.0 + np.exp(-logit))),
        gamma=tuple(float(v) for v in gamma),
        mode="concat",
        stride=int(config.get("gabor_stride", 1)),
    )
    initial_data = ckpt.get(CHECKPOINT_INITIAL_KEY)
    n_outputs = int(config.get("n_outputs", 1))
    task = str(ckpt.get("task", "vad" if n_outputs == 1 else "birdcalls"))
    return KernelTable(
        name=path.stem,
        task=task,
        source=where,
        grid=_grid(config, where, reference_hz),
        params=params,
        initial=None
        if initial_data is None
        else _params(initial_data, where, CHECKPOINT_INITIAL_KEY),
    )


# --- writing tables ----------------------------------------------------------------------------


def write_csv(table: KernelTable, path: Path) -> None:
    """One row per kernel: the :data:`ROW_FIELDS` columns, then ``initial_<field>`` for every
    field but ``index`` when the initial values are known. Written atomically."""
    from ..io.atomic import atomic_open

    initial = table.initial_rows
    extra = [f"initial_{name}" for name in ROW_FIELDS[1:]] if initial is not None else []
    with atomic_open(path) as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([*ROW_FIELDS, *extra])
        for i, row in enumerate(table.rows):
            values: list[object] = [row.index, *(_num(getattr(row, n)) for n in ROW_FIELDS[1:])]
            if initial is not None:
                values += [_num(getattr(initial[i], n)) for n in ROW_FIELDS[1:]]
            writer.writerow(values)


def write_json(table: KernelTable, path: Path) -> None:
    """:meth:`KernelTable.to_json`, indented, written atomically."""
    from ..io.atomic import atomic_open

    with atomic_open(path) as f:
        f.write(json.dumps(table.to_json(), indent=2) + "\n")


def _num(value: float) -> str:
    return f"{value:.6g}"
