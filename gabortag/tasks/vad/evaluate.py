"""Scoring voice activity against RTTM references on a 10 ms frame grid, inside UEM regions.

The protocol of ``../shared/data/meetings`` (and of pyannote-style SAD evaluation): frame ``i``
is ``[i · 10 ms, (i + 1) · 10 ms)``; it is speech in the reference when its centre lies inside a
speaker turn (the union of all turns), and it is scored only when its centre lies inside the
UEM. ROC-AUC uses the frame probabilities; F1 and the detection error rate
``(missed + false alarm) / reference speech`` use the post-processed segments.

**Collar** (``collar`` seconds, default 0): frames whose centre lies within ``collar`` seconds
of a reference boundary — a start or end of a region of the reference speech (the union of
the turns, so a turn boundary inside someone else's speech is no boundary) — are not scored,
as md-eval's ``-c`` (``±collar``). pyannote.metrics' ``collar`` is the total width, so its
``collar=0.5`` is ``collar=0.25`` here; pyannote also collars every turn's own boundaries.

:func:`evaluate_vad_files` runs a model over audio files and scores them against an RTTM file
(plus an optional UEM) or a CSV of speech segments, with the decisions ``gabortag vad`` makes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any

import numpy as np

from ...io.annotations import intervals_to_mask, is_rttm, read_rttm, read_speech_reference, read_uem
from ..results import SCHEMA_VERSION, Segment
from .decode import VadOptions
from .metrics import detection_scores, roc_auc

if TYPE_CHECKING:
    from ...inference import Model
    from ...io.audio import AudioInfo

FRAME_S = 0.01


@dataclass(frozen=True)
class Reference:
    """One file's reference: ``labels (n_frames,)`` int8, 1 speech, 0 non-speech, -1 unscored."""

    file_id: str
    audio: Path
    labels: np.ndarray


def merge_intervals(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of intervals as sorted, disjoint ``(start, end)`` pairs (touching ones merge)."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def reference_labels(
    speech: Sequence[tuple[float, float]],
    n_frames: int,
    regions: Sequence[tuple[float, float]] | None = None,
    collar: float = 0.0,
) -> np.ndarray:
    """Labels ``(n_frames,)`` int8 of one file on the 10 ms grid: 1 speech, 0 non-speech, -1
    unscored (centre outside ``regions``, the UEM; or within ``collar`` seconds of a start or
    end of the union of the ``speech`` intervals)."""
    if not collar >= 0:  # also rejects NaN
        raise ValueError(f"collar must be >= 0 seconds, got {collar!r}")
    scored = intervals_to_mask(list(regions), n_frames) if regions is not None else None
    if scored is None:
        scored = np.ones(n_frames, bool)
    union = merge_intervals(speech)
    if collar > 0:
        bounds = [b for region in union for b in region]
        scored &= ~intervals_to_mask([(b - collar, b + collar) for b in bounds], n_frames)
    is_speech = intervals_to_mask(union, n_frames)
    return np.where(scored, is_speech.astype(np.int8), np.int8(-1)).astype(np.int8)


def load_reference(
    audio_dir: Path,
    rttm: Path,
    uem: Path | None,
    file_ids: Sequence[str],
    duration_s: dict[str, float],
    collar: float = 0.0,
) -> list[Reference]:
    """References for ``file_ids`` (audio at ``audio_dir/<id>.flac``); no UEM scores everything;
    ``collar`` as in the module docstring."""
    turns = read_rttm(rttm)
    regions = read_uem(uem) if uem is not None else {}
    refs = []
    for fid in file_ids:
        n = round(duration_s[fid] / FRAME_S)
        labels = reference_labels(turns.get(fid, []), n, regions.get(fid), collar)
        refs.append(Reference(fid, audio_dir / f"{fid}.flac", labels))
    return refs


def meetings_split(data_dir: Path, split: str, collar: float = 0.0) -> list[Reference]:
    """The ``meetings`` corpus split (``train``, ``development`` or ``test``) of ``data_dir``."""
    import soundfile as sf

    meet = Path(data_dir) / "meetings"
    ids = (meet / f"{split}.lst").read_text(encoding="utf-8").split()
    durations = {fid: float(sf.info(str(meet / f"{fid}.flac")).duration) for fid in ids}
    return load_reference(
        meet, meet / f"{split}.rttm", meet / f"{split}.uem", ids, durations, collar
    )


def scores_on_grid(scores: np.ndarray, hop_s: float, n_frames: int) -> np.ndarray:
    """Map scores at ``hop_s`` onto the 10 ms grid: each frame takes the score of the model
    frame that contains its centre (the last one past the end)."""
    if len(scores) == 0:
        return np.zeros(n_frames, np.float32)
    centres = (np.arange(n_frames) + 0.5) * FRAME_S
    idx = np.minimum((centres / hop_s).astype(int), len(scores) - 1)
    mapped: np.ndarray = np.asarray(scores)[idx]
    return mapped


