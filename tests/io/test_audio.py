"""The audio entry point: formats, rates, channels, streaming, and every input problem.

All signals are synthetic and written to ``tmp_path``; nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gabortag.errors import AudioError
from gabortag.io import audio
from gabortag.io.audio import AudioInfo, load_audio, open_stream, probe

from _signals import tone  # isort: skip

RNG = np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _fresh_stdin_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "_ONCE_ONLY_CACHE", {})


def sine(freq: float, rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    """``(samples, channels)`` float32 sine at ``freq`` Hz, amplitude 0.5."""
    mono = tone(freq, seconds, rate)
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32)


def noise(n: int, channels: int = 1) -> np.ndarray:
    return (0.1 * RNG.standard_normal((n, channels))).astype(np.float32)


def write(path: Path, data: np.ndarray, rate: int, **kwargs: str) -> str:
    sf.write(str(path), data, rate, **kwargs)
    return str(path)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


def whole(x: np.ndarray, in_sr: int, out_sr: int) -> np.ndarray:
    """Reference: mono mean, then the whole signal resampled at once."""
    mono = x.mean(axis=1, dtype=np.float32) if x.ndim == 2 else x
    if in_sr == out_sr:
        return mono.astype(np.float32)
    return np.asarray(soxr.resample(mono, in_sr, out_sr, quality="HQ"), dtype=np.float32)


def expect_error(source: str | Path, *words: str) -> AudioError:
    with pytest.raises(AudioError) as caught:
        load_audio(source, 16000)
    err = caught.value
    message = str(err)
    assert "\n" not in message
    assert message.startswith(f"{err.path}: ")
    for word in words:
        assert word in message, message
    return err


# --------------------------------------------------------------------------- formats and rates


def test_resample_44k_sine_to_16k(tmp_path: Path) -> None:
    path = write(tmp_path / "sine.wav", sine(1000, 44100, 2.0), 44100)
    y, info = load_audio(path, 16000)
    assert info == AudioInfo(path, 44100, 1, 88200, 2.0)
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) == 32000
    assert abs(peak_hz(y, 16000) - 1000) < 2
    assert abs(np.sqrt(np.mean(y[1000:-1000] ** 2)) - 0.5 / np.sqrt(2)) < 0.01


def test_same_rate_is_not_resampled(tmp_path: Path) -> None:
    data = noise(16003)
    path = write(tmp_path / "n.wav", data, 16000, subtype="FLOAT")
    y, _ = load_audio(path, 16000)
    np.testing.assert_array_equal(y, data[:, 0])


def test_upsampling(tmp_path: Path) -> None:
    path = write(tmp_path / "s.wav", sine(440, 8000, 1.0), 8000)
    y, _ = load_audio(path, 16000)
    assert len(y) == 16000
    assert abs(peak_hz(y, 16000) - 440) < 2


@pytest.mark.parametrize(
    ("n", "rate", "block_seconds"),
    [(12345, 44100, 0.05), (7777, 22050, 0.0137), (48001, 48000, 0.1), (999, 8000, 1e-4)],
)
def test_stream_equals_whole(tmp_path: Path, n: int, rate: int, block_seconds: float) -> None:
    data = noise(n, channels=2)
    path = write(tmp_path / "x.wav", data, rate, subtype="FLOAT")
    info, blocks = open_stream(path, 16000, block_seconds=block_seconds)
    parts = list(blocks)
    assert info.frames == n
    assert len(parts) > 1
    assert all(p.dtype == np.float32 and p.ndim == 1 and p.size > 0 for p in parts)
    streamed = np.concatenate(parts)
    reference = whole(data, rate, 16000)
    assert streamed.shape == reference.shape
    np.testing.assert_allclose(streamed, reference, atol=1e-4)


@given(
    n=st.integers(1, 6000),
    rate=st.sampled_from([8000, 22050, 44100, 48000]),
    block_frames=st.integers(1, 7000),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_stream_equals_whole(
    tmp_path_factory: pytest.TempPathFactory, n: int, rate: int, block_frames: int
) -> None:
    data = (0.3 * np.sin(np.arange(n) * 0.37 + n)).astype(np.float32)
    path = write(tmp_path_factory.mktemp("prop") / "p.wav", data, rate, subtype="FLOAT")
    _, blocks = open_stream(path, 16000, block_seconds=block_frames / rate)
    parts = list(blocks)
    streamed = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    reference = whole(data, rate, 16000)
    assert streamed.shape == reference.shape
    np.testing.assert_allclose(streamed, reference, atol=1e-4)
    loaded, _ = load_audio(path, 16000)
    np.testing.assert_allclose(loaded, reference, atol=1e-4)


def test_downmix_eight_channels(tmp_path: Path) -> None:
    data = noise(8000, channels=8)
    path = write(tmp_path / "eight.wav", data, 16000, subtype="FLOAT")
    y, info = load_audio(path, 16000)
    assert info.channels == 8
    np.testing.assert_allclose(y, data.mean(axis=1), atol=1e-6)


def test_opposite_channels_cancel(tmp_path: Path) -> None:
    left = sine(300, 16000, 0.5)
    path = write(tmp_path / "st.wav", np.hstack([left, -left]), 16000, subtype="FLOAT")
    y, _ = load_audio(path, 16000)
    assert np.abs(y).max() < 1e-6


@pytest.mark.parametrize(
    ("rate", "subtype"),
    [(192000, "PCM_24"), (96000, "PCM_24"), (48000, "DOUBLE"), (44100, "PCM_U8"), (32000, "ULAW")],
)
def test_wav_variants(tmp_path: Path, rate: int, subtype: str) -> None:
    path = write(
        tmp_path / f"v_{subtype}.wav", sine(1000, rate, 0.5, channels=2), rate, subtype=subtype
    )
    y, info = load_audio(path, 16000)
    assert (info.sample_rate, info.channels) == (rate, 2)
    assert len(y) == 8000
    assert abs(peak_hz(y, 16000) - 1000) < 4
    assert 0.4 < np.abs(y[500:-500]).max() < 0.6


@pytest.mark.parametrize(
    ("ext", "fmt", "subtype"),
    [
        ("flac", "FLAC", "PCM_24"),
        ("ogg", "OGG", "VORBIS"),
        ("opus", "OGG", "OPUS"),
        ("mp3", "MP3", "MPEG_LAYER_III"),
        ("aiff", "AIFF", "PCM_16"),
        ("caf", "CAF", "PCM_16"),
        ("w64", "W64", "FLOAT"),
    ],
)
def test_compressed_and_other_formats(tmp_path: Path, ext: str, fmt: str, subtype: str) -> None:
    if not sf.check_format(fmt, subtype):
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}")
    path = write(tmp_path / f"c.{ext}", sine(1000, 48000, 1.0), 48000, format=fmt, subtype=subtype)
    info = probe(path)
    assert info.sample_rate == 48000 and info.channels == 1
    y, loaded = load_audio(path, 16000)
    assert abs(loaded.duration - 1.0) < 0.1
    assert abs(len(y) - 16000) < 1600
    assert abs(peak_hz(y, 16000) - 1000) < 5


def test_probe_reads_header_only(tmp_path: Path) -> None:
    path = write(tmp_path / "p.flac", noise(22050, channels=3), 22050)
    assert probe(path) == AudioInfo(path, 22050, 3, 22050, 1.0)
    assert probe(Path(path)) == AudioInfo(path, 22050, 3, 22050, 1.0)


def test_one_sample_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "one.wav", np.array([0.25], np.float32), 16000, subtype="FLOAT")
    y, info = load_audio(path, 16000)
    assert info.frames == 1
    np.testing.assert_array_equal(y, [0.25])
    y44, _ = load_audio(write(tmp_path / "one44.wav", np.array([0.25], np.float32), 44100), 16000)
    assert y44.dtype == np.float32 and y44.ndim == 1 and len(y44) <= 1


def test_silence_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "silence.wav", np.zeros(16000, np.float32), 16000)
    y, _ = load_audio(path, 16000)
    assert len(y) == 16000 and not y.any()


def test_awkward_file_names(tmp_path: Path) -> None:
    data = noise(1600)
    spaced = write(tmp_path / "with spaces and ünïcode.wav", data, 16000)
    assert load_audio(spaced, 16000)[0].shape == (1600,)
    raw_name = os.fsdecode(tmp_path).encode() + b"/caf\xe9 \xff.wav"
    with open(raw_name, "wb") as handle:
        sf.write(handle, data, 16000, format="WAV")
    as_str = os.fsdecode(raw_name)
    y, info = load_audio(as_str, 16000)
    assert y.shape == (1600,) and info.path == as_str
    assert probe(raw_name).path == as_str  # bytes paths work too


# --------------------------------------------------------------------------- stdin and arrays


class FakeStdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False


def test_stdin_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    sf.write(buf, sine(1000, 44100, 1.0, channels=2), 44100, format="FLAC")
    monkeypatch.setattr(sys, "stdin", FakeStdin(buf.getvalue()))
    info = probe("-")
    assert info == AudioInfo("<stdin>", 44100, 2, 44100, 1.0)
    y, again = load_audio("-", 16000)  # the buffer is exhausted: the cached bytes are used
    assert again == info and len(y) == 16000
    assert abs(peak_hz(y, 16000) - 1000) < 2


def test_stdin_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin(b""))
    expect_error("-", "<stdin>", "empty input")
    monkeypatch.setattr(audio, "_ONCE_ONLY_CACHE", {})
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"not audio at all, just words"))
    expect_error("-", "<stdin>: not a readable audio file")


def test_arrays() -> None:
    stereo = sine(1000, 48000, 1.0, channels=2)
    y, info = load_audio(stereo, 16000, sample_rate=48000)
    assert info == AudioInfo("<array>", 48000, 2, 48000, 1.0)
    np.testing.assert_allclose(y, whole(stereo, 48000, 16000), atol=1e-6)
    mono, _ = load_audio(stereo[:, 0].astype(np.float64), 48000, sample_rate=48000)
    np.testing.assert_allclose(mono, stereo[:, 0], atol=1e-7)
    ints, _ = load_audio(np.array([16384, -32768], np.int16), 16000, sample_rate=16000)
    np.testing.assert_array_equal(ints, [0.5, -1.0])


def test_array_misuse() -> None:
    x = np.zeros(100, np.float32)
    with pytest.raises(ValueError, match="sample_rate"):
        load_audio(x, 16000)
    with pytest.raises(ValueError, match="1-D"):
        load_audio(np.zeros((2, 2, 2)), 16000, sample_rate=16000)
    with pytest.raises(ValueError, match=r"\.T"):
        load_audio(np.zeros((2, 48000)), 16000, sample_rate=48000)
    with pytest.raises(ValueError, match="target_sr"):
        load_audio(x, 100, sample_rate=16000)
    with pytest.raises(AudioError, match="<array>: sample rate 10 Hz"):
        load_audio(x, 16000, sample_rate=10)
    with pytest.raises(AudioError, match="<array>: contains no audio samples"):
        load_audio(np.zeros(0, np.float32), 16000, sample_rate=16000)
    x[50] = np.inf
    with pytest.raises(AudioError, match="non-finite"):
        load_audio(x, 16000, sample_rate=16000)


# --------------------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path: Path) -> None:
    err = expect_error(tmp_path / "nope.wav", "nope.wav", "does not exist")
    assert err.path == str(tmp_path / "nope.wav")


def test_directory(tmp_path: Path) -> None:
    expect_error(tmp_path, str(tmp_path), "is a directory")


def test_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / "link.wav"
    link.symlink_to(tmp_path / "gone.wav")
    expect_error(link, "link.wav", "broken symlink", "gone.wav")


def test_working_symlink(tmp_path: Path) -> None:
    target = write(tmp_path / "t.wav", noise(800), 16000)
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    assert load_audio(link, 16000)[0].shape == (800,)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.wav", noise(800), 16000)
    os.chmod(path, 0)
    try:
        expect_error(path, "locked.wav", "permission denied")
    finally:
        os.chmod(path, 0o644)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    expect_error(path, "empty.wav", "empty file (0 bytes)")
    with pytest.raises(AudioError, match="empty file"):
        probe(path)


def test_text_file_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes, not audio\n" * 20)
    expect_error(path, "notes.wav: not a readable audio file (Format not recognised)")


@pytest.mark.parametrize("make", ["header_only", "zero_frames"])
def test_no_samples(tmp_path: Path, make: str) -> None:
    path = tmp_path / f"{make}.wav"
    if make == "header_only":
        buf = io.BytesIO()
        sf.write(buf, noise(1000), 16000, format="WAV", subtype="PCM_16")
        path.write_bytes(buf.getvalue()[:44])
    else:
        write(path, np.zeros((0, 1), np.float32), 16000)
    expect_error(path, f"{make}.wav", "contains no audio samples")
    with pytest.raises(AudioError, match="contains no audio samples"):
        probe(path)


def test_truncated_wav_gives_readable_part(tmp_path: Path) -> None:
    data = noise(16000)
    full = tmp_path / "full.wav"
    write(full, data, 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    raw = full.read_bytes()
    cut.write_bytes(raw[: 44 + 2 * 6000 + 1])  # mid-data, mid-sample
    y, info = load_audio(cut, 16000)
    assert info.frames == len(y) and 5990 <= len(y) <= 6000
    np.testing.assert_allclose(y, data[: len(y), 0], atol=1 / 32768)


def test_truncated_flac_is_a_clear_error(tmp_path: Path) -> None:
    full = tmp_path / "full.flac"
    write(full, noise(48000), 16000)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    info = probe(cut)  # the header still promises every frame
    assert info.frames == 48000
    err = expect_error(cut, "cut.flac", "truncated or corrupt")
    assert "t=" in err.reason


def test_nan_float_wav(tmp_path: Path) -> None:
    data = np.zeros((40000, 2), np.float32)
    data[int(1.5 * 16000) + 3, 1] = np.nan
    path = write(tmp_path / "nan.wav", data, 16000, subtype="FLOAT")
    expect_error(path, "nan.wav", "non-finite samples (NaN or Inf) at t=1.50 s")
    _, blocks = open_stream(path, 16000, block_seconds=1.0)
    first = next(blocks)  # the first second is fine
    assert len(first) == 16000
    with pytest.raises(AudioError, match=r"t=1\.50 s"):
        next(blocks)


def test_unsupported_sample_rate(tmp_path: Path) -> None:
    path = write(tmp_path / "slow.wav", noise(100), 500)
    expect_error(path, "slow.wav", "sample rate 500 Hz")


def test_bad_arguments(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.wav", noise(100), 16000)
    with pytest.raises(ValueError, match="block_seconds"):
        open_stream(path, 16000, block_seconds=0)
    with pytest.raises(ValueError, match="target_sr"):
        load_audio(path, 10_000_000)
    with pytest.raises(ValueError, match="sample_rate"):
        load_audio(path, 16000, sample_rate=16000)


def test_stream_closes_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.wav", noise(16000), 16000)
    _, blocks = open_stream(path, 8000, block_seconds=0.1)
    next(blocks)
    assert isinstance(blocks, Iterator)
    blocks.close()  # type: ignore[attr-defined]
    with pytest.raises(StopIteration):
        next(blocks)


def test_permission_denied_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Runs even as root (who can read anything) by making open() fail as it would for a user.
    path = write(tmp_path / "locked.wav", noise(800), 16000)

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(audio, "open", denied, raising=False)
    expect_error(path, "locked.wav: permission denied")


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="needs /dev/fd")
def test_pipe_path_is_read_once(tmp_path: Path) -> None:
    # Like `gabortag <(cat a.wav)`: the path is a pipe, which libsndfile cannot seek.
    buf = io.BytesIO()
    sf.write(buf, noise(1000), 16000, format="WAV", subtype="PCM_16")
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, buf.getvalue())
        os.close(write_end)
        source = f"/dev/fd/{read_end}"
        assert probe(source).frames == 1000
        y, info = load_audio(source, 16000)
        assert len(y) == 1000 and info.path == source
    finally:
        os.close(read_end)
