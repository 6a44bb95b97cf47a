"""Five-second training clips for the scene classifier, from the corpora in ``../shared/data``
and the Debian packages of ``scripts/fetch_training_data.sh``; every clip mono 16 kHz.

- The ten ESC-10 classes: the 400 clips as they are (44.1 kHz Ogg, resampled), with their
  official folds.
- ``speech``: utterances of one corpus (Speech Commands words, FSDD digits, GRID sentences,
  Klettres letters, Asterisk prompts) laid end to end with random pauses over a faint noise
  bed, or a crop of a meetings recording.
- ``music``: crops of the Wesnoth soundtrack and the Asterisk music-on-hold tracks.
- ``birdsong``: crops of the Bengalese finch recordings.
- ``background``: Speech Commands ``_silence_`` noises (tap, bike, dishes, white and pink
  noise) laid end to end, and synthetic quiet rooms, mains hum and wind.

Held-out clips of the four extra classes come from recordings, speakers or tracks that no
training clip uses: a recording group is held out when ``crc32(group) % 5 == 4`` (finch:
file number mod 5 == 4; meetings: the development and test lists).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .vad_data import crop as _crop
from .vad_data import db as _db
from .vad_data import load_16k
from .vad_data import rms as _rms
from .vad_sources import read_meta as _meta

SR = 16000
CLIP = 5 * SR
ESC10_CLASSES = (
    "baby_cry",
    "chainsaw",
    "clock_tick",
    "dog_bark",
    "fire_crackling",
    "helicopter",
    "person_sneeze",
    "rain",
    "rooster",
    "sea_waves",
)
EXTRA_CLASSES = ("speech", "music", "birdsong", "background")
CLASSES = ESC10_CLASSES + EXTRA_CLASSES


@dataclass
class Clips:
    """Clips ``(n, CLIP)`` float32 with class index, ESC-10 fold (0 for extra classes) and split
    (``train`` or ``heldout``; ESC-10 clips are ``train``, their fold decides)."""

    audio: list[np.ndarray] = field(default_factory=list)
    label: list[int] = field(default_factory=list)
    fold: list[int] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)

    def add(self, wav: np.ndarray, label: str, fold: int, split: str, source: str) -> None:
        clip = np.zeros(CLIP, np.float32)
        clip[: min(len(wav), CLIP)] = wav[:CLIP]
        self.audio.append(clip)
        self.label.append(CLASSES.index(label))
        self.fold.append(fold)
        self.split.append(split)
        self.source.append(source)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "audio": np.stack(self.audio),
            "label": np.array(self.label, np.int64),
            "fold": np.array(self.fold, np.int64),
            "split": np.array(self.split),
            "source": np.array(self.source),
        }


def held_out(group: str) -> bool:
    """Whether a recording group (speaker, track, language) belongs to the held-out split."""
    return zlib.crc32(group.encode()) % 5 == 4


def esc10_rows(data_dir: Path) -> list[dict[str, str]]:
    """The rows of ``esc10/meta.csv``: ``file`` (relative to ``esc10/``), ``label``, ``fold``."""
    return _meta(data_dir / "esc10" / "meta.csv")


def load_esc10(data_dir: Path, clips: Clips) -> None:
    for row in esc10_rows(data_dir):
        wav = load_16k(data_dir / "esc10" / row["file"])
        clips.add(wav, row["label"], int(row["fold"]), "train", "esc10")


Utterances = dict[str, dict[str, list[np.ndarray]]]  # corpus -> group -> clips


def _trim(wav: np.ndarray, floor_db: float = -35.0) -> np.ndarray:
    """Drop leading and trailing frames more than ``-floor_db`` dB below the loudest frame."""
    n = len(wav) // 160
    if n == 0:
        return wav
    energy = 10 * np.log10(np.mean(wav[: n * 160].reshape(n, 160) ** 2, axis=1) + 1e-12)
    keep = np.flatnonzero(energy > energy.max() + floor_db)
    return wav[keep[0] * 160 : (keep[-1] + 1) * 160]


def speech_utterances(data_dir: Path, extra_dir: Path | None) -> Utterances:
    """Short utterances by corpus and speaker/language group, trimmed of leading silence."""
    out: Utterances = {}

    def add(corpus: str, group: str, wav: np.ndarray) -> None:
        out.setdefault(corpus, {}).setdefault(group, []).append(_trim(wav))

    for row in _meta(data_dir / "speech_commands" / "meta.csv"):
        if row["label"] != "_silence_":
            add(
                "speech_commands",
                row["speaker"],
                load_16k(data_dir / "speech_commands" / row["file"]),
            )
    for row in _meta(data_dir / "fsdd" / "meta.csv"):
        add("fsdd", row["speaker"], load_16k(data_dir / "fsdd" / row["file"]))
    for row in _meta(data_dir / "grid" / "meta.csv"):
        add("grid", row["speaker"], load_16k(data_dir / "grid" / row["file"]))
    if extra_dir is not None:
        share = extra_dir / "usr" / "share"
        for path in sorted((share / "klettres").rglob("*.ogg")):
            add("klettres", path.relative_to(share / "klettres").parts[0], load_16k(path))
        sounds = share / "asterisk" / "sounds"
        for path in sorted(sounds.rglob("*.wav")):
            rel = path.relative_to(sounds).parts
            if "silence" not in rel:
                add("asterisk", rel[0], load_16k(path))
    return out


def _noise_bed(rng: np.random.Generator, n: int) -> np.ndarray:
    """Faint coloured noise (room tone) around -60 dBFS."""
    white = rng.standard_normal(n + 1).astype(np.float32)
    tilt = rng.uniform(0.0, 0.98)
    coloured = np.empty(n, np.float32)
    coloured[:] = white[1:] + tilt * white[:-1]
    return coloured / _rms(coloured) * _db(rng.uniform(-70, -50))


def speech_clip(rng: np.random.Generator, groups: dict[str, list[np.ndarray]]) -> np.ndarray:
    """Utterances of one corpus (several speakers) with pauses, over a faint noise bed."""
    names = sorted(groups)
    x = _noise_bed(rng, CLIP)
    pos = int(rng.uniform(0, 0.8) * SR)
    level = _db(rng.uniform(-30, -12))
    speaker = names[int(rng.integers(len(names)))]
    while pos < CLIP - SR // 4:
        if rng.random() < 0.3:
            speaker = names[int(rng.integers(len(names)))]
        pool = groups[speaker]
        utt = pool[int(rng.integers(len(pool)))]
        utt = utt[: CLIP - pos] * (level * _db(rng.uniform(-4, 4)) / max(_rms(utt), 1e-5))
        x[pos : pos + len(utt)] += utt
        pos += len(utt) + int(rng.uniform(0.05, 0.6) * SR)
    return x


def meetings_clips(data_dir: Path, clips: Clips, rng: np.random.Generator, per_file: int) -> None:
    meet = data_dir / "meetings"
    for lst, split in (("train", "train"), ("development", "heldout"), ("test", "heldout")):
        for fid in (meet / f"{lst}.lst").read_text().split():
            wav = load_16k(meet / f"{fid}.flac")
            for _ in range(per_file):
                clips.add(_crop(rng, wav, CLIP), "speech", 0, split, "meetings")


def background_clip(rng: np.random.Generator, noises: list[np.ndarray]) -> tuple[np.ndarray, str]:
    """A background clip: recorded noises end to end, or a synthetic room, hum or wind."""
    kind = rng.choice(["recorded", "room", "hum", "wind"], p=[0.4, 0.2, 0.2, 0.2])
    t = np.arange(CLIP) / SR
    if kind == "recorded":
        x, pos = np.zeros(CLIP, np.float32), 0
        while pos < CLIP:
            piece = noises[int(rng.integers(len(noises)))]
            x[pos : pos + len(piece)] = piece[: CLIP - pos] / max(_rms(piece), 1e-5)
            pos += len(piece)
        x *= _db(rng.uniform(-45, -20))
    elif kind == "room":
        x = (_noise_bed(rng, CLIP) * _db(rng.uniform(0, 25))).astype(np.float32)
    elif kind == "hum":
        f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.995, 1.005)
        x = sum(
            _db(-6 * k * rng.uniform(0.5, 1.5))
            * np.sin(2 * np.pi * f0 * (k + 1) * t + rng.uniform(0, 6.3))
            for k in range(int(rng.integers(2, 8)))
        ).astype(np.float32)
        x = x / _rms(x) * _db(rng.uniform(-50, -25)) + _noise_bed(rng, CLIP)
    else:  # wind: low-passed noise with slow gusts
        spectrum = np.fft.rfft(rng.standard_normal(CLIP))
        freqs = np.fft.rfftfreq(CLIP, 1 / SR)
        low = np.fft.irfft(spectrum / (1 + (freqs / rng.uniform(20, 300)) ** 2), CLIP)
        gust = 1 + rng.uniform(0.3, 0.9) * np.sin(
            2 * np.pi * rng.uniform(0.1, 0.6) * t + rng.uniform(0, 6.3)
        )
        x = (low * gust).astype(np.float32)
        x = x / _rms(x) * _db(rng.uniform(-40, -15))
    return x.astype(
        np.float32
    ), f"synthetic-{kind}" if kind != "recorded" else "speech_commands/_silence_"


def build_clips(
    data_dir: Path,
    extra_dir: Path | None,
    n_train: int = 128,
    n_heldout: int = 40,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> Clips:
    """ESC-10 plus ``n_train`` training and ``n_heldout`` held-out clips of each extra class."""
    rng = np.random.default_rng(seed)
    clips = Clips()
    load_esc10(data_dir, clips)
    log(f"esc10: {len(clips.audio)} clips")

    # speech
    utterances = speech_utterances(data_dir, extra_dir)
    per_split: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {"train": {}, "heldout": {}}
    for corpus, groups in utterances.items():
        for group, utts in groups.items():
            split = "heldout" if held_out(f"{corpus}/{group}") else "train"
            per_split[split].setdefault(corpus, {})[group] = utts
    meetings_clips(data_dir, clips, rng, per_file=3)
    for split, n in (("train", n_train), ("heldout", n_heldout)):
        corpora = sorted(c for c in per_split[split] if per_split[split][c])
        have = _count(clips, split, "speech")
        for i in range(max(0, n - have)):
            corpus = corpora[i % len(corpora)]
            clips.add(speech_clip(rng, per_split[split][corpus]), "speech", 0, split, corpus)

    # music
    tracks: list[tuple[Path, str]] = []
    if extra_dir is not None:
        share = extra_dir / "usr" / "share"
        tracks += [
            (p, "wesnoth")
            for p in sorted((share / "games").rglob("wesnoth/*/data/core/music/*.ogg"))
        ]
        tracks += [(p, "asterisk-moh") for p in sorted((share / "asterisk" / "moh").glob("*.wav"))]
    if tracks:
        by_split: dict[str, list[tuple[Path, str]]] = {"train": [], "heldout": []}
        for path, src in tracks:
            by_split["heldout" if held_out(path.name) else "train"].append((path, src))
        for split, n in (("train", n_train), ("heldout", n_heldout)):
            chosen = by_split[split]
            for i in range(n):
                path, src = chosen[i % len(chosen)]
                dur = sf.info(str(path)).duration
                start = float(rng.uniform(0, max(0.0, dur - 5.0)))
                clips.add(load_16k(path, max_seconds=5.0, offset_s=start), "music", 0, split, src)

    # birdsong
    finch = sorted((data_dir / "bengalese_finch").glob("*.flac"), key=lambda p: int(p.stem))
    by_split_b: dict[str, list[np.ndarray]] = {"train": [], "heldout": []}
    for path in finch:
        by_split_b["heldout" if int(path.stem) % 5 == 4 else "train"].append(load_16k(path))
    for split, n in (("train", n_train), ("heldout", n_heldout)):
        recs = by_split_b[split]
        for i in range(n):
            clips.add(
                _crop(rng, recs[i % len(recs)], CLIP), "birdsong", 0, split, "bengalese_finch"
            )

    # background
    sc = data_dir / "speech_commands"
    rows = [r for r in _meta(sc / "meta.csv") if r["label"] == "_silence_"]
    noises: dict[str, list[np.ndarray]] = {"train": [], "heldout": []}
    for i, row in enumerate(rows):
        noises["heldout" if i % 5 == 4 else "train"].append(load_16k(sc / row["file"]))
    for split, n in (("train", n_train), ("heldout", n_heldout)):
        for _ in range(n):
            wav, src = background_clip(rng, noises[split])
            clips.add(wav, "background", 0, split, src)

    for split in ("train", "heldout"):
        counts = {c: _count(clips, split, c) for c in EXTRA_CLASSES}
        log(f"{split}: {counts}")
    return clips


def _count(clips: Clips, split: str, label: str) -> int:
    want = CLASSES.index(label)
    return sum(
        1 for s, lab in zip(clips.split, clips.label, strict=True) if s == split and lab == want
    )


def bandlimit(x: np.ndarray) -> np.ndarray:
    """Nothing above 4 kHz, as in an 8 kHz recording: through 8 kHz and back."""
    out: np.ndarray = soxr.resample(soxr.resample(x, SR, 8000), 8000, SR)[: len(x)]
    return out.astype(np.float32)
