"""Decoded training pools and exactly labelled training mixtures for the voice activity model.

The sources and their split are in :mod:`gabortag.training.recipes.vad_sources`; this module reads
the ``train`` ones (every clip decoded, downmixed and resampled to 16 kHz once, cached), and
draws mixtures from them.

A mixture is built the way real recordings go wrong:

- a **background**: real non-speech (street, engines, HVAC, music of several genres, animals,
  effects, ...) concatenated and sometimes layered, or synthetic stationary noise (white, pink,
  brown, a random band, mains hum) beneath or instead of it, sometimes slowly fluctuating, or
  near digital silence;
- **speech** utterances placed on it at random times (sometimes overlapping: a second talker),
  each at its own level, some convolved with a room impulse response (measured, or simulated
  with ``pyroomacoustics`` at RT60 0.1-1.2 s and 0.3-6 m), some band-limited to the telephone
  band; or a crop of a real meeting;
- mixed at an SNR drawn with half its mass in -5..10 dB; then sometimes reverberated as a
  whole, band-limited, passed through MP3 or Opus, tilted in spectrum (another microphone);
- brought to an RMS level between -50 and -10 dBFS (not peak-normalised), sometimes clipped;
  sometimes with digital silence at an edge, as the runtime pads a file's ends.

Labels are the union of the placed utterances' speech masks (the dry speech: reverberant
tails are not speech), see :mod:`gabortag.training.recipes.labels` for what a speech frame is.
"""

from __future__ import annotations

import io
import pickle
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .labels import FRAME, SR, energy_speech_mask, intervals_to_mask, read_rttm
from .vad_sources import Roots, Source, source_files, sources

Clip = tuple[np.ndarray, np.ndarray]  # (16 kHz float32 waveform, 10 ms speech mask)


@dataclass
class Pools:
    """Decoded 16 kHz audio of the training sources, grouped by source name."""

    speech: dict[str, list[Clip]] = field(default_factory=dict)
    noise: dict[str, list[np.ndarray]] = field(default_factory=dict)
    meetings: list[Clip] = field(default_factory=list)
    rirs: list[np.ndarray] = field(default_factory=list)  # direct path at sample 0
    seconds: dict[str, float] = field(default_factory=dict)  # audio decoded, per source


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


def _decode(job: tuple[str, str, float | None]) -> tuple[np.ndarray | None, np.ndarray | None]:
    path, kind, max_seconds = job
    try:
        if max_seconds is not None:
            duration = sf.info(path).duration
            start = float(
                np.random.default_rng(zlib.crc32(path.encode())).uniform(
                    0, max(0.0, duration - max_seconds)
                )
            )
            wav = load_16k(Path(path), max_seconds, start)
        else:
            wav = load_16k(Path(path))
    except (RuntimeError, sf.LibsndfileError, ValueError):
        return None, None
    if not np.isfinite(wav).all() or len(wav) < FRAME * 10:
        return None, None
    if kind == "speech":
        return wav, energy_speech_mask(wav)
    if kind == "rir":
        return direct_aligned(wav), None
    return wav, None


