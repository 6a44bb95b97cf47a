"""Frequency band of an event from its power spectrogram, on synthetic tones, chirps, noise."""

from __future__ import annotations

import numpy as np
import pytest

from gabortag.tasks.birdcalls.bands import PowerSpectrum, central_band, frequency_range

from _signals import chirp, tone  # isort: skip


@pytest.mark.parametrize("sr", [32_000, 44_100])
def test_a_tone_gives_a_narrow_band_around_it(sr: int) -> None:
    low, high = frequency_range(tone(3000.0, 0.5, sr), sr, 0.0, 0.5, 500.0, 12_000.0)
    assert low < 3000.0 < high
    assert high - low < 3 * sr / 512  # within the Hann main lobe


@pytest.mark.parametrize("sr", [32_000, 44_100])
def test_a_chirp_gives_the_central_90_percent_of_its_sweep(sr: int) -> None:
    """A linear sweep spreads its energy evenly: 5 % below 2.2 kHz and 5 % above 5.8 kHz."""
    low, high = frequency_range(chirp(2000.0, 6000.0, 1.0, sr), sr, 0.0, 1.0, 500.0, 12_000.0)
    assert low == pytest.approx(2200.0, abs=60.0)
    assert high == pytest.approx(5800.0, abs=60.0)
    low50, high50 = frequency_range(
        chirp(2000.0, 6000.0, 1.0, sr), sr, 0.0, 1.0, 500.0, 12_000.0, coverage=0.5
    )
    assert low50 == pytest.approx(3000.0, abs=60.0) and high50 == pytest.approx(5000.0, abs=60.0)


def test_white_noise_spans_the_searched_band() -> None:
    sr = 32_000
    noise = np.random.default_rng(0).standard_normal(sr)
    low, high = frequency_range(noise, sr, 0.0, 1.0, 500.0, 12_000.0)
    assert low == pytest.approx(500.0 + 0.05 * 11_500.0, abs=150.0)
    assert high == pytest.approx(500.0 + 0.95 * 11_500.0, abs=150.0)


def test_only_the_event_and_only_the_band_count() -> None:
    sr = 32_000
    wav = np.concatenate([tone(2000.0, 1.0, sr), tone(7000.0, 1.0, sr)])
    assert frequency_range(wav, sr, 0.1, 0.9, 500.0, 12_000.0)[1] < 2200.0
    assert frequency_range(wav, sr, 1.1, 1.9, 500.0, 12_000.0)[0] > 6800.0
    # energy below f_min is ignored: a loud 200 Hz hum under a quiet 4 kHz call
    hum = tone(200.0, 0.5, sr, amp=0.9) + tone(4000.0, 0.5, sr, amp=0.05)
    low, high = frequency_range(hum, sr, 0.0, 0.5, 500.0, 12_000.0)
    assert 3800.0 < low < 4000.0 < high < 4200.0


def test_edge_cases() -> None:
    sr = 32_000
    assert frequency_range(np.zeros(sr), sr, 0.0, 1.0, 500.0, 12_000.0) == (500.0, 12_000.0)
    short = tone(5000.0, 0.005, sr)  # 160 samples: one zero-padded frame
    low, high = frequency_range(short, sr, 0.0, 0.005, 500.0, 12_000.0)
    assert low < 5000.0 < high
    # f_max above Nyquist is clipped; times beyond the signal are clipped
    low, high = frequency_range(tone(3000.0, 0.5, 8000), 8000, 0.0, 9.0, 100.0, 12_000.0)
    assert low < 3000.0 < high <= 4000.0
    with pytest.raises(ValueError, match="empty"):
        frequency_range(short, sr, 0.0, 0.005, 5000.0, 4000.0)
    with pytest.raises(ValueError, match="empty"):
        frequency_range(short, 8000, 0.0, 0.005, 5000.0, 12_000.0)
    with pytest.raises(ValueError, match="before start_s"):
        frequency_range(short, sr, 0.004, 0.001, 500.0, 12_000.0)


def test_streamed_spectrum_does_not_depend_on_the_blocks() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(20_000)
    whole = PowerSpectrum(32_000)
    whole.add(x)
    reference = whole.finish()
    for cuts in ([1], [255, 256, 257], [511, 512, 513, 1000], list(range(100, 20_000, 997))):
        spectrum = PowerSpectrum(32_000)
        for block in np.split(x, cuts):
            spectrum.add(block)
        np.testing.assert_allclose(spectrum.finish(), reference, rtol=1e-10)
        assert spectrum.frames == whole.frames == 78  # 77 full frames, 1 zero-padded
    # an exact number of frames needs no padded frame: 512 + 2 * 256 samples = 3 frames
    exact = PowerSpectrum(32_000)
    exact.add(x[:1024])
    exact.finish()
    assert exact.frames == 3


def test_central_band_interpolates_within_bins() -> None:
    freqs = np.arange(11) * 100.0  # bins 100 Hz wide, centred on 0, 100, ..., 1000 Hz
    energy = np.zeros(11)
    energy[3] = energy[4] = 1.0  # evenly over [250, 450) Hz
    assert central_band(energy, freqs, 0.0, 1000.0) == pytest.approx((260.0, 440.0))
    assert central_band(energy, freqs, 0.0, 1000.0, coverage=1.0) == pytest.approx((250.0, 450.0))
    # half of bin 3 lies below f_min = 300 Hz: only its upper half counts
    assert central_band(energy, freqs, 300.0, 1000.0) == pytest.approx((307.5, 442.5))
    with pytest.raises(ValueError, match="coverage"):
        central_band(energy, freqs, 0.0, 1000.0, coverage=0.0)
