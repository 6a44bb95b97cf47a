"""evTAF recordings: ``.cbin`` audio and the ``.rec`` text file beside it (numpy only).

evTAF (the song-recording program of many songbird labs, whose files evsonganaly labels) writes
``NAME.cbin``: headerless 16-bit signed big-endian PCM, channels interleaved, channel 0 the
microphone; and ``NAME.rec``: text lines ``key = value``, among them ``ADFREQ = 32000`` (the
sample rate in Hz, sometimes in scientific notation, ``3.2000000000E+4``) and ``Chans = 2``
(the channel count; 1 when absent). This is what the ``evfuncs`` package's ``load_cbin`` and
``readrecf`` read. :mod:`gabortag.io.audio` reads ``.cbin`` files as any other audio, streamed,
through libsndfile's RAW reader with the layout given here, keeping channel 0.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any

from ..errors import AudioError

#: The extension of evTAF audio (compared case-insensitively).
CBIN_EXTENSION = ".cbin"

#: The channel of a ``.cbin`` file that is read: evTAF records the microphone on channel 0.
CBIN_CHANNEL = 0

_FIELD = re.compile(r"^\s*(ADFREQ|Chans)\s*=\s*(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class CbinLayout:
    """How to read one ``.cbin`` file: its ``sample_rate`` (Hz) and ``channels``, from its
    ``.rec`` file."""

    sample_rate: int
    channels: int

    def soundfile_args(self) -> dict[str, Any]:
        """Keyword arguments of ``soundfile.SoundFile`` that read the file as it is laid out."""
        return {
            "format": "RAW",
            "subtype": "PCM_16",
            "endian": "BIG",
            "channels": self.channels,
            "samplerate": self.sample_rate,
        }


def is_cbin(path: str) -> bool:
    """Whether ``path`` names evTAF audio (extension ``.cbin``, any case)."""
    return path.lower().endswith(CBIN_EXTENSION)


def rec_path(cbin: str) -> str:
    """The ``.rec`` file of a ``.cbin`` file: ``a/NAME.cbin`` → ``a/NAME.rec``."""
    return cbin[: -len(CBIN_EXTENSION)] + ".rec"


def cbin_layout(cbin: str) -> CbinLayout:
    """Sample rate and channel count of ``cbin``, read from its ``.rec`` file.

    Raises:
        AudioError: (named after ``cbin``) the ``.rec`` file is missing or unreadable, gives no
            ``ADFREQ``, or a value that is not a positive number.
    """
    rec = rec_path(cbin)
    try:
        with open(rec, encoding="latin-1") as f:  # Windows-written text; only ASCII is parsed
            text = f.read()
    except FileNotFoundError:
        raise AudioError(
            cbin,
            f"evTAF audio needs its .rec file for the sample rate, and {os.path.basename(rec)} "
            "is not beside it",
        ) from None
    except OSError as err:
        raise AudioError(cbin, f"cannot read its .rec file {rec} ({err.strerror or err})") from None
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(text):
        fields.setdefault(key.lower(), value)
    if "adfreq" not in fields:
        raise AudioError(cbin, f"its .rec file {rec} gives no ADFREQ (the sample rate)")
    rate = _number(cbin, rec, "ADFREQ", fields["adfreq"])
    channels = _number(cbin, rec, "Chans", fields.get("chans", "1"))
    if channels != int(channels) or not 1 <= channels <= 1024:
        raise AudioError(cbin, f"its .rec file {rec} gives Chans = {fields['chans']}")
    return CbinLayout(sample_rate=round(rate), channels=int(channels))


def _number(cbin: str, rec: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise AudioError(cbin, f"its .rec file {rec} gives {key} = {text}, not a positive number")
    return value
