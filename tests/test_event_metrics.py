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
