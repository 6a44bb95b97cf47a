"""Make the small audio clips the tests use, from espeak-ng speech and synthetic noise.

Writes into ``tests/data/`` (or ``--out-dir``):

* ``speech_noise.flac``: 16 kHz mono 16-bit, about 8 s: 1.5 s of pink-ish noise, a sentence
  (voice en-us), 2 s of noise, a second sentence (voice en+f3), 1 s of noise. The noise runs
  under the whole clip at ``--snr-db`` (15 dB) below the speech power.
* ``speech_noise.json``: the true speech intervals of that clip (seconds, 3 decimals): for each
  sentence, its first and last sample above -40 dB of the sentence's peak.
* ``noise.flac``: 5 s of the same kind of noise at the same level, no speech, 16 kHz mono.
* ``speech_44k_stereo.flac``: one sentence at 44.1 kHz stereo, left and right at different
  gains, to exercise resampling and downmixing; ``speech_44k_stereo.json`` holds its interval.

Needs ``espeak-ng`` on PATH (``apt-get install espeak-ng``), numpy, soundfile and soxr.
Deterministic: same espeak-ng version and ``--seed`` give the same samples.

Usage: ``python scripts/make_test_clips.py [--out-dir tests/data] [--seed 0] [--snr-db 15]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

RATE = 16_000  # Hz, the rate of the mono clips (the models' rate)
STEREO_RATE = 44_100  # Hz, the rate of the stereo clip
THRESHOLD_DB = -40.0  # a sample is speech when its magnitude is within 40 dB of the peak
SPEECH_PEAK = 0.3  # peak amplitude of each sentence (about -10 dBFS); quiet keeps FLACs small
SENTENCES = (
    ("en-us", "The quick brown fox jumps over the dog."),
    ("en+f3", "Please call Stella after lunch."),
)
STEREO_SENTENCE = ("en-us", "Open the window, please.")
STEREO_GAINS = (0.9, 0.45)  # left, right


def espeak(voice: str, text: str, rate: int) -> np.ndarray:
    """``text`` spoken by espeak-ng ``voice``, float32 mono at ``rate`` Hz, peak ``SPEECH_PEAK``,
    trimmed to its first and last sample above ``THRESHOLD_DB`` of its peak."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng not found: install it with `apt-get install espeak-ng`")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "tts.wav"
        subprocess.run([exe, "-v", voice, "-w", str(wav), text], check=True)
        audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    audio = np.asarray(soxr.resample(audio[:, 0], sr, rate, quality="VHQ"), dtype=np.float32)
    start, end = active_span(audio)
    audio = audio[start:end]
    return np.asarray(audio * (SPEECH_PEAK / np.abs(audio).max()), dtype=np.float32)


def active_span(audio: np.ndarray) -> tuple[int, int]:
    """Sample indices ``[first, last + 1)`` of the samples above ``THRESHOLD_DB`` of the peak."""
    loud = np.flatnonzero(np.abs(audio) >= np.abs(audio).max() * 10 ** (THRESHOLD_DB / 20))
    return int(loud[0]), int(loud[-1]) + 1


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of 1/f-shaped (pink-ish) Gaussian noise with unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=np.float64)
    f[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(f), n)
    return np.asarray(noise / np.sqrt(np.mean(noise**2)), dtype=np.float64)


def write_flac(path: Path, audio: np.ndarray, rate: int) -> None:
    if np.abs(audio).max() >= 1.0:
        raise SystemExit(f"{path}: clipping (peak {np.abs(audio).max():.3f}); lower the levels")
    sf.write(path, audio, rate, format="FLAC", subtype="PCM_16")


def write_truth(path: Path, clip: str, rate: int, n: int, spans: list[tuple[int, int]]) -> None:
    truth = {
        "file": clip,
        "sample_rate": rate,
        "duration": round(n / rate, 3),
        "threshold_db": THRESHOLD_DB,
        "speech": [{"start": round(a / rate, 3), "end": round(b / rate, 3)} for a, b in spans],
        "made_by": "scripts/make_test_clips.py",
    }
    path.write_text(json.dumps(truth, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=Path("tests/data"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    parser.add_argument("--snr-db", type=float, default=15.0, help="speech-to-noise ratio")
    args = parser.parse_args()
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    # speech_noise: noise / sentence / noise / sentence / noise
    first, second = (espeak(voice, text, RATE) for voice, text in SENTENCES)
    pads = (int(1.5 * RATE), int(2.0 * RATE), int(1.0 * RATE))
    n = sum(pads) + first.size + second.size
    speech = np.zeros(n, dtype=np.float64)
    spans = []
    start = pads[0]
    for sentence, pad in zip((first, second), pads[1:], strict=True):
        speech[start : start + sentence.size] = sentence
        a, b = active_span(sentence)
        spans.append((start + a, start + b))
        start += sentence.size + pad
    active = np.concatenate([speech[a:b] for a, b in spans])
    noise_rms = np.sqrt(np.mean(active**2)) / 10 ** (args.snr_db / 20)
    mix = speech + noise_rms * pink_noise(n, rng)
    write_flac(out / "speech_noise.flac", mix.astype(np.float32), RATE)
    write_truth(out / "speech_noise.json", "speech_noise.flac", RATE, n, spans)

    # noise only, same level
    write_flac(out / "noise.flac", (noise_rms * pink_noise(5 * RATE, rng)).astype(np.float32), RATE)

    # one sentence at 44.1 kHz stereo, 0.2 s of silence each side
    voice, text = STEREO_SENTENCE
    sentence = espeak(voice, text, STEREO_RATE)
    pad = int(0.2 * STEREO_RATE)
    mono = np.concatenate([np.zeros(pad), sentence, np.zeros(pad)])
    stereo = np.stack([gain * mono for gain in STEREO_GAINS], axis=1).astype(np.float32)
    write_flac(out / "speech_44k_stereo.flac", stereo, STEREO_RATE)
    a, b = active_span(sentence)
    write_truth(
        out / "speech_44k_stereo.json",
        "speech_44k_stereo.flac",
        STEREO_RATE,
        mono.size,
        [(pad + a, pad + b)],
    )


if __name__ == "__main__":
    main()
