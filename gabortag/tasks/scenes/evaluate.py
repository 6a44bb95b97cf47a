"""Clip-level evaluation of scene classifiers: accuracy, macro F1, per-class precision and
recall, confusion matrix.

A file's class scores are the mean of its windows' scores (``gabortag scenes`` windows, at the
model's rate), weighted by each window's length
(:class:`~gabortag.tasks.scenes.api.ClipScores`); its predicted class is their arg-max
(:func:`~gabortag.tasks.scenes.api.best_label`): the ``top`` label ``gabortag scenes``
reports. The true class comes from a reference CSV (``file,label``, other columns ignored;
files matched by stem, as in the other tasks), or, without one, from the name of the folder
holding the file (the folder-per-class layout of ``gabortag train scenes``).

Two accuracies are reported: over all of the model's labels, and with the arg-max restricted
to the labels the reference uses (for example the ten ESC-10 classes of a model that knows
fourteen), which is how a benchmark of fewer classes scores it.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import AnnotationError, AudioError
from ...inference import Model
from ...io.audio import load_audio
from ..vad.evaluate import FileFailure, keyed_by_stem, reference_id
from .api import ClipScores, SceneOptions, best_label, score_windows, windowing


def clip_scores(
    model: Model,
    path: str | os.PathLike[str],
    window_s: float | None = None,
    hop_s: float | None = None,
) -> np.ndarray:
    """The :class:`~gabortag.tasks.scenes.api.ClipScores` ``(n_classes,)`` of one file: its
    windows' scores averaged with weights equal to their lengths, as ``gabortag scenes``
    computes a file's ``top`` label (window and hop in seconds; ``None``: the model's
    defaults). Raises ``AudioError`` for unreadable or empty audio."""
    wav, _info = load_audio(os.fspath(path), model.sample_rate)
    win = windowing(model, SceneOptions(window_s=window_s, hop_s=hop_s))
    clip = ClipScores()
    for start, end, scores in score_windows(model, [wav], win):
        clip.add(start, end, scores)
    mean = clip.mean()
    if mean is None:
        raise AudioError(os.fspath(path), "no audio to classify (0 samples)")
    return mean


def classify_files(
    model: Model,
    paths: Sequence[str | os.PathLike[str]],
    window_s: float | None = None,
    hop_s: float | None = None,
) -> np.ndarray:
    """:func:`clip_scores` of each file, ``(n_files, n_classes)``."""
    return np.stack([clip_scores(model, p, window_s, hop_s) for p in paths])


def scene_report(
    truth: Sequence[str], probs: np.ndarray, labels: Sequence[str], digits: int = 4
) -> dict[str, Any]:
    """Metrics of clip scores ``probs (n, n_classes)`` (columns in ``labels`` order) against the
    true labels of the ``n`` clips (each one of ``labels``)."""
    labels = list(labels)
    y = np.array([labels.index(t) for t in truth])
    used = sorted(set(y.tolist()))
    pred = np.array([best_label(row, range(len(labels))) for row in probs], np.int64)
    pred_used = np.array([best_label(row, used) for row in probs], np.int64)
    n = len(labels)
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class = []
    f1s = []
    for c in used:
        tp = int(confusion[c, c])
        p_den, r_den = int(confusion[:, c].sum()), int(confusion[c].sum())
        precision = tp / p_den if p_den else 0.0
        recall = tp / r_den if r_den else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_class.append(
            {
                "label": labels[c],
                "clips": r_den,
                "precision": round(precision, digits),
                "recall": round(recall, digits),
                "f1": round(f1, digits),
            }
        )
    return {
        "clips": len(y),
        "accuracy": round(float(np.mean(pred == y)), digits),
        "accuracy_within_reference_labels": round(float(np.mean(pred_used == y)), digits),
        "macro_f1": round(float(np.mean(f1s)), digits),
        "per_class": per_class,
        "confusion": {
            "labels": [labels[c] for c in used],
            "predicted_labels": labels,
            "rows": [confusion[c].tolist() for c in used],
        },
    }


def read_scene_reference(table: str | os.PathLike[str]) -> dict[str, str]:
    """Label by reference id (file stem) of a CSV with ``file`` and ``label`` columns."""
    path = Path(table)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            if "file" not in fields or "label" not in fields:
                raise AnnotationError(
                    str(path),
                    "a scenes reference needs the columns file,label; found "
                    f"{','.join(fields) or 'no header'}",
                )
            raw = {row["file"]: row["label"].strip() for row in reader if row.get("file")}
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise AnnotationError(str(path), f"cannot read ({err})") from err
    labels: dict[str, str] = keyed_by_stem(path, raw)
    return labels


@dataclass(frozen=True)
class SceneFileResult:
    path: str
    truth: str
    predicted: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "truth": self.truth,
            "predicted": self.predicted,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class SceneFilesEvaluation:
    """Per-file predictions, the pooled report (``None`` when no file could be scored) and the
    files that could not be."""

    model: str
    overall: dict[str, Any] | None
    files: tuple[SceneFileResult, ...]
    failures: tuple[FileFailure, ...]

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON form, the envelope of the other tasks' evaluations (``schema_version``,
        ``metrics``, ``files``, ``errors``); ``overall`` repeats ``metrics`` for readers of
        the first layout."""
        from ... import __version__
        from ..results import SCHEMA_VERSION

        return {
            "schema_version": SCHEMA_VERSION,
            "tool": "gabortag",
            "version": __version__,
            "task": "scenes",
            "model": self.model,
            "protocol": "a clip's scores: its windows' scores (gabortag scenes windows) "
            "averaged with weights equal to their lengths; its label: their arg-max",
            "metrics": self.overall,
            "overall": self.overall,
            "files": [f.to_dict() for f in self.files],
            "errors": [f.to_dict() for f in self.failures],
        }


