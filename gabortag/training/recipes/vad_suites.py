"""Development and test suites for the voice activity model, from held-out sources only.

A suite is a folder of groups; each group is a folder in the layout of ``meetings`` (``all.lst``
of file ids, ``<id>.flac``, ``all.rttm`` speech turns, ``all.uem`` scored regions), so one loader
(:func:`load_suite`) and one protocol (:mod:`gabortag.tasks.vad.evaluate`) score them all.

Groups (sources from :mod:`gabortag.training.recipes.vad_sources`, none of them heard in training):

- ``dev``: ``tuxpaint+emgse`` (spoken descriptions in 14 languages over street, car, engine and
  other noises), ``tuxpaint+hedgewars-music``, ``speechbrain-vad`` (two real recordings with
  annotated speech segments) and ``meetings`` development;
- ``test``: ``ktuberling+esc10`` (recorded words in 26 languages, three LibriSpeech utterances,
  over ESC-10), ``hedgewars-voices+warzone-music`` and ``meetings`` test.

A mixture file is 20 s: a background of the group's noise with its speech placed on it at an
SNR drawn per file in -5..20 dB, sometimes reverberated (simulated rooms of another seed than
training), band-limited or coded, at -35..-15 dBFS RMS. ``python -m
gabortag.training.recipes.vad_suites --extra DIR --out SUITES`` writes both suites (deterministic).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ...tasks.vad.evaluate import Reference, load_reference, meetings_split
from .labels import FRAME, SR
from .vad_data import MixRates, MixtureSampler, Pools, build_pools, simulated_rirs
from .vad_sources import Roots, sources

FILE_SECONDS = 20.0
SUITE_RATES = MixRates(
    speech=0.92,
    meeting=0.0,
    second_talker=0.1,
    silence_bed=0.04,
    synthetic_bed=0.0,
    fluctuate=0.1,
    utterance_reverb=0.25,
    utterance_telephone=0.05,
    mix_reverb=0.1,
    telephone=0.08,
    codec=0.05,
    tilt=0.2,
    clip=0.0,
    edge_silence=0.0,
)


@dataclass(frozen=True)
class Group:
    """A group of mixture files: speech sources over non-speech sources."""

    name: str
    speech: tuple[str, ...]
    noise: tuple[str, ...]
    n_files: int = 50


GROUPS: dict[str, tuple[Group, ...]] = {
    "dev": (
        Group("tuxpaint+emgse", ("tuxpaint-speech",), ("emgse-noise",)),
        Group("tuxpaint+hedgewars-music", ("tuxpaint-speech",), ("hedgewars-music",)),
    ),
    "test": (
        Group("ktuberling+esc10", ("ktuberling", "librispeech-samples"), ("esc10",)),
        Group("hedgewars-voices+warzone-music", ("hedgewars-voices",), ("warzone2100-music",)),
    ),
}
MEETINGS_SPLIT = {"dev": "development", "test": "test"}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def write_group(folder: Path, items: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    """``items`` of ``(id, 16 kHz audio, 10 ms mask)`` as FLAC, ``all.lst/.rttm/.uem``."""
    folder.mkdir(parents=True, exist_ok=True)
    rttm, uem = [], []
    for fid, wav, mask in items:
        sf.write(str(folder / f"{fid}.flac"), wav, SR, subtype="PCM_16")
        for s, e in _runs(mask):
            start, length = s * FRAME / SR, (e - s) * FRAME / SR
            rttm.append(f"SPEAKER {fid} 1 {start:.2f} {length:.2f} <NA> <NA> spk <NA> <NA>")
        uem.append(f"{fid} 1 0.00 {len(wav) / SR:.2f}")
    (folder / "all.lst").write_text("".join(f"{fid}\n" for fid, _, _ in items))
    (folder / "all.rttm").write_text("\n".join(rttm) + "\n")
    (folder / "all.uem").write_text("\n".join(uem) + "\n")


def mixture_group(
    pools: Pools, group: Group, seed: int
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The ``n_files`` mixtures of ``group`` from its decoded held-out sources."""
    sub = Pools(
        speech={k: pools.speech[k] for k in group.speech if k in pools.speech},
        noise={k: pools.noise[k] for k in group.noise if k in pools.noise},
        rirs=pools.rirs,
    )
    sampler = MixtureSampler(sub, seed=seed, rates=SUITE_RATES)
    rng = np.random.default_rng(seed + 1)
    sampler.snr_db = lambda: float(rng.uniform(-5, 20))  # type: ignore[method-assign]
    items = []
    for i in range(group.n_files):
        x, y = sampler(int(FILE_SECONDS * SR))
        x = x * (10 ** (rng.uniform(-35, -15) / 20) / float(np.sqrt(np.mean(x**2) + 1e-12)))
        items.append((f"{group.name}-{i:03d}", np.clip(x, -1, 1).astype(np.float32), y))
    return items


