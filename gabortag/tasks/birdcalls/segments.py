"""Type-agnostic vocalisation segments of any songbird: band energy for the boundaries, the
bird-call model for the decision (numpy only).

What ``gabortag birdcalls --segments-only`` and ``detect_calls(..., segments_only=True)``
return. The model's note types belong to the bird it was trained on, but its call
probability ``1 − p(background)`` also fires on the notes of other birds; its 10 ms frames
are too coarse, and its confidence on an unknown bird too uneven, to place a note's edges.
Energy places them to the millisecond but cannot tell a note from a click or a cage noise.
So the rule takes each from the one that does it well:

1. **Envelope.** The audio (at the model's rate) is cut into frames of
   :data:`WINDOW_S` (4 ms) every :data:`STEP_S` (1 ms), frame ``k`` centred on
   ``(k + 0.5)·STEP_S``, zero-padded past both ends; each frame is multiplied by a periodic
   Hann window and its power spectrum summed over the bins inside
   ``[low_freq, high_freq]`` (clipped to the Nyquist frequency): one energy per millisecond,
   in dB (``10·log10(energy + 1e-12)``).
2. **Adaptive threshold.** The recording's noise floor is the ``floor_percentile`` of its
   envelope, its loud level the ``loud_percentile``; the threshold lies ``threshold`` of the
   way from the first to the second (in dB), so that it follows the recording's gain and
   noise instead of being a fixed number of dB.
3. **Notes.** Runs of envelope frames above the threshold, gaps shorter than ``min_gap``
   closed, runs shorter than ``min_duration`` dropped (evsonganaly's rule). A note spans
   ``[first·step, (last + 1)·step)``, rounded to the microsecond and clipped to the
   duration.
4. **Model's decision.** A note's confidence is the mean call probability of the model
   frames it overlaps (frame ``t`` covers ``[t·hop, (t + 1)·hop)``); a note is kept when
   that reaches ``min_confidence``.
5. **Bouts.** With ``min_bout`` above 1, kept notes less than ``bout_gap`` apart form a
   bout, and bouts of fewer than ``min_bout`` notes (isolated clicks, a single wing flap)
   are dropped; ``min_bout`` 0 or 1 keeps every note.

Each segment is labelled :data:`~.decode.SEGMENT_LABEL`; its frequency band is measured
afterwards like any event's (:mod:`~.bands`).

Streaming: :class:`BandEnvelope` takes the audio in blocks of any size and computes its
frames in fixed batches of :data:`BATCH_FRAMES` counted from the start of the recording, so
the envelope does not depend (to the bit) on how the audio was split into blocks; the
segments of a streamed file are those of the whole array, their confidences to the float32
rounding of the model's chunked scores.
The threshold is a statistic of the whole recording, so the envelope (4 bytes per
millisecond: 14.4 MB per hour of audio) and the call probabilities (4 bytes per model frame)
are kept until the end of the recording, and segments are decided then.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .decode import SEGMENT_LABEL, Detection
from .segment_options import SegmentOptions

__all__ = ["BandEnvelope", "SegmentOptions", "envelope_db", "segment", "threshold_db"]

#: Step of the envelope (seconds): one value per millisecond.
STEP_S = 0.001

#: Length of the envelope's Hann window (seconds).
WINDOW_S = 0.004

#: Envelope frames computed at once; batches start at multiples of it, whatever the blocks.
BATCH_FRAMES = 4096

#: Energy added before taking the logarithm, so that digital silence is -120 dB, not -inf.
_TINY = 1e-12

# Durations are compared with this slack (seconds), as in :mod:`~.decode`.
_EPS = 1e-9


class BandEnvelope:
    """Band energy (dB) every :data:`STEP_S` of samples fed in blocks of any size.

    ``add(block)`` any number of times, then ``finish()`` → ``(ceil(N / step),)`` float32 dB
    (step 1 of the module docstring), :attr:`step_s` seconds apart (:data:`STEP_S` rounded to
    whole samples). The result does not depend on the block sizes.
    """

    def __init__(self, sample_rate: int, low_freq: float, high_freq: float) -> None:
        self.step = max(1, round(STEP_S * sample_rate))
        self.step_s = self.step / sample_rate
        self.window_len = max(self.step, round(WINDOW_S * sample_rate))
        n = np.arange(self.window_len)
        self.window = 0.5 - 0.5 * np.cos(2 * np.pi * n / self.window_len)
        freqs = np.fft.rfftfreq(self.window_len, 1.0 / sample_rate)
        self.bins = np.flatnonzero((freqs >= low_freq) & (freqs <= high_freq))
        if len(self.bins) == 0:  # a band narrower than one bin: its nearest bin
            self.bins = np.array([int(np.argmin(np.abs(freqs - (low_freq + high_freq) / 2)))])
        self.n_samples = 0
        self._buffer = np.zeros((self.window_len - self.step) // 2)  # left zero padding
        self._parts: list[np.ndarray] = []

    def _frames(self, count: int) -> None:
        """Compute the next ``count`` frames from the buffer and drop what they no longer need."""
        view = np.lib.stride_tricks.sliding_window_view(self._buffer, self.window_len)
        frames = view[: count * self.step : self.step] * self.window
        spectra = np.fft.rfft(frames, axis=-1)[:, self.bins]
        energy = (spectra.real**2 + spectra.imag**2).sum(axis=1)
        self._parts.append((10.0 * np.log10(energy + _TINY)).astype(np.float32))
        self._buffer = self._buffer[count * self.step :]

    def _ready(self) -> int:
        """Whole frames the buffer holds."""
        if len(self._buffer) < self.window_len:
            return 0
        return (len(self._buffer) - self.window_len) // self.step + 1

    def add(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float64).reshape(-1)
        self.n_samples += len(block)
        self._buffer = np.concatenate([self._buffer, block])
        while self._ready() >= BATCH_FRAMES:
            self._frames(BATCH_FRAMES)

    def feed(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Each of ``blocks`` unchanged, added to the envelope on the way."""
        for block in blocks:
            self.add(block)
            yield block

    def finish(self) -> np.ndarray:
        total = -(-self.n_samples // self.step)
        done = sum(len(p) for p in self._parts)
        left = total - done
        if left > 0:
            self._buffer = np.concatenate(
                [self._buffer, np.zeros(left * self.step + self.window_len)]
            )
            while left > 0:
                count = min(left, BATCH_FRAMES)
                self._frames(count)
                left -= count
        return np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)


