"""Interrupted batches: ``gabortag vad DIR -o OUT/`` stopped by SIGINT or SIGKILL, then run
again with ``--skip-existing``, ends with the very tree an uninterrupted run writes: the same
files, byte for byte, and no temporary file.

To stop a run at a known place, one input is a named pipe: the run blocks on it after the
inputs before it are written, and the signal lands there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from _cli_helpers import GABORTAG, needs_script  # isort: skip

pytestmark = [
    needs_script,
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX signals and named pipes"),
]

N_FILES = 20
BLOCKER = "f11.wav"  # a named pipe in the interrupted runs; f09.wav is the input before it


def make_inputs(root: Path) -> None:
    """``N_FILES`` short recordings, a few in a sub-folder, of varied rates and channels."""
    rng = np.random.default_rng(7)
    for i in range(N_FILES):
        path = root / ("sub" if i % 7 == 3 else "") / f"f{i:02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        rate = (8000, 16000, 44100)[i % 3]
        data = rng.normal(0, 0.05, (rate // 4, 1 + i % 2)).astype(np.float32)
        data[: rate // 8] *= 10 * (i % 4)  # something louder in some of them
        sf.write(str(path), np.clip(data, -1, 1), rate)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, hidden ones included, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def gabortag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert GABORTAG is not None
    return subprocess.run(
        [GABORTAG, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def start(command: list[str], cwd: Path) -> subprocess.Popen[str]:
    """Start a run with the default SIGINT action (a shell may have started us ignoring it)."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The tree of an uninterrupted run."""
    work = tmp_path_factory.mktemp("uninterrupted")
    make_inputs(work / "in")
    done = gabortag("vad", "in", "-o", "out", cwd=work)
    assert done.returncode == 0, done.stderr
    out = tree(work / "out")
    assert len(out) == N_FILES
    return out


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working folder with the same inputs as the uninterrupted run, in ``in/``."""
    make_inputs(tmp_path / "in")
    return tmp_path


def block_on_a_pipe(work: Path) -> Path:
    """Turn ``in/BLOCKER`` into a named pipe (its file is kept aside); return the file."""
    pipe = work / "in" / BLOCKER
    kept = work / BLOCKER
    pipe.rename(kept)
    os.mkfifo(pipe)
    return kept


def unblock(work: Path, kept: Path) -> None:
    pipe = work / "in" / BLOCKER
    pipe.unlink()
    kept.rename(pipe)


def resume(work: Path, expected: dict[str, bytes], skipped: int) -> None:
    """Run again with --skip-existing: the tree must be the uninterrupted run's."""
    done = gabortag("vad", "in", "-o", "out", "--skip-existing", cwd=work)
    assert done.returncode == 0, done.stderr
    assert f"{N_FILES - skipped} done, {skipped} skipped, 0 failed" in done.stderr
    assert tree(work / "out") == expected


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_signal_while_waiting_for_an_input(
    work: Path, expected: dict[str, bytes], sig: signal.Signals
) -> None:
    kept = block_on_a_pipe(work)
    assert GABORTAG is not None
    run = start([GABORTAG, "vad", "in", "-o", "out"], cwd=work)
    wait_for(work / "out" / "f09.json", run)  # nine outputs; now it waits on the pipe
    time.sleep(0.2)
    sent = time.monotonic()
    run.send_signal(sig)
    stdout, stderr = run.communicate(timeout=10)
    assert time.monotonic() - sent < 5  # promptly
    written = tree(work / "out")
    n_done = len(written)
    assert written == {k: v for k, v in expected.items() if k in written}
    if sig == signal.SIGINT:
        assert run.returncode == 130
        assert stdout == ""
        assert stderr.splitlines() == [
            f"gabortag vad: interrupted after {n_done} of {N_FILES} inputs ({n_done} done, "
            "0 skipped, 0 failed); the outputs written are complete: add --skip-existing to go on"
        ]
    else:
        assert run.returncode == -signal.SIGKILL
    unblock(work, kept)
    resume(work, expected, skipped=n_done)


def test_sigint_at_any_moment(work: Path, expected: dict[str, bytes]) -> None:
    """Interrupted wherever it happens to be once an output exists, then resumed."""
    assert GABORTAG is not None
    run = start([GABORTAG, "vad", "in", "-o", "out"], cwd=work)
    wait_for(work / "out" / "f00.json", run)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=10)
    assert "Traceback" not in stderr
    assert run.returncode in (0, 130), stderr  # 0: it had finished before the signal
    written = tree(work / "out")
    assert written == {k: v for k, v in expected.items() if k in written}
    resume(work, expected, skipped=len(written))
