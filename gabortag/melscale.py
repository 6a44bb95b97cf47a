"""Mel filterbank and mel-scale geometry, in numpy (no torch).

The same filterbank is used by the torch front end at training time and is baked into the
ONNX graph at export, so inference needs neither torch nor torchaudio. The mel scale is the
HTK one, ``mel(f) = 2595 log10(1 + f / 700)``, with triangular filters on the power spectrum
(no area normalisation), as ``torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk")``.
"""

from __future__ import annotations

import numpy as np


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Frequency in Hz to HTK mel."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """HTK mel to frequency in Hz."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float
) -> np.ndarray:
    """Triangular mel filters over the one-sided power spectrum.

    Returns:
        float32 array of shape ``(n_mels, n_fft // 2 + 1)``; row ``m`` weights the DFT bins
        (bin ``k`` is ``k * sample_rate / n_fft`` Hz) for mel band ``m``.
    """
    if not 0.0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"need 0 <= f_min < f_max <= {sample_rate / 2} Hz, got {f_min}, {f_max}")
    bins_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bins_hz[None, :]) / (upper - centre)
    weights: np.ndarray = np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)
    return weights


def mel_centres_hz(n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Centre frequency in Hz of each of the ``n_mels`` bands, shape ``(n_mels,)``."""
    return mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))[1:-1]


def bins_per_octave(freq_hz: float, n_mels: int, f_min: float, f_max: float) -> float:
    """Local density of mel bands per octave at ``freq_hz``.

    One mel bin spans ``step`` mel; an octave at ``f`` spans ``mel(2f') - mel(f')`` around it.
    Used to turn spectral modulation in cycles/bin into cycles/octave.
    """
    step = (hz_to_mel(f_max) - hz_to_mel(f_min)) / (n_mels + 1)
    # d mel / d log2 f = d mel/df * f * ln 2
    dmel_dhz = 2595.0 / (np.log(10.0) * (700.0 + freq_hz))
    mel_per_octave = dmel_dhz * freq_hz * np.log(2.0)
    return float(mel_per_octave / step)
