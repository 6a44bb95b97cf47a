"""``gabortag.tasks.scenes.api``: window arithmetic, streaming equal to whole-file processing, label
selection, summaries, and the model's contract (on the tiny model of ``_scenes_model``)."""

from __future__ import annotations

import itertools
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from gabortag.errors import AudioError, ModelError
from gabortag.inference import Model, load_model
from gabortag.tasks.results import LabelSummary, SceneLabel, SceneResult, SceneWindow, ScoredSpan
from gabortag.tasks.scenes.api import (
    SceneOptions,
    default_options,
    iter_windows,
    min_samples,
    resolve_model,
    score_windows,
    summarize,
    tag_scenes,
    top_labels,
    union_length,
    window_spans,
    windowing,
)

import _scenes_model as tiny  # isort: skip

SR = tiny.SAMPLE_RATE
W, H = tiny.RECEPTIVE_FIELD, tiny.HOP


@pytest.fixture(scope="module")
def model(scenes_model: str) -> Model:
    return load_model(scenes_model)


def reference_spans(n: int, window: int, hop: int) -> list[tuple[int, int]]:
    """The windows as the documentation words them: starts ``k·hop`` before the end, up to and
    including the first window whose end reaches the end; a last one shorter than half a
    window, after another, is merged into the one before (or dropped when hop > window)."""
    starts = [
        k * hop for k in range(n + 1) if k * hop < n and (k == 0 or (k - 1) * hop + window < n)
    ]
    spans = [(s, min(s + window, n)) for s in starts]
    if len(spans) > 1 and 2 * (spans[-1][1] - spans[-1][0]) < window:
        del spans[-1]
        if hop <= window:
            spans[-1] = (spans[-1][0], n)
    return spans


def scene(n: int, seed: int = 0) -> np.ndarray:
    """``n`` samples at 8 kHz cycling through silence, speech, chainsaw, music and birdsong,
    0.7 s each (so that windows straddle the changes)."""
    rng = np.random.default_rng(seed)
    part = round(0.7 * SR)
    kinds = [
        np.zeros(part),
        0.2 * rng.standard_normal(part),
        0.8 * rng.standard_normal(part),
        0.3 + 0.05 * rng.standard_normal(part),
        -0.3 + 0.05 * rng.standard_normal(part),
    ]
    reps = n // (part * len(kinds)) + 1
    return np.concatenate(kinds * reps)[:n].astype(np.float32)


def random_blocks(x: np.ndarray, seed: int, most: int = 5000) -> Iterator[np.ndarray]:
    """``x`` cut into blocks of random sizes, empty ones included."""
    rng = np.random.default_rng(seed)
    i = 0
    while i < len(x):
        size = int(rng.integers(0, most))
        yield x[i : i + size]
        i += size


# --------------------------------------------------------------------------- window arithmetic


@pytest.mark.parametrize(
    ("n", "window", "hop", "expected"),
    [
        (0, 8000, 4000, []),
        (1, 8000, 4000, [(0, 1)]),  # one sample
        (7999, 8000, 4000, [(0, 7999)]),  # shorter than a window
        (8000, 8000, 4000, [(0, 8000)]),  # exactly one window
        (8001, 8000, 4000, [(0, 8000), (4000, 8001)]),
        (8001, 8000, 8000, [(0, 8001)]),  # a 1-sample tail is merged into the window before
        (11999, 8000, 8000, [(0, 11999)]),  # so is one just under half a window
        (12000, 8000, 8000, [(0, 8000), (8000, 12000)]),  # half a window is a window
        (12000, 8000, 4000, [(0, 8000), (4000, 12000)]),
        (12001, 8000, 4000, [(0, 8000), (4000, 12000), (8000, 12001)]),
        (17, 5, 3, [(0, 5), (3, 8), (6, 11), (9, 14), (12, 17)]),
        (10, 2, 5, [(0, 2), (5, 7)]),  # hop > window: gaps, nothing starts at the end
        (11, 2, 5, [(0, 2), (5, 7), (10, 11)]),
        (11, 4, 5, [(0, 4), (5, 9)]),  # a short last window after a gap is dropped
        (12, 4, 5, [(0, 4), (5, 9), (10, 12)]),
    ],
)
def test_window_spans(n: int, window: int, hop: int, expected: list[tuple[int, int]]) -> None:
    assert window_spans(n, window, hop) == expected == reference_spans(n, window, hop)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 400), st.integers(1, 60), st.integers(1, 80))
