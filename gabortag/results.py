"""Typed results of the task commands, and their stable JSON form.

Times are in seconds from the start of the file. ``SCHEMA_VERSION`` changes only when the
JSON layout changes incompatibly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class Segment:
    """A stretch of speech: ``start`` and ``end`` in seconds, ``start < end``."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class FrameScores:
    """Frame probabilities: frame ``i`` covers ``[i * hop_s, (i + 1) * hop_s)`` seconds."""

    hop_s: float
    values: tuple[float, ...]


@dataclass(frozen=True)
class VadResult:
    """Speech segments of one input.

    Attributes:
        path: the input as given (``"-"`` for stdin, ``"<array>"`` for an in-memory array).
        duration: seconds of audio read.
        model: name of the model that produced it.
        segments: sorted, non-overlapping, inside ``[0, duration]``.
        scores: frame probabilities when asked for, else ``None``.
        sample_rate: rate of the input file in Hz (before resampling), 0 if unknown.
        channels: channel count of the input file (before downmixing), 0 if unknown.
    """

    path: str
    duration: float
    model: str
    segments: tuple[Segment, ...]
    scores: FrameScores | None = None
    sample_rate: int = 0
    channels: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def speech_duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times rounded to the millisecond)."""
        out: dict[str, Any] = {
            "path": self.path,
            "duration": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "model": self.model,
            "speech_duration": round(self.speech_duration, 3),
            "segments": [
                {"start": round(s.start, 3), "end": round(s.end, 3)} for s in self.segments
            ],
        }
        if self.scores is not None:
            out["scores"] = {
                "hop": self.scores.hop_s,
                "values": [round(v, 4) for v in self.scores.values],
            }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VadResult:
        """Inverse of :meth:`to_dict` (for tests and for reading outputs back)."""
        scores = d.get("scores")
        return cls(
            path=d["path"],
            duration=float(d["duration"]),
            model=d["model"],
            segments=tuple(Segment(float(s["start"]), float(s["end"])) for s in d["segments"]),
            scores=None
            if scores is None
            else FrameScores(float(scores["hop"]), tuple(float(v) for v in scores["values"])),
            sample_rate=int(d.get("sample_rate", 0)),
            channels=int(d.get("channels", 0)),
        )