def segments_on_grid(segments: Sequence[Segment], n_frames: int) -> np.ndarray:
    """Boolean 10 ms frames whose centre lies inside one of ``segments``."""
    return intervals_to_mask([(s.start, s.end) for s in segments], n_frames, FRAME_S)


@dataclass(frozen=True)
class VadEvaluation:
    """Frame-level results over a set of files (10 ms frames inside the UEM)."""

    roc_auc: float
    f1: float
    precision: float
    recall: float
    detection_error_rate: float
    missed: float
    false_alarm: float
    scored_seconds: float
    speech_seconds: float

    def to_dict(self, digits: int = 4) -> dict[str, float]:
        return {k: round(v, digits) for k, v in asdict(self).items()}


def evaluate(
    refs: Sequence[Reference],
    scores: Sequence[np.ndarray],
    hop_s: float,
    segments: Sequence[Sequence[Segment]],
) -> VadEvaluation:
    """Pool the scored frames of all files and compute the metrics.

    ``refs``, ``scores`` (probabilities at ``hop_s``) and ``segments`` are parallel, one entry
    per file. ROC-AUC is NaN when the scored frames are all speech or all non-speech.
    """
    ys, ss, ds = [], [], []
    for ref, sc, segs in zip(refs, scores, segments, strict=True):
        n = len(ref.labels)
        keep = ref.labels >= 0
        ys.append(ref.labels[keep] == 1)
        ss.append(scores_on_grid(sc, hop_s, n)[keep])
        ds.append(segments_on_grid(segs, n)[keep])
    y, s, d = np.concatenate(ys), np.concatenate(ss), np.concatenate(ds)
    det = detection_scores(y, d)
    return VadEvaluation(
        roc_auc=roc_auc(y, s) if 0 < y.sum() < len(y) else math.nan,
        f1=det.f1,
        precision=det.precision,
        recall=det.recall,
        detection_error_rate=det.detection_error_rate,
        missed=det.missed,
        false_alarm=det.false_alarm,
        scored_seconds=len(y) * FRAME_S,
        speech_seconds=float(y.sum()) * FRAME_S,
    )


# --------------------------------------------------------------------------- audio files


@dataclass(frozen=True)
class FileFailure:
    """An input that could not be evaluated: its path as given, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "error": self.reason}


def reference_id(path: str | os.PathLike[str]) -> str:
    """The key an audio file (or a table's ``file`` entry) is matched by: its base name without
    the extension, whitespace replaced by ``_`` — the file id ``gabortag vad -f rttm`` writes,
    so ``tst00.flac`` and ``data/tst00.wav`` both match RTTM file id ``tst00``."""
    from ...io.formats import rttm_uri

    return rttm_uri(PureWindowsPath(os.fspath(path)).name)  # splits on "/" and "\"


def keyed_by_stem(table: str | os.PathLike[str], entries: dict[str, Any]) -> dict[str, Any]:
    """``entries`` keyed by a table's ``file`` column, re-keyed by :func:`reference_id`;
    :class:`~gabortag.errors.AnnotationError` when two files of the table share a key."""
    from ...errors import AnnotationError

    out: dict[str, Any] = {}
    first: dict[str, str] = {}
    for name, value in entries.items():
        key = reference_id(name)
        if key in first and first[key] != name:
            raise AnnotationError(
                str(table),
                f"files {first[key]!r} and {name!r} have the same stem {key!r}; audio files are "
                "matched to the reference by stem, so give each file a distinct name",
            )
        first[key] = name
        out[key] = value
    return out


def score_file(model: Model, path: str | os.PathLike[str]) -> tuple[np.ndarray, AudioInfo]:
    """Frame scores of a whole audio file at ``model``'s rate (streamed, so memory stays flat):
    ``(T,)`` or ``(T, C)`` float32, and the file's header facts. ``AudioError`` if unreadable."""
    from ...io.audio import open_input

    audio = open_input(os.fspath(path), model.sample_rate)
    parts = list(model.score_stream(audio.blocks))
    empty = np.zeros((0, *model.frame_shape), np.float32)
    return np.concatenate([empty, *parts]), audio.info


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None`` (JSON has no NaN), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class VadFileEvaluation:
    """One file's results: its path as given, the reference entry it matched, its metrics."""

    path: str
    reference_id: str
    metrics: VadEvaluation


@dataclass(frozen=True)
class VadFilesEvaluation:
    """Results of :func:`evaluate_vad_files`: pooled metrics (``None`` when no file could be
    evaluated), per-file metrics, and the inputs that could not be evaluated."""

    model: str
    options: VadOptions
    collar: float
    overall: VadEvaluation | None
    files: tuple[VadFileEvaluation, ...]
    failures: tuple[FileFailure, ...]

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        """Stable JSON form (``schema_version``; NaN written as ``null``)."""
        return report(
            "vad",
            self,
            digits,
            collar=self.collar,
            protocol="10 ms frames (centre rule) inside the UEM; reference = union of turns; "
            "frames within the collar of a reference boundary unscored; ROC-AUC from frame "
            "probabilities, F1/DER from the segments",
        )


def report(task: str, result: Any, digits: int, **extra: Any) -> dict[str, Any]:
    """The JSON envelope of a file-level evaluation (``result`` has ``model``, ``options``,
    ``overall``, ``files`` and ``failures``); NaN is written as ``null``."""
    from ... import __version__

    out: dict[str, Any] = json_safe(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": "gabortag",
            "version": __version__,
            "task": task,
            "model": result.model,
            "options": result.options.to_dict(),
            **extra,
            "metrics": result.overall.to_dict(digits) if result.overall else None,
            "files": [
                {"path": f.path, "reference_id": f.reference_id, **f.metrics.to_dict(digits)}
                for f in result.files
            ],
            "errors": [f.to_dict() for f in result.failures],
        }
    )
    return out


