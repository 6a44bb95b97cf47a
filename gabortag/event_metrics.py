"""Scoring decoded events (bird notes, calls) against annotations (numpy only).

- **frame error rate**: fraction of 10 ms frames whose most probable class (background or a
  type) differs from the reference class at the frame centre;
- **note-type accuracy**: for each annotated note, the type with the highest mean probability
  over the note's frames (background excluded) against the true type: classification of
  segmented notes;
- **note error rate**: Levenshtein distance between the decoded and the true type sequences of
  each file, summed, over the number of true notes (TweetyNet's syllable error rate);
- **onset/offset error**: each true note is matched to the decoded event overlapping it most;
  median absolute onset and offset differences in ms over matched notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

Span = tuple[float, float, str]  # (onset s, offset s, label)


def levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    """Edit distance (substitutions, insertions, deletions all cost 1)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def frame_classes(
    spans: Sequence[Span], labels: Sequence[str], n_frames: int, hop_s: float
) -> np.ndarray:
    """Class index per frame (0 = background; ``labels[0]`` is background): frame centre rule."""
    index = {label: i for i, label in enumerate(labels)}
    centres = (np.arange(n_frames) + 0.5) * hop_s
    out = np.zeros(n_frames, dtype=np.int64)
    for on, off, label in spans:
        out[(centres >= on) & (centres < off)] = index[label]
    return out


def note_types(
    probs: np.ndarray, spans: Sequence[Span], labels: Sequence[str], hop_s: float
) -> list[str]:
    """Predicted type of each annotated note: argmax of the mean non-background probability."""
    out = []
    n = len(probs)
    for on, off, _ in spans:
        lo = min(int(on / hop_s), n - 1)
        hi = max(lo + 1, min(int(np.ceil(off / hop_s)), n))
        out.append(labels[1 + int(probs[lo:hi, 1:].mean(axis=0).argmax())])
    return out


def boundary_errors(
    truth: Sequence[Span], decoded: Sequence[Span]
) -> tuple[list[float], list[float]]:
    """|onset| and |offset| differences (s) of each true note and its most-overlapping event."""
    onsets: list[float] = []
    offsets: list[float] = []
    if not decoded:
        return onsets, offsets
    starts = np.array([d[0] for d in decoded])
    ends = np.array([d[1] for d in decoded])
    for on, off, _ in truth:
        overlap = np.minimum(ends, off) - np.maximum(starts, on)
        k = int(overlap.argmax())
        if overlap[k] > 0:
            onsets.append(abs(starts[k] - on))
            offsets.append(abs(ends[k] - off))
    return onsets, offsets


@dataclass(frozen=True)
class EventEvaluation:
    """Pooled results over files."""

    note_type_accuracy: float
    note_error_rate: float
    frame_error_rate: float
    onset_error_ms_median: float
    offset_error_ms_median: float
    matched_notes: int
    true_notes: int
    decoded_events: int

    def to_dict(self, digits: int = 4) -> dict[str, float | int]:
        return {
            k: (round(v, digits) if isinstance(v, float) else v) for k, v in asdict(self).items()
        }


def evaluate_events(
    files: Sequence[tuple[np.ndarray, Sequence[Span], Sequence[Span]]],
    labels: Sequence[str],
    hop_s: float,
) -> EventEvaluation:
    """``files``: (class probabilities ``(T, C)``, true notes, decoded events) per file."""
    correct = notes = edits = wrong_frames = frames = n_decoded = 0
    onsets: list[float] = []
    offsets: list[float] = []
    for probs, truth, decoded in files:
        truth = sorted(truth)
        decoded = sorted(decoded)
        ref = frame_classes(truth, labels, len(probs), hop_s)
        wrong_frames += int((probs.argmax(axis=1) != ref).sum())
        frames += len(ref)
        if truth:
            predicted = note_types(probs, truth, labels, hop_s)
            correct += sum(p == t[2] for p, t in zip(predicted, truth, strict=True))
        notes += len(truth)
        edits += levenshtein([d[2] for d in decoded], [t[2] for t in truth])
        n_decoded += len(decoded)
        on, off = boundary_errors(truth, decoded)
        onsets += on
        offsets += off
    return EventEvaluation(
        note_type_accuracy=correct / max(notes, 1),
        note_error_rate=edits / max(notes, 1),
        frame_error_rate=wrong_frames / max(frames, 1),
        onset_error_ms_median=float(np.median(onsets) * 1000) if onsets else float("nan"),
        offset_error_ms_median=float(np.median(offsets) * 1000) if offsets else float("nan"),
        matched_notes=len(onsets),
        true_notes=notes,
        decoded_events=n_decoded,
    )