def envelope_db(
    audio: np.ndarray, sample_rate: int, low_freq: float, high_freq: float
) -> tuple[np.ndarray, float]:
    """``(envelope dB, step s)`` of a whole mono waveform (:class:`BandEnvelope`)."""
    env = BandEnvelope(sample_rate, low_freq, high_freq)
    env.add(audio)
    return env.finish(), env.step_s


def threshold_db(envelope: np.ndarray, options: SegmentOptions) -> float:
    """The recording's threshold (dB): ``threshold`` of the way from its floor to its loud
    level (step 2 of the module docstring)."""
    floor, loud = np.percentile(envelope, [options.floor_percentile, options.loud_percentile])
    return float(floor + options.threshold * (loud - floor))


def _runs(above: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` (exclusive) of the runs of True in ``above``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
    return edges[0::2], edges[1::2]


def segment(
    envelope: np.ndarray,
    step_s: float,
    call_probs: np.ndarray,
    hop_s: float,
    duration: float,
    options: SegmentOptions | None = None,
) -> list[Detection]:
    """Vocalisation segments by the rule of this module's docstring (steps 2-5).

    Args:
        envelope: the recording's band energy in dB, one value per :data:`STEP_S`
            (:class:`BandEnvelope`).
        step_s: the envelope's step in seconds (:attr:`BandEnvelope.step_s`).
        call_probs: the model's call probability ``1 − p(background)`` of each frame.
        hop_s: the model's frame hop in seconds.
        duration: audio duration in seconds (segments are clipped to it).
        options: ``None``: the defaults.

    Returns:
        :class:`~.decode.Detection` tuples labelled :data:`~.decode.SEGMENT_LABEL`, sorted,
        non-overlapping, inside ``[0, duration]``.
    """
    opts = options or SegmentOptions()
    env = np.asarray(envelope, dtype=np.float64)
    probs = np.asarray(call_probs, dtype=np.float64).reshape(-1)
    if len(env) == 0 or len(probs) == 0:
        return []
    # 3. runs above the threshold, short gaps closed, short runs dropped
    on, off = _runs(env > threshold_db(env, opts))
    if len(on) == 0:
        return []
    close = (on[1:] - off[:-1]) * step_s < opts.min_gap - _EPS
    on, off = on[np.concatenate([[True], ~close])], off[np.concatenate([~close, [True]])]
    start = np.minimum(np.round(on * step_s, 6), duration)
    end = np.minimum(np.round(off * step_s, 6), duration)
    keep = (end > start) & (end - start >= opts.min_duration - _EPS)
    start, end = start[keep], end[keep]
    # 4. mean call probability over the model frames each note overlaps
    first = np.clip(np.floor(start / hop_s + _EPS).astype(np.int64), 0, len(probs) - 1)
    last = np.clip(np.ceil(end / hop_s - _EPS).astype(np.int64), first + 1, len(probs))
    cum = np.concatenate([[0.0], np.cumsum(probs)])
    confidence = np.clip((cum[last] - cum[first]) / (last - first), 0.0, 1.0)
    keep = confidence >= opts.min_confidence
    start, end, confidence = start[keep], end[keep], confidence[keep]
    # 5. bouts
    if opts.min_bout > 1 and len(start):
        bout = np.cumsum(np.concatenate([[True], start[1:] - end[:-1] >= opts.bout_gap - _EPS]))
        sizes = np.bincount(bout)
        keep = sizes[bout] >= opts.min_bout
        start, end, confidence = start[keep], end[keep], confidence[keep]
    return [
        Detection(float(s), float(e), SEGMENT_LABEL, float(c))
        for s, e, c in zip(start, end, confidence, strict=True)
    ]