def speechbrain_vad(roots: Roots) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The two speechbrain VAD recordings with their annotated speech segments."""
    base = roots.git / "speechbrain" / "tests" / "samples"
    items = []
    for split, wav_name in (("train", "train.wav"), ("dev", "valid.wav")):
        wav, sr = sf.read(str(base / "VAD" / wav_name), dtype="float32", always_2d=True)
        wav = wav.mean(axis=1)
        assert sr == SR, sr
        mask = np.zeros(len(wav) // FRAME, bool)
        for ex in json.loads((base / "annotation" / f"VAD_{split}.json").read_text()).values():
            t = [float(v) for v in ex["speech"].split()]
            off = ex["wav"]["start"] / SR
            for s, e in zip(t[::2], t[1::2], strict=True):
                mask[round((off + s) * 100) : round((off + e) * 100)] = True
        items.append((f"speechbrain-vad-{split}", wav[: len(mask) * FRAME], mask))
    return items


def build_suites(roots: Roots, out: Path, seed: int = 1234, limit: int = 1500) -> None:
    """Write ``out/dev`` and ``out/test`` (see the module docstring)."""
    for split, groups in GROUPS.items():
        pools = build_pools(roots, split=split, n_simulated_rirs=0, limit=limit, seed=seed)
        pools.rirs = simulated_rirs(60, seed=seed + (0 if split == "dev" else 1))
        for k, group in enumerate(groups):
            write_group(out / split / group.name, mixture_group(pools, group, seed + 10 * k))
        if split == "dev":
            write_group(out / split / "speechbrain-vad", speechbrain_vad(roots))
        facts = {
            "groups": [g.name for g in groups],
            "sources": {s.name: s.origin for s in sources(split=split)},
            "seconds_decoded": {k: round(v, 1) for k, v in pools.seconds.items()},
        }
        (out / split / "facts.json").write_text(json.dumps(facts, indent=1))


def load_suite(suite_dir: Path, data_dir: Path, split: str) -> dict[str, list[Reference]]:
    """Every group of ``suite_dir/split`` as references, plus ``meetings`` of ``data_dir``."""
    groups: dict[str, list[Reference]] = {}
    for folder in sorted(p for p in (suite_dir / split).iterdir() if (p / "all.lst").exists()):
        ids = (folder / "all.lst").read_text().split()
        durations = {fid: float(sf.info(str(folder / f"{fid}.flac")).duration) for fid in ids}
        groups[folder.name] = load_reference(
            folder, folder / "all.rttm", folder / "all.uem", ids, durations
        )
    groups["meetings"] = meetings_split(data_dir, MEETINGS_SPLIT[split])
    return groups


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--data", type=Path, required=True, help="the labelled data folder (../shared/data)"
    )
    p.add_argument("--extra", type=Path, required=True, help="scripts/fetch_training_data.sh DIR")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    build_suites(Roots(args.data, args.extra), args.out)


if __name__ == "__main__":
    main()
