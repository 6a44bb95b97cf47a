"""The options of ``gabortag birdcalls --segments-only``: the fields of
:class:`~gabortag.tasks.birdcalls.segments.SegmentOptions` as command-line options, and their
check before any model is loaded."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any, Optional

import typer

from ..tasks.birdcalls.segment_options import SegmentOptions
from .common import flag_message, flag_of

PANEL = "Segments (with --segments-only)"

_DEFAULTS = SegmentOptions()

#: Option of each :class:`SegmentOptions` field, for messages; --min-confidence, --min-duration
#: and --min-gap are shared with typed events and go to the segmenter with --segments-only.
FLAGS = {f.name: flag_of(f.name) for f in fields(SegmentOptions)}

#: The options that only --segments-only takes.
ONLY_SEGMENTS = tuple(
    v for k, v in FLAGS.items() if k not in ("min_confidence", "min_duration", "min_gap")
)


#: Help of ``--segments-only``.
SEGMENTS_ONLY_HELP = (
    "Type-agnostic vocalisation segments (label 'vocalisation') of any songbird, placed on the "
    "band energy, kept where the model hears a vocalisation: pre-segment, label, train. "
    "--min-confidence, --min-duration and --min-gap then apply to the segments "
    f"\\[{_DEFAULTS.min_confidence:g}, {_DEFAULTS.min_duration:g} s, {_DEFAULTS.min_gap:g} s]."
)


def _option(name: str, help_text: str, metavar: str) -> Any:
    default = getattr(_DEFAULTS, name)
    return typer.Option(
        FLAGS[name],
        metavar=metavar,
        help=f"{help_text} \\[{default:g}].",
        show_default=False,
        rich_help_panel=PANEL,
    )


OptFloat = Optional[float]  # noqa: UP045
OptInt = Optional[int]  # noqa: UP045

EnergyThreshold = Annotated[
    OptFloat,
    _option(
        "threshold",
        "Energy threshold, as the fraction of the way from the recording's noise floor (0) "
        "to its loud level (1), in dB",
        "FRACTION",
    ),
]
FloorPercentile = Annotated[
    OptFloat,
    _option("floor_percentile", "Percentile of the band energy taken as the noise floor", "P"),
]
LoudPercentile = Annotated[
    OptFloat,
    _option("loud_percentile", "Percentile of the band energy taken as the loud level", "P"),
]
MinBout = Annotated[
    OptInt,
    _option(
        "min_bout",
        "Drop notes in bouts of fewer notes than this (notes less than --bout-gap apart form a "
        "bout; 0: keep all)",
        "N",
    ),
]
BoutGap = Annotated[
    OptFloat, _option("bout_gap", "Notes closer than this form one bout, seconds", "S")
]
LowFreq = Annotated[
    OptFloat, _option("low_freq", "Lower edge of the band whose energy is measured, Hz", "HZ")
]
HighFreq = Annotated[
    OptFloat, _option("high_freq", "Upper edge of the band whose energy is measured, Hz", "HZ")
]


def overrides(segments_only: bool, **given: Any) -> dict[str, Any]:
    """The :class:`SegmentOptions` fields given (``None``: not given), checked; ``ValueError``
    naming the options when a value is bad, or when an option of segments alone is given
    without ``segments_only``."""
    changes = {k: v for k, v in given.items() if v is not None}
    if not segments_only:
        alone = [FLAGS[k] for k in changes if FLAGS[k] in ONLY_SEGMENTS]
        if alone:
            raise ValueError(f"{', '.join(alone)} only apply to --segments-only")
        return {}
    try:
        _DEFAULTS.with_overrides(**changes)
    except ValueError as err:
        raise ValueError(flag_message(err)) from None
    return changes
