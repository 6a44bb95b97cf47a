"""Frequency extent of a sound from its power spectrogram (numpy only).

Method (:func:`frequency_range`): the samples inside the event are cut into ``n_fft``-sample
frames (default 512, i.e. 16 ms at 32 kHz) every ``n_fft // 2`` samples, each multiplied by a
periodic Hann window; the last frame, and the only frame of an event shorter than ``n_fft``,
is zero-padded. The power spectra ``|rfft|²`` of all frames are summed into one energy per
frequency bin. Inside ``[f_min, f_max]`` (clipped to the Nyquist frequency), each bin's
energy is spread evenly over its width; the event's band is ``[low, high]`` where the
cumulative energy reaches ``(1 − coverage) / 2`` and ``(1 + coverage) / 2`` of the total: with
the default ``coverage = 0.9``, the band holding the central 90 % of the energy (5 % lies
below ``low``, 5 % above ``high``). A silent event gets the whole ``[f_min, f_max]``.

:class:`PowerSpectrum` computes the same energy from samples given block by block, so the
band of an event can be measured while streaming a long file, in constant memory.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

#: Frame length (samples) of the spectrogram.
N_FFT = 512

#: Share of the energy inside the reported band.
COVERAGE = 0.9


class PowerSpectrum:
    """Summed Hann-windowed power spectrum of samples fed in any number of blocks.

    ``add(block)`` any number of times, then ``finish()`` → energy per bin ``(n_fft//2 + 1,)``;
    bin ``k`` is centred on ``k · sample_rate / n_fft`` Hz. The result does not depend on how
    the samples were split into blocks.
    """

    def __init__(self, sample_rate: float, n_fft: int = N_FFT) -> None:
        if n_fft < 2 or n_fft % 2:
            raise ValueError(f"n_fft must be an even number >= 2, got {n_fft}")
        self.sample_rate = float(sample_rate)
        self.n_fft = n_fft
        self.hop = n_fft // 2
        n = np.arange(n_fft)
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)).astype(np.float64)
        self.energy = np.zeros(n_fft // 2 + 1)
        self.frames = 0
        self._buffer = np.zeros(0)  # samples from the start of the next frame on
        self._covered = 0  # how many of them some frame already covered

    @property
    def freqs(self) -> np.ndarray:
        """Centre frequency (Hz) of each bin."""
        return np.arange(self.n_fft // 2 + 1) * self.sample_rate / self.n_fft

    def _frames(self, frames: np.ndarray) -> None:
        spectra = np.fft.rfft(frames * self.window, axis=-1)
        self.energy += (spectra.real**2 + spectra.imag**2).sum(axis=0)
        self.frames += len(frames)

    def add(self, samples: np.ndarray) -> None:
        """Add the next samples (1-D)."""
        buf = np.concatenate([self._buffer, np.asarray(samples, dtype=np.float64).reshape(-1)])
        count = 0 if len(buf) < self.n_fft else (len(buf) - self.n_fft) // self.hop + 1
        if count:
            view = np.lib.stride_tricks.sliding_window_view(buf, self.n_fft)[:: self.hop]
            self._frames(view[:count])
            self._covered = self.n_fft - self.hop
        self._buffer = buf[count * self.hop :]

    def finish(self) -> np.ndarray:
        """Energy per bin, after a last zero-padded frame over samples no frame covered yet."""
        if len(self._buffer) > self._covered or self.frames == 0:
            last = np.zeros(self.n_fft)
            last[: len(self._buffer)] = self._buffer
            self._frames(last[None, :])
            self._buffer, self._covered = np.zeros(0), 0
        return self.energy


def central_band(
    energy: np.ndarray,
    freqs: np.ndarray,
    f_min: float,
    f_max: float,
    coverage: float = COVERAGE,
) -> tuple[float, float]:
    """``(low, high)`` Hz holding the central ``coverage`` of ``energy`` within ``[f_min,
    f_max]`` (bins of equal width centred on ``freqs``, energy spread evenly over each bin)."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be within (0, 1], got {coverage}")
    width = float(freqs[1] - freqs[0])
    lo_edges = np.clip(freqs - width / 2, f_min, f_max)
    hi_edges = np.clip(freqs + width / 2, f_min, f_max)
    weights = (hi_edges - lo_edges) / width  # share of each bin inside the range
    inside = weights > 0
    e = np.asarray(energy, dtype=np.float64)[inside] * weights[inside]
    lo_edges, hi_edges = lo_edges[inside], hi_edges[inside]
    cum = np.cumsum(e)
    total = float(cum[-1]) if len(cum) else 0.0
    if not total > 0:
        return float(f_min), float(f_max)

    def quantile(q: float, side: Literal["left", "right"]) -> float:
        # "right" for the low edge and "left" for the high one skip empty bins at the band's
        # edges, so the band is as tight as the energy allows.
        target = q * total
        k = min(int(np.searchsorted(cum, target, side=side)), len(e) - 1)
        before = cum[k - 1] if k else 0.0
        share = min(max((target - before) / e[k], 0.0), 1.0) if e[k] > 0 else 0.0
        return float(lo_edges[k] + share * (hi_edges[k] - lo_edges[k]))

    tail = (1.0 - coverage) / 2
    return quantile(tail, "right"), quantile(1.0 - tail, "left")


def frequency_range(
    wav: np.ndarray,
    sample_rate: float,
    start_s: float,
    end_s: float,
    f_min: float,
    f_max: float,
    *,
    coverage: float = COVERAGE,
    n_fft: int = N_FFT,
) -> tuple[float, float]:
    """``(low_hz, high_hz)``: the band of ``wav[start_s:end_s]`` holding the central
    ``coverage`` of its energy between ``f_min`` and ``f_max`` (see the module docstring).

    Args:
        wav: mono samples ``(N,)`` at ``sample_rate`` Hz.
        start_s, end_s: the event, in seconds from ``wav[0]`` (clipped to the signal).
        f_min, f_max: the band searched, Hz (``f_max`` is clipped to ``sample_rate / 2``).

    Raises:
        ValueError: ``f_min >= f_max`` (after clipping) or ``end_s < start_s``.
    """
    lo, hi = check_band(f_min, f_max, sample_rate)
    if end_s < start_s:
        raise ValueError(f"end_s ({end_s}) must not be before start_s ({start_s})")
    first = max(0, round(start_s * sample_rate))
    last = max(first, round(end_s * sample_rate))
    spectrum = PowerSpectrum(sample_rate, n_fft)
    spectrum.add(np.asarray(wav).reshape(-1)[first:last])
    return central_band(spectrum.finish(), spectrum.freqs, lo, hi, coverage)


def check_band(f_min: float, f_max: float, sample_rate: float) -> tuple[float, float]:
    """``(f_min, min(f_max, sample_rate / 2))``; ``ValueError`` if that band is empty."""
    hi = min(float(f_max), sample_rate / 2)
    if not 0 <= f_min < hi:
        raise ValueError(
            f"frequency band [{f_min}, {f_max}] Hz is empty at {sample_rate:g} Hz "
            f"(Nyquist {sample_rate / 2:g} Hz)"
        )
    return float(f_min), hi
