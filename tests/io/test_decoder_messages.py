"""What libsndfile's MP3 decoder (libmpg123) prints on file descriptor 2 never reaches the user
as is: it is captured around each call into libsndfile and becomes at most one gabortag warning
per file (one line, ``warning: <path>: libmpg123: ...``)."""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gabortag.errors import AudioWarning
from gabortag.io import audio
from gabortag.io.audio import load_audio
from gabortag.io.stderr import captured_stderr

from _cli_helpers import needs_script, run  # isort: skip

XING = "Xing stream size off by more than 1%"


def test_library_lines_on_fd2_are_kept_and_the_rest_passes(
    capfd: pytest.CaptureFixture[str],
) -> None:
    notes: list[str] = []
    with captured_stderr(notes):
        os.write(2, b"Warning: Xing stream size off by more than 1%, fuzzy seeking ...\n")
        os.write(2, b"a line of someone else\n")
        os.write(2, b"[src/libmpg123/parse.c:1234] error: bad frame\n")
    os.write(2, b"after\n")
    assert notes == [
        "Warning: Xing stream size off by more than 1%, fuzzy seeking ...",
        "[src/libmpg123/parse.c:1234] error: bad frame",
    ]
    assert capfd.readouterr().err == "a line of someone else\nafter\n"


def test_captures_in_threads_take_turns(capfd: pytest.CaptureFixture[str]) -> None:
    found: list[list[str]] = [[] for _ in range(8)]

    def work(i: int) -> None:
        for _ in range(20):
            with captured_stderr(found[i]):
                os.write(2, f"Note: thread {i}\n".encode())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(notes == [f"Note: thread {i}"] * 20 for i, notes in enumerate(found))
    assert capfd.readouterr().err == ""


def _mp3_with_a_wrong_xing_size(path: Path) -> Path:
    """A 5 s MP3 cut in half: its Xing header still announces the whole stream's size."""
    t = np.arange(16000 * 5) / 16000
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    whole = path.with_name("whole.mp3")
    try:
        sf.write(str(whole), tone, 16000, format="MP3")
    except (sf.LibsndfileError, TypeError, ValueError, RuntimeError) as err:
        pytest.skip(f"this libsndfile cannot write MP3 ({err})")
    data = whole.read_bytes()
    if b"Xing" not in data[:1000]:
        pytest.skip("this libsndfile writes MP3 without a Xing header")
    path.write_bytes(data[: len(data) // 2])
    return path


def test_a_wrong_xing_header_is_one_warning_not_a_raw_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _mp3_with_a_wrong_xing_size(tmp_path / "cut.mp3")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples, _ = load_audio(path, 16000)
        _, blocks = audio.open_stream(path, 16000, block_seconds=0.1)
        streamed = np.concatenate(list(blocks))
    assert samples.size == streamed.size > 16000
    assert XING not in capfd.readouterr().err
    mine = [w for w in caught if issubclass(w.category, AudioWarning)]
    assert len(mine) == 2  # one per opening of the file
    assert all(str(w.message).startswith(f"{path}: libmpg123: {XING}") for w in mine)


@needs_script
@pytest.mark.parametrize(
    ("task", "jobs"), [("vad", ()), ("vad", ("--jobs", "2")), ("birdcalls", ())]
)
def test_cli_prints_one_warning_line_per_file(
    tmp_path: Path, task: str, jobs: tuple[str, ...]
) -> None:
    _mp3_with_a_wrong_xing_size(tmp_path / "cut.mp3")
    sf.write(str(tmp_path / "fine.wav"), np.zeros(16000, dtype=np.float32), 16000)
    done = run(task, "cut.mp3", "fine.wav", "-f", "jsonl", *jobs, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if XING in line]
    assert lines == [
        f"warning: cut.mp3: libmpg123: {XING}, fuzzy seeking may be even more fuzzy than by design!"
    ], done.stderr
