"""Frame-level detection metrics in numpy (no scikit-learn): ROC-AUC, F1, detection error rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; ties get the average rank (Mann-Whitney U statistic)."""
    y = np.asarray(labels, dtype=bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs both positive and negative frames")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(s)]])
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class DetectionScores:
    """Frame counts and rates for a binary decision against a reference."""

    precision: float
    recall: float
    f1: float
    missed: float  # missed speech / reference speech
    false_alarm: float  # false-alarm speech / reference speech
    detection_error_rate: float  # (missed + false alarm) / reference speech


def detection_scores(labels: np.ndarray, decisions: np.ndarray) -> DetectionScores:
    """Precision, recall, F1 and detection error rate of boolean frame decisions."""
    y = np.asarray(labels, dtype=bool).ravel()
    d = np.asarray(decisions, dtype=bool).ravel()
    tp = float(np.sum(y & d))
    fp = float(np.sum(~y & d))
    fn = float(np.sum(y & ~d))
    speech = max(float(y.sum()), 1.0)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return DetectionScores(
        precision=precision,
        recall=recall,
        f1=f1,
        missed=fn / speech,
        false_alarm=fp / speech,
        detection_error_rate=(fn + fp) / speech,
    )