def evaluate_scene_files(
    model: Model | str | Path,
    paths: Sequence[str | os.PathLike[str]],
    reference: str | os.PathLike[str] | None = None,
    *,
    window_s: float | None = None,
    hop_s: float | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> SceneFilesEvaluation:
    """Classify each file (:func:`clip_scores`) and score the predictions.

    Args:
        model: a loaded model, a bundled name or an ``.onnx`` path (a ``scenes`` model).
        paths: audio files, in the order to report them.
        reference: CSV ``file,label``; ``None``: each file's label is its folder's name.

    Raises:
        AnnotationError: the reference cannot be read.
        ModelError: the model cannot be loaded or is not a scenes model.
        ValueError: a file's label is not one of the model's labels.
    """
    from .api import resolve_model

    m = resolve_model(model, device, threads)
    labels = list(m.info.labels)
    table = read_scene_reference(reference) if reference is not None else None
    truth: list[str] = []
    rows: list[np.ndarray] = []
    files: list[SceneFileResult] = []
    failures: list[FileFailure] = []
    for p in paths:
        name = os.fspath(p)
        if table is not None:
            label = table.get(reference_id(name))
            if label is None:
                failures.append(FileFailure(name, f"no reference entry for {reference_id(name)!r}"))
                continue
        else:
            label = Path(name).parent.name
        if label not in labels:
            raise ValueError(
                f"{name}: label {label!r} is not one of the labels of model {m.name!r}: "
                f"{', '.join(labels)}"
            )
        try:
            scores = clip_scores(m, name, window_s, hop_s)
        except AudioError as err:
            failures.append(FileFailure(name, err.reason))
            continue
        best = best_label(scores, range(len(labels)))
        truth.append(label)
        rows.append(scores)
        files.append(SceneFileResult(name, label, labels[best], float(scores[best])))
    overall = scene_report(truth, np.stack(rows), labels) if rows else None
    return SceneFilesEvaluation(m.name, overall, tuple(files), tuple(failures))
