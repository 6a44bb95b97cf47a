"""Scoring decoded events (bird notes, calls) against annotations (numpy only).

- **frame error rate**: fraction of 10 ms frames whose most probable class (background or a
  type) differs from the reference class at the frame centre;
- **note-type accuracy**: for each annotated note, the type with the highest mean probability
  over the note's frames (background excluded) against the true type: classification of
  segmented notes;
- **note error rate**: Levenshtein distance between the decoded and the true type sequences of
  each file, summed, over the number of true notes (TweetyNet's syllable error rate);
- **onset/offset error**: each true note is matched to the decoded event overlapping it most;
  median absolute onset and offset differences in ms over matched notes;
- **per-type precision and recall**: decoded events are matched one-to-one to true notes of
  the *same type* that they overlap (by more than 0 s), greedily by overlap: all such pairs of
  a file, largest overlap first (ties: earlier true note, then earlier event), are taken
  whenever neither member is taken yet. For each type, precision = matched events / decoded
  events of that type, recall = matched notes / true notes of that type (NaN when the
  denominator is 0), pooled over files;
- **segmentation** (type-agnostic): a decoded event matches a true note when its onset and
  its offset are both within ``tolerance`` (20 ms by default) of the note's; pairs are taken
  one-to-one, greedily by the summed boundary error (smallest first; ties: earlier true note,
  then earlier event); precision = matched / decoded events, recall = matched / true notes,
  F1 = 2 · matched / (true + decoded), pooled over files. Types play no part, so it scores
  a segmenter, or a model on a bird whose note types it does not know.

**Labels the model lacks.** A true note whose label is not one of the model's call types is
*untyped*: it takes part in the type-agnostic scores (segmentation, onset/offset errors) and
is left out of the typed ones, with what it holds: its frames are not counted in the frame
error rate, it is not classified, and decoded events whose midpoint lies inside it are left
out of the note error rate and of the per-type counts (they are not insertions). Their
counts per label are reported (``untyped_notes``).

:func:`evaluate_bird_files` runs a model over audio files and scores them against an
annotation table, with the events ``gabortag birdcalls`` would write.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..vad.evaluate import FileFailure, keyed_by_stem, reference_id, score_file

if TYPE_CHECKING:
    from ...inference import Model
    from .decode import EventOptions

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


def frame_mask(spans: Sequence[Span], n_frames: int, hop_s: float) -> np.ndarray:
    """``(n_frames,)`` bool: the frame's centre lies inside one of ``spans`` (any label)."""
    centres = (np.arange(n_frames) + 0.5) * hop_s
    out = np.zeros(n_frames, dtype=bool)
    for on, off, _ in spans:
        out[(centres >= on) & (centres < off)] = True
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


def _one_to_one(pairs: list[tuple[float, int, int]]) -> list[tuple[int, int]]:
    """Greedy one-to-one choice among ``(cost, true index, decoded index)`` candidates: lowest
    cost first (ties: lower true index, then lower decoded index), a pair taken whenever
    neither member is taken yet; returns the sorted ``(true, decoded)`` pairs."""
    pairs.sort()
    used_t: set[int] = set()
    used_d: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_t and j not in used_d:
            used_t.add(i)
            used_d.add(j)
            out.append((i, j))
    return sorted(out)


def typed_matches(truth: Sequence[Span], decoded: Sequence[Span]) -> list[tuple[int, int]]:
    """One-to-one ``(true index, decoded index)`` pairs of the same label that overlap, chosen
    greedily by overlap (largest first; ties: lower true index, then lower decoded index)."""
    pairs: list[tuple[float, int, int]] = []
    if not truth or not decoded:
        return []
    starts = np.array([d[0] for d in decoded])
    ends = np.array([d[1] for d in decoded])
    kinds = np.array([d[2] for d in decoded], dtype=object)
    for i, (on, off, label) in enumerate(truth):
        overlap = np.minimum(ends, off) - np.maximum(starts, on)
        for k in np.flatnonzero((overlap > 0) & (kinds == label)):
            pairs.append((-float(overlap[k]), i, int(k)))
    return _one_to_one(pairs)


#: Default onset and offset tolerance of the segmentation score, seconds.
SEGMENT_TOLERANCE_S = 0.02


