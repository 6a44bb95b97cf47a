"""evTAF ``.cbin`` audio: 16-bit big-endian interleaved PCM, channel 0 read, its rate from the
``.rec`` file beside it (``ADFREQ``, maybe in scientific notation); found in folders like any
audio, streamed, and every problem with it one line naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gabortag.errors import AudioError
from gabortag.io.audio import load_audio, open_stream, probe
from gabortag.io.discover import discover

from _cli_helpers import needs_script, run  # isort: skip

REC = """File created: Fri, Mar 23, 2012, 08:08:15

     begin rec = 0 ms
     trig time  = 2000 ms
     rec end = 12305 ms

ADFREQ =   {rate}
Chans = {chans}
Samples = {samples}
Catch = 0
T Before = 2.0000000000E+0
T After = 2.0000000000E+0
Thresholds = {space}
2.000000E+0
Feedback information:{space}
"""


def write_cbin(
    folder: Path, stem: str, channels: np.ndarray, rate: str = "3.2000000000E+4"
) -> Path:
    """``folder/stem.cbin`` of the int16 ``(frames, channels)`` array, and its ``.rec``."""
    path = folder / f"{stem}.cbin"
    channels.astype(">i2").tofile(path)  # row-major: channels interleaved
    rec = REC.format(rate=rate, chans=channels.shape[1], samples=channels.shape[0], space=" ")
    (folder / f"{stem}.rec").write_text(rec.replace("\n", "\r\n"))  # written on Windows
    return path


def song(frames: int = 32000) -> np.ndarray:
    """Two channels: a 2 kHz tone on channel 0 (the microphone), loud noise on channel 1."""
    t = np.arange(frames) / 32000
    mic = 8000 * np.sin(2 * np.pi * 2000 * t)
    other = np.random.default_rng(3).integers(-30000, 30000, frames)
    return np.stack([mic, other], axis=1).astype(np.int16)


def test_cbin_is_read_as_channel_0_at_the_rate_of_its_rec(tmp_path: Path) -> None:
    data = song()
    path = write_cbin(tmp_path, "gy6or6_baseline_230312_0808.138", data)
    info = probe(path)
    assert (info.sample_rate, info.channels, info.frames) == (32000, 2, 32000)
    samples, _ = load_audio(path, 32000)
    np.testing.assert_array_equal(samples, data[:, 0] / np.float32(32768))
    _, blocks = open_stream(path, 16000, block_seconds=0.01)
    streamed = np.concatenate(list(blocks))
    np.testing.assert_allclose(streamed, load_audio(path, 16000)[0], atol=1e-6)


@pytest.mark.parametrize("rate", ["32000", "3.2e4", "32000.0", "3.2000000000E+4"])
def test_adfreq_in_any_notation(tmp_path: Path, rate: str) -> None:
    path = write_cbin(tmp_path, "a", song(3200), rate=rate)
    assert probe(path).sample_rate == 32000


def test_folders_hold_cbin_audio_but_not_their_side_files(tmp_path: Path) -> None:
    write_cbin(tmp_path, "b", song(320))
    write_cbin(tmp_path, "a", song(320))
    (tmp_path / "a.cbin.not.mat").write_bytes(b"MATLAB 5.0")
    (tmp_path / "a.tmp").write_bytes(b"\0" * 8)
    items, missing = discover([str(tmp_path)])
    assert [i.relative for i in items] == ["a.cbin", "b.cbin"] and not missing


@pytest.mark.parametrize(
    ("rec", "reason"),
    [
        (None, "evTAF audio needs its .rec file for the sample rate, and a.rec is not beside it"),
        ("Chans = 2\n", "gives no ADFREQ (the sample rate)"),
        ("ADFREQ = fast\nChans = 2\n", "gives ADFREQ = fast, not a positive number"),
        ("ADFREQ = 0\n", "gives ADFREQ = 0, not a positive number"),
        ("ADFREQ = 500\n", "sample rate 500 Hz is outside the supported range"),
    ],
)
def test_a_bad_rec_is_one_line_naming_the_cbin(
    tmp_path: Path, rec: str | None, reason: str
) -> None:
    path = write_cbin(tmp_path, "a", song(320))
    if rec is None:
        (tmp_path / "a.rec").unlink()
    else:
        (tmp_path / "a.rec").write_text(rec)
    with pytest.raises(AudioError) as caught:
        probe(path)
    assert caught.value.path == str(path)
    assert reason in caught.value.reason and "\n" not in str(caught.value)


@needs_script
def test_a_folder_of_cbin_is_tagged_as_is(tmp_path: Path) -> None:
    write_cbin(tmp_path, "a", song())
    (tmp_path / "lonely.cbin").write_bytes(b"\0\1" * 100)  # no .rec: fails, the batch goes on
    done = run("birdcalls", tmp_path, "-f", "jsonl", cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stderr
    assert f'"path": "{tmp_path / "a.cbin"}"' in done.stdout
    assert '"sample_rate": 32000' in done.stdout
    assert f"failed {tmp_path / 'lonely.cbin'}: evTAF audio needs its .rec file" in done.stderr
    assert "Traceback" not in done.stderr