def direct_aligned(rir: np.ndarray) -> np.ndarray:
    """An impulse response cut to start 1 ms before its direct path, unit energy, ≤ 1.5 s."""
    start = max(0, int(np.argmax(np.abs(rir))) - SR // 1000)
    out = rir[start : start + int(1.5 * SR)].astype(np.float32)
    return out / float(np.sqrt(np.sum(out.astype(np.float64) ** 2)) + 1e-12)


def simulated_rirs(n: int, seed: int) -> list[np.ndarray]:
    """``n`` shoebox-room impulse responses (image method, ``pyroomacoustics``): RT60 drawn in
    0.1-1.2 s, rooms 3-15 m wide, source 0.3-6 m from the microphone."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    while len(out) < n:
        dims = np.array([rng.uniform(3, 15), rng.uniform(3, 12), rng.uniform(2.4, 5)])
        rt60 = float(rng.uniform(0.1, 1.2))
        try:
            absorption, max_order = pra.inverse_sabine(rt60, dims)
        except ValueError:
            continue
        room = pra.ShoeBox(
            dims, fs=SR, materials=pra.Material(absorption), max_order=min(max_order, 20)
        )
        mic = rng.uniform([0.5, 0.5, 0.8], dims - [0.5, 0.5, 0.5])
        for _ in range(20):
            direction = rng.standard_normal(3)
            src = mic + direction / np.linalg.norm(direction) * rng.uniform(0.3, 6.0)
            if np.all(src > 0.3) and np.all(src < dims - 0.3):
                break
        else:
            continue
        room.add_source(src)
        room.add_microphone(mic)
        room.compute_rir()
        out.append(direct_aligned(np.asarray(room.rir[0][0], np.float32)))
    return out


def _subset(paths: list[Path], limit: int | None, seed: int) -> list[Path]:
    if limit is None or len(paths) <= limit:
        return paths
    keep = np.random.default_rng(seed).choice(len(paths), limit, replace=False)
    return [paths[i] for i in sorted(keep)]


def build_pools(
    roots: Roots,
    split: str = "train",
    jobs: int = 2,
    n_simulated_rirs: int = 300,
    seed: int = 0,
    limit: int | None = None,
) -> Pools:
    """Decode every source of ``split`` (speech with its energy mask, non-speech, RIRs; at
    most ``limit`` files of each, drawn with ``seed``) and, for ``train``, the meetings
    ``train`` recordings with their RTTM masks and ``n_simulated_rirs`` simulated rooms."""
    pools = Pools()
    chosen: list[Source] = [s for s in sources(split=split) if s.kind != "meetings"]
    jobs_list = [
        (str(path), s.kind, s.max_seconds, s.name)
        for s in chosen
        for path in _subset(list(source_files(s, roots)), limit, seed)
    ]
    with ProcessPoolExecutor(jobs) as ex:
        decoded = ex.map(_decode, [j[:3] for j in jobs_list], chunksize=64)
        for (_path, kind, _max, name), (wav, mask) in zip(jobs_list, decoded, strict=True):
            if wav is None:
                continue
            if kind == "speech":
                if mask is None:
                    continue
                pools.speech.setdefault(name, []).append((wav, mask))
            elif kind == "noise":
                pools.noise.setdefault(name, []).append(wav)
            else:
                pools.rirs.append(wav)
            pools.seconds[name] = pools.seconds.get(name, 0.0) + len(wav) / SR
    if split == "train":
        meet = roots.data / "meetings"
        turns = read_rttm(meet / "train.rttm")
        for fid in (meet / "train.lst").read_text().split():
            wav = load_16k(meet / f"{fid}.flac")
            pools.meetings.append(
                (wav, intervals_to_mask(turns.get(fid, []), -(-len(wav) // FRAME)))
            )
            pools.seconds["meetings-train"] = (
                pools.seconds.get("meetings-train", 0.0) + len(wav) / SR
            )
        if n_simulated_rirs:
            pools.rirs.extend(simulated_rirs(n_simulated_rirs, seed))
    return pools


def cached_pools(roots: Roots, cache: Path) -> Pools:
    """:func:`build_pools` of ``train``, pickled at ``cache`` so a resumed run does not decode
    again."""
    if cache.exists():
        with open(cache, "rb") as f:
            pools: Pools = pickle.load(f)
        return pools
    pools = build_pools(roots)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(pools, f, protocol=5)
    tmp.replace(cache)
    return pools


# ------------------------------------------------------------------------------ signal helpers


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def db(x: float) -> float:
    return float(10 ** (x / 20))


def crop(rng: np.random.Generator, wav: np.ndarray, n: int) -> np.ndarray:
    if len(wav) <= n:
        return wav
    start = int(rng.integers(0, len(wav) - n + 1))
    return wav[start : start + n]


def bandlimit(x: np.ndarray, rate: int = 8000) -> np.ndarray:
    """Through ``rate`` Hz and back: nothing remains above ``rate / 2``."""
    out: np.ndarray = soxr.resample(soxr.resample(x, SR, rate), rate, SR)
    return _fit(out.astype(np.float32), len(x))


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - len(x), np.float32)])


def coloured_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS stationary noise: white, pink, brown, a random band, low rumble, or mains hum
    with harmonics (over a little white noise)."""
    kind = int(rng.integers(6))
    if kind == 5:
        f0 = 50.0 if rng.random() < 0.5 else 60.0
        t = np.arange(n) / SR
        x = sum(
            rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3))
            for k in range(1, 8)
        )
        x = np.asarray(x) + 0.05 * rng.standard_normal(n)
    else:
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / SR)
        f[0] = f[1]
        if kind == 1:
            spec /= np.sqrt(f)
        elif kind == 2:
            spec /= f
        elif kind == 3:
            lo = float(np.exp(rng.uniform(np.log(80), np.log(4000))))
            hi = lo * float(np.exp(rng.uniform(0.5, 2.5)))
            spec *= (f >= lo) & (f <= hi)
        elif kind == 4:
            spec /= 1 + (f / rng.uniform(150, 1000)) ** 2
        x = np.fft.irfft(spec, n)
    x = np.asarray(x, np.float32)
    return x / rms(x)


