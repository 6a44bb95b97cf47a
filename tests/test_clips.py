"""Sanity of the committed test clips made by ``scripts/make_test_clips.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from _paths import DATA  # isort: skip


# file -> (sample rate, channels, approximate duration in seconds)
CLIPS = {
    "speech_noise.flac": (16_000, 1, 8.0),
    "noise.flac": (16_000, 1, 5.0),
    "speech_44k_stereo.flac": (44_100, 2, 2.0),
}
TRUTH = {"speech_noise.json": 2, "speech_44k_stereo.json": 1}  # file -> number of sentences


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_clip_format(name: str) -> None:
    rate, channels, seconds = CLIPS[name]
    info = sf.info(str(DATA / name))
    assert (info.format, info.subtype) == ("FLAC", "PCM_16")
    assert (info.samplerate, info.channels) == (rate, channels)
    assert abs(info.duration - seconds) < 1.0
    audio, _ = sf.read(DATA / name, always_2d=True)
    assert np.all(np.isfinite(audio)) and 0.001 < np.abs(audio).max() < 1.0


def test_clips_are_small() -> None:
    total = sum(p.stat().st_size for p in DATA.iterdir())
    assert total < 400_000, f"tests/data holds {total} bytes"


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_truth_intervals_inside_duration(name: str) -> None:
    truth = json.loads((DATA / name).read_text())
    info = sf.info(str(DATA / truth["file"]))
    assert truth["sample_rate"] == info.samplerate
    assert truth["duration"] == pytest.approx(info.duration, abs=1e-3)
    spans = [(s["start"], s["end"]) for s in truth["speech"]]
    assert len(spans) == TRUTH[name]
    bounds = [t for span in spans for t in span]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds)  # sorted, disjoint
    assert 0.0 < bounds[0] and bounds[-1] < info.duration


def test_speech_is_louder_than_the_noise_around_it() -> None:
    audio, rate = sf.read(DATA / "speech_noise.flac")
    truth = json.loads((DATA / "speech_noise.json").read_text())
    speech = np.concatenate(
        [audio[int(s["start"] * rate) : int(s["end"] * rate)] for s in truth["speech"]]
    )
    lead = audio[: int(truth["speech"][0]["start"] * rate)]
    snr_db = 10 * np.log10(np.mean(speech**2) / np.mean(lead**2))
    assert 10 < snr_db < 20  # mixed at about 15 dB


def test_stereo_channels_differ_in_gain() -> None:
    audio, _ = sf.read(DATA / "speech_44k_stereo.flac")
    left, right = np.abs(audio).max(axis=0)
    assert left / right == pytest.approx(2.0, rel=0.01)
