"""Synthetic signals shared by the tests (numpy only): tones, sweeps, speech-like sounds and
noise. Each returns a 1-D array of samples at the rate it is given."""

from __future__ import annotations

import math

import numpy as np


def tone(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    """A sine of ``freq`` Hz, ``seconds`` long at ``sr`` Hz, peak ``amp`` (float64)."""
    t = np.arange(round(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * freq * t)


def chirp(f0: float, f1: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    """A linear sweep from ``f0`` to ``f1`` Hz, constant amplitude ``amp`` (float64)."""
    t = np.arange(round(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))


def speech_like(
    seconds: float, rng: np.random.Generator, noise_db: float = -30.0, sr: int = 16000
) -> np.ndarray:
    """Harmonic complex (f0 ~ 120-200 Hz, 1/k amplitudes) with a 4 Hz amplitude modulation, plus
    white noise ``noise_db`` below it; float32, peak about 0.5."""
    n = round(seconds * sr)
    t = np.arange(n) / sr
    f0 = rng.uniform(120.0, 200.0)
    vibrato = 1.0 + 0.03 * np.sin(2 * math.pi * 5.0 * t)
    phase = 2 * math.pi * f0 * np.cumsum(vibrato) / sr
    harm = sum(np.sin(k * phase + rng.uniform(0, 2 * math.pi)) / k for k in range(1, 20))
    envelope = 0.5 * (1.0 - np.cos(2 * math.pi * 4.0 * t + rng.uniform(0, 2 * math.pi)))
    x = harm * envelope
    x = 0.5 * x / (np.abs(x).max() + 1e-9)
    rms = float(np.sqrt(np.mean(x**2)))
    x = x + rng.standard_normal(n) * rms * 10 ** (noise_db / 20)
    return x.astype(np.float32)


def stationary_noise(n: int, rng: np.random.Generator, rms: float = 0.1) -> np.ndarray:
    """Gently coloured stationary noise (first-order low-pass of white noise), float32."""
    w = rng.standard_normal(n + 1)
    x = w[1:] + 0.5 * w[:-1]
    return (rms * x / x.std()).astype(np.float32)
