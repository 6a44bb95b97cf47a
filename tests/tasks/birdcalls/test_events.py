"""Decoding typed events from synthetic frame probabilities (gabortag.tasks.birdcalls.decode)."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabortag.tasks.birdcalls.decode import (
    Detection,
    EventOptions,
    call_frames,
    decode_call_frames,
    decode_events,
)

HOP = 0.01
LABELS = ["background", "A", "B", "C"]


def frames(pattern: str, p_type: float = 0.8, p_bg_call: float = 0.1) -> np.ndarray:
    """Probabilities ``(len(pattern), 4)``: ``.`` is background (p 0.9), a letter is that type
    with probability ``p_type`` and background ``p_bg_call``; the rest is shared evenly."""
    out = np.zeros((len(pattern), len(LABELS)))
    for t, ch in enumerate(pattern):
        k = 0 if ch == "." else LABELS.index(ch)
        main, bg = (0.9, 0.9) if k == 0 else (p_type, p_bg_call)
        out[t] = (1.0 - main - (bg if k else 0.0)) / (len(LABELS) - 1 - (k > 0))
        out[t, 0] = bg
        out[t, k] = main
    assert np.allclose(out.sum(axis=1), 1.0)
    return out


def decode(pattern: str, **options: object) -> list[tuple[float, float, str]]:
    probs = frames(pattern)
    events = decode_events(probs, HOP, len(pattern) * HOP, LABELS, EventOptions(**options))  # type: ignore[arg-type]
    return [(round(e.start, 6), round(e.end, 6), e.label) for e in events]


# --------------------------------------------------------------------------- the rule


def test_background_only_gives_nothing() -> None:
    assert decode("..........") == []
    assert decode("") == []


def test_one_call_with_its_confidence() -> None:
    (event,) = decode_events(frames("....AAAAA...."), HOP, 0.13, LABELS)
    assert isinstance(event, Detection)
    assert (event.start, event.end, event.label) == (0.04, 0.09, "A")
    assert event.confidence == pytest.approx(0.9)  # the detection score, 1 - p(background)


def test_gaps_shorter_than_min_gap_are_bridged() -> None:
    assert decode("AAAA.AAAA", min_gap=0.02) == [(0.0, 0.09, "A")]
    # a one-frame gap lasts 0.01 s, which is not shorter than min_gap = 0.01
    assert decode("AAAA.AAAA", min_gap=0.01) == [(0.0, 0.04, "A"), (0.05, 0.09, "A")]
    assert decode("AAAA..AAAA", min_gap=0.0) == [(0.0, 0.04, "A"), (0.06, 0.1, "A")]
    assert decode("AAAA...AAAA", min_gap=0.03) == [(0.0, 0.04, "A"), (0.07, 0.11, "A")]


def test_events_shorter_than_min_duration_are_dropped() -> None:
    assert decode("AA......AAAAA", min_duration=0.03) == [(0.08, 0.13, "A")]
    assert decode("AA......AAAAA", min_duration=0.02) == [(0.0, 0.02, "A"), (0.08, 0.13, "A")]
    assert decode("A.A", min_duration=0.0, min_gap=0.0) == [(0.0, 0.01, "A"), (0.02, 0.03, "A")]


def test_a_type_change_without_gap_splits_the_call() -> None:
    assert decode("AAAABBBB") == [(0.0, 0.04, "A"), (0.04, 0.08, "B")]
    assert decode("..AAABBBCCC..") == [
        (0.02, 0.05, "A"),
        (0.05, 0.08, "B"),
        (0.08, 0.11, "C"),
    ]


def test_a_short_type_blip_does_not_split() -> None:
    assert decode("AAAABAAAA", min_duration=0.02) == [(0.0, 0.09, "A")]
    assert decode("BAAAA", min_duration=0.02) == [(0.0, 0.05, "A")]  # leading blip joins
    # with min_duration 0 every change is stable: the blip is its own (kept) event
    assert decode("AAAABAAAA", min_duration=0.0) == [
        (0.0, 0.04, "A"),
        (0.04, 0.05, "B"),
        (0.05, 0.09, "A"),
    ]
    # a blip of two frames is stable at min_duration 0.02
    assert decode("AAAABBAAAA", min_duration=0.02) == [
        (0.0, 0.04, "A"),
        (0.04, 0.06, "B"),
        (0.06, 0.1, "A"),
    ]


def test_different_types_across_a_bridged_gap_are_separate_and_exclude_the_gap() -> None:
    assert decode("AAAA.BBBB", min_gap=0.05) == [(0.0, 0.04, "A"), (0.05, 0.09, "B")]
    # the same type across a bridged gap holding a blip of another type stays one call
    assert decode("AAAA.B.AAAA", min_gap=0.02, min_duration=0.02) == [(0.0, 0.11, "A")]


def test_min_confidence_is_the_call_frame_threshold_and_the_default_threshold() -> None:
    probs = frames("..AAAA..", p_type=0.6, p_bg_call=0.1)  # call prob 0.9, type prob 0.6
    assert len(decode_events(probs, HOP, 0.08, LABELS, EventOptions(min_confidence=0.5))) == 1
    # the type's probability does not decide detection: 0.6 < 0.7 but the call prob is 0.9
    assert len(decode_events(probs, HOP, 0.08, LABELS, EventOptions(min_confidence=0.7))) == 1
    assert decode_events(probs, HOP, 0.08, LABELS, EventOptions(min_confidence=0.95)) == []
    weak = frames("..AAAA..", p_type=0.3, p_bg_call=0.65)  # call prob 0.35: no call frames
    assert decode_events(weak, HOP, 0.08, LABELS, EventOptions(min_confidence=0.4)) == []
    (event,) = decode_events(weak, HOP, 0.08, LABELS, EventOptions(min_confidence=0.25))
    assert event.label == "A" and event.confidence == pytest.approx(0.35)


def test_a_note_spread_over_types_is_detected_with_its_detection_score() -> None:
    """Detection on 1 - p(background), type afterwards: a note whose probability is shared by
    three types (none above 0.35) is a confident call; its type is the best mean type."""
    probs = np.array(
        [[0.9, 0.04, 0.03, 0.03]] * 3
        + [[0.04, 0.34, 0.32, 0.30]] * 8
        + [[0.9, 0.04, 0.03, 0.03]] * 3
    )
    (event,) = decode_events(probs, HOP, 0.14, LABELS, EventOptions(min_confidence=0.5))
    assert (event.start, event.end, event.label) == (0.03, 0.11, "A")
    assert event.confidence == pytest.approx(0.96)


def test_call_types_are_pooled_to_find_a_call() -> None:
    """Background is the single most probable class, yet the frames are calls (0.6 > 0.5)."""
    probs = np.tile([0.4, 0.35, 0.2, 0.05], (6, 1))
    (event,) = decode_events(probs, HOP, 0.06, LABELS)  # type probability 0.35 < 0.5
    assert (event.start, event.end, event.label) == (0.0, 0.06, "A")
    assert event.confidence == pytest.approx(0.6)
    assert decode_events(probs, HOP, 0.06, LABELS, EventOptions(thresholds={"A": 0.65})) == []


def test_per_type_thresholds() -> None:
    # detection scores: A 0.7 (background 0.3), B 0.9 (background 0.1)
    probs = np.concatenate(
        [frames("AAAA..", p_type=0.6, p_bg_call=0.3), frames("BBBB..", p_type=0.85)]
    )
    everything = decode_events(probs, HOP, 0.12, LABELS)
    assert [e.label for e in everything] == ["A", "B"]
    strict_a = EventOptions(thresholds={"A": 0.75})
    assert [e.label for e in decode_events(probs, HOP, 0.12, LABELS, strict_a)] == ["B"]
    # a threshold below min_confidence has no effect: A's frames are not call frames
    lenient_a = EventOptions(min_confidence=0.8, thresholds={"A": 0.55})
    assert [e.label for e in decode_events(probs, HOP, 0.12, LABELS, lenient_a)] == ["B"]
    strict_b = EventOptions(min_confidence=0.6, thresholds={"B": 0.95})
    assert [e.label for e in decode_events(probs, HOP, 0.12, LABELS, strict_b)] == ["A"]


def test_label_is_the_best_mean_type_over_the_event() -> None:
    # all frames say A first, but B has the higher mean: frames A .5/B .4 and A .1/B .8
    probs = np.array([[0.1, 0.5, 0.4, 0.0]] * 3 + [[0.1, 0.1, 0.8, 0.0]] * 1)
    opts = EventOptions(min_confidence=0.3, min_duration=0.02)
    (event,) = decode_events(probs, HOP, 0.04, LABELS, opts)
    assert event.label == "B" and event.confidence == pytest.approx(0.9)


def test_events_are_clipped_to_the_duration() -> None:
    assert decode_events(frames("AAAAAAAAAA"), HOP, 0.095, LABELS)[0].end == 0.095
    assert decode_events(frames("..AAAA"), HOP, 0.015, LABELS) == []  # starts after the end


def test_decoding_from_streamed_call_frames_equals_whole_array() -> None:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet([0.3] * 4, size=3000).repeat(3, axis=0)
    opts = EventOptions(min_confidence=0.4, min_duration=0.03, min_gap=0.02)
    whole = decode_events(probs, HOP, len(probs) * HOP, LABELS, opts)
    assert len(whole) > 50
    idx_parts, p_parts, offset = [], [], 0
    for chunk in np.array_split(probs, [7, 100, 2500, 2501, 6000]):
        idx, p = call_frames(chunk, opts.min_confidence)
        idx_parts.append(idx + offset)
        p_parts.append(p)
        offset += len(chunk)
    streamed = decode_call_frames(
        np.concatenate(idx_parts), np.concatenate(p_parts), HOP, len(probs) * HOP, LABELS, opts
    )
    assert streamed == whole


def test_a_long_file_decodes_fast() -> None:
    """Vectorised: 2 hours of 10 ms frames with very many short runs."""
    rng = np.random.default_rng(2)
    probs = rng.dirichlet([0.5] * 4, size=720_000).astype(np.float32)
    started = time.perf_counter()
    events = decode_events(probs, HOP, len(probs) * HOP, LABELS, EventOptions(min_duration=0.0))
    assert len(events) > 10_000
    assert time.perf_counter() - started < 10  # well under 1 s on a quiet machine


# --------------------------------------------------------------------------- options


def test_options_validation() -> None:
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match=r"min_confidence must be within \[0, 1\]"):
            EventOptions(min_confidence=bad)
    for name in ("min_duration", "min_gap"):
        for value in (-1.0, math.nan, math.inf):
            with pytest.raises(ValueError, match=rf"{name} must be a finite number of seconds"):
                EventOptions(**{name: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'background' is not a call type"):
        EventOptions(thresholds={"background": 0.5})
    with pytest.raises(ValueError, match=r"threshold of 'A' must be within \[0, 1\], got 2"):
        EventOptions(thresholds={"A": 2})
    with pytest.raises(ValueError, match="non-empty strings"):
        EventOptions(thresholds={"": 0.5})


def test_unknown_threshold_labels_name_the_model_types() -> None:
    opts = EventOptions(thresholds={"A": 0.5, "Z": 0.5, "Y": 0.1})
    with pytest.raises(ValueError, match=r"unknown call types 'Z', 'Y'.*types are: A, B, C"):
        decode_events(frames("AAA"), HOP, 0.03, LABELS, opts)


def test_probability_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="2-D"):
        decode_events(np.zeros(5), HOP, 0.05, LABELS)
    with pytest.raises(ValueError, match="3 classes but labels has 4"):
        decode_events(np.zeros((5, 3)), HOP, 0.05, LABELS)


def test_options_from_dict_overrides_and_immutability() -> None:
    opts = EventOptions.from_dict(
        {"min_confidence": 0.6, "min_gap": 0.02, "thresholds": {"A": 0.7}, "future_key": 1}
    )
    assert opts == EventOptions(min_confidence=0.6, min_gap=0.02, thresholds={"A": 0.7})
    assert EventOptions.from_dict(opts.to_dict()) == opts
    changed = opts.with_overrides(min_duration=0.05, thresholds={"B": 0.2})
    assert changed.min_duration == 0.05 and changed.min_confidence == 0.6
    assert dict(changed.thresholds) == {"A": 0.7, "B": 0.2}  # merged
    assert opts.with_overrides() == opts
    assert changed.threshold("A") == 0.7 and changed.threshold("C") == 0.6
    with pytest.raises(TypeError):
        opts.thresholds["A"] = 0.1  # type: ignore[index]
    source = {"A": 0.3}
    copied = EventOptions(thresholds=source)
    source["A"] = 0.9
    assert copied.threshold("A") == 0.3
    assert hash(copied) == hash(EventOptions(thresholds={"A": 0.3}))


# --------------------------------------------------------------------------- property


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, float, list[str], EventOptions]:
    n_classes = draw(st.integers(2, 5))
    n_runs = draw(st.integers(0, 25))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows = rng.dirichlet([draw(st.sampled_from([0.2, 1.0, 5.0]))] * n_classes, size=n_runs)
    probs = rows.repeat(rng.integers(1, 8, size=n_runs), axis=0).reshape(-1, n_classes)
    duration = max(0.0, len(probs) * HOP - draw(st.floats(0.0, HOP)))
    labels = ["background", *(f"t{i}" for i in range(1, n_classes))]
    thresholds = {lab: draw(st.floats(0.0, 1.0)) for lab in labels[1:] if draw(st.booleans())}
    opts = EventOptions(
        min_confidence=draw(st.floats(0.0, 1.0)),
        min_duration=draw(st.sampled_from([0.0, 0.01, 0.02, 0.035, 0.1])),
        min_gap=draw(st.sampled_from([0.0, 0.01, 0.02, 0.05])),
        thresholds=thresholds,
    )
    return probs, duration, labels, opts


@settings(max_examples=200, deadline=None)
@given(problem=problems())
def test_events_are_sorted_disjoint_and_inside_the_file(
    problem: tuple[np.ndarray, float, list[str], EventOptions],
) -> None:
    probs, duration, labels, opts = problem
    events = decode_events(probs, HOP, duration, labels, opts)
    for e in events:
        assert 0.0 <= e.start < e.end <= duration
        assert e.end - e.start >= opts.min_duration - 1e-9
        assert e.label in labels[1:]
        assert 0.0 <= e.confidence <= 1.0 + 1e-9
        assert e.confidence >= opts.threshold(e.label)
    for a, b in itertools.pairwise(events):
        assert a.end <= b.start


def test_segments_only_joins_types_into_one_vocalisation() -> None:
    from gabortag.tasks.birdcalls.decode import SEGMENT_LABEL

    probs = frames("..AAAABBBB...CC.C..")
    opts = EventOptions(min_duration=0.02, min_gap=0.02)
    typed = decode_events(probs, HOP, 0.19, LABELS, opts)
    assert [e.label for e in typed] == ["A", "B", "C"]
    segments = decode_events(probs, HOP, 0.19, LABELS, opts, segments_only=True)
    assert [(round(e.start, 6), round(e.end, 6), e.label) for e in segments] == [
        (0.02, 0.1, SEGMENT_LABEL),
        (0.13, 0.17, SEGMENT_LABEL),
    ]
    assert all(e.confidence == pytest.approx(0.9) for e in segments)
    # per-type thresholds do not apply to segments; min_confidence does
    strict = EventOptions(min_duration=0.02, min_gap=0.02, thresholds={"A": 0.99})
    assert len(decode_events(probs, HOP, 0.19, LABELS, strict, segments_only=True)) == 2
    assert (
        decode_events(
            probs, HOP, 0.19, LABELS, EventOptions(min_confidence=0.95), segments_only=True
        )
        == []
    )