def evaluate_vad_files(
    model: Model | str | Path,
    paths: Sequence[str | os.PathLike[str]],
    reference: str | os.PathLike[str],
    uem: str | os.PathLike[str] | None = None,
    collar: float = 0.0,
    *,
    options: VadOptions | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> VadFilesEvaluation:
    """Run a voice activity model over audio files and score it against a reference.

    Each file is matched to the reference by :func:`reference_id` (its stem: RTTM file id, or
    the stem of a CSV's ``file``). A file has a reference when its id is in the reference or,
    given ``uem``, in the UEM (no turns: all non-speech). Files are scored as the module
    docstring says, with the segments ``gabortag vad`` would write (``options``, default the
    model's own); metrics are pooled over the scored frames of all files.

    Args:
        model: a loaded model, a bundled name or an ``.onnx`` path (a ``vad`` model).
        paths: audio files, in the order to report them.
        reference: an RTTM file, or a CSV ``file,start,end`` of speech segments (seconds).
        uem: scored regions (``file channel start end``); ``None`` scores whole files.
        collar: seconds around each reference boundary left unscored (md-eval ``-c``).

    Returns:
        a :class:`VadFilesEvaluation`; a file with no reference entry, or that cannot be read,
        is one of its ``failures``, and the others are evaluated.

    Raises:
        AnnotationError: the reference or UEM cannot be read.
        ModelError: the model cannot be loaded or is not a ``vad`` model.
        ValueError: ``collar`` is negative.
    """
    from ...errors import AudioError
    from .api import default_options, resolve_model
    from .decode import segments_from_scores

    if not collar >= 0:
        raise ValueError(f"collar must be >= 0 seconds, got {collar!r}")
    speech = read_speech_reference(reference)
    if not is_rttm(reference):
        speech = keyed_by_stem(reference, speech)
    regions = read_uem(uem) if uem is not None else {}
    m = resolve_model(model, device, threads)
    opts = options or default_options(m)
    where = f"{reference}" + (f" or {uem}" if uem is not None else "")
    refs: list[Reference] = []
    probs: list[np.ndarray] = []
    segments: list[list[Segment]] = []
    files: list[VadFileEvaluation] = []
    failures: list[FileFailure] = []
    for path in paths:
        name = os.fspath(path)
        rid = reference_id(name)
        if rid not in speech and rid not in regions:
            failures.append(
                FileFailure(name, f"no reference entry: file id {rid!r} not in {where}")
            )
            continue
        try:
            scores, info = score_file(m, name)
        except AudioError as err:
            failures.append(FileFailure(name, err.reason))
            continue
        n = round(info.duration / FRAME_S)
        ref = Reference(
            rid, Path(name), reference_labels(speech.get(rid, []), n, regions.get(rid), collar)
        )
        segs = segments_from_scores(scores, m.hop_seconds, info.duration, opts)
        refs.append(ref)
        probs.append(scores)
        segments.append(segs)
        files.append(VadFileEvaluation(name, rid, evaluate([ref], [scores], m.hop_seconds, [segs])))
    overall = evaluate(refs, probs, m.hop_seconds, segments) if refs else None
    return VadFilesEvaluation(m.name, opts, collar, overall, tuple(files), tuple(failures))
