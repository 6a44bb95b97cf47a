"""The torch log-mel front end against numpy, and the HTK mel-scale geometry."""

from __future__ import annotations

import numpy as np
import pytest

from gabortag.melscale import (
    bins_per_octave,
    hz_to_mel,
    mel_centres_hz,
    mel_filterbank,
    mel_to_hz,
)

# ----------------------------------------------------------------------------- mel scale (numpy)


def test_htk_mel_known_values() -> None:
    assert float(hz_to_mel(0.0)) == 0.0
    assert float(hz_to_mel(1000.0)) == pytest.approx(1000.0, abs=0.05)  # HTK anchors 1 kHz
    assert float(hz_to_mel(700.0)) == pytest.approx(2595.0 * np.log10(2.0), rel=1e-12)


def test_mel_round_trip() -> None:
    hz = np.concatenate(
        [[0.0, 1e-3, 60.0, 700.0, 1000.0, 8000.0, 22050.0], np.geomspace(1, 96e3, 200)]
    )
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12, atol=1e-9)
    mel = np.linspace(0, 4000, 101)
    np.testing.assert_allclose(hz_to_mel(mel_to_hz(mel)), mel, rtol=1e-12, atol=1e-9)
    assert np.all(np.diff(hz_to_mel(np.linspace(0, 8000, 500))) > 0)