def test_window_spans_match_their_definition(n: int, window: int, hop: int) -> None:
    spans = window_spans(n, window, hop)
    assert spans == reference_spans(n, window, hop)
    if n:
        assert spans[0][0] == 0 and all(s < e <= n for s, e in spans)
        assert sum(e >= n for _, e in spans) <= 1
        # no window of its own shorter than half a window, unless it is the only one
        assert len(spans) == 1 or all(2 * (e - s) >= window for s, e in spans)
        if hop <= window:  # no gap: the windows cover the audio
            assert spans[-1][1] == n
            assert all(b[0] <= a[1] for a, b in itertools.pairwise(spans))


def test_bad_window_or_hop() -> None:
    with pytest.raises(ValueError, match=">= 1 sample"):
        window_spans(10, 0, 1)
    with pytest.raises(ValueError, match=">= 1 sample"):
        list(iter_windows([np.zeros(3)], 4, 0))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3000), st.integers(1, 700), st.integers(1, 900), st.integers(0, 2**31))
def test_streamed_windows_equal_whole_array_windows(
    n: int, window: int, hop: int, seed: int
) -> None:
    x = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    got = list(iter_windows(random_blocks(x, seed, most=400), window, hop))
    assert [(s, s + len(w)) for s, w in got] == window_spans(n, window, hop)
    for start, samples in got:
        assert samples.dtype == np.float32
        np.testing.assert_array_equal(samples, x[start : start + len(samples)])


# --------------------------------------------------------------------------- scoring


def test_streamed_scores_are_identical_to_the_whole_file(model: Model) -> None:
    x = scene(5 * SR + 1234)
    windows = windowing(model, SceneOptions(window_s=0.75, hop_s=0.3))
    whole = list(score_windows(model, [x], windows, chunk_seconds=2.0))
    assert [(s, e) for s, e, _ in whole] == window_spans(len(x), 6000, 2400)
    for seed in range(5):
        streamed = list(score_windows(model, random_blocks(x, seed), windows, chunk_seconds=2.0))
        assert [(s, e) for s, e, _ in streamed] == [(s, e) for s, e, _ in whole]
        for (_, _, a), (_, _, b) in zip(streamed, whole, strict=True):
            np.testing.assert_array_equal(a, b)
    # and they are the network's scores of each window, the short last one filled by repetition
    for start, end, scores in whole:
        padded = np.resize(x[start:end], max(6000, end - start, tiny.MIN_SAMPLES))
        np.testing.assert_allclose(scores, tiny.reference_scores(padded[None])[0], atol=1e-4)


