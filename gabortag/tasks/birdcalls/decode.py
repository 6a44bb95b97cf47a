"""Frame probabilities over {background, type 1..N} → typed events (bird calls, notes).

Decoding rule
-------------
Input: ``probs (T, C)``, one probability distribution per frame (frame ``t`` covers
``[t·hop, (t+1)·hop)`` seconds), class 0 = background, classes ``1..C-1`` = call types.

1. **Call frames.** A frame is a *call frame* when its call probability
   ``1 − p_background`` is at least ``min_confidence`` (types are pooled, so a call whose type
   is uncertain is still found).
2. **Regions.** Runs of call frames separated by fewer than ``min_gap`` seconds of other frames
   are joined into one region (the gap frames take no part in what follows).
3. **Type runs.** Each call frame's type is its most probable non-background class. Within a
   region, consecutive call frames of the same type form a *type run* (bridged gap frames are
   skipped); a run of at least ``min_duration`` seconds of call frames is *stable*.
4. **Splits.** A region is split before every stable type run whose type differs from the type
   of the previous stable run of that region, so that consecutive notes of different types
   are separate events even with no gap between them. Short (unstable) runs never split: they
   stay in the piece they fall in (runs before a region's first stable run join its first
   piece).
5. **Events.** Each piece runs from its first to its last call frame:
   ``[first·hop, (last+1)·hop)``, rounded to the microsecond and clipped to ``duration``.
   Pieces shorter than ``min_duration`` (or empty after clipping) are dropped.
6. **Type and confidence.** Detection comes first, the type afterwards: the event's
   confidence is its *detection score*, the mean call probability ``1 − p_background`` over
   the piece's call frames, so a note whose probability is spread over several types is as
   confident as one of a single clear type. Its label is the type with the highest mean
   probability over the same frames. An event is kept when its detection score reaches
   ``thresholds.get(label, min_confidence)``. Every call frame reaches ``min_confidence``, so
   the mean does too: only a per-type threshold above ``min_confidence`` removes events (one
   below it has no effect).

**Segments only** (``segments_only=True``): steps 3-4 are skipped, so each region is one
event, labelled :data:`SEGMENT_LABEL` whatever its types; its confidence is the detection
score, and it is kept when that reaches ``min_confidence`` (per-type thresholds do not
apply). These are the model's own regions, at its frame resolution; ``gabortag birdcalls
--segments-only`` places a bird's notes more exactly with the energy envelope and uses the
model only to decide which to keep (:mod:`gabortag.tasks.birdcalls.segments`).

Everything is vectorised (no Python loop over frames or runs; one over the kept events builds
the result list), and only the call frames' probabilities are needed, so a long file can be
decoded from the call frames kept while streaming (:func:`call_frames`, then
:func:`decode_call_frames`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

#: Label of class 0 of every event model.
BACKGROUND = "background"

#: Label of every event decoded with ``segments_only``: a vocalisation of any type.
SEGMENT_LABEL = "vocalisation"

# Durations are compared with this slack (seconds), so that 3 frames of 0.01 s are 0.03 s.
_EPS = 1e-9


@dataclass(frozen=True)
class EventOptions:
    """Decision options of :func:`decode_events` (probabilities in ``[0, 1]``, seconds).

    Attributes:
        min_confidence: call-frame threshold on ``1 − p_background``, and the detection
            score (mean ``1 − p_background``) an event needs unless its type has its own
            threshold.
        min_duration: events (and the type runs that split events) shorter than this are
            dropped (do not split).
        min_gap: gaps shorter than this between call frames are bridged.
        thresholds: per-type thresholds on the detection score, ``{label: value}``,
            replacing ``min_confidence`` for events of that type (stored read-only); a value
            below ``min_confidence`` has no effect, since every call frame reaches it.
    """

    min_confidence: float = 0.5
    min_duration: float = 0.02
    min_gap: float = 0.01
    thresholds: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_probability("min_confidence", self.min_confidence)
        for name in ("min_duration", "min_gap"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
        if not isinstance(self.thresholds, Mapping):
            raise ValueError(
                f"thresholds must be a mapping {{label: value}}, got {type(self.thresholds)}"
            )
        clean: dict[str, float] = {}
        for label, value in self.thresholds.items():
            if not isinstance(label, str) or not label:
                raise ValueError(f"threshold labels must be non-empty strings, got {label!r}")
            if label == BACKGROUND:
                raise ValueError(f"{BACKGROUND!r} is not a call type and takes no threshold")
            _check_probability(f"threshold of {label!r}", value)
            clean[label] = float(value)
        object.__setattr__(self, "thresholds", MappingProxyType(clean))

    def threshold(self, label: str) -> float:
        """Confidence an event of type ``label`` needs."""
        return self.thresholds.get(label, self.min_confidence)

    def check_labels(self, labels: Sequence[str]) -> None:
        """``ValueError`` naming the model's call types if a threshold names another label."""
        types = [lab for lab in labels if lab != BACKGROUND]
        unknown = [lab for lab in self.thresholds if lab not in types]
        if unknown:
            raise ValueError(
                f"threshold for unknown call type{'s' * (len(unknown) > 1)} "
                f"{', '.join(map(repr, unknown))}; the model's call types are: {', '.join(types)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_confidence": self.min_confidence,
            "min_duration": self.min_duration,
            "min_gap": self.min_gap,
            "thresholds": dict(self.thresholds),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EventOptions:
        """Options from a dict such as a model's ``gabortag.postprocess`` (unknown keys ignored)."""
        kwargs: dict[str, Any] = {
            k: float(d[k]) for k in ("min_confidence", "min_duration", "min_gap") if k in d
        }
        if "thresholds" in d:
            kwargs["thresholds"] = {str(k): float(v) for k, v in dict(d["thresholds"]).items()}
        return cls(**kwargs)

    def with_overrides(
        self,
        *,
        min_confidence: float | None = None,
        min_duration: float | None = None,
        min_gap: float | None = None,
        thresholds: Mapping[str, float] | None = None,
    ) -> EventOptions:
        """Copy with the given fields replaced (``None`` keeps the current value); ``thresholds``
        are merged into the current ones, a label given replacing its value."""
        changes: dict[str, Any] = {
            k: v
            for k, v in (
                ("min_confidence", min_confidence),
                ("min_duration", min_duration),
                ("min_gap", min_gap),
            )
            if v is not None
        }
        if thresholds:
            changes["thresholds"] = {**self.thresholds, **thresholds}
        return replace(self, **changes)


def _check_probability(name: str, value: object) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be within [0, 1], got {value!r}")


class Detection(NamedTuple):
    """A decoded event: seconds, type, confidence (no frequencies yet)."""

    start: float
    end: float
    label: str
    confidence: float


def _check_probs(probs: np.ndarray, labels: Sequence[str]) -> None:
    if probs.ndim != 2:
        raise ValueError(f"probs must be 2-D (frames, classes), got shape {probs.shape}")
    if probs.shape[1] != len(labels) or len(labels) < 2:
        raise ValueError(
            f"probs has {probs.shape[1]} classes but labels has {len(labels)} "
            "(background first, then at least one call type)"
        )


def call_frames(probs: np.ndarray, min_confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Step 1 of the rule: ``(indices (K,), probabilities (K, C))`` of the call frames of
    ``probs (T, C)``, those with ``1 − p_background >= min_confidence``."""
    probs = np.asarray(probs)
    idx = np.flatnonzero(1.0 - probs[:, 0] >= min_confidence)
    return idx, probs[idx]


def decode_call_frames(
    idx: np.ndarray,
    probs: np.ndarray,
    hop_s: float,
    duration: float,
    labels: Sequence[str],
    options: EventOptions,
    segments_only: bool = False,
) -> list[Detection]:
    """Steps 2-6 of the rule, given only the call frames: their sorted frame indices ``(K,)``
    and probabilities ``(K, C)``, as :func:`call_frames` returns them; ``segments_only``:
    one :data:`SEGMENT_LABEL` event per region (module docstring)."""
    idx = np.asarray(idx, dtype=np.int64)
    p = np.asarray(probs)
    _check_probs(p, labels)
    n = len(idx)
    if n == 0:
        return []
    # 2. regions: a new one where call frames are more than min_gap apart
    gap_s = (np.diff(idx) - 1) * hop_s
    new_region = np.concatenate([[True], (gap_s > 0) & (gap_s >= options.min_gap - _EPS)])
    region = np.cumsum(new_region)
    # 3. type runs (in call-frame order), their type, region and stability
    types = np.argmax(p[:, 1:], axis=1)
    new_run = new_region.copy()
    new_run[1:] |= types[1:] != types[:-1]
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_start, n))
    run_type, run_region = types[run_start], region[run_start]
    stable = np.flatnonzero(run_len * hop_s >= options.min_duration - _EPS)
    # 4. split before a stable run of another type than the previous stable run of its region
    splits = np.zeros(len(run_start), dtype=bool)
    s_type, s_region = run_type[stable], run_region[stable]
    splits[stable[1:]] = (s_region[1:] == s_region[:-1]) & (s_type[1:] != s_type[:-1])
    splits[0] = True
    splits[1:] |= run_region[1:] != run_region[:-1]
    piece_start = np.flatnonzero(new_region) if segments_only else run_start[splits]
    piece_end = np.append(piece_start[1:], n)  # exclusive, in call frames
    # 5. times, rounded to the microsecond, then clipped to the duration
    start = np.minimum(np.round(idx[piece_start] * hop_s, 6), duration)
    end = np.minimum(np.round((idx[piece_end - 1] + 1) * hop_s, 6), duration)
    # 6. mean probability of each class over the piece's call frames: the type is the best
    # call type, the confidence the detection score (mean of 1 - p_background)
    sums = np.add.reduceat(p, piece_start, axis=0, dtype=np.float64)
    means = sums / (piece_end - piece_start)[:, None]
    best = np.argmax(means[:, 1:], axis=1)
    confidence = np.clip(1.0 - means[:, 0], 0.0, 1.0)
    names = list(labels[1:])
    if segments_only:
        needed = np.full(len(best), options.min_confidence)
    else:
        needed = np.array([options.threshold(name) for name in names])[best]
    keep = (end - start >= max(options.min_duration - _EPS, 0.0)) & (end > start)
    keep &= confidence >= needed
    return [
        Detection(float(s), float(e), SEGMENT_LABEL if segments_only else names[b], float(c))
        for s, e, b, c in zip(start[keep], end[keep], best[keep], confidence[keep], strict=True)
    ]


def decode_events(
    probs: np.ndarray,
    hop_s: float,
    duration: float,
    labels: Sequence[str],
    options: EventOptions | None = None,
    segments_only: bool = False,
) -> list[Detection]:
    """Typed events (or, ``segments_only``, type-agnostic segments) from frame probabilities,
    by the rule in this module's docstring.

    Args:
        probs: ``(T, C)`` probabilities; frame ``t`` covers ``[t·hop_s, (t+1)·hop_s)`` s.
        hop_s: frame hop in seconds.
        duration: audio duration in seconds (events are clipped to it).
        labels: the ``C`` class names, ``labels[0]`` the background.
        options: thresholds and durations (``None``: the defaults).

    Returns:
        :class:`Detection` ``(start, end, label, confidence)`` tuples, sorted, non-overlapping,
        inside ``[0, duration]``.

    Raises:
        ValueError: ``probs`` is not ``(T, len(labels))``, or a threshold names an unknown type.
    """
    opts = options or EventOptions()
    opts.check_labels(labels)
    p = np.asarray(probs)
    _check_probs(p, labels)
    idx, p_calls = call_frames(p, opts.min_confidence)
    return decode_call_frames(idx, p_calls, hop_s, duration, labels, opts, segments_only)