@pytest.mark.parametrize(("n_mels", "f_min", "f_max"), [(40, 60.0, 8000.0), (64, 0.0, 8000.0)])
def test_filterbank_triangles_peak_at_band_centres(n_mels: int, f_min: float, f_max: float) -> None:
    # a 1 Hz DFT grid, so every centre lies within 0.5 Hz of a bin
    sr, n_fft = 16000, 16000
    fb = mel_filterbank(sr, n_fft, n_mels, f_min, f_max).astype(np.float64)
    assert fb.shape == (n_mels, n_fft // 2 + 1)
    assert fb.min() >= 0.0 and fb.max() <= 1.0 + 1e-6
    bins_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    centres = mel_centres_hz(n_mels, f_min, f_max)
    assert np.all(np.diff(centres) > 0)
    assert np.all(np.diff(np.diff(centres)) > 0)  # wider apart at high frequency
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    np.testing.assert_allclose(centres, edges[1:-1])
    for m in range(n_mels):
        row = fb[m]
        peak = int(np.argmax(row))
        assert abs(bins_hz[peak] - centres[m]) <= 1.0
        assert row.max() == pytest.approx(1.0, abs=0.03)
        # support strictly inside the neighbours' centres, and an independent triangle
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        assert np.all(row[(bins_hz <= lo) | (bins_hz >= hi)] == 0.0)
        tri = np.clip(np.minimum((bins_hz - lo) / (c - lo), (hi - bins_hz) / (hi - c)), 0, None)
        np.testing.assert_allclose(row, tri, atol=1e-6)
    # neighbouring triangles cross at half height and sum to one between the first and last centre
    inside = (bins_hz >= centres[0]) & (bins_hz <= centres[-1])
    np.testing.assert_allclose(fb[:, inside].sum(axis=0), 1.0, atol=1e-5)


def test_filterbank_on_coarse_grid() -> None:
    """The shipped geometry (400-point DFT, 40 Hz bins): peaks below 1 but every band is hit."""
    fb = mel_filterbank(16000, 400, 40, 60.0, 8000.0)
    assert fb.shape == (40, 201)
    assert np.all(fb.max(axis=1) > 0.5) and np.all(fb.max(axis=1) <= 1.0)
    assert np.all(np.diff(np.argmax(fb, axis=1)) >= 0)


@pytest.mark.parametrize("bad", [(-1.0, 8000.0), (100.0, 100.0), (0.0, 8001.0), (500.0, 200.0)])
def test_filterbank_rejects_bad_range(bad: tuple[float, float]) -> None:
    with pytest.raises(ValueError):
        mel_filterbank(16000, 400, 40, *bad)


def test_bins_per_octave_htk() -> None:
    """HTK mel is ~linear below 700 Hz and ~logarithmic above, so mel bins per octave are
    positive and *increase* with frequency, towards 2595 log10(2) / step at high frequency."""
    n_mels, f_min, f_max = 40, 60.0, 8000.0
    step = (hz_to_mel(f_max) - hz_to_mel(f_min)) / (n_mels + 1)
    freqs = np.geomspace(50, 8000, 40)
    bpo = np.array([bins_per_octave(f, n_mels, f_min, f_max) for f in freqs])
    assert np.all(bpo > 0)
    assert np.all(np.diff(bpo) > 0)
    assert bpo[-1] < 2595.0 * np.log10(2.0) / step
    # independent check: centred finite difference of mel over log2 frequency
    h = 1e-4
    for f, b in zip(freqs, bpo, strict=True):
        numeric = (hz_to_mel(f * 2**h) - hz_to_mel(f * 2**-h)) / (2 * h) / step
        assert b == pytest.approx(float(numeric), rel=1e-6)
    # and, coarsely, by counting band centres within one octave around 1 kHz
    centres = mel_centres_hz(n_mels, f_min, f_max)
    count = np.sum((centres >= 1000 / np.sqrt(2)) & (centres < 1000 * np.sqrt(2)))
    assert abs(count - bins_per_octave(1000.0, n_mels, f_min, f_max)) <= 1.0


# ----------------------------------------------------------------------------- torch front end


def numpy_log_mel(
    wav: np.ndarray,
    sr: int,
    win: int,
    hop: int,
    n_mels: int,
    f_min: float,
    f_max: float,
    eps: float,
) -> np.ndarray:
    """Independent reference: valid frames, periodic Hann, rfft, power, mel, log."""
    n_frames = (len(wav) - win) // hop + 1
    window = np.hanning(win + 1)[:-1]  # periodic Hann
    frames = np.stack([wav[i * hop : i * hop + win] for i in range(n_frames)]).astype(np.float64)
    power = np.abs(np.fft.rfft(frames * window, n=win, axis=1)) ** 2  # (T, bins)
    fb = mel_filterbank(sr, win, n_mels, f_min, f_max).astype(np.float64)
    return np.log(power @ fb.T + eps).T  # (n_mels, T)


@pytest.mark.parametrize(
    ("win", "hop", "n_mels", "f_min", "f_max", "n"),
    [
        (400, 160, 40, 60.0, 8000.0, 16000 + 123),
        (512, 128, 64, 0.0, 7600.0, 4099),
        (400, 160, 16, 60.0, 8000.0, 400),
    ],
)
def test_logmel_matches_numpy(
    win: int, hop: int, n_mels: int, f_min: float, f_max: float, n: int
) -> None:
    torch = pytest.importorskip("torch")
    from gabortag.training.nets.frontend import LogMel

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    t = np.arange(n) / 16000
    wav = (0.1 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    wav[: n // 4] *= 0.01  # a quiet stretch, to exercise small mel energies
    front = LogMel(16000, win, hop, n_mels, f_min, f_max, eps=1e-6)
    with torch.no_grad():
        got = front(torch.from_numpy(np.stack([wav, wav[::-1].copy()])))
    assert got.shape == (2, n_mels, (n - win) // hop + 1)
    for b, x in enumerate([wav, wav[::-1]]):
        want = numpy_log_mel(x, 16000, win, hop, n_mels, f_min, f_max, 1e-6)
        assert np.abs(got[b].numpy() - want).max() < 1e-3


def test_logmel_frames_are_local() -> None:
    """Frame i depends on samples [i*hop, i*hop + win) only (valid framing, no padding)."""
    torch = pytest.importorskip("torch")
    from gabortag.training.nets.frontend import LogMel

    front = LogMel()
    wav = torch.randn(1, 4000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        whole = front(wav)
        tail = front(wav[:, 160 * 7 :])
    torch.testing.assert_close(tail, whole[..., 7:], atol=1e-4, rtol=1e-4)