@pytest.mark.parametrize("chunk_seconds", [0.1, 2.5, 30.0])
def test_batching_does_not_change_scores(model: Model, chunk_seconds: float) -> None:
    x = scene(3 * SR + 77)
    windows = windowing(model, SceneOptions())
    one = list(score_windows(model, [x], windows, chunk_seconds=0.01))  # one window per call
    got = list(score_windows(model, [x], windows, chunk_seconds=chunk_seconds))
    assert [(s, e) for s, e, _ in got] == [(s, e) for s, e, _ in one]
    for (_, _, a), (_, _, b) in zip(got, one, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_memory_is_bounded_by_the_window_not_the_stream(model: Model) -> None:
    """60 s of input per block, 40 minutes in all (77 MB of samples): a few MB are held."""
    block = scene(60 * SR)

    def blocks() -> Iterator[np.ndarray]:
        for _ in range(40):
            yield block

    windows = windowing(model, SceneOptions(window_s=1.0, hop_s=1.0))
    tracemalloc.start()
    try:
        count = sum(1 for _ in score_windows(model, blocks(), windows, chunk_seconds=4.0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 40 * 60
    assert peak < 3 * block.nbytes  # the block, its copy in the buffer, and one batch


# --------------------------------------------------------------------------- tag_scenes


def expected_scores(x: np.ndarray, start: int, end: int, opts: SceneOptions) -> np.ndarray:
    """The network's scores of one window: a short one repeated to fill a window, a long one
    (a short tail merged in) at its length."""
    window = round(opts.window_s * SR) if opts.window_s else W
    padded = np.resize(x[start:end], max(window, end - start, tiny.MIN_SAMPLES))
    scores: np.ndarray = tiny.reference_scores(padded[None])[0]
    return scores


def considered_of(opts: SceneOptions) -> list[int]:
    return [i for i, name in enumerate(tiny.LABELS) if not opts.labels or name in opts.labels]


def expected_labels(
    x: np.ndarray, start: int, end: int, opts: SceneOptions
) -> tuple[tuple[str, float], ...]:
    scores = expected_scores(x, start, end, opts)
    considered = considered_of(opts)
    ranked = sorted(considered, key=lambda i: -scores[i])[: opts.top_k]
    return tuple((tiny.LABELS[i], scores[i]) for i in ranked if scores[i] >= opts.min_score)


@pytest.mark.parametrize(
    "opts",
    [
        SceneOptions(),
        SceneOptions(top_k=1, min_score=0.0),
        SceneOptions(top_k=5, min_score=0.0, window_s=0.5, hop_s=0.25),
        SceneOptions(top_k=2, min_score=0.6, window_s=0.6),
        SceneOptions(labels=("music", "birdsong"), top_k=1, min_score=0.2, hop_s=0.7),
        SceneOptions(labels=("background",), min_score=0.0, window_s=2.0, hop_s=3.0),
        SceneOptions(top_k=5, min_score=0.0, window_s=1.0, hop_s=1.0),  # 0.3 s tail merged
    ],
)
def test_window_labels_follow_the_options(model: Model, opts: SceneOptions) -> None:
    x = scene(round(6.3 * SR))
    result = tag_scenes(x, SR, model=model, options=opts)
    win = windowing(model, opts)
    spans = window_spans(len(x), win.window, win.hop)
    assert [(round(w.start * SR), round(w.end * SR)) for w in result.windows] == spans
    assert (result.window, result.hop) == (win.window / SR, win.hop / SR)
    assert result.duration == len(x) / SR and result.windows[-1].end <= result.duration
    for w, (start, end) in zip(result.windows, spans, strict=True):
        want = expected_labels(x, start, end, opts)
        assert [lab.label for lab in w.labels] == [name for name, _ in want]
        assert [lab.score for lab in w.labels] == pytest.approx([s for _, s in want], abs=1e-4)
        assert len(w.labels) <= opts.top_k
        assert all(lab.score >= opts.min_score for lab in w.labels)
        assert all(opts.labels is None or lab.label in opts.labels for lab in w.labels)
    # the file's scores: every window's, weighted by its length; top and summary follow them
    clip = sum((e - s) * expected_scores(x, s, e, opts).astype(np.float64) for s, e in spans)
    clip = clip / sum(e - s for s, e in spans)
    considered = considered_of(opts)
    best = max(considered, key=lambda i: clip[i])
    assert result.top is not None and result.top.label == tiny.LABELS[best]
    assert result.top.score == pytest.approx(clip[best], abs=1e-4)
    for entry in result.summary:
        assert entry.score == pytest.approx(clip[tiny.LABELS.index(entry.label)], abs=1e-4)
    assert [e.score for e in result.summary] == sorted(
        (e.score for e in result.summary), reverse=True
    )
    file_scores = {tiny.LABELS[i]: float(clip[i]) for i in considered}
    again = summarize(result.windows, file_scores, opts.best)
    assert [e.label for e in result.summary] == [e.label for e in again]


def test_the_scene_is_recognised(model: Model) -> None:
    result = tag_scenes(scene(round(3.5 * SR)), SR, model=model, options=SceneOptions(0.7, 0.7))
    assert [w.labels[0].label for w in result.windows] == [
        "background",
        "speech",
        "chainsaw",
        "music",
        "birdsong",
    ]
    assert set(result.labels) == {"background", "speech", "chainsaw", "music", "birdsong"}


def test_default_options_come_from_the_model(model: Model) -> None:
    opts = default_options(model)
    assert (opts.top_k, opts.min_score) == (
        tiny.POSTPROCESS["top_k"],
        tiny.POSTPROCESS["min_score"],
    )
    assert (opts.window_s, opts.hop_s) == (None, None)
    win = windowing(model, opts)
    assert (win.window, win.hop, win.min_samples) == (W, H, tiny.MIN_SAMPLES)
    # the model's hop is never longer than a shorter window asked for
    assert windowing(model, SceneOptions(window_s=0.3)).hop == 2400
    assert windowing(model, SceneOptions(window_s=0.3, hop_s=0.9)).hop == 7200
    with pytest.raises(ValueError, match=r"0\.2 s is shorter than the 0\.25 s that model"):
        windowing(model, SceneOptions(window_s=0.2))
    with pytest.raises(ValueError, match="shorter than one sample"):
        windowing(model, SceneOptions(hop_s=1e-5))


@pytest.mark.parametrize("n", [1, 500, tiny.MIN_SAMPLES - 1, tiny.MIN_SAMPLES, W - 1, W, W + 1])
def test_short_inputs_give_one_padded_window(model: Model, n: int) -> None:
    x = 0.2 * np.ones(n, np.float32)
    result = tag_scenes(x, SR, model=model, options=SceneOptions(min_score=0.0, top_k=5))
    windows = window_spans(n, W, H)
    assert len(result.windows) == len(windows)
    assert result.windows[0].start == 0.0 and result.windows[-1].end == n / SR
    for w, (start, end) in zip(result.windows, windows, strict=True):
        want = expected_labels(x, start, end, SceneOptions(min_score=0.0, top_k=5))
        assert [lab.score for lab in w.labels] == pytest.approx([s for _, s in want], abs=1e-4)


def test_zero_samples_give_an_empty_result(model: Model) -> None:
    for empty in (np.zeros(0, np.float32), np.zeros((0, 2), np.float32)):
        result = tag_scenes(empty, 44_100, model=model)
        assert (result.path, result.duration, result.windows, result.summary) == (
            "<array>",
            0.0,
            (),
            (),
        )
        assert (result.sample_rate, result.channels) == (
            44_100,
            empty.shape[1] if empty.ndim == 2 else 1,
        )
    with pytest.raises(ValueError, match="sample_rate"):
        tag_scenes(np.zeros(0), model=model)


def test_a_file_is_streamed_like_its_array(model: Model, tmp_path: Path) -> None:
    """65 s at 8 kHz: three 30 s blocks from the file; stereo averaged like the array."""
    x = scene(65 * SR + 321, seed=3)
    stereo = np.stack([x, x], axis=1)
    path = tmp_path / "long.wav"
    sf.write(path, stereo, SR, subtype="FLOAT")
    opts = SceneOptions(window_s=2.0, hop_s=1.5, top_k=5, min_score=0.0)
    from_file = tag_scenes(path, model=model, options=opts)
    from_array = tag_scenes(stereo, SR, model=model, options=opts)
    assert from_file.path == str(path) and from_array.path == "<array>"
    assert (from_file.sample_rate, from_file.channels, from_file.duration) == (SR, 2, len(x) / SR)
    assert from_file.windows == from_array.windows
    assert from_file.summary == from_array.summary
    with pytest.raises(ValueError, match="sample_rate is only for arrays"):
        tag_scenes(path, SR, model=model)


def test_a_resampled_file_ends_at_its_duration(model: Model, tmp_path: Path) -> None:
    path = tmp_path / "x44.flac"
    sf.write(path, scene(round(2.345 * 44_100)), 44_100)
    result = tag_scenes(path, model=model)
    assert result.sample_rate == 44_100 and result.duration == pytest.approx(2.345, abs=1e-4)
    assert [w.start for w in result.windows] == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert [w.end for w in result.windows][:-1] == pytest.approx([1.0, 1.5, 2.0])
    assert result.windows[-1].end == result.duration
    with pytest.raises(AudioError, match=r"missing\.wav: does not exist"):
        tag_scenes(tmp_path / "missing.wav", model=model)


# --------------------------------------------------------------------------- labels, summary


def test_top_labels() -> None:
    scores = np.array([0.05, 0.4, 0.4, 0.15], np.float32)
    names = ["a", "b", "c", "d"]
    got = top_labels(scores, names, range(4), 3, 0.1)
    assert [(lab.label, round(lab.score, 4)) for lab in got] == [
        ("b", 0.4),
        ("c", 0.4),
        ("d", 0.15),
    ]
    assert [lab.label for lab in top_labels(scores, names, [0, 2], 1, 0.0)] == ["c"]
    assert top_labels(scores, names, [0, 3], 2, 0.5) == ()


def test_summary_counts_overlapping_windows_once() -> None:
    speech, music = SceneLabel("speech", 0.6), SceneLabel("music", 0.3)
    windows = [
        SceneWindow(0.0, 2.0, (speech,)),
        SceneWindow(1.0, 3.0, (SceneLabel("speech", 0.9), music)),
        SceneWindow(2.0, 4.0, (music,)),
        SceneWindow(3.0, 5.0, ()),
        SceneWindow(6.0, 8.0, (SceneLabel("speech", 0.7),)),
        SceneWindow(7.0, 7.5, (SceneLabel("speech", 0.8),)),  # inside the previous one
    ]
    scores = {"speech": 0.5, "music": 0.2}
    summary = summarize(windows, scores, best=2)
    assert summary == (
        LabelSummary("speech", 5.0, 4, (ScoredSpan(1.0, 3.0, 0.9), ScoredSpan(7.0, 7.5, 0.8)), 0.5),
        LabelSummary("music", 3.0, 2, (ScoredSpan(1.0, 3.0, 0.3), ScoredSpan(2.0, 4.0, 0.3)), 0.2),
    )
    assert summarize(windows, scores, best=0)[0].best == ()
    assert summarize([], {}) == ()
    # ranked by file score, not by duration: a label of fewer windows can come first
    assert [e.label for e in summarize(windows, {"speech": 0.1, "music": 0.3})] == [
        "music",
        "speech",
    ]
    spans = [(0.0, 1.0), (0.5, 0.7), (1.0, 2.0), (4.0, 4.5)]
    assert union_length(ScoredSpan(a, b, 0.5) for a, b in spans) == 2.5
    assert union_length([]) == 0.0


def test_summary_durations_with_half_overlapping_windows(model: Model) -> None:
    """3 s of speech, 2 s of silence, 1 s windows every 0.5 s: the six windows at least half
    speech say speech (3.5 s of union), the three silent ones background (2 s)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([0.2 * rng.standard_normal(3 * SR), np.zeros(2 * SR)]).astype(np.float32)
    result = tag_scenes(x, SR, model=model, options=SceneOptions(top_k=1, min_score=0.5))
    speech = {s.label: s for s in result.summary}["speech"]
    assert speech.windows == 6 and speech.duration == pytest.approx(3.5)
    assert len(speech.best) == 3 and speech.best[0].score >= speech.best[-1].score
    assert all(2.5 not in (b.start, b.end) for b in speech.best)  # not the half-speech window
    background = {s.label: s for s in result.summary}["background"]
    assert background.windows == 3 and background.duration == pytest.approx(2.0)
    assert result.labels == ("speech", "background")


def test_result_dict_round_trip(model: Model) -> None:
    result = tag_scenes(scene(3 * SR + 5), SR, model=model)
    doc = json.loads(json.dumps(result.to_dict()))
    assert list(doc)[:8] == [
        "path",
        "duration",
        "sample_rate",
        "channels",
        "model",
        "provider",
        "window",
        "hop",
    ]
    assert doc["provider"] == "CPUExecutionProvider"
    back = SceneResult.from_dict(doc)
    assert back.to_dict() == doc
    assert [(w.start, w.end) for w in back.windows] == [
        (round(w.start, 3), round(w.end, 3)) for w in result.windows
    ]


# --------------------------------------------------------------------------- options and models


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_s": 0.0}, "window_s must be a finite number of seconds > 0"),
        ({"hop_s": -1.0}, "hop_s must be"),
        ({"hop_s": float("nan")}, "hop_s must be"),
        ({"window_s": float("inf")}, "window_s must be"),
        ({"top_k": 0}, "top_k must be an integer >= 1"),
        ({"top_k": 1.5}, "top_k must be an integer"),
        ({"min_score": 1.5}, r"min_score must be within \[0, 1\]"),
        ({"min_score": float("nan")}, "min_score must be within"),
        ({"labels": ()}, "labels must be non-empty names"),
        ({"labels": ("a", "")}, "labels must be non-empty names"),
        ({"labels": ("a", "a")}, "labels are given twice"),
        ({"best": -1}, "best must be an integer >= 0"),
    ],
)
def test_bad_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SceneOptions(**kwargs)  # type: ignore[arg-type]


def test_options_overrides_and_labels() -> None:
    opts = SceneOptions.from_dict({"top_k": 2, "min_score": 0.2, "other": 1})
    assert opts == SceneOptions(top_k=2, min_score=0.2)
    assert opts.with_overrides(top_k=None, window_s=3.0) == SceneOptions(3.0, None, 2, 0.2)
    SceneOptions(labels=("speech",)).check_labels(tiny.LABELS)
    with pytest.raises(
        ValueError, match="unknown labels 'x', 'y'; the model's labels are: speech, music"
    ):
        SceneOptions(labels=("x", "speech", "y")).check_labels(tiny.LABELS)
    assert SceneOptions.from_dict(opts.to_dict()) == opts


def test_unknown_label_is_refused_before_reading(model: Model, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown label 'cat'"):
        tag_scenes(tmp_path / "missing.wav", model=model, options=SceneOptions(labels=("cat",)))


def test_model_contract(tmp_path: Path, model: Model) -> None:
    assert resolve_model(model) is model and min_samples(model) == tiny.MIN_SAMPLES
    vad_like = load_model(tiny.build(tmp_path / "v.onnx", **{"gabortag.task": "vad"}))
    with pytest.raises(ModelError, match="'scenes-tiny' is a 'vad' model, not a scenes model"):
        resolve_model(vad_like)
    bad_min = tiny.build(tmp_path / "m.onnx", **{"gabortag.min_samples": "zero"})
    with pytest.raises(ModelError, match=r"bad gabortag\.min_samples 'zero'"):
        resolve_model(str(bad_min))
    no_min = load_model(tiny.build(tmp_path / "n.onnx", **{"gabortag.min_samples": ""}))
    assert min_samples(no_min) == 1
    twice = tiny.build(tmp_path / "t.onnx", **{"gabortag.labels": '["a", "a", "b", "c", "d"]'})
    with pytest.raises(ModelError, match="each named once"):
        resolve_model(str(twice))
    four = load_model(
        tiny.build(tmp_path / "f.onnx", **{"gabortag.labels": '["a", "b", "c", "d"]'})
    )
    with pytest.raises(ModelError, match=r"gave scores of shape \(1, 5\) .* gives \(batch, 4\)"):
        tag_scenes(np.zeros(SR, np.float32), SR, model=four)


def test_top_level_api() -> None:
    import gabortag

    assert gabortag.tag_scenes is tag_scenes and gabortag.SceneOptions is SceneOptions
    assert gabortag.SceneResult is SceneResult
