"""Speech extent of untrimmed clips from their energy, and reference masks from RTTM.

Masks are boolean arrays at 10 ms resolution (frame ``i`` = samples ``[160 i, 160 i + 160)``
at 16 kHz). The energy rule, used for corpora that give no time stamps (Speech Commands,
GRID, Klettres, Asterisk prompts, FSDD):

1. frame energy in dB over a 25 ms Hann window every 10 ms;
2. threshold = max(peak − :data:`BELOW_PEAK_DB` (40 dB), noise floor (10th percentile) + 10 dB);
3. frames above it are speech; gaps of at most :data:`MAX_GAP_FRAMES` (80 ms) are filled,
   islands shorter than 50 ms are dropped;
4. the result is widened by :data:`WIDEN_FRAMES` (20 ms) on each side (soft onsets, offsets
   and unvoiced consonant edges), so that pauses shorter than 120 ms inside an utterance are
   speech and longer ones are not: the model's definition of a speech frame.
A clip whose loudest frame is less than 10 dB above its floor gives no mask (``None``) and
is not used as speech.
"""

from __future__ import annotations

import itertools

import numpy as np

from ...io.annotations import intervals_to_mask, read_rttm, read_uem

__all__ = [
    "FRAME",
    "SR",
    "close_gaps",
    "drop_short",
    "energy_speech_mask",
    "intervals_to_mask",
    "read_rttm",
    "read_uem",
]

FRAME = 160  # 10 ms at 16 kHz
SR = 16000
MAX_GAP_FRAMES = 8
WIDEN_FRAMES = 2
BELOW_PEAK_DB = 40.0


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start/end (exclusive) of each run of True."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill runs of False no longer than ``max_gap`` frames that lie between True runs."""
    out = mask.copy()
    runs = _runs(mask)
    for (_, e0), (s1, _) in itertools.pairwise(runs):
        if s1 - e0 <= max_gap:
            out[e0:s1] = True
    return out


def drop_short(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Remove runs of True shorter than ``min_len`` frames."""
    out = mask.copy()
    for s, e in _runs(mask):
        if e - s < min_len:
            out[s:e] = False
    return out


def energy_speech_mask(
    wav: np.ndarray,
    max_gap: int = MAX_GAP_FRAMES,
    widen: int = WIDEN_FRAMES,
    below_peak_db: float = BELOW_PEAK_DB,
) -> np.ndarray | None:
    """Speech extent of a clip of 16 kHz float audio; ``(ceil(N / 160),)`` bool or ``None``.

    ``max_gap``, ``widen`` (frames) and ``below_peak_db`` are the rule's constants (the
    defaults are the shipped rule; ``scripts/check_vad_labels.py`` compares variants)."""
    if len(wav) < 400:
        return None
    n_frames = -(-len(wav) // FRAME)
    padded = np.concatenate([np.zeros(120, np.float32), wav, np.zeros(400, np.float32)])
    idx = np.arange(n_frames)[:, None] * FRAME + np.arange(400)[None, :]
    frames = padded[idx] * np.hanning(400)[None, :].astype(np.float32)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    peak, floor = float(energy.max()), float(np.percentile(energy, 10))
    if peak - floor < 10.0:
        return None
    mask = energy > max(peak - below_peak_db, floor + 10.0)
    mask = drop_short(close_gaps(mask, max_gap), 5)
    if not mask.any():
        return None
    widened = mask.copy()
    for shift in range(1, widen + 1):
        widened[shift:] |= mask[:-shift]
        widened[:-shift] |= mask[shift:]
    return widened
