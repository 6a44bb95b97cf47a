"""``gabortag.detect_calls``: the streamed two-pass pipeline equals the whole-file one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import gabortag
from gabortag.errors import ModelError
from gabortag.inference import load_model
from gabortag.io.audio import load_audio
from gabortag.tasks.birdcalls.api import _bands, default_options, detect_calls, frequency_band
from gabortag.tasks.birdcalls.bands import frequency_range
from gabortag.tasks.birdcalls.decode import Detection, EventOptions, decode_events

EVERYTHING = EventOptions(min_confidence=0.0, min_duration=0.0, min_gap=0.0)


def song(seconds: float, sr: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Quiet noise with three chirps (2→4 kHz, 5→3 kHz, 6→8 kHz); ``(samples, channels)``."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sr)) / sr
    x = 0.005 * rng.standard_normal(len(t))
    for begin, f0, f1 in ((0.3, 2000.0, 4000.0), (0.9, 5000.0, 3000.0), (1.5, 6000.0, 8000.0)):
        inside = (t >= begin) & (t < begin + 0.2)
        u = t[inside] - begin
        x[inside] += 0.4 * np.sin(2 * np.pi * (f0 * u + (f1 - f0) * u**2 / 0.4))
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def test_detect_calls_equals_the_whole_file_pipeline(bird_model: str, tmp_path: Path) -> None:
    path = tmp_path / "dawn.wav"
    sf.write(path, song(2.0, 44_100, channels=2), 44_100, subtype="FLOAT")
    m = load_model(bird_model)
    result = detect_calls(path, model=m, options=EVERYTHING, chunk_seconds=0.37)

    wav, info = load_audio(path, m.sample_rate)
    expected = decode_events(m.score(wav), m.hop_seconds, info.duration, m.info.labels, EVERYTHING)
    assert expected, "with every threshold at 0 the whole file is calls"
    assert [(e.start, e.end, e.label) for e in result.events] == [
        (d.start, d.end, d.label) for d in expected
    ]
    band = frequency_band(m)
    for event, d in zip(result.events, expected, strict=True):
        assert event.confidence == pytest.approx(d.confidence, abs=1e-5)
        low, high = frequency_range(wav, m.sample_rate, d.start, d.end, *band)
        assert (event.low_freq, event.high_freq) == pytest.approx((low, high), rel=1e-6)
        assert band[0] <= event.low_freq < event.high_freq <= band[1]
    assert (result.path, result.model) == (str(path), m.name)
    assert (result.duration, result.sample_rate, result.channels) == (2.0, 44_100, 2)

    array = song(2.0, 44_100, channels=2)
    same = detect_calls(array, 44_100, model=m, options=EVERYTHING, chunk_seconds=0.37)
    assert same.path == "<array>" and same.events == result.events


def test_default_options_come_from_the_model(bird_model: str) -> None:
    m = load_model(bird_model)
    assert default_options(m) == EventOptions.from_dict(m.info.postprocess)
    if bird_model != "birdcalls":  # the tiny test model
        assert default_options(m) == EventOptions(0.5, 0.02, 0.01)
        assert frequency_band(m) == (500.0, 12_000.0)
    assert gabortag.detect_calls is detect_calls


def test_bad_requests(bird_model: str, tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, song(0.5, 32_000), 32_000)
    with pytest.raises(ModelError, match="'vad' model, not a birdcalls model"):
        detect_calls(path, model="vad")
    with pytest.raises(ValueError, match="unknown call type 'nope'"):
        detect_calls(path, model=bird_model, options=EventOptions(thresholds={"nope": 0.5}))
    with pytest.raises(ValueError, match="sample_rate is only for arrays"):
        detect_calls(path, 32_000, model=bird_model)
    with pytest.raises(ValueError, match="no sample_rate"):
        detect_calls(song(0.5, 32_000), model=bird_model)
    with pytest.raises(gabortag.AudioError, match="does not exist"):
        detect_calls(tmp_path / "missing.wav", model=bird_model)


def test_streamed_bands_equal_whole_signal_bands() -> None:
    """The second pass measures each event from the blocks it overlaps, any block sizes."""
    sr = 32_000
    wav = song(2.0, sr)[:, 0]
    detections = [
        Detection(0.0, 0.004, "a", 1.0),  # shorter than one frame
        Detection(0.3, 0.5, "a", 1.0),
        Detection(0.5, 0.7, "b", 1.0),  # touches the previous one
        Detection(0.9, 1.1, "a", 1.0),
        Detection(1.5, 2.0, "c", 1.0),  # reaches the end
    ]
    band = (500.0, 12_000.0)
    expected = [frequency_range(wav, sr, d.start, d.end, *band) for d in detections]
    assert expected[1][0] == pytest.approx(2100.0, abs=150.0)  # the 2→4 kHz chirp
    for cuts in ([], [1, 9_600, 9_601, 16_000, 16_001], list(range(777, len(wav), 3_001))):
        got = _bands(np.split(wav, cuts), detections, sr, band)
        assert np.ravel(got) == pytest.approx(np.ravel(expected), rel=1e-9)
    assert _bands([wav[:1000]], detections[1:2], sr, band) == [band]  # never reached
