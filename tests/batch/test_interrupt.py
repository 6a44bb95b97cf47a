"""Interrupted batches: ``gabortag vad DIR -o OUT/`` stopped by SIGINT, SIGTERM or SIGKILL,
then run again with ``--skip-existing``, ends with the very tree an uninterrupted run writes:
the same files, byte for byte, and no temporary file.

To stop a run at a known place, one input is a named pipe: the run blocks on it after the
inputs before it are written, and the signal lands there. A kill in the middle of a write is
made by a run that kills itself with SIGKILL between writing an output and renaming it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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

# Runs the CLI and kills itself with SIGKILL at the N-th rename of a finished output
# (argv: N, then the arguments of gabortag).
KILL_AT_RENAME = """
import os, signal, sys
real, calls, at = os.replace, [0], int(sys.argv[1])
def replace(src, dst):
    calls[0] += 1
    if calls[0] == at:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)
os.replace = replace
sys.argv = ["gabortag", *sys.argv[2:]]
from gabortag.cli import main
main()
"""


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


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"]
)
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
    if sig in (signal.SIGINT, signal.SIGTERM):
        assert run.returncode == (130 if sig == signal.SIGINT else 143)
        how = "interrupted" if sig == signal.SIGINT else "terminated (SIGTERM)"
        assert stdout == ""
        assert stderr.splitlines() == [
            f"gabortag vad: {how} after {n_done} of {N_FILES} inputs ({n_done} done, "
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


@pytest.mark.parametrize("at", [1, 5])
def test_sigkill_between_write_and_rename(work: Path, expected: dict[str, bytes], at: int) -> None:
    """A run killed with a finished temporary output not yet renamed leaves it behind; the
    next run into that folder removes it."""
    run = start([sys.executable, "-c", KILL_AT_RENAME, str(at), "vad", "in", "-o", "out"], work)
    run.communicate(timeout=60)
    assert run.returncode == -signal.SIGKILL
    leftovers = [name for name in tree(work / "out") if name.endswith(".tmp")]
    assert len(leftovers) == 1
    resume(work, expected, skipped=at - 1)


def test_sigkill_while_writing_one_combined_file(work: Path) -> None:
    run = start([sys.executable, "-c", KILL_AT_RENAME, "1", "vad", "in", "-o", "all.json"], work)
    run.communicate(timeout=60)
    assert run.returncode == -signal.SIGKILL
    assert not (work / "all.json").exists()
    assert [p.name for p in work.glob(".all.json.*.tmp")]
    again = gabortag("vad", "in", "-o", "all.json", cwd=work)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in work.iterdir()) == ["all.json", "in"]  # the leftover is gone
    reference = gabortag("vad", "in", cwd=work)
    assert (work / "all.json").read_text(encoding="utf-8") == reference.stdout


def test_a_signal_while_the_temporary_file_is_made_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C landing just as the temporary output is created (inside ``mkstemp``) used to
    leave it behind: it is now delivered once its name is known, and the file is removed."""
    import tempfile

    from gabortag.io.atomic import atomic_open

    real = tempfile.mkstemp

    def interrupted_mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        made = real(*args, **kwargs)  # type: ignore[call-overload]
        signal.raise_signal(signal.SIGINT)
        return made  # type: ignore[no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", interrupted_mkstemp)
    with pytest.raises(KeyboardInterrupt), atomic_open(tmp_path / "out.json") as f:
        f.write("never")
    assert list(tmp_path.iterdir()) == []