def segment_matches(
    truth: Sequence[Span], decoded: Sequence[Span], tolerance: float = SEGMENT_TOLERANCE_S
) -> list[tuple[int, int]]:
    """One-to-one ``(true index, decoded index)`` pairs whose onsets and offsets both differ
    by at most ``tolerance`` seconds, labels ignored, chosen greedily by the summed boundary
    error (smallest first; ties: lower true index, then lower decoded index)."""
    if not truth or not decoded:
        return []
    starts = np.array([d[0] for d in decoded])
    ends = np.array([d[1] for d in decoded])
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    slack = tolerance + 1e-9
    pairs: list[tuple[float, int, int]] = []
    for i, (on, off, _) in enumerate(truth):
        lo = np.searchsorted(sorted_starts, on - slack, side="left")
        hi = np.searchsorted(sorted_starts, on + slack, side="right")
        for k in order[lo:hi]:
            d_on, d_off = abs(starts[k] - on), abs(ends[k] - off)
            if d_off <= slack:
                pairs.append((float(d_on + d_off), i, int(k)))
    return _one_to_one(pairs)


class _MatchRates:
    """Precision, recall and F1 of a dataclass with ``true_notes``, ``decoded_events`` and
    ``matched``."""

    true_notes: int
    decoded_events: int
    matched: int

    @property
    def precision(self) -> float:
        """Matched / decoded events (NaN when none was decoded)."""
        return self.matched / self.decoded_events if self.decoded_events else math.nan

    @property
    def recall(self) -> float:
        """Matched / true notes (NaN when none is annotated)."""
        return self.matched / self.true_notes if self.true_notes else math.nan

    @property
    def f1(self) -> float:
        """``2 · matched / (true + decoded)`` (NaN when both are 0)."""
        total = self.true_notes + self.decoded_events
        return 2 * self.matched / total if total else math.nan

    def counts(self, digits: int = 4) -> dict[str, Any]:
        """The counts and the three rates (rounded to ``digits``), as JSON fields."""
        return {
            "true_notes": self.true_notes,
            "decoded_events": self.decoded_events,
            "matched": self.matched,
            "precision": round(self.precision, digits),
            "recall": round(self.recall, digits),
            "f1": round(self.f1, digits),
        }


@dataclass(frozen=True)
class SegmentScores(_MatchRates):
    """Type-agnostic segmentation: true notes, decoded events, and the pairs matched with
    onset and offset within ``tolerance_s`` (see the module docstring)."""

    tolerance_s: float
    true_notes: int
    decoded_events: int
    matched: int

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        return {"tolerance_ms": round(self.tolerance_s * 1000, 3), **self.counts(digits)}


def inside(decoded: Sequence[Span], spans: Sequence[Span]) -> np.ndarray:
    """``(len(decoded),)`` bool: the event's midpoint lies inside one of ``spans``."""
    if not decoded or not spans:
        return np.zeros(len(decoded), dtype=bool)
    mid = np.array([(d[0] + d[1]) / 2 for d in decoded])
    ordered = sorted(spans)
    on = np.array([s[0] for s in ordered])
    reach = np.maximum.accumulate(np.array([s[1] for s in ordered]))  # furthest offset so far
    k = np.searchsorted(on, mid, side="right") - 1  # last span starting at or before mid
    out: np.ndarray = (k >= 0) & (mid < reach[np.maximum(k, 0)])
    return out


@dataclass(frozen=True)
class TypeScores(_MatchRates):
    """Detection of one type (see the module docstring for the matching): precision, recall
    and F1 among the events and notes of this type."""

    label: str
    true_notes: int
    decoded_events: int
    matched: int

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        return self.counts(digits)


@dataclass(frozen=True)
class EventEvaluation:
    """Pooled results over files; ``per_type`` in the order of the labels (background out)."""

    note_type_accuracy: float
    note_error_rate: float
    frame_error_rate: float
    onset_error_ms_median: float
    offset_error_ms_median: float
    matched_notes: int
    true_notes: int
    decoded_events: int
    per_type: tuple[TypeScores, ...] = ()
    segmentation: SegmentScores | None = None
    untyped_notes: tuple[tuple[str, int], ...] = ()

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "per_type":
                out[f.name] = {t.label: t.to_dict(digits) for t in v}
            elif f.name == "segmentation":
                out[f.name] = None if v is None else v.to_dict(digits)
            elif f.name == "untyped_notes":
                out[f.name] = dict(v)
            else:
                out[f.name] = round(v, digits) if isinstance(v, float) else v
        return out


