"""Real-recording pools and exactly labelled training mixtures for the voice activity model.

Speech: Speech Commands (all words, not ``_silence_``), FSDD, GRID, the meetings ``train`` split
(RTTM labels), Klettres and the Asterisk prompts (en, es, fr, it, ru). Non-speech: ESC-10, Speech
Commands ``_silence_``, the Bengalese finch recordings, Wesnoth and Asterisk music-on-hold.
Every clip is decoded, downmixed and resampled to 16 kHz once; clips without time stamps get
their speech extent from :func:`gabortag.training.labels.energy_speech_mask`.

A mixture is a background bed (non-speech clips concatenated and sometimes overlaid, or near
silence) with speech utterances placed on it at random times and SNRs, or a crop of a meetings
recording with some non-speech added; then random gain, sometimes telephone band-limiting,
sometimes digital silence. Labels are the union of the placed utterances' masks, so they are
exact by construction.
"""

from __future__ import annotations

import csv
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .labels import FRAME, SR, energy_speech_mask, intervals_to_mask, read_rttm


@dataclass
class Pools:
    """Decoded 16 kHz audio. ``speech`` items carry a 10 ms mask; ``long_speech`` are meetings."""

    speech: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    speech_source: list[str] = field(default_factory=list)
    long_speech: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    noise: list[np.ndarray] = field(default_factory=list)
    noise_source: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def load_16k(path: Path, max_seconds: float | None = None, offset_s: float = 0.0) -> np.ndarray:
    """Decode a file to mono float32 at 16 kHz (optionally a window of it)."""
    with sf.SoundFile(str(path)) as f:
        sr = f.samplerate
        if offset_s:
            f.seek(min(int(offset_s * sr), max(0, f.frames - 1)))
        n = -1 if max_seconds is None else int(max_seconds * sr)
        data = f.read(n, dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if sr != SR:
        mono = soxr.resample(mono, sr, SR)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _meta(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def build_pools(data_dir: Path, extra_dir: Path | None, seed: int = 0) -> Pools:
    """Read every corpus (see module docstring).

    ``extra_dir`` holds the unpacked Debian packages (``scripts/fetch_training_data.sh``).
    """
    rng = np.random.default_rng(seed)
    pools = Pools()

    def add_speech(wav: np.ndarray, source: str) -> None:
        mask = energy_speech_mask(wav)
        if mask is not None:
            pools.speech.append((wav, mask))
            pools.speech_source.append(source)
            pools.counts[source] = pools.counts.get(source, 0) + 1

    def add_noise(wav: np.ndarray, source: str) -> None:
        if len(wav) >= FRAME * 10:
            pools.noise.append(wav)
            pools.noise_source.append(source)
            pools.counts[source] = pools.counts.get(source, 0) + 1

    sc = data_dir / "speech_commands"
    for row in _meta(sc / "meta.csv"):
        wav = load_16k(sc / row["file"])
        if row["label"] == "_silence_":
            add_noise(wav, "speech_commands/_silence_")
        else:
            add_speech(wav, "speech_commands")
    for row in _meta(data_dir / "fsdd" / "meta.csv"):
        add_speech(load_16k(data_dir / "fsdd" / row["file"]), "fsdd")
    for row in _meta(data_dir / "grid" / "meta.csv"):
        add_speech(load_16k(data_dir / "grid" / row["file"]), "grid")
    meet = data_dir / "meetings"
    turns = read_rttm(meet / "train.rttm")
    for fid in (meet / "train.lst").read_text().split():
        wav = load_16k(meet / f"{fid}.flac")
        mask = intervals_to_mask(turns.get(fid, []), -(-len(wav) // FRAME))
        pools.long_speech.append((wav, mask))
    pools.counts["meetings/train"] = len(pools.long_speech)
    for row in _meta(data_dir / "esc10" / "meta.csv"):
        add_noise(load_16k(data_dir / "esc10" / row["file"]), "esc10")
    for path in sorted((data_dir / "bengalese_finch").glob("*.flac")):
        add_noise(load_16k(path), "bengalese_finch")
    if extra_dir is not None:
        share = extra_dir / "usr" / "share"
        for path in sorted((share / "klettres").rglob("*.ogg")):
            add_speech(load_16k(path), "klettres-data")
        sounds = share / "asterisk" / "sounds"
        for path in sorted(sounds.rglob("*.wav")):
            rel = path.relative_to(sounds).parts
            if "silence" not in rel:
                add_speech(load_16k(path), f"asterisk-core-sounds-{rel[0][:2]}")
        for path in sorted((share / "asterisk" / "moh").glob("*.wav")):
            add_noise(load_16k(path, max_seconds=120), "asterisk-moh-opsound")
        for path in sorted((share / "games").rglob("wesnoth/*/data/core/music/*.ogg")):
            info = sf.info(str(path))
            start = float(rng.uniform(0, max(0.0, info.duration - 60)))
            add_noise(load_16k(path, max_seconds=60, offset_s=start), "wesnoth-music")
    return pools


def cached_pools(data_dir: Path, extra_dir: Path | None, cache: Path) -> Pools:
    """:func:`build_pools`, pickled at ``cache`` so a resumed run does not decode again."""
    if cache.exists():
        with open(cache, "rb") as f:
            pools: Pools = pickle.load(f)
        return pools
    pools = build_pools(data_dir, extra_dir)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "wb") as f:
        pickle.dump(pools, f, protocol=5)
    return pools


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def _db(x: float) -> float:
    return float(10 ** (x / 20))


def _crop(rng: np.random.Generator, wav: np.ndarray, n: int) -> np.ndarray:
    if len(wav) <= n:
        return wav
    start = int(rng.integers(0, len(wav) - n + 1))
    return wav[start : start + n]


def _bandlimit(x: np.ndarray) -> np.ndarray:
    """Telephone band: through 8 kHz and back, so nothing remains above 4 kHz."""
    out: np.ndarray = soxr.resample(soxr.resample(x, SR, 8000), 8000, SR)[: len(x)]
    return out.astype(np.float32)


class MixtureSampler:
    """Draws ``(waveform (n_samples,), frame mask (n_samples // 160,))`` training scenes."""

    def __init__(self, pools: Pools, seed: int) -> None:
        self.pools = pools
        self.rng = np.random.default_rng(seed)

    def _bed(self, n: int) -> np.ndarray:
        rng, noise = self.rng, self.pools.noise
        bed = np.zeros(n, np.float32)
        if rng.random() < 0.12:  # near silence: digital zero or faint hiss
            return bed + rng.standard_normal(n).astype(np.float32) * _db(rng.uniform(-90, -55))
        for _layer in range(1 + int(rng.random() < 0.3)):
            layer, pos = np.zeros(n, np.float32), 0
            while pos < n:
                clip = _crop(rng, noise[int(rng.integers(len(noise)))], n - pos)
                if rng.random() < 0.3:
                    clip = _bandlimit(clip)
                layer[pos : pos + len(clip)] = clip * _db(rng.uniform(-6, 6))
                pos += len(clip)
            bed += layer * _db(rng.uniform(-10, 0)) / _rms(layer)
        return bed * _db(rng.uniform(-55, -15))

    def __call__(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        n_frames = n // FRAME
        n = n_frames * FRAME
        if rng.random() < 0.25:  # a crop of a real meeting, with something added
            wav, mask = self.pools.long_speech[int(rng.integers(len(self.pools.long_speech)))]
            start = int(rng.integers(-n_frames // 4, len(mask) - n_frames // 2))
            x, y = np.zeros(n, np.float32), np.zeros(n_frames, bool)
            lo, hi = max(start, 0), min(start + n_frames, len(mask))
            piece = wav[lo * FRAME : hi * FRAME]
            x[(lo - start) * FRAME : (lo - start) * FRAME + len(piece)] = piece
            y[lo - start : hi - start] = mask[lo:hi]
            x *= _db(rng.uniform(-10, 15))
            if rng.random() < 0.6:
                x += self._bed(n) * _db(rng.uniform(-20, 5))
        else:
            x, y = self._bed(n), np.zeros(n_frames, bool)
            bed_rms = max(_rms(x), _db(-70))
            if rng.random() < 0.8:
                pos = int(rng.integers(-n_frames // 3, n_frames // 2))
                while pos < n_frames:
                    i = int(rng.integers(len(self.pools.speech)))
                    wav, mask = self.pools.speech[i]
                    nf = len(mask)
                    seg = np.zeros(nf * FRAME, np.float32)
                    seg[: len(wav)] = wav
                    if rng.random() < 0.2:
                        seg = _bandlimit(seg)
                    level = _rms(seg[np.repeat(mask, FRAME)])
                    snr = rng.uniform(-5, 30)
                    seg *= (
                        bed_rms * _db(snr) / level
                        if bed_rms > _db(-69)
                        else _db(rng.uniform(-40, -10)) / level
                    )
                    lo, hi = max(pos, 0), min(pos + nf, n_frames)
                    if hi > lo:
                        x[lo * FRAME : hi * FRAME] += seg[(lo - pos) * FRAME : (hi - pos) * FRAME]
                        y[lo:hi] |= mask[lo - pos : hi - pos]
                    gap = rng.exponential(0.8) if rng.random() < 0.7 else rng.uniform(-0.3, 0.2)
                    pos += nf + int(gap * 100)
        if rng.random() < 0.15:
            x = _bandlimit(x)
        peak = float(np.abs(x).max())
        if peak > 0:
            x = x * min(_db(rng.uniform(-30, 0)) / peak, _db(rng.uniform(-6, 30)))
        if rng.random() < 0.05:  # digital silence at an edge, as at the start of a file
            cut = int(rng.integers(0, n_frames // 2)) * FRAME
            if rng.random() < 0.5:
                x[:cut] = 0
                y[: cut // FRAME] = False
            else:
                x[n - cut :] = 0
                y[n_frames - cut // FRAME :] = False
        return np.clip(x, -1, 1).astype(np.float32), y
