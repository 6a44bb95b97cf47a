"""The real recordings the voice activity recipe draws on, and which split each source is in.

Every source is a whole corpus (or a whole part of one, e.g. one music package) assigned to
exactly one of ``train``, ``dev`` (checkpoint and post-processing selection) or ``test``
(scored once, at the end), so that the development and test suites measure recordings from
sources the network never heard. The assignment is fixed here, before any training.

Two roots are read: ``data_dir`` (the project's ``../shared/data``) and ``extra_dir``, the
folder filled by ``scripts/fetch_training_data.sh``: unpacked Debian packages under
``x/usr/share`` and repository snapshots under ``git/<name>``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".ogg", ".flac", ".aiff", ".aif", ".mp3", ".opus")

# UrbanSound8K classes that hold voices (children playing, street musicians singing) are not
# non-speech, and are not used: classID 2 = children_playing, 9 = street_music.
URBAN_VOICE_CLASSES = {"2", "9"}


@dataclass(frozen=True)
class Roots:
    """Where the two families of sources live."""

    data: Path  # ../shared/data
    extra: Path  # scripts/fetch_training_data.sh output

    @property
    def share(self) -> Path:
        return self.extra / "x" / "usr" / "share"

    @property
    def git(self) -> Path:
        return self.extra / "git"


@dataclass(frozen=True)
class Source:
    """One corpus: its files, what they hold and where they are used.

    ``kind`` is ``speech`` (clips whose speech extent the energy rule finds), ``noise``
    (non-speech), ``meetings`` (long recordings with RTTM turns) or ``rir`` (room impulse
    responses). ``max_seconds`` caps what is decoded of each file (long music tracks).
    """

    name: str
    kind: str
    split: str
    licence: str
    origin: str
    files: Callable[[Roots], list[Path]]
    max_seconds: float | None = None


def _glob(
    base: Callable[[Roots], Path], pattern: str, exclude: str | None = None
) -> Callable[[Roots], list[Path]]:
    def files(roots: Roots) -> list[Path]:
        root = base(roots)
        found = sorted(
            p for p in root.glob(pattern) if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
        )
        if exclude is not None:
            found = [p for p in found if exclude not in p.as_posix()]
        return found

    return files


def read_meta(path: Path) -> list[dict[str, str]]:
    """The rows of a corpus's ``meta.csv`` (header names as keys)."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _meta(folder: str, keep: Callable[[dict[str, str]], bool]) -> Callable[[Roots], list[Path]]:
    def files(roots: Roots) -> list[Path]:
        base = roots.data / folder
        return [base / row["file"] for row in read_meta(base / "meta.csv") if keep(row)]

    return files


def _urban(roots: Roots) -> list[Path]:
    audio = roots.git / "urbansound8k" / "UrbanSound8K" / "audio"
    return sorted(
        p
        for p in audio.glob("fold*/*.wav")
        if len(p.stem.split("-")) == 4 and p.stem.split("-")[1] not in URBAN_VOICE_CLASSES
    )


def _tuxpaint(speech: bool) -> Callable[[Roots], list[Path]]:
    def files(roots: Roots) -> list[Path]:
        found = sorted((roots.share / "tuxpaint" / "stamps").rglob("*.ogg"))
        return [p for p in found if ("_desc" in p.stem) == speech]

    return files


def _emgse(roots: Roots) -> list[Path]:
    # Hu's 100 non-speech sounds and the test noises; the talker-babble files are speech-like
    # and are left out rather than labelled either way.
    found = sorted((roots.git / "emgse" / "noise").rglob("*.wav"))
    return [p for p in found if "babble" not in p.stem.lower()]


def _share(sub: str) -> Callable[[Roots], Path]:
    return lambda r: r.share / sub


def _git(sub: str) -> Callable[[Roots], Path]:
    return lambda r: r.git / sub


def _data(sub: str) -> Callable[[Roots], Path]:
    return lambda r: r.data / sub


