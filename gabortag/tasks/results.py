"""Typed results of the task commands, and their stable JSON form.

Times are in seconds from the start of the file. ``SCHEMA_VERSION`` changes only when the
JSON layout changes incompatibly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "1.0"


def _input_fields(
    path: str, duration: float, sample_rate: int, channels: int, model: str, provider: str
) -> dict[str, Any]:
    """The JSON fields every result starts with: what the input was, which model ran, and on
    which onnxruntime execution provider (left out when unknown)."""
    fields: dict[str, Any] = {
        "path": path,
        "duration": round(duration, 3),
        "sample_rate": sample_rate,
        "channels": channels,
        "model": model,
    }
    if provider:
        fields["provider"] = provider
    return fields


def _input_kwargs(d: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`_input_fields`: constructor arguments of a result."""
    return {
        "path": d["path"],
        "duration": float(d["duration"]),
        "model": d["model"],
        "sample_rate": int(d.get("sample_rate", 0)),
        "channels": int(d.get("channels", 0)),
        "provider": str(d.get("provider", "")),
    }


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


def _scores_dict(scores: FrameScores) -> dict[str, Any]:
    """JSON form of frame scores: ``{"hop": seconds, "values": [...]}``, values to 1e-4."""
    return {"hop": scores.hop_s, "values": [round(v, 4) for v in scores.values]}


def _scores_from(d: dict[str, Any] | None) -> FrameScores | None:
    """Inverse of :func:`_scores_dict` (``None`` stays ``None``)."""
    if d is None:
        return None
    return FrameScores(float(d["hop"]), tuple(float(v) for v in d["values"]))


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
        extra: more JSON fields, added last.
        provider: the onnxruntime execution provider that ran the model (such as
            ``"CPUExecutionProvider"``), ``""`` if unknown.
    """

    path: str
    duration: float
    model: str
    segments: tuple[Segment, ...]
    scores: FrameScores | None = None
    sample_rate: int = 0
    channels: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    provider: str = ""

    @property
    def speech_duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times rounded to the millisecond)."""
        out = _input_fields(
            self.path, self.duration, self.sample_rate, self.channels, self.model, self.provider
        )
        out |= {
            "speech_duration": round(self.speech_duration, 3),
            "segments": [
                {"start": round(s.start, 3), "end": round(s.end, 3)} for s in self.segments
            ],
        }
        if self.scores is not None:
            out["scores"] = _scores_dict(self.scores)
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VadResult:
        """Inverse of :meth:`to_dict` (for tests and for reading outputs back)."""
        return cls(
            segments=tuple(Segment(float(s["start"]), float(s["end"])) for s in d["segments"]),
            scores=_scores_from(d.get("scores")),
            **_input_kwargs(d),
        )


@dataclass(frozen=True)
class Event:
    """A bird call (or note) of one type.

    Attributes:
        start, end: seconds from the start of the file, ``start < end``.
        label: the call type (one of the model's labels, never ``"background"``).
        confidence: the detection score, mean call probability ``1 − p(background)`` over
            the call's frames, in ``[0, 1]`` (the type does not enter it).
        low_freq, high_freq: Hz, the band holding the central 90 % of the call's energy
            (see :func:`gabortag.tasks.birdcalls.bands.frequency_range`).
    """

    start: float
    end: float
    label: str
    confidence: float
    low_freq: float = 0.0
    high_freq: float = 0.0

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: times to the millisecond, confidence to 1e-4, frequencies to 0.1 Hz."""
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "low_freq": round(self.low_freq, 1),
            "high_freq": round(self.high_freq, 1),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(
            start=float(d["start"]),
            end=float(d["end"]),
            label=str(d["label"]),
            confidence=float(d["confidence"]),
            low_freq=float(d.get("low_freq", 0.0)),
            high_freq=float(d.get("high_freq", 0.0)),
        )


@dataclass(frozen=True)
class EventResult:
    """Typed events (bird calls) of one input.

    ``events`` are sorted by start, non-overlapping, inside ``[0, duration]``; ``scores``,
    when asked for, are the frames' call probabilities ``1 − p(background)`` (the detection
    score events are decided on); the other attributes are those of :class:`VadResult`.
    """

    path: str
    duration: float
    model: str
    events: tuple[Event, ...]
    sample_rate: int = 0
    channels: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    provider: str = ""
    scores: FrameScores | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (see :meth:`Event.to_dict` for the rounding)."""
        out = _input_fields(
            self.path, self.duration, self.sample_rate, self.channels, self.model, self.provider
        )
        out["events"] = [e.to_dict() for e in self.events]
        if self.scores is not None:
            out["scores"] = _scores_dict(self.scores)
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EventResult:
        """Inverse of :meth:`to_dict` (for tests and for reading outputs back)."""
        return cls(
            events=tuple(Event.from_dict(e) for e in d["events"]),
            scores=_scores_from(d.get("scores")),
            **_input_kwargs(d),
        )


