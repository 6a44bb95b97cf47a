"""Frame probabilities → segments: hysteresis, padding, gap filling, minimum speech, options.

Hand-made probability arrays use a hop of 0.25 s (exact in binary floating point), so expected
times can be compared exactly.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabortag.tasks.results import Segment
from gabortag.tasks.vad.decode import VadOptions, hysteresis, runs, segments_from_scores

HOP = 0.25
RAW = VadOptions(onset=0.5, offset=0.35, min_speech=0.0, min_silence=0.0, pad=0.0)


def spans(probs: list[float], options: VadOptions = RAW, duration: float | None = None) -> list:
    """Segments of ``probs`` (hop 0.25 s) as ``(start, end)`` tuples."""
    if duration is None:
        duration = len(probs) * HOP
    segs = segments_from_scores(np.array(probs, np.float32), HOP, duration, options)
    return [(s.start, s.end) for s in segs]


# --------------------------------------------------------------------------- hysteresis


def test_runs() -> None:
    assert runs(np.array([], bool)) == []
    assert runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]
    assert runs(np.array([1, 1], bool)) == [(0, 2)]


def test_onset_starts_and_offset_keeps_speech() -> None:
    probs = [0.1, 0.4, 0.6, 0.45, 0.4, 0.2, 0.45, 0.6, 0.2]
    decided = hysteresis(np.array(probs), onset=0.5, offset=0.35)
    # Speech starts at the first frame >= onset (not earlier frames of the run above offset)
    # and lasts while frames stay >= offset.
    assert decided.tolist() == [False, False, True, True, True, False, False, True, False]
    assert spans(probs) == [(0.5, 1.25), (1.75, 2.0)]


def test_thresholds_are_inclusive() -> None:
    # A frame equal to onset starts speech, a frame equal to offset keeps it.
    assert hysteresis(np.array([0.5, 0.35, 0.3]), 0.5, 0.35).tolist() == [True, True, False]


def test_dip_below_offset_ends_a_segment() -> None:
    # Without a new onset after the dip, speech does not resume.
    probs = [0.9, 0.9, 0.3, 0.45, 0.45]
    assert spans(probs) == [(0.0, 0.5)]
    # With a new onset after the dip, a second segment starts there.
    probs = [0.9, 0.9, 0.3, 0.45, 0.8, 0.4]
    assert spans(probs) == [(0.0, 0.5), (1.0, 1.5)]


def test_values_between_offset_and_onset_do_not_start_speech() -> None:
    assert spans([0.4, 0.45, 0.49, 0.4, 0.36]) == []
    assert not hysteresis(np.full(100, 0.49), 0.5, 0.35).any()


def test_no_frames_or_no_speech() -> None:
    assert spans([]) == []
    assert spans([0.0] * 10) == []


def test_offset_equal_to_onset_is_a_single_threshold() -> None:
    options = VadOptions(onset=0.5, offset=0.5, min_speech=0.0, min_silence=0.0)
    assert spans([0.6, 0.49, 0.5, 0.1], options) == [(0.0, 0.25), (0.5, 0.75)]


# --------------------------------------------------------------------------- padding


def test_padding_widens_both_sides() -> None:
    options = VadOptions(min_speech=0.0, min_silence=0.0, pad=0.125)
    assert spans([0.0, 0.9, 0.0, 0.0], options) == [(0.125, 0.625)]


def test_padding_is_clipped_to_zero_and_duration() -> None:
    options = VadOptions(min_speech=0.0, min_silence=0.0, pad=1.0)
    # [0, 1.25] and [0.25, 1.5] once padded and clipped: they overlap, so they merge.
    assert spans([0.9, 0.0, 0.0, 0.0, 0.0, 0.9], options) == [(0.0, 1.5)]
    options = VadOptions(min_speech=0.0, min_silence=0.0, pad=0.5)
    probs = [0.9] + [0.0] * 10 + [0.9]
    assert spans(probs, options) == [(0.0, 0.75), (2.25, 3.0)]


def test_segments_are_clipped_to_a_duration_shorter_than_the_frames() -> None:
    # The last frame reaches past the end of the audio (its samples are zero padding).
    assert spans([0.0, 0.9, 0.9], duration=0.6) == [(0.25, 0.6)]
    options = VadOptions(min_speech=0.0, min_silence=0.0, pad=0.5)
    assert spans([0.0, 0.9, 0.9], options, duration=0.6) == [(0.0, 0.6)]
    # A segment entirely past the end disappears.
    assert spans([0.0, 0.0, 0.0, 0.9], duration=0.7) == []


def test_rounding_does_not_push_an_end_past_the_duration() -> None:
    # 384 samples at 11025 Hz: 0.0348299... s, which rounds up at the microsecond.
    duration = 384 / 11025
    segs = segments_from_scores(np.array([0.9, 0.9], np.float32), 0.02, duration, RAW)
    assert segs == [Segment(0.0, duration)]


# --------------------------------------------------------------------------- gaps and min_speech


@pytest.mark.parametrize(
    ("min_silence", "expected"),
    [
        (0.0, [(0.25, 0.5), (1.25, 1.5)]),
        (0.75, [(0.25, 0.5), (1.25, 1.5)]),  # gap 0.75 s is not shorter than min_silence
        (0.76, [(0.25, 1.5)]),  # gap shorter than min_silence is filled
        (2.0, [(0.25, 1.5)]),
    ],
)
def test_gap_filling(min_silence: float, expected: list) -> None:
    probs = [0.0, 0.9, 0.0, 0.0, 0.0, 0.9, 0.0]
    options = VadOptions(min_speech=0.0, min_silence=min_silence)
    assert spans(probs, options) == expected


def test_padding_then_gap_filling() -> None:
    # Gap of 1 s between frames; a pad of 0.25 s on each side leaves 0.5 s of silence.
    probs = [0.9, 0.0, 0.0, 0.0, 0.0, 0.9]
    assert spans(probs, VadOptions(min_speech=0, min_silence=0.5, pad=0.25)) == [
        (0.0, 0.5),
        (1.0, 1.5),
    ]
    assert spans(probs, VadOptions(min_speech=0, min_silence=0.51, pad=0.25)) == [(0.0, 1.5)]


@pytest.mark.parametrize(
    ("min_speech", "expected"),
    [
        (0.0, [(0.25, 0.5), (1.0, 1.75)]),
        (0.25, [(0.25, 0.5), (1.0, 1.75)]),  # exactly min_speech long is kept
        (0.26, [(1.0, 1.75)]),
        (0.75, [(1.0, 1.75)]),
        (0.8, []),
    ],
)
def test_min_speech_drops_short_segments(min_speech: float, expected: list) -> None:
    probs = [0.0, 0.9, 0.0, 0.0, 0.9, 0.9, 0.9, 0.0]
    options = VadOptions(min_speech=min_speech, min_silence=0.0)
    assert spans(probs, options) == expected


def test_min_speech_applies_after_gap_filling() -> None:
    # Two 0.25 s bursts 0.25 s apart: each too short alone, kept once merged (0.75 s).
    probs = [0.9, 0.0, 0.9]
    assert spans(probs, VadOptions(min_speech=0.5, min_silence=0.0)) == []
    assert spans(probs, VadOptions(min_speech=0.5, min_silence=0.3)) == [(0.0, 0.75)]


def test_returns_segments() -> None:
    segs = segments_from_scores(np.array([0.9, 0.9]), 0.02, 0.04, RAW)
    assert segs == [Segment(0.0, 0.04)]
    assert segs[0].duration == pytest.approx(0.04)


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"onset": 0.3, "offset": 0.5}, ["offset", "onset", "0.5", "0.3"]),
        ({"onset": 1.5}, ["onset", "[0, 1]", "1.5"]),
        ({"onset": -0.1, "offset": -0.2}, ["onset", "[0, 1]"]),
        ({"offset": -0.1}, ["offset", "[0, 1]", "-0.1"]),
        ({"onset": math.nan}, ["onset", "nan"]),
        ({"min_speech": -0.1}, ["min_speech", ">= 0", "-0.1"]),
        ({"min_silence": -1.0}, ["min_silence", ">= 0"]),
        ({"pad": -0.01}, ["pad", ">= 0", "-0.01"]),
        ({"min_speech": math.nan}, ["min_speech", "nan"]),
        ({"pad": math.nan}, ["pad", "nan"]),
    ],
)
def test_invalid_options(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        VadOptions(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_overrides_are_validated_and_none_keeps() -> None:
    base = VadOptions()
    assert base.with_overrides(onset=None, pad=None) == base
    assert base.with_overrides(onset=0.7, pad=0.1) == VadOptions(onset=0.7, pad=0.1)
    with pytest.raises(ValueError, match="offset"):
        base.with_overrides(offset=0.9)
    with pytest.raises(ValueError, match="pad"):
        base.with_overrides(pad=-1.0)


def test_dict_round_trip_ignores_unknown_keys() -> None:
    opts = VadOptions(onset=0.6, offset=0.4, min_speech=0.2, min_silence=0.3, pad=0.05)
    assert VadOptions.from_dict(opts.to_dict()) == opts
    assert VadOptions.from_dict({"onset": "0.6", "window": 3}) == VadOptions(onset=0.6)


# --------------------------------------------------------------------------- properties


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, float, float, VadOptions]:
    n = draw(st.integers(0, 120))
    probs = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)), np.float32)
    hop = draw(st.sampled_from([0.01, 0.02, 0.032, 0.1, 0.25]))
    # The audio ends inside the last frame (or, rarely, anywhere).
    if draw(st.booleans()) and n:
        duration = (n - draw(st.floats(0.0, 0.999))) * hop
    else:
        duration = draw(st.floats(0.0, 15.0))
    a, b = draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 1.0))
    seconds = st.floats(0.0, 1.0)
    options = VadOptions(
        onset=max(a, b),
        offset=min(a, b),
        min_speech=draw(seconds),
        min_silence=draw(seconds),
        pad=draw(seconds),
    )
    return probs, hop, duration, options


@settings(max_examples=300, deadline=None)
@given(cases())
def test_segments_are_sorted_disjoint_inside_and_long_enough(
    case: tuple[np.ndarray, float, float, VadOptions],
) -> None:
    probs, hop, duration, options = case
    segs = segments_from_scores(probs, hop, duration, options)
    tol = 1e-6  # segment times are rounded to the microsecond
    for seg in segs:
        assert 0.0 <= seg.start < seg.end <= duration + tol
        assert seg.end - seg.start >= options.min_speech - tol
    for prev, nxt in itertools.pairwise(segs):
        assert prev.end <= nxt.start


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), max_size=100), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_every_frame_above_onset_is_covered(probs: list[float], a: float, b: float) -> None:
    hop = 0.02
    options = VadOptions(onset=max(a, b), offset=min(a, b), min_speech=0, min_silence=0)
    arr = np.array(probs, np.float32)
    segs = segments_from_scores(arr, hop, len(probs) * hop, options)
    decided = hysteresis(arr, options.onset, options.offset)
    assert np.all(decided[arr >= options.onset])
    assert not np.any(decided[arr < options.offset])
    for i in np.flatnonzero(decided):
        lo, hi = i * hop, (i + 1) * hop
        assert any(s.start - 1e-6 <= lo and hi <= s.end + 1e-6 for s in segs)
