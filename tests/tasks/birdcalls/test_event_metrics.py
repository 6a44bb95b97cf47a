"""Event metrics on hand-made probabilities and spans."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gabortag.tasks.birdcalls.evaluate import (
    boundary_errors,
    evaluate_events,
    frame_classes,
    levenshtein,
)

LABELS = ["background", "a", "b"]


@pytest.mark.parametrize(
    ("x", "y", "d"),
    [
        ("", "", 0),
        ("abc", "abc", 0),
        ("abc", "abd", 1),
        ("abc", "ab", 1),
        ("", "abc", 3),
        ("kitten", "sitting", 3),
        ("ab", "ba", 2),
    ],
)
def test_levenshtein_known_values(x: str, y: str, d: int) -> None:
    assert levenshtein(list(x), list(y)) == d


@given(st.text("ab", max_size=6), st.text("ab", max_size=6))
def test_levenshtein_matches_brute_force_bounds(x: str, y: str) -> None:
    d = levenshtein(list(x), list(y))
    assert d == levenshtein(list(y), list(x))
    assert abs(len(x) - len(y)) <= d <= max(len(x), len(y))
    # substitutions only, for equal lengths, bound it from above
    if len(x) == len(y):
        assert d <= sum(a != b for a, b in zip(x, y, strict=True))


def _probs(classes: list[int]) -> np.ndarray:
    p = np.full((len(classes), 3), 0.05, np.float32)
    p[np.arange(len(classes)), classes] = 0.9
    return p


def test_perfect_decoding_scores_zero_errors() -> None:
    hop = 0.01
    truth = [(0.10, 0.20, "a"), (0.30, 0.45, "b")]
    classes = frame_classes(truth, LABELS, 60, hop)
    assert classes[10:20].tolist() == [1] * 10 and classes[30:45].tolist() == [2] * 15
    assert classes[:10].sum() == 0
    result = evaluate_events([(_probs(classes.tolist()), truth, truth)], LABELS, hop)
    assert result.note_type_accuracy == 1.0
    assert result.note_error_rate == 0.0
    assert result.frame_error_rate == 0.0
    assert result.onset_error_ms_median == 0.0
    assert result.matched_notes == 2


def test_errors_are_counted() -> None:
    hop = 0.01
    truth = [(0.10, 0.20, "a"), (0.30, 0.45, "b")]
    classes = frame_classes(truth, LABELS, 60, hop)
    wrong = classes.copy()
    wrong[30:45] = 1  # second note called "a"
    decoded = [(0.12, 0.21, "a"), (0.30, 0.45, "a"), (0.5, 0.55, "b")]  # one wrong, one extra
    result = evaluate_events([(_probs(wrong.tolist()), truth, decoded)], LABELS, hop)
    assert result.note_type_accuracy == 0.5
    assert result.note_error_rate == 0.5  # [a, a, b] vs [a, b]: one deletion over 2 notes
    assert result.frame_error_rate == pytest.approx(15 / 60)
    on, off = boundary_errors(truth, decoded)
    assert on == pytest.approx([0.02, 0.0]) and off == pytest.approx([0.01, 0.0])


def test_missing_events_have_no_boundary_match() -> None:
    assert boundary_errors([(0.1, 0.2, "a")], []) == ([], [])
    assert boundary_errors([(0.1, 0.2, "a")], [(0.3, 0.4, "a")]) == ([], [])


def test_pooling_over_files_weights_by_notes() -> None:
    hop = 0.01
    files = []
    for label, n in itertools.product(("a", "b"), (1,)):
        truth = [(0.1, 0.2, label)] * n
        classes = frame_classes(truth, LABELS, 30, hop)
        files.append((_probs(classes.tolist()), truth, truth))
    result = evaluate_events(files, LABELS, hop)
    assert result.true_notes == 2 and result.note_type_accuracy == 1.0


# --------------------------------------------------------------------------- segmentation


def test_segment_matches_need_onset_and_offset_within_the_tolerance() -> None:
    from gabortag.tasks.birdcalls.evaluate import segment_matches

    truth = [(0.10, 0.20, "a"), (0.30, 0.40, "b"), (0.50, 0.60, "a")]
    decoded = [
        (0.115, 0.205, "b"),  # both within 20 ms, another type: matches (types play no part)
        (0.30, 0.43, "b"),  # offset 30 ms off
        (0.48, 0.58, "a"),  # onset and offset exactly 20 ms off: within
    ]
    assert segment_matches(truth, decoded) == [(0, 0), (2, 2)]
    assert segment_matches(truth, decoded, tolerance=0.03) == [(0, 0), (1, 1), (2, 2)]
    assert segment_matches(truth, decoded, tolerance=0.01) == []
    # one to one: two events near one note, the closer wins and the other is a false alarm
    assert segment_matches([(0.1, 0.2, "a")], [(0.11, 0.2, "a"), (0.1, 0.2, "a")]) == [(0, 1)]


def test_segmentation_score_is_type_agnostic_and_pooled() -> None:
    hop = 0.01
    truth = [(0.10, 0.20, "a"), (0.30, 0.40, "b")]
    decoded = [(0.10, 0.20, "b"), (0.31, 0.39, "b"), (0.50, 0.55, "a")]
    classes = frame_classes(truth, LABELS, 60, hop)
    result = evaluate_events([(_probs(classes.tolist()), truth, decoded)] * 2, LABELS, hop)
    seg = result.segmentation
    assert seg is not None
    assert (seg.true_notes, seg.decoded_events, seg.matched) == (4, 6, 4)
    assert seg.precision == pytest.approx(4 / 6) and seg.recall == 1.0
    assert seg.f1 == pytest.approx(8 / 10)
    assert result.to_dict()["segmentation"]["tolerance_ms"] == 20.0


def test_labels_the_model_lacks_are_untyped_not_fatal() -> None:
    """A note labelled 'x' (not a model type) counts in segmentation only: its frames, and
    an event on it, leave the typed metrics untouched."""
    hop = 0.01
    typed = [(0.10, 0.20, "a"), (0.30, 0.40, "b")]
    extra = (0.45, 0.55, "x")
    decoded = [(0.10, 0.20, "a"), (0.30, 0.40, "b"), (0.45, 0.55, "a")]
    classes = frame_classes(typed, LABELS, 60, hop).tolist()
    classes[45:55] = [1] * 10  # the model says "a" over the untyped note
    probs = _probs(classes)
    with_extra = evaluate_events([(probs, [*typed, extra], decoded)], LABELS, hop)
    without = evaluate_events([(probs, typed, decoded[:2])], LABELS, hop)
    assert with_extra.untyped_notes == (("x", 1),)
    for name in ("note_type_accuracy", "note_error_rate", "true_notes"):
        assert getattr(with_extra, name) == getattr(without, name), name
    assert with_extra.note_error_rate == 0.0
    # the untyped note's 10 frames are not scored; read as background they would be wrong
    assert with_extra.frame_error_rate == 0.0 and without.frame_error_rate == pytest.approx(10 / 60)
    assert with_extra.per_type == without.per_type
    seg = with_extra.segmentation
    assert seg is not None and (seg.true_notes, seg.decoded_events, seg.matched) == (3, 3, 3)
    assert with_extra.to_dict()["untyped_notes"] == {"x": 1}