def evaluate_events(
    files: Sequence[tuple[np.ndarray, Sequence[Span], Sequence[Span]]],
    labels: Sequence[str],
    hop_s: float,
    tolerance: float = SEGMENT_TOLERANCE_S,
) -> EventEvaluation:
    """``files``: (class probabilities ``(T, C)``, true notes, decoded events) per file;
    ``labels``: the ``C`` classes, background first; ``tolerance``: seconds, of the
    segmentation score. True notes with another label are untyped (module docstring);
    ``true_notes`` counts the typed ones, ``segmentation.true_notes`` all of them."""
    correct = notes = edits = wrong_frames = frames = n_decoded = 0
    seg_true = seg_dec = seg_match = 0
    onsets: list[float] = []
    offsets: list[float] = []
    types = list(labels[1:])
    known = set(types)
    n_true = dict.fromkeys(types, 0)
    n_dec = dict.fromkeys(types, 0)
    n_match = dict.fromkeys(types, 0)
    untyped: dict[str, int] = {}
    for probs, all_truth, all_decoded in files:
        all_truth = sorted(all_truth)
        all_decoded = sorted(all_decoded)
        seg_true += len(all_truth)
        seg_dec += len(all_decoded)
        seg_match += len(segment_matches(all_truth, all_decoded, tolerance))
        on, off = boundary_errors(all_truth, all_decoded)
        onsets += on
        offsets += off
        truth = [t for t in all_truth if t[2] in known]
        unknown = [t for t in all_truth if t[2] not in known]
        for t in unknown:
            untyped[t[2]] = untyped.get(t[2], 0) + 1
        out_of_scope = inside(all_decoded, unknown)
        decoded = [d for d, drop in zip(all_decoded, out_of_scope, strict=True) if not drop]
        ref = frame_classes(truth, labels, len(probs), hop_s)
        scored = ~frame_mask(unknown, len(probs), hop_s)
        wrong_frames += int(((probs.argmax(axis=1) != ref) & scored).sum())
        frames += int(scored.sum())
        if truth:
            predicted = note_types(probs, truth, labels, hop_s)
            correct += sum(p == t[2] for p, t in zip(predicted, truth, strict=True))
        notes += len(truth)
        edits += levenshtein([d[2] for d in decoded], [t[2] for t in truth])
        n_decoded += len(decoded)
        for t in truth:
            n_true[t[2]] += 1
        for d in decoded:
            n_dec[d[2]] += 1
        for i, _ in typed_matches(truth, decoded):
            n_match[truth[i][2]] += 1
    return EventEvaluation(
        note_type_accuracy=correct / max(notes, 1),
        note_error_rate=edits / max(notes, 1),
        frame_error_rate=wrong_frames / max(frames, 1),
        onset_error_ms_median=float(np.median(onsets) * 1000) if onsets else float("nan"),
        offset_error_ms_median=float(np.median(offsets) * 1000) if offsets else float("nan"),
        matched_notes=len(onsets),
        true_notes=notes,
        decoded_events=n_decoded,
        per_type=tuple(TypeScores(t, n_true[t], n_dec[t], n_match[t]) for t in types),
        segmentation=SegmentScores(tolerance, seg_true, seg_dec, seg_match),
        untyped_notes=tuple(sorted(untyped.items())),
    )


# --------------------------------------------------------------------------- audio files


@dataclass(frozen=True)
class EventFileEvaluation:
    """One file's results: its path as given, the table entry it matched, its metrics."""

    path: str
    reference_id: str
    metrics: EventEvaluation


@dataclass(frozen=True)
class EventFilesEvaluation:
    """Results of :func:`evaluate_bird_files`: pooled metrics (``None`` when no file could be
    evaluated), per-file metrics, and the inputs that could not be evaluated."""

    model: str
    options: EventOptions
    overall: EventEvaluation | None
    files: tuple[EventFileEvaluation, ...]
    failures: tuple[FileFailure, ...]
    ignored_labels: tuple[str, ...] = ()
    label_map: tuple[tuple[str, str], ...] = ()
    ignored_notes: int = 0

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        """Stable JSON form (``schema_version``; NaN written as ``null``)."""
        from ..vad.evaluate import report

        return report(
            "birdcalls",
            self,
            digits,
            protocol="gabortag/event_metrics.py",
            ignored_labels=list(self.ignored_labels),
            ignored_notes=self.ignored_notes,
            label_map=dict(self.label_map),
        )


