"""Files with many channels: blocks are sized in bytes and downmixed as they are read, so memory
stays flat whatever the channel count; an allocation that fails anyway is a one-line failure of
that file, and the batch goes on (under vad, scenes and birdcalls, with and without ``--jobs``).
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gabortag.io import audio
from gabortag.io.audio import BLOCK_BYTES, block_frames, load_audio, open_stream

from _cli_helpers import GABORTAG, needs_script  # isort: skip

CHANNELS = 1024
FRAMES = 2000
RATE = 8000


@pytest.fixture(scope="module")
def many_channels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A 1,024-channel 16-bit WAV of 0.25 s (4 MB) and its samples as float32."""
    rng = np.random.default_rng(7)
    data = rng.integers(-2000, 2000, size=(FRAMES, CHANNELS), dtype=np.int16)
    path = tmp_path_factory.mktemp("many") / "many.wav"
    sf.write(str(path), data, RATE, subtype="PCM_16")
    return path, data.astype(np.float32) / 32768


def test_block_frames_keep_to_the_byte_budget() -> None:
    assert block_frames(16000, 1) == 30 * 16000  # mono: the time limit decides
    for rate, channels in [(48000, 1024), (192000, 64), (8000, 65535), (44100, 2)]:
        frames = block_frames(rate, channels)
        assert 1 <= frames <= 30 * rate
        assert frames * channels * 4 <= max(BLOCK_BYTES, channels * 4)
    assert block_frames(48000, 1024) == BLOCK_BYTES // (1024 * 4)
    assert block_frames(8000, 10**7) == 1  # more channels than the budget: one frame a block


def test_many_channels_are_read_in_small_blocks(
    many_channels: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = many_channels
    sizes: list[tuple[int, int]] = []
    read = audio._FileBlocks.__next__

    def spy(self: audio._FileBlocks) -> np.ndarray:
        block = read(self)
        sizes.append(block.shape)
        return block

    monkeypatch.setattr(audio._FileBlocks, "__next__", spy)
    info, blocks = open_stream(path, RATE)
    mono = np.concatenate(list(blocks))
    assert info.channels == CHANNELS
    expected_frames = BLOCK_BYTES // (CHANNELS * 4)
    assert sizes[0] == (min(FRAMES, expected_frames), CHANNELS)
    assert all(rows * cols * 4 <= BLOCK_BYTES for rows, cols in sizes)
    np.testing.assert_allclose(mono, data.mean(axis=1), atol=1e-6)


def test_memory_stays_flat_whatever_the_channel_count(
    many_channels: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = many_channels
    budget = 256 * 1024
    monkeypatch.setattr(audio, "BLOCK_BYTES", budget)
    assert block_frames(RATE, CHANNELS) == 64
    whole = data.nbytes  # 8 MB of float32: what one read of the whole file would take
    tracemalloc.start()
    try:
        mono, info = load_audio(path, 16000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.frames == FRAMES and mono.size == 2 * FRAMES
    assert peak < 4 * budget < whole / 4, f"peak {peak} bytes"


# ---------------------------------------------------------------- an allocation that fails

#: Imported by every Python process the console script starts (worker processes too): makes
#: soundfile's block read of any file named ``huge*`` fail as NumPy does when it cannot
#: allocate the block.
SITECUSTOMIZE = textwrap.dedent(
    """
    import os
    import soundfile

    _read = soundfile.SoundFile.read

    def read(self, *args, **kwargs):
        name = getattr(self.name, "name", self.name)
        if os.path.basename(str(name)).startswith("huge"):
            raise MemoryError(
                "Unable to allocate 1.83 GiB for an array with shape (480000, 1024) "
                "and data type float32"
            )
        return _read(self, *args, **kwargs)

    soundfile.SoundFile.read = read
    """
)


@needs_script
@pytest.mark.parametrize(
    ("task", "jobs"),
    [("vad", None), ("vad", "2"), ("scenes", None), ("scenes", "2"), ("birdcalls", None)],
)
def test_allocation_failure_is_one_line_per_file(
    tmp_path: Path, task: str, jobs: str | None
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    t = np.arange(16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for name in ("a.wav", "huge.wav", "z.wav"):
        sf.write(str(tmp_path / name), np.stack([tone, tone], axis=1), 16000)
    path = os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}
    assert GABORTAG is not None
    args = [GABORTAG, task, "a.wav", "huge.wav", "z.wav", "-f", "jsonl"]
    if jobs is not None:
        args += ["--jobs", jobs]
    done = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed")]
    assert failed == [
        "failed huge.wav: out of memory (Unable to allocate 1.83 GiB for an array with shape "
        "(480000, 1024) and data type float32)"
    ], done.stderr
    assert "1 failed" in done.stderr
    assert [line for line in done.stdout.splitlines() if '"a.wav"' in line or '"z.wav"' in line]