DEB = "Debian package"
SOURCES: tuple[Source, ...] = (
    # ---- speech, training
    Source(
        "speech_commands",
        "speech",
        "train",
        "CC BY 4.0",
        "../shared/data",
        _meta("speech_commands", lambda r: r["label"] != "_silence_"),
    ),
    Source(
        "fsdd", "speech", "train", "CC BY-SA 4.0", "../shared/data", _glob(_data("fsdd"), "**/*")
    ),
    Source("grid", "speech", "train", "CC BY 4.0", "../shared/data", _glob(_data("grid"), "**/*")),
    Source(
        "klettres-data",
        "speech",
        "train",
        "GPL-2+",
        f"{DEB} 4:22.12.3-1",
        _glob(_share("klettres"), "**/*"),
    ),
    Source(
        "asterisk-core-sounds",
        "speech",
        "train",
        "CC BY-SA 3.0",
        f"{DEB}s asterisk-core-sounds-{{en,es,fr,it,ru}}-wav 1.6.1-1",
        _glob(_share("asterisk/sounds"), "**/*", exclude="/silence/"),
    ),
    Source(
        "gcin-voice",
        "speech",
        "train",
        "CC BY 3.0",
        f"{DEB} 0~20170223-3",
        _glob(_share("gcin-voice"), "**/*"),
    ),
    Source(
        "speechocean762",
        "speech",
        "train",
        "CC BY 4.0 (as released; the repository names none)",
        "github.com/jimbozhang/speechocean762 @ 613968e3b0b789fc33936fb5eba1973176ba7d11",
        _glob(_git("speechocean762/WAVE"), "**/*"),
    ),
    Source(
        "speechbrain-asr",
        "speech",
        "train",
        "Apache-2.0",
        "github.com/speechbrain/speechbrain @ 9c826ef3937bac885c8a6ca86c6889a30f256fb5",
        _glob(_git("speechbrain/tests/samples/ASR"), "*"),
    ),
    Source(
        "pyaudioanalysis-speech",
        "speech",
        "train",
        "Apache-2.0",
        "github.com/tyiannak/pyAudioAnalysis @ ae00ebd446d497dbbb654c40a71810e7fdf2cc1b",
        _glob(_git("pyaudioanalysis/pytests/test_data/3_class/speech"), "*"),
    ),
    Source("meetings-train", "meetings", "train", "research only", "../shared/data", lambda r: []),
    # ---- speech, development and test
    Source(
        "tuxpaint-speech",
        "speech",
        "dev",
        "GPL-2",
        f"{DEB} tuxpaint-stamps-default 2022.06.04-1",
        _tuxpaint(speech=True),
    ),
    Source(
        "ktuberling",
        "speech",
        "test",
        "GPL-2+",
        f"{DEB} ktuberling-data 4:22.12.3-1",
        _glob(_share("ktuberling/sounds"), "**/*"),
    ),
    Source(
        "hedgewars-voices",
        "speech",
        "test",
        "GFDL-1.3",
        f"{DEB} hedgewars-data 1.0.2-6",
        _glob(_share("games/hedgewars/Data/Sounds/voices"), "**/*"),
    ),
    Source(
        "librispeech-samples",
        "speech",
        "test",
        "CC BY 4.0 (per-file .txt)",
        "github.com/librosa/data @ 450cdd8a002c98e7bdbfebb309fc1ed024001f77",
        lambda r: sorted(p for p in (r.git / "librosa_data" / "audio").glob("*-*-0000.hq.ogg")),
    ),
    # ---- non-speech, training
    Source(
        "speech_commands-silence",
        "noise",
        "train",
        "CC BY 4.0",
        "../shared/data",
        _meta("speech_commands", lambda r: r["label"] == "_silence_"),
    ),
    Source(
        "bengalese_finch",
        "noise",
        "train",
        "CC BY 4.0",
        "../shared/data",
        _glob(_data("bengalese_finch"), "*.flac"),
    ),
    Source(
        "urbansound8k",
        "noise",
        "train",
        "CC BY-NC 3.0",
        "github.com/Alejandro-131004/AC-II @ 8f8b8f279a1f8b240a3b3019191229c225793e7a "
        "(folds 1, 2, 3, 10; children_playing and street_music left out)",
        _urban,
    ),
    Source(
        "wesnoth-music",
        "noise",
        "train",
        "GPL-2+",
        f"{DEB} wesnoth-1.16-music 1:1.16.9-1",
        _glob(_share("games/wesnoth"), "**/music/*.ogg"),
        max_seconds=60,
    ),
    Source(
        "wesnoth-sounds",
        "noise",
        "train",
        "GPL-2+",
        f"{DEB} wesnoth-1.16-data 1:1.16.9-1",
        _glob(_share("games/wesnoth/1.16/data/core/sounds"), "**/*"),
    ),
    Source(
        "asterisk-moh",
        "noise",
        "train",
        "CC BY-SA 3.0",
        f"{DEB} asterisk-moh-opsound-wav 2.03-1.1",
        _glob(_share("asterisk/moh"), "*.wav"),
        max_seconds=120,
    ),
    Source(
        "frozen-bubble",
        "noise",
        "train",
        "GPL-2",
        f"{DEB} frozen-bubble-data 2.212-11",
        _glob(_share("games/frozen-bubble"), "**/*"),
        max_seconds=60,
    ),
    Source(
        "warmux",
        "noise",
        "train",
        "GPL-2+",
        f"{DEB} warmux-data 1:11.04.1+repack2-4",
        _glob(_share("games/warmux"), "**/*"),
        max_seconds=60,
    ),
    Source(
        "lmms-samples",
        "noise",
        "train",
        "GPL-2+",
        f"{DEB} lmms-common 1.2.2+dfsg1-6",
        _glob(_share("lmms/samples"), "**/*"),
    ),
    Source(
        "tuxpaint-effects",
        "noise",
        "train",
        "GPL-2",
        f"{DEB} tuxpaint-stamps-default 2022.06.04-1",
        _tuxpaint(speech=False),
    ),
    Source(
        "system-sounds",
        "noise",
        "train",
        "GPL-2+ / per package",
        f"{DEB}s alsa-utils 1.2.8-1, gnome-audio 2.22.2-1.2, sound-icons 0.1-8, "
        "tuxtype-data 1.8.3-5.1",
        lambda r: _glob(_share("sounds"), "**/*")(r) + _glob(_share("tuxtype"), "**/*")(r),
    ),
    Source(
        "speechbrain-noise",
        "noise",
        "train",
        "Apache-2.0",
        "github.com/speechbrain/speechbrain @ 9c826ef3937bac885c8a6ca86c6889a30f256fb5",
        _glob(_git("speechbrain/tests/samples/noise"), "*"),
    ),
    Source(
        "pyaudioanalysis-music-silence",
        "noise",
        "train",
        "Apache-2.0",
        "github.com/tyiannak/pyAudioAnalysis @ ae00ebd446d497dbbb654c40a71810e7fdf2cc1b",
        lambda r: (
            _glob(_git("pyaudioanalysis/pytests/test_data/3_class/music"), "*")(r)
            + _glob(_git("pyaudioanalysis/pytests/test_data/3_class/silence"), "*")(r)
        ),
    ),
    Source(
        "librosa-music-animals",
        "noise",
        "train",
        "per file (CC BY / CC0)",
        "github.com/librosa/data @ 450cdd8a002c98e7bdbfebb309fc1ed024001f77",
        lambda r: sorted(
            p
            for p in (r.git / "librosa_data" / "audio").glob("*.hq.ogg")
            if not p.stem.split(".")[0].replace("-", "").isdigit()
        ),
        max_seconds=60,
    ),
    # ---- non-speech, development and test
    Source(
        "emgse-noise",
        "noise",
        "dev",
        "none stated (evaluation only, not redistributed)",
        "github.com/eric-wang135/EMGSE @ 1090f029308dc202ad38be4cb0b52530c5bba59d",
        _emgse,
    ),
    Source(
        "hedgewars-music",
        "noise",
        "dev",
        "GPL-2",
        f"{DEB} hedgewars-data 1.0.2-6",
        _glob(_share("games/hedgewars/Data/Music"), "*"),
        max_seconds=90,
    ),
    Source(
        "esc10", "noise", "test", "CC BY (ESC-50)", "../shared/data", _meta("esc10", lambda r: True)
    ),
    Source(
        "warzone2100-music",
        "noise",
        "test",
        "GPL-2+",
        f"{DEB} warzone2100-music 4.3.3-3",
        _glob(_share("games/warzone2100/music"), "**/*"),
        max_seconds=90,
    ),
    # ---- room impulse responses (measured), training
    Source(
        "rirs-measured",
        "rir",
        "train",
        "Apache-2.0 / CC0 / MIT",
        "speechbrain tests/samples/RIRs, spatialaudio exercises data/rir_clap.wav, "
        "audiomentations demo/ir",
        lambda r: (
            _glob(_git("speechbrain/tests/samples/RIRs"), "*")(r)
            + sorted((r.git / "spatialaudio" / "data").glob("rir*.wav"))
            + _glob(_git("audiomentations/demo/ir"), "*")(r)
        ),
    ),
)


def sources(kind: str | None = None, split: str | None = None) -> list[Source]:
    """The catalogue entries of that ``kind`` and ``split`` (``None``: any)."""
    return [
        s
        for s in SOURCES
        if (kind is None or s.kind == kind) and (split is None or s.split == split)
    ]


def source_files(source: Source, roots: Roots) -> Iterator[Path]:
    """The files of ``source`` that exist under ``roots`` (a missing folder gives none)."""
    try:
        yield from source.files(roots)
    except FileNotFoundError:
        return