def evaluate_bird_files(
    model: Model | str | Path,
    paths: Sequence[str | os.PathLike[str]],
    table: str | os.PathLike[str],
    *,
    options: EventOptions | None = None,
    device: str = "cpu",
    threads: int | None = None,
    ignore_labels: Sequence[str] = (),
    label_map: Mapping[str, str] | None = None,
    tolerance: float = SEGMENT_TOLERANCE_S,
    annot_format: str | None = None,
) -> EventFilesEvaluation:
    """Run a bird call model over audio files and score its events against an annotation table.

    Each file is matched to the table's entries by stem
    (:func:`gabortag.tasks.vad.evaluate.reference_id` of both the audio path and the table's file
    name). Events are those ``gabortag birdcalls`` would write (``options``, default the
    model's own); the metrics are those of the module docstring, pooled over the files.

    Args:
        model: a loaded model, a bundled name or an ``.onnx`` path (a ``birdcalls`` model).
        paths: audio files, in the order to report them.
        table: CSV ``file,onset_s,offset_s,label`` or Raven selection table naming its files,
            or any annotation file or folder of them
            (:func:`gabortag.io.annotations.read_event_annotations`).
        ignore_labels: reference labels left out of every metric: their notes are dropped,
            and so are the decoded events whose midpoint lies inside one of them.
        label_map: ``{reference label: model type}``, applied to the reference first.
        tolerance: onset and offset tolerance of the segmentation score, seconds.
        annot_format: the annotations' format (:data:`gabortag.io.labfiles.ANNOT_FORMATS`),
            ``None``: inferred.

    Returns:
        an :class:`EventFilesEvaluation`; a file with no entry in the table, or that cannot be
        read, is one of its ``failures``, and the others are evaluated. Reference labels the
        model lacks (after ``label_map``) are untyped notes (module docstring), counted per
        label in ``overall.untyped_notes``.

    Raises:
        AnnotationError: the table cannot be read, or two of its files share a stem.
        ModelError: the model cannot be loaded or is not a bird call model.
        ValueError: ``options`` name an unknown type, or ``label_map`` maps a label to
            something that is not one of the model's call types.
    """
    from ...errors import AudioError
    from ...io.annotations import read_event_annotations
    from .api import default_options, resolve_model
    from .decode import decode_events

    raw: dict[str, list[Span]] = {}
    for a in read_event_annotations(table, fmt=annot_format):
        raw.setdefault(a.file, []).append((a.onset_s, a.offset_s, a.label))
    truth: dict[str, list[Span]] = keyed_by_stem(table, raw)
    m = resolve_model(model, device, threads)
    opts = options or default_options(m)
    labels = list(m.info.labels)
    opts.check_labels(labels)
    mapping = dict(label_map or {})
    bad = sorted({v for v in mapping.values() if v not in labels[1:]})
    if bad:
        raise ValueError(
            f"label map target{'s' * (len(bad) > 1)} {', '.join(map(repr, bad))} "
            f"{'are' if len(bad) > 1 else 'is'} not among the call types of model "
            f"{m.name!r}: {', '.join(labels[1:])}"
        )
    ignored = set(ignore_labels)
    names = [os.fspath(p) for p in paths]
    files: list[EventFileEvaluation] = []
    ignored_notes = 0
    pooled: list[tuple[np.ndarray, Sequence[Span], Sequence[Span]]] = []
    failures: list[FileFailure] = []
    for name in names:
        rid = reference_id(name)
        if rid not in truth:
            failures.append(FileFailure(name, f"no reference entry: no file {rid!r} in {table}"))
            continue
        try:
            probs, info = score_file(m, name)
        except AudioError as err:
            failures.append(FileFailure(name, err.reason))
            continue
        decoded = [
            (d.start, d.end, d.label)
            for d in decode_events(probs, m.hop_seconds, info.duration, labels, opts)
        ]
        notes = [(on, off, mapping.get(lab, lab)) for on, off, lab in truth[rid]]
        dropped = [t for t in notes if t[2] in ignored]
        ignored_notes += len(dropped)
        notes = [t for t in notes if t[2] not in ignored]
        decoded = [d for d, out in zip(decoded, inside(decoded, dropped), strict=True) if not out]
        one = (probs, notes, decoded)
        pooled.append(one)
        files.append(
            EventFileEvaluation(name, rid, evaluate_events([one], labels, m.hop_seconds, tolerance))
        )
    overall = evaluate_events(pooled, labels, m.hop_seconds, tolerance) if pooled else None
    return EventFilesEvaluation(
        m.name,
        opts,
        overall,
        tuple(files),
        tuple(failures),
        tuple(sorted(ignored)),
        tuple(sorted(mapping.items())),
        ignored_notes,
    )