@dataclass(frozen=True)
class SceneLabel:
    """One label reported for a window: ``score`` is its class probability in ``[0, 1]``."""

    label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (score to 1e-4)."""
        return {"label": self.label, "score": round(self.score, 4)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneLabel:
        return cls(str(d["label"]), float(d["score"]))


@dataclass(frozen=True)
class SceneWindow:
    """One analysis window: ``[start, end)`` seconds, and the labels reported for it.

    ``labels`` are sorted by score, highest first; empty when no label reached the minimum score.
    """

    start: float
    end: float
    labels: tuple[SceneLabel, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times to the millisecond)."""
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "labels": [lab.to_dict() for lab in self.labels],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneWindow:
        return cls(
            float(d["start"]),
            float(d["end"]),
            tuple(SceneLabel.from_dict(lab) for lab in d["labels"]),
        )


@dataclass(frozen=True)
class ScoredSpan:
    """A window where a label was reported: ``[start, end)`` seconds and the label's score."""

    start: float
    end: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "score": round(self.score, 4),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoredSpan:
        return cls(float(d["start"]), float(d["end"]), float(d["score"]))


@dataclass(frozen=True)
class LabelSummary:
    """What one label amounts to over a file.

    Attributes:
        label: the label.
        duration: seconds covered by the windows where it is reported: the length of their
            union, so overlapping windows count once.
        windows: how many windows report it.
        best: its strongest windows, highest score first (ties: earliest first).
        score: its file score, in ``[0, 1]``: its scores in every window of the file averaged
            with weights equal to the windows' lengths (what ``gabortag eval scenes`` ranks).
    """

    label: str
    duration: float
    windows: int
    best: tuple[ScoredSpan, ...]
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "duration": round(self.duration, 3),
            "windows": self.windows,
            "best": [s.to_dict() for s in self.best],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabelSummary:
        return cls(
            label=str(d["label"]),
            duration=float(d["duration"]),
            windows=int(d["windows"]),
            best=tuple(ScoredSpan.from_dict(s) for s in d["best"]),
            score=float(d.get("score", 0.0)),
        )


@dataclass(frozen=True)
class SceneResult:
    """Sound-scene labels over time of one input.

    Attributes:
        path, duration, model, sample_rate, channels, provider, extra: as for
            :class:`VadResult`.
        window, hop: seconds of one analysis window and between window starts.
        windows: every analysis window, sorted by start (see :mod:`gabortag.tasks.scenes.api`).
        summary: one entry per label reported anywhere in the file, highest file score first
            (ties: longest duration, then by name).
        top: the file's label and its file score: the highest of the windows' scores
            averaged with weights equal to the windows' lengths, among the labels considered,
            as ``gabortag eval scenes`` predicts a clip's label; ``None`` without any window.
    """

    path: str
    duration: float
    model: str
    window: float
    hop: float
    windows: tuple[SceneWindow, ...]
    summary: tuple[LabelSummary, ...]
    sample_rate: int = 0
    channels: int = 0
    provider: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    top: SceneLabel | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels present in the file (reported for at least one window), as in
        :attr:`summary`."""
        return tuple(s.label for s in self.summary)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: times to the millisecond, scores to 1e-4."""
        out = _input_fields(
            self.path, self.duration, self.sample_rate, self.channels, self.model, self.provider
        )
        out |= {
            "window": round(self.window, 6),
            "hop": round(self.hop, 6),
            "top": None if self.top is None else self.top.to_dict(),
            "summary": [s.to_dict() for s in self.summary],
            "windows": [w.to_dict() for w in self.windows],
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneResult:
        """Inverse of :meth:`to_dict` (for tests and for reading outputs back)."""
        return cls(
            window=float(d["window"]),
            hop=float(d["hop"]),
            windows=tuple(SceneWindow.from_dict(w) for w in d["windows"]),
            summary=tuple(LabelSummary.from_dict(s) for s in d["summary"]),
            top=None if d.get("top") is None else SceneLabel.from_dict(d["top"]),
            **_input_kwargs(d),
        )
