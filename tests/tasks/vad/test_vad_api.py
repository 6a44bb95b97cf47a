"""The Python API: ``gabortag.detect_speech`` and ``gabortag.load_model`` on the committed clips."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import gabortag
import gabortag.inference as inference
import gabortag.models as models
from gabortag import GabortagError, ModelError, Segment, VadOptions, VadResult

from _paths import DATA  # isort: skip

SPEECH = DATA / "speech_noise.flac"
NOISE = DATA / "noise.flac"
STEREO = DATA / "speech_44k_stereo.flac"
FRAME = 0.01  # seconds per frame when comparing with the truth


def truth(name: str) -> list[tuple[float, float]]:
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    return [(s["start"], s["end"]) for s in data["speech"]]


def frame_mask(spans: list[tuple[float, float]], duration: float) -> np.ndarray:
    """Whether the centre of each 10 ms frame of ``[0, duration)`` lies inside a span."""
    centres = (np.arange(math.ceil(duration / FRAME)) + 0.5) * FRAME
    mask = np.zeros(len(centres), bool)
    for start, end in spans:
        mask |= (centres >= start) & (centres < end)
    return mask


def frame_f1(result: VadResult, reference: list[tuple[float, float]]) -> float:
    hyp = frame_mask([(s.start, s.end) for s in result.segments], result.duration)
    ref = frame_mask(reference, result.duration)
    tp = float(np.sum(hyp & ref))
    return 2 * tp / (hyp.sum() + ref.sum()) if hyp.sum() + ref.sum() else 1.0


def check_segments(result: VadResult) -> None:
    bounds = [t for s in result.segments for t in (s.start, s.end)]
    assert bounds == sorted(bounds)
    assert all(s.start < s.end for s in result.segments)
    assert all(0.0 <= t <= result.duration for t in bounds)


@pytest.fixture(scope="module")
def model() -> inference.Model:
    return gabortag.load_model("vad")


# --------------------------------------------------------------------------- detection quality


def test_speech_clip_matches_truth(model: inference.Model) -> None:
    result = gabortag.detect_speech(SPEECH, model=model)
    assert isinstance(result, VadResult)
    assert result.path == str(SPEECH)
    assert result.duration == pytest.approx(sf.info(str(SPEECH)).duration)
    assert (result.sample_rate, result.channels) == (16_000, 1)
    assert result.model == model.name
    check_segments(result)
    ref = truth("speech_noise.json")
    # Every true sentence overlaps a detected segment, and the frames agree.
    for start, end in ref:
        assert any(s.start < end and start < s.end for s in result.segments), (start, end)
    assert frame_f1(result, ref) >= 0.8


def test_noise_clip_has_no_speech(model: inference.Model) -> None:
    result = gabortag.detect_speech(str(NOISE), model=model)
    check_segments(result)
    assert result.speech_duration < 0.3, result.segments


def test_stereo_44k_is_resampled_and_downmixed(model: inference.Model) -> None:
    result = gabortag.detect_speech(STEREO, model=model)
    assert (result.sample_rate, result.channels) == (44_100, 2)
    assert result.duration == pytest.approx(sf.info(str(STEREO)).duration)
    check_segments(result)
    ref = truth("speech_44k_stereo.json")
    (start, end) = ref[0]
    assert any(s.start < end and start < s.end for s in result.segments)
    assert frame_f1(result, ref) >= 0.8


@pytest.mark.parametrize("clip", [SPEECH, STEREO, NOISE], ids=lambda p: p.name)
def test_array_in_memory_equals_path(model: inference.Model, clip: Path) -> None:
    audio, rate = sf.read(str(clip), dtype="float32")
    from_array = gabortag.detect_speech(audio, rate, model=model)
    from_path = gabortag.detect_speech(clip, model=model)
    assert from_array.segments == from_path.segments
    assert from_array.duration == pytest.approx(from_path.duration)
    assert from_array.path == "<array>"


def test_return_scores(model: inference.Model) -> None:
    for clip in (SPEECH, STEREO):
        result = gabortag.detect_speech(clip, model=model, return_scores=True)
        assert result.scores is not None
        assert result.scores.hop_s == pytest.approx(0.02)
        values = np.array(result.scores.values)
        assert len(values) == math.ceil(result.duration / 0.02)
        assert np.all((values >= 0.0) & (values <= 1.0))
        # The speech clip is confidently scored both ways.
        assert values.max() > 0.9 and values.min() < 0.2
    assert gabortag.detect_speech(SPEECH, model=model).scores is None


@pytest.mark.parametrize("n", [1, 319, 320, 321, 16_000, 33_333])
def test_scores_cover_arrays_of_any_length(model: inference.Model, n: int) -> None:
    wav = np.random.default_rng(n).normal(0, 0.05, n).astype(np.float32)
    result = gabortag.detect_speech(wav, 16_000, model=model, return_scores=True)
    assert result.scores is not None
    assert len(result.scores.values) == math.ceil(n / 320)
    check_segments(result)


def test_options_are_used(model: inference.Model) -> None:
    default = gabortag.detect_speech(SPEECH, model=model)
    never = gabortag.detect_speech(SPEECH, model=model, options=VadOptions(onset=1.0, offset=1.0))
    assert default.segments and never.segments == ()
    padded = gabortag.detect_speech(
        SPEECH, model=model, options=VadOptions(pad=0.2, min_silence=10.0)
    )
    assert len(padded.segments) == 1  # the gap between the sentences is filled
    assert padded.segments[0].start <= default.segments[0].start


# --------------------------------------------------------------------------- usage errors


def test_non_vad_model_is_refused(model: inference.Model) -> None:
    tagger = copy.copy(model)
    tagger.info = dataclasses.replace(model.info, task="tagging")
    with pytest.raises(GabortagError, match=r"'tagging' model, not a vad model"):
        gabortag.detect_speech(SPEECH, model=tagger)


def test_array_needs_sample_rate(model: inference.Model) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        gabortag.detect_speech(np.zeros(16_000, np.float32), model=model)


def test_missing_file_is_an_audio_error(model: inference.Model, tmp_path: Path) -> None:
    with pytest.raises(gabortag.AudioError, match="does not exist"):
        gabortag.detect_speech(tmp_path / "nope.wav", model=model)


# --------------------------------------------------------------------------- models


def test_load_model_is_cached() -> None:
    a = gabortag.load_model("vad")
    assert gabortag.load_model("vad") is a
    assert gabortag.load_model("vad", threads=1) is gabortag.load_model("vad", threads=1)
    assert gabortag.load_model("vad", threads=1) is not a
    assert a.info.task == "vad" and a.sample_rate == 16_000
    assert a.hop_seconds == pytest.approx(0.02)


def test_unknown_model_lists_bundled_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # so that "no-such-model" is not a file by chance
    names = [e.name for e in models.manifest()]
    with pytest.raises(ModelError) as info:
        gabortag.load_model("no-such-model")
    assert "no-such-model" in str(info.value)
    for name in names:
        assert name in str(info.value)
    with pytest.raises(ModelError, match="does not exist"):
        gabortag.load_model(tmp_path / "missing.onnx")


def test_onnx_path_works(model: inference.Model) -> None:
    entry = models.find_entry("vad")
    path = models.models_dir() / entry.file
    by_path = gabortag.load_model(path)
    assert by_path.info.task == "vad"
    assert by_path.spec.sha256 is None  # a path is not checked against the manifest
    result = gabortag.detect_speech(SPEECH, model=str(path))
    assert result.segments == gabortag.detect_speech(SPEECH, model=model).segments


def test_alias_resolves_to_the_same_file() -> None:
    entry = models.find_entry("vad")
    for alias in entry.aliases:
        assert models.resolve(alias).path == models.resolve("vad").path


@pytest.fixture
def clean_caches() -> Iterator[None]:
    models._verified_sha.cache_clear()
    inference._cached.cache_clear()
    yield
    models._verified_sha.cache_clear()
    inference._cached.cache_clear()


@pytest.mark.usefixtures("clean_caches")
def test_tampered_bundled_model_fails_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied = tmp_path / "models"
    shutil.copytree(models.models_dir(), copied)
    monkeypatch.setattr(models, "models_dir", lambda: copied)
    entry = models.find_entry("vad")
    onnx = copied / entry.file
    assert models.resolve("vad").path == onnx  # the intact copy verifies

    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    st = onnx.stat()
    os.utime(onnx, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))  # surely a new mtime

    with pytest.raises(ModelError, match="checksum") as info:
        models.resolve("vad")
    assert str(onnx) in str(info.value) and "reinstall" in str(info.value)
    with pytest.raises(ModelError, match="checksum"):
        gabortag.load_model("vad")


def test_public_names() -> None:
    assert Segment(0.0, 1.5).duration == 1.5
    assert set(gabortag.__all__) >= {"detect_speech", "load_model", "VadOptions", "ModelError"}
    for name in gabortag.__all__:  # each public name resolves (the lazy table has no stale entry)
        assert getattr(gabortag, name) is not None
    assert issubclass(gabortag.OptionError, ValueError)
    with pytest.raises(AttributeError):
        gabortag.no_such_name  # noqa: B018
