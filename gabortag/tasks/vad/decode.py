"""Frame probabilities → speech segments: hysteresis, padding, gap filling, minimum duration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ..results import Segment


@dataclass(frozen=True)
class VadOptions:
    """Decision options (seconds and probabilities).

    A segment starts at a frame whose probability reaches ``onset`` and lasts while it stays at
    or above ``offset`` (hysteresis, ``offset <= onset``). Segments are then widened by ``pad``
    on both sides, gaps shorter than ``min_silence`` are filled, and segments shorter than
    ``min_speech`` are dropped. The bundled model stores its tuned defaults in its metadata.
    """

    onset: float = 0.5
    offset: float = 0.35
    min_speech: float = 0.1
    min_silence: float = 0.1
    pad: float = 0.0

    def __post_init__(self) -> None:
        for name in ("onset", "offset"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.offset > self.onset:
            raise ValueError(f"offset ({self.offset}) must not exceed onset ({self.onset})")
        for name in ("min_speech", "min_silence", "pad"):
            if not getattr(self, name) >= 0:  # also rejects NaN
                raise ValueError(f"{name} must be >= 0 seconds, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VadOptions:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: float(v) for k, v in d.items() if k in names})

    def with_overrides(self, **changes: float | None) -> VadOptions:
        """Copy with the given fields replaced; ``None`` values keep the current ones."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def hysteresis(probs: np.ndarray, onset: float, offset: float) -> np.ndarray:
    """Boolean frame decisions ``(T,)`` from probabilities ``(T,)`` with two thresholds.

    Speech starts at a frame ``>= onset`` and lasts while frames stay ``>= offset``: within each
    run of frames ``>= offset``, the frames from the first one ``>= onset`` to the run's end.
    """
    probs = np.asarray(probs)
    out = np.zeros(len(probs), dtype=bool)
    above_on = probs >= onset
    for start, end in runs(probs >= offset):
        hits = np.flatnonzero(above_on[start:end])
        if len(hits):
            out[start + hits[0] : end] = True
    return out


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end-exclusive) indices of each run of True in a boolean array."""
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def segments_from_scores(
    probs: np.ndarray, hop_s: float, duration: float, options: VadOptions
) -> list[Segment]:
    """Speech segments in seconds, sorted, non-overlapping, inside ``[0, duration]``.

    Args:
        probs: speech probability per frame, ``(T,)``; frame ``i`` covers
            ``[i·hop_s, (i+1)·hop_s)``.
        hop_s: frame hop in seconds.
        duration: audio duration in seconds (segments are clipped to it).
        options: thresholds and durations.
    """
    decided = hysteresis(np.asarray(probs, dtype=np.float32), options.onset, options.offset)
    spans = [
        [max(0.0, s * hop_s - options.pad), min(duration, e * hop_s + options.pad)]
        for s, e in runs(decided)
    ]
    merged: list[list[float]] = []
    for span in spans:
        if merged and span[0] - merged[-1][1] < options.min_silence:
            merged[-1][1] = max(merged[-1][1], span[1])
        else:
            merged.append(span)
    # Rounded to the microsecond, then clipped: rounding must not push an end past the duration.
    rounded = [(min(round(s, 6), duration), min(round(e, 6), duration)) for s, e in merged]
    return [Segment(s, e) for s, e in rounded if e > s and e - s >= options.min_speech]
