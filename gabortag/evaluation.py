"""Scoring voice activity against RTTM references on a 10 ms frame grid, inside UEM regions.

The protocol of ``../shared/data/meetings`` (and of pyannote-style SAD evaluation): frame ``i``
is ``[i · 10 ms, (i + 1) · 10 ms)``; it is speech in the reference when its centre lies inside a
speaker turn (the union of all turns), and it is scored only when its centre lies inside the
UEM. ROC-AUC uses the frame probabilities; F1 and the detection error rate
``(missed + false alarm) / reference speech`` use the post-processed segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .annotations import intervals_to_mask, read_rttm, read_uem
from .metrics import detection_scores, roc_auc
from .results import Segment

FRAME_S = 0.01


@dataclass(frozen=True)
class Reference:
    """One file's reference: ``labels (n_frames,)`` int8, 1 speech, 0 non-speech, -1 unscored."""

    file_id: str
    audio: Path
    labels: np.ndarray


def load_reference(
    audio_dir: Path,
    rttm: Path,
    uem: Path | None,
    file_ids: Sequence[str],
    duration_s: dict[str, float],
) -> list[Reference]:
    """References for ``file_ids`` (audio at ``audio_dir/<id>.flac``); no UEM scores everything."""
    turns = read_rttm(rttm)
    regions = read_uem(uem) if uem is not None else {}
    refs = []
    for fid in file_ids:
        n = round(duration_s[fid] / FRAME_S)
        scored = intervals_to_mask(regions[fid], n) if fid in regions else np.ones(n, bool)
        speech = intervals_to_mask(turns.get(fid, []), n)
        labels = np.where(scored, speech.astype(np.int8), np.int8(-1)).astype(np.int8)
        refs.append(Reference(fid, audio_dir / f"{fid}.flac", labels))
    return refs


def meetings_split(data_dir: Path, split: str) -> list[Reference]:
    """The ``meetings`` corpus split (``train``, ``development`` or ``test``) of ``data_dir``."""
    import soundfile as sf

    meet = Path(data_dir) / "meetings"
    ids = (meet / f"{split}.lst").read_text(encoding="utf-8").split()
    durations = {fid: float(sf.info(str(meet / f"{fid}.flac")).duration) for fid in ids}
    return load_reference(meet, meet / f"{split}.rttm", meet / f"{split}.uem", ids, durations)


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
    """Pool the scored frames of all files and compute the metrics."""
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
        roc_auc=roc_auc(y, s),
        f1=det.f1,
        precision=det.precision,
        recall=det.recall,
        detection_error_rate=det.detection_error_rate,
        missed=det.missed,
        false_alarm=det.false_alarm,
        scored_seconds=len(y) * FRAME_S,
        speech_seconds=float(y.sum()) * FRAME_S,
    )