def convolve(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``x`` through ``rir`` (direct path at 0), same length as ``x``."""
    n = len(x) + len(rir) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(rir, size), size)[: len(x)]
    return y.astype(np.float32)


def codec(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Through MP3 or Opus at a low bit rate (lossy damage), back to float32."""
    fmt, subtype = ("MP3", "MPEG_LAYER_III") if rng.random() < 0.5 else ("OGG", "OPUS")
    rate = 16000 if fmt == "MP3" else 48000
    y = soxr.resample(x, SR, rate) if rate != SR else x
    buf = io.BytesIO()
    try:
        sf.write(
            buf,
            np.clip(y, -1, 1),
            rate,
            format=fmt,
            subtype=subtype,
            compression_level=float(rng.uniform(0.5, 1.0)),
        )
        buf.seek(0)
        out, got = sf.read(buf, dtype="float32")
    except (RuntimeError, sf.LibsndfileError, TypeError):
        return x
    if got != SR:
        out = soxr.resample(out, got, SR)
    return _fit(np.asarray(out, np.float32), len(x))


def tilt(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random first-order spectral tilt (another microphone or channel)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / SR)
    corner = rng.uniform(300, 3000)
    slope = rng.uniform(-1, 1)
    spec *= (1 + (f / corner) ** 2) ** (slope / 2)
    y = np.fft.irfft(spec, len(x)).astype(np.float32)
    return y * (rms(x) / rms(y))


# ------------------------------------------------------------------------------------ sampler


@dataclass(frozen=True)
class MixRates:
    """Probabilities of each ingredient of a mixture."""

    speech: float = 0.85  # the mixture holds speech at all
    meeting: float = 0.15  # ... and it is a crop of a real meeting
    second_talker: float = 0.15
    silence_bed: float = 0.08
    synthetic_bed: float = 0.35  # a stationary noise bed (alone or beneath real noise)
    fluctuate: float = 0.2
    utterance_reverb: float = 0.3
    utterance_telephone: float = 0.1
    mix_reverb: float = 0.1
    telephone: float = 0.1
    codec: float = 0.05
    tilt: float = 0.3
    clip: float = 0.03
    edge_silence: float = 0.15


class MixtureSampler:
    """Draws ``(waveform (n,), 10 ms mask (n // 160,))`` training mixtures from :class:`Pools`.

    Speech sources are drawn with the weights ``speech_weights`` (default: equal per source,
    so that one large corpus does not decide what speech sounds like); non-speech sources too.
    """

    def __init__(
        self,
        pools: Pools,
        seed: int,
        rates: MixRates | None = None,
        speech_weights: dict[str, float] | None = None,
    ) -> None:
        self.pools = pools
        self.rng = np.random.default_rng(seed)
        self.rates = rates or MixRates()
        self.speech_names = sorted(pools.speech)
        w = np.array([(speech_weights or {}).get(k, 1.0) for k in self.speech_names], float)
        self.speech_p = w / w.sum()
        self.noise_names = sorted(pools.noise)

    def _p(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def _real_noise(self, n: int) -> np.ndarray:
        rng = self.rng
        clips = self.pools.noise[self.noise_names[int(rng.integers(len(self.noise_names)))]]
        layer, pos = np.zeros(n, np.float32), 0
        while pos < n:
            clip = crop(rng, clips[int(rng.integers(len(clips)))], n - pos)
            layer[pos : pos + len(clip)] = clip * db(rng.uniform(-6, 6))
            pos += len(clip)
        return layer / rms(layer)

    def background(self, n: int) -> np.ndarray:
        """Unit-RMS non-speech bed of ``n`` samples (or near silence, far below unit)."""
        rng, r = self.rng, self.rates
        if self._p(r.silence_bed):
            return rng.standard_normal(n).astype(np.float32) * db(rng.uniform(-100, -60))
        bed = np.zeros(n, np.float32)
        synthetic = self._p(r.synthetic_bed)
        real = not synthetic or self._p(0.5)
        if real:
            bed += self._real_noise(n)
            if self._p(0.3):
                bed += self._real_noise(n) * db(rng.uniform(-15, 0))
        if synthetic:
            bed += coloured_noise(rng, n) * db(rng.uniform(-10, 10) if real else 0.0)
        if self._p(r.fluctuate):
            t = np.arange(n) / SR
            rate = rng.uniform(0.1, 2.0)
            bed *= 1 + rng.uniform(0.2, 0.9) * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.3))
        return bed / rms(bed)

    def _utterance(self) -> Clip:
        rng, r = self.rng, self.rates
        name = self.speech_names[int(rng.choice(len(self.speech_names), p=self.speech_p))]
        clips = self.pools.speech[name]
        wav, mask = clips[int(rng.integers(len(clips)))]
        seg = np.zeros(len(mask) * FRAME, np.float32)
        seg[: len(wav)] = wav[: len(seg)]
        if self._p(r.utterance_telephone):
            seg = bandlimit(seg)
        if self.pools.rirs and self._p(r.utterance_reverb):
            seg = convolve(seg, self.pools.rirs[int(rng.integers(len(self.pools.rirs)))])
        active = np.repeat(mask, FRAME)
        return seg / rms(seg[active]), mask

    def talker(self, n_frames: int) -> Clip:
        """One talker's stream: utterances at their own levels with pauses, unit active RMS."""
        rng = self.rng
        x, y = np.zeros(n_frames * FRAME, np.float32), np.zeros(n_frames, bool)
        pos = int(rng.integers(-n_frames // 3, n_frames // 2))
        while pos < n_frames:
            seg, mask = self._utterance()
            nf = len(mask)
            lo, hi = max(pos, 0), min(pos + nf, n_frames)
            if hi > lo:
                x[lo * FRAME : hi * FRAME] += seg[(lo - pos) * FRAME : (hi - pos) * FRAME] * db(
                    rng.uniform(-6, 6)
                )
                y[lo:hi] |= mask[lo - pos : hi - pos]
            gap = rng.exponential(0.7) if self._p(0.8) else rng.uniform(0.0, 0.15)
            pos += nf + int(gap * 100)
        return x, y

    def _meeting(self, n_frames: int) -> Clip:
        rng = self.rng
        wav, mask = self.pools.meetings[int(rng.integers(len(self.pools.meetings)))]
        start = int(rng.integers(-n_frames // 4, max(1, len(mask) - n_frames // 2)))
        x, y = np.zeros(n_frames * FRAME, np.float32), np.zeros(n_frames, bool)
        lo, hi = max(start, 0), min(start + n_frames, len(mask))
        piece = wav[lo * FRAME : hi * FRAME]
        x[(lo - start) * FRAME : (lo - start) * FRAME + len(piece)] = piece
        y[lo - start : hi - start] = mask[lo:hi]
        return x, y

    def snr_db(self) -> float:
        rng = self.rng
        return float(rng.uniform(-5, 10) if self._p(0.5) else rng.uniform(10, 30))

    def __call__(self, n: int) -> Clip:
        rng, r = self.rng, self.rates
        n_frames = n // FRAME
        n = n_frames * FRAME
        x = self.background(n)
        y = np.zeros(n_frames, bool)
        if self._p(r.speech):
            if self.pools.meetings and self._p(r.meeting):
                s, y = self._meeting(n_frames)
            else:
                s, y = self.talker(n_frames)
                if self._p(r.second_talker):
                    s2, y2 = self.talker(n_frames)
                    s, y = s + s2 * db(rng.uniform(-10, 0)), y | y2
            if y.any():
                level = rms(s[np.repeat(y, FRAME)])
                bed_level = rms(x)
                if bed_level < db(-50):  # near silence: the speech sets the level
                    x = x + s / level
                else:
                    x = x + s / level * bed_level * db(self.snr_db())
        if self.pools.rirs and self._p(r.mix_reverb):
            x = convolve(x, self.pools.rirs[int(rng.integers(len(self.pools.rirs)))])
        if self._p(r.telephone):
            x = bandlimit(x, 8000 if self._p(0.7) else int(rng.choice([11025, 12000])))
        if self._p(r.tilt):
            x = tilt(x, rng)
        x = x * (db(rng.uniform(-50, -10)) / rms(x))
        if self._p(r.codec):
            x = codec(x, rng)
        if self._p(r.clip):
            x = x * db(rng.uniform(6, 20))
        if self._p(r.edge_silence):
            cut = int(rng.integers(1, n_frames // 2))
            if self._p(0.5):
                x[: cut * FRAME] = 0
                y[:cut] = False
            else:
                x[n - cut * FRAME :] = 0
                y[n_frames - cut :] = False
        return np.clip(x, -1, 1).astype(np.float32), y


SamplerFactory = Callable[[Pools, int], MixtureSampler]
