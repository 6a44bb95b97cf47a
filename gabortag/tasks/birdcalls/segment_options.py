"""Options of the vocalisation segmenter (:mod:`gabortag.tasks.birdcalls.segments`), in a
module of their own that needs no numpy, so that the command line can show their defaults in
its help without importing it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ...errors import OptionError


@dataclass(frozen=True)
class SegmentOptions:
    """Options of :func:`~.segments.segment` (fractions and probabilities in ``[0, 1]``,
    percentiles in ``[0, 100]``, seconds, Hz); the rule is in :mod:`~.segments`.

    Attributes:
        threshold: where the threshold lies between the noise floor (0) and the loud
            level (1), in dB.
        floor_percentile: percentile of the envelope taken as the noise floor.
        loud_percentile: percentile of the envelope taken as the loud level (above
            ``floor_percentile``).
        min_confidence: mean call probability ``1 − p(background)`` a note needs.
        min_duration: notes shorter than this are dropped.
        min_gap: gaps shorter than this between runs above the threshold are closed.
        min_bout: notes in bouts of fewer notes than this are dropped (0 or 1: none).
        bout_gap: notes closer than this belong to one bout.
        low_freq: lower edge of the envelope's band.
        high_freq: upper edge of the envelope's band (clipped to the Nyquist frequency).

    The defaults come from a grid search for note F1 on the songs of one Bengalese finch
    (Bird0's songs numbered 0-3 mod 5; ``benchmarks/birdcalls_segments.py``), kept fixed for
    every other bird: of the grid points within one bootstrap standard error of the best F1,
    the one with the lowest ``min_confidence``, since the model's call probability is
    calibrated on that bird alone.
    """

    threshold: float = 0.2
    floor_percentile: float = 30.0
    loud_percentile: float = 99.0
    min_confidence: float = 0.3
    min_duration: float = 0.02
    min_gap: float = 0.008
    min_bout: int = 4
    bout_gap: float = 0.5
    low_freq: float = 500.0
    high_freq: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("threshold", "min_confidence"):
            _check_range(name, getattr(self, name), 0.0, 1.0, "")
        for name in ("floor_percentile", "loud_percentile"):
            _check_range(name, getattr(self, name), 0.0, 100.0, "")
        if not self.floor_percentile < self.loud_percentile:
            raise OptionError(
                "floor_percentile",
                f"{{floor_percentile}} ({self.floor_percentile:g}) must be below "
                f"{{loud_percentile}} ({self.loud_percentile:g})",
                ("loud_percentile",),
            )
        for name in ("min_duration", "min_gap", "bout_gap"):
            _check_range(name, getattr(self, name), 0.0, math.inf, " seconds")
        for name in ("low_freq", "high_freq"):
            _check_range(name, getattr(self, name), 0.0, math.inf, " Hz")
        if not self.low_freq < self.high_freq:
            raise OptionError(
                "low_freq",
                f"{{low_freq}} ({self.low_freq:g} Hz) must be below {{high_freq}} "
                f"({self.high_freq:g} Hz)",
                ("high_freq",),
            )
        bout = self.min_bout
        if isinstance(bout, bool) or not isinstance(bout, int) or bout < 0:
            raise OptionError(
                "min_bout", f"{{min_bout}} must be a whole number of notes >= 0, got {bout!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SegmentOptions:
        """Options from a dict such as :meth:`to_dict` gives (unknown keys ignored)."""
        return cls().with_overrides(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def with_overrides(self, **changes: Any) -> SegmentOptions:
        """Copy with the given fields replaced (``None`` keeps the current value);
        ``ValueError`` naming an unknown field."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(
                f"unknown segment option{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
                f"the options are: {', '.join(f.name for f in fields(self))}"
            )
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _check_range(name: str, value: object, low: float, high: float, unit: str) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and low <= value <= high and math.isfinite(value)):  # type: ignore[operator,arg-type]
        where = f">= {low:g}" if math.isinf(high) else f"within [{low:g}, {high:g}]"
        raise OptionError(name, f"{{{name}}} must be a finite number{unit} {where}, got {value!r}")
