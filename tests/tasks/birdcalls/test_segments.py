"""Vocalisation segments (``gabortag.tasks.birdcalls.segments``, ``birdcalls --segments-only``)
on synthetic songs: harmonic tone bursts ("notes") in white noise, at several levels, noise
levels, rates and tempos, generated here.

The rule itself is checked with a call probability given by hand, so that it does not depend
on any model; the streaming and the command run the bird-call model of ``_bird_model`` with
``min_confidence`` 0, where any model keeps every note the energy finds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import gabortag
from gabortag.io.formats import formats
from gabortag.tasks.birdcalls.api import detect_calls
from gabortag.tasks.birdcalls.decode import SEGMENT_LABEL
from gabortag.tasks.birdcalls.segments import (
    BATCH_FRAMES,
    BandEnvelope,
    SegmentOptions,
    envelope_db,
    segment,
)

from _cli_helpers import assert_usage_error, needs_script, run  # isort: skip

#: Onsets and offsets must be this close to the notes' (seconds); the benchmark's is 20 ms.
TOL = 0.005

Note = tuple[float, float]


def song_notes(rate_hz: float, count: int, length: float = 0.06, start: float = 0.3) -> list[Note]:
    """``count`` notes of ``length`` s, ``rate_hz`` notes per second, from ``start``."""
    return [(start + i / rate_hz, start + i / rate_hz + length) for i in range(count)]


def synth(
    notes: list[Note],
    sr: int = 32000,
    level: float = 0.3,
    noise: float = 0.003,
    seconds: float | None = None,
    seed: int = 0,
    f0: float = 2500.0,
    harmonics: int = 3,
) -> np.ndarray:
    """White noise of RMS ``noise`` with a harmonic note (``f0`` ± 10 % and its overtones up to
    the ``harmonics``-th, 1 ms raised-cosine ramps) of peak ``level`` over each of ``notes``;
    float32 mono."""
    rng = np.random.default_rng(seed)
    total = seconds if seconds is not None else max(end for _, end in notes) + 0.3
    t = np.arange(round(total * sr)) / sr
    x = noise * rng.standard_normal(len(t))
    ramp = 0.001
    for begin, end in notes:
        inside = (t >= begin) & (t < end)
        u = t[inside] - begin
        shape = np.minimum(1.0, np.minimum(u, end - begin - u) / ramp)
        shape = 0.5 - 0.5 * np.cos(np.pi * np.clip(shape, 0, 1))
        f = f0 * (1 + 0.1 * rng.uniform(-1, 1))
        tone = sum(np.sin(2 * np.pi * k * f * u) / k for k in range(1, harmonics + 1))
        x[inside] += level / 1.8 * shape * tone
    return x.astype(np.float32)


def segments_of(
    audio: np.ndarray,
    sr: int,
    options: SegmentOptions | None = None,
    call_probs: np.ndarray | None = None,
    hop_s: float = 0.01,
) -> list[tuple[float, float, float]]:
    """``(start, end, confidence)`` of the segments, the model replaced by ``call_probs``
    (default: a call probability of 1 everywhere)."""
    opts = options or SegmentOptions()
    env, step = envelope_db(audio, sr, opts.low_freq, opts.high_freq)
    duration = len(audio) / sr
    probs = np.ones(-(-len(audio) // round(hop_s * sr))) if call_probs is None else call_probs
    return [
        (d.start, d.end, d.confidence) for d in segment(env, step, probs, hop_s, duration, opts)
    ]


def assert_found(got: list[tuple[float, float, float]], notes: list[Note]) -> None:
    assert len(got) == len(notes), (got, notes)
    for (start, end, _), (on, off) in zip(got, notes, strict=True):
        assert abs(start - on) <= TOL and abs(end - off) <= TOL, ((start, end), (on, off))


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("sr", "level", "noise", "rate_hz", "length"),
    [
        (32000, 0.3, 0.003, 8.0, 0.06),  # a Bengalese finch's tempo
        (32000, 0.02, 0.001, 8.0, 0.06),  # a quiet recording: 26 dB lower, same SNR
        (44100, 0.5, 0.02, 12.0, 0.04),  # noisier, faster, another rate
        (22050, 0.1, 0.0005, 4.0, 0.12),  # slow and long notes, near 11 kHz Nyquist
    ],
)
def test_boundaries_within_tolerance(
    sr: int, level: float, noise: float, rate_hz: float, length: float
) -> None:
    notes = song_notes(rate_hz, 10, length)
    got = segments_of(synth(notes, sr, level, noise), sr)
    assert_found(got, notes)
    assert all(c == 1.0 for *_, c in got)


def test_threshold_follows_the_gain() -> None:
    """The same song 40 dB quieter gives the same segments: the threshold is relative."""
    notes = song_notes(8.0, 6)
    loud = synth(notes, level=0.5, noise=0.005)
    got, quiet = segments_of(loud, 32000), segments_of(loud * 0.01, 32000)
    assert len(got) == 6
    np.testing.assert_allclose(np.array(got), np.array(quiet), atol=1e-6)


def test_silence_and_noise_alone_give_nothing() -> None:
    assert segments_of(np.zeros(32000, np.float32), 32000) == []
    quiet = synth([], seconds=1.0)
    probs = np.zeros(100)
    assert segments_of(quiet, 32000, call_probs=probs) == []


def test_model_decides_which_notes_stay() -> None:
    """The call probability vetoes notes, and is the confidence of those it keeps."""
    notes = song_notes(8.0, 8)
    audio = synth(notes)
    probs = np.full(-(-len(audio) // 320), 0.9)
    half = round(notes[4][0] / 0.01)
    probs[half:] = 0.1  # the model hears nothing from the fifth note on
    got = segments_of(audio, 32000, SegmentOptions(min_confidence=0.5, min_bout=0), probs)
    assert_found(got, notes[:4])
    assert [c for *_, c in got] == pytest.approx([0.9] * 4)
    assert (
        len(segments_of(audio, 32000, SegmentOptions(min_confidence=0.05, min_bout=0), probs)) == 8
    )


def test_min_gap_and_min_duration() -> None:
    close = [(0.3, 0.36), (0.365, 0.42), (0.8, 0.81), (1.2, 1.26)]  # 5 ms gap, a 10 ms note
    audio = synth(close)
    got = segments_of(audio, 32000, SegmentOptions(min_gap=0.008, min_duration=0.02, min_bout=0))
    assert_found(got, [(0.3, 0.42), (1.2, 1.26)])
    got = segments_of(audio, 32000, SegmentOptions(min_gap=0.002, min_duration=0.005, min_bout=0))
    assert_found(got, close)


def test_bouts_drop_isolated_notes() -> None:
    bout = song_notes(8.0, 5)
    click = (2.5, 2.53)  # alone, 1.5 s after the bout
    audio = synth([*bout, click])
    assert_found(segments_of(audio, 32000, SegmentOptions(min_bout=3)), bout)
    assert_found(segments_of(audio, 32000, SegmentOptions(min_bout=0)), [*bout, click])
    assert segments_of(audio, 32000, SegmentOptions(min_bout=6)) == []
    # a wider bout_gap joins the click to the bout
    assert len(segments_of(audio, 32000, SegmentOptions(min_bout=6, bout_gap=2.0))) == 6


def test_band_limits_what_is_measured() -> None:
    """Only the energy inside [low_freq, high_freq] counts: 1 kHz notes and 6 kHz notes
    alternate, and each band finds its own."""
    low, high = song_notes(4.0, 5), song_notes(4.0, 5, start=0.425)
    audio = synth(low, f0=1000.0, harmonics=1, noise=0.001, seconds=2.0)
    audio += synth(high, f0=6000.0, harmonics=1, noise=0.001, seconds=2.0, seed=1)
    assert_found(segments_of(audio, 32000, SegmentOptions(low_freq=500, high_freq=2000)), low)
    assert_found(segments_of(audio, 32000, SegmentOptions(low_freq=4000, high_freq=9000)), high)
    assert_found(segments_of(audio, 32000), sorted(low + high))


# --------------------------------------------------------------------------- streaming


def test_envelope_does_not_depend_on_blocks() -> None:
    rng = np.random.default_rng(3)
    sr = 32000
    audio = synth(song_notes(8.0, 30), sr, seconds=2 * BATCH_FRAMES / 1000 + 0.123)
    whole, step = envelope_db(audio, sr, 500.0, 10000.0)
    assert len(whole) == -(-len(audio) // round(step * sr))
    env = BandEnvelope(sr, 500.0, 10000.0)
    pos = 0
    for size in [1, 0, 31, 33, 4096 * 32 + 5, *rng.integers(1, 60000, 20)]:
        env.add(audio[pos : pos + int(size)])
        pos += int(size)
    env.add(audio[pos:])
    assert np.array_equal(env.finish(), whole)  # to the bit


def test_streamed_file_equals_whole_array(tmp_path: Path, bird_model: str) -> None:
    """A file longer than one read block (30 s), scored in short chunks, gives the segments of
    the same samples given as one array."""
    sr = 32000
    notes = song_notes(6.0, 200, start=0.5)
    audio = synth(notes, sr, seconds=36.0)
    path = tmp_path / "long.wav"
    sf.write(path, audio, sr, subtype="FLOAT")
    opts = SegmentOptions(min_confidence=0.0)
    streamed = detect_calls(
        path, model=bird_model, segments_only=True, segment_options=opts, chunk_seconds=2.3
    )
    whole = detect_calls(
        audio, sr, model=bird_model, segments_only=True, segment_options=opts, chunk_seconds=60
    )
    # the same notes, edges and bands; the confidences to the model's chunked scoring (float32)
    key = [(e.start, e.end, e.label, e.low_freq, e.high_freq) for e in whole.events]
    assert [(e.start, e.end, e.label, e.low_freq, e.high_freq) for e in streamed.events] == key
    for a, b in zip(streamed.events, whole.events, strict=True):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-5)
    found = [(e.start, e.end, 1.0) for e in whole.events]
    assert_found(found, notes)
    for e in whole.events:
        assert e.label == SEGMENT_LABEL and 0.0 <= e.confidence <= 1.0
        assert 2000 <= e.low_freq < 2500 * 1.1 < e.high_freq


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"threshold": 1.5}, r"threshold must be .* within \[0, 1\], got 1.5"),
        ({"min_confidence": float("nan")}, r"min_confidence must be"),
        ({"floor_percentile": 99, "loud_percentile": 50}, r"floor_percentile .* below"),
        ({"loud_percentile": 101}, r"loud_percentile must be .* within \[0, 100\]"),
        ({"min_gap": -0.01}, r"min_gap must be a finite number seconds >= 0"),
        ({"low_freq": 8000, "high_freq": 2000}, r"low_freq \(8000 Hz\) must be below high_freq"),
        ({"min_bout": 2.5}, r"min_bout must be a whole number"),
        ({"min_bout": True}, r"min_bout must be a whole number"),
        ({"bout_gap": "1"}, r"bout_gap must be"),
    ],
)
def test_bad_options_name_the_field(changes: dict[str, object], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        SegmentOptions(**changes)  # type: ignore[arg-type]


def test_options_round_trip_and_overrides() -> None:
    opts = SegmentOptions(threshold=0.3, min_bout=4)
    assert SegmentOptions.from_dict({**opts.to_dict(), "other": 1}) == opts
    assert opts.with_overrides(threshold=None, min_gap=0.01) == SegmentOptions(
        threshold=0.3, min_bout=4, min_gap=0.01
    )
    with pytest.raises(ValueError, match="unknown segment option min_speech"):
        opts.with_overrides(min_speech=0.1)
    with pytest.raises(AttributeError):
        opts.threshold = 0.5  # type: ignore[misc]
    assert gabortag.SegmentOptions is SegmentOptions


# --------------------------------------------------------------------------- the command


@pytest.fixture
def clip(tmp_path: Path) -> str:
    sf.write(tmp_path / "song.flac", synth(song_notes(8.0, 6), 44100, seconds=1.5), 44100)
    return "song.flac"


@needs_script
@pytest.mark.parametrize("fmt", formats("birdcalls"))
def test_command_writes_every_format(tmp_path: Path, clip: str, bird_model: str, fmt: str) -> None:
    out = tmp_path / "out"
    done = run(
        "birdcalls", clip, "-m", bird_model, "--segments-only", "--min-confidence", "0",
        "-f", fmt, "-o", out, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written, list(out.rglob("*"))
    text = "".join(p.read_text() for p in written)
    assert text.count(SEGMENT_LABEL) >= 6 or fmt in ("json", "jsonl")
    if fmt == "json":
        (item,) = json.loads(text)["files"]
        found = [(e["start"], e["end"], e["confidence"]) for e in item["events"]]
        assert_found(found, song_notes(8.0, 6))
        assert all(e["low_freq"] < e["high_freq"] for e in item["events"])


@needs_script
def test_command_options_reach_the_segmenter(tmp_path: Path, clip: str, bird_model: str) -> None:
    base = ("birdcalls", clip, "-m", bird_model, "--segments-only", "--min-confidence", "0")
    done = run(*base, "--min-bout", "7", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"][0]["events"] == []
    done = run(*base, "--min-duration", "0.07", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["files"][0]["events"] == []


@needs_script
@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        (("--segments-only", "--energy-threshold", "2"), r"--energy-threshold must be .*\[0, 1\]"),
        (
            ("--segments-only", "--low-freq", "9000", "--high-freq", "100"),
            r"--low-freq .* below --high-freq",
        ),
        (
            ("--segments-only", "--floor-percentile", "90", "--loud-percentile", "80"),
            r"--floor-percentile .* below --loud-percentile",
        ),
        (("--segments-only", "--min-bout", "-1"), r"--min-bout must be a whole number"),
        (("--segments-only", "--min-bout", "two"), r"Invalid value for '--min-bout'"),
        (
            ("--min-bout", "3", "--low-freq", "100"),
            r"--min-bout, --low-freq only apply to --segments-only",
        ),
    ],
)
def test_command_bad_options(
    tmp_path: Path, clip: str, options: tuple[str, ...], pattern: str
) -> None:
    assert_usage_error(run("birdcalls", clip, *options, cwd=tmp_path), pattern)
