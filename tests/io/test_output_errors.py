"""Outputs that cannot be written: a read-only folder, existing outputs, a disk that fills up
while writing, a full standard output.

Every case must end with a clear one-line error and the right exit code, leave no partial or
temporary file behind, keep existing outputs as they were, and never touch the inputs. Disk
errors are simulated in-process (the CLI run by typer's ``CliRunner`` with ``os`` calls patched
to fail with ``ENOSPC``); the rest runs the installed console script.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import gabortag.io.atomic
import gabortag.io.formats
from gabortag.cli import app

from _cli_helpers import GABORTAG, needs_script, run  # isort: skip
from _paths import SPEECH  # isort: skip

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

Snapshot = dict[str, tuple[bytes, int]]


def snapshot(root: Path) -> Snapshot:
    """Every file under ``root`` (hidden ones too): its bytes and modification time."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """``in/`` with the speech clip and two short noise files, one in a sub-folder."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    shutil.copy(SPEECH, root / "speech.flac")
    rng = np.random.default_rng(0)
    for name in ("a.wav", "sub/b.wav"):
        sf.write(str(root / name), rng.normal(0, 0.05, 8000).astype(np.float32), 16000)
    return root


def invoke(*args: str | Path) -> tuple[int, str, str]:
    """The CLI in this process (so that ``os`` calls can be patched): code, stdout, stderr."""
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def failure_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("gabortag ")]


# --------------------------------------------------------------------------- disk errors


def fail_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(src: Any, dst: Any) -> None:
        raise ENOSPC

    monkeypatch.setattr(os, "replace", replace)


def fail_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise ENOSPC

    monkeypatch.setattr(os, "fsync", fsync)


def fail_mid_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up in the middle of an output: half of it is written, then ENOSPC."""
    real = gabortag.io.formats.JsonWriter._write_item

    def write_item(self: Any, result: Any, stream: Any) -> None:
        real(self, result, stream)
        stream.flush()
        raise ENOSPC

    monkeypatch.setattr(gabortag.io.formats.JsonWriter, "_write_item", write_item)


def fail_create(monkeypatch: pytest.MonkeyPatch) -> None:
    """The temporary file cannot even be made (a read-only or full file system)."""

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(gabortag.io.atomic.tempfile, "mkstemp", mkstemp)


FAULTS: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], str]] = {
    "replace": (fail_replace, "No space left on device"),
    "fsync": (fail_fsync, "No space left on device"),
    "mid-document": (fail_mid_document, "No space left on device"),
    "create": (fail_create, "Permission denied"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_disk_error_with_one_output_per_input(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "b.json").write_text("earlier output\n", encoding="utf-8")
    before_in, before_out = snapshot(inputs), snapshot(out)
    patch, reason = FAULTS[fault]
    patch(monkeypatch)

    code, stdout, stderr = invoke("vad", inputs, "-o", out, "--force")
    monkeypatch.undo()
    assert code == 1 and stdout == ""
    lines = failure_lines(stderr)
    assert len(lines) == 3  # one line per input, naming it, its output and the reason
    for line, name in zip(lines, ("a", "speech", "sub/b"), strict=True):
        assert line.startswith(f"failed {inputs}/{name}.")
        assert f"{out}/{name}.json: cannot write ({reason})" in line
    assert "3 failed" in stderr
    assert snapshot(out) == before_out  # no partial, no temporary file; old output kept
    assert snapshot(inputs) == before_in


@pytest.mark.parametrize("fault", FAULTS)
def test_disk_error_with_one_combined_output(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    target = tmp_path / "all.json"
    target.write_text("earlier output\n", encoding="utf-8")
    before_in, before = snapshot(inputs), snapshot(tmp_path)
    patch, reason = FAULTS[fault]
    patch(monkeypatch)

    code, stdout, stderr = invoke("vad", inputs, "-o", target, "--force", "-q")
    monkeypatch.undo()
    assert code == 1 and stdout == ""
    assert stderr.splitlines() == [f"error: {target}: cannot write ({reason})"]
    assert snapshot(tmp_path) == before  # the old file as it was, nothing beside it
    assert snapshot(inputs) == before_in


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["json", "csv"])
@needs_script
def test_full_standard_output(tmp_path: Path, inputs: Path, fmt: str) -> None:
    """``gabortag vad ... > file`` on a full disk: one error line, no traceback at exit."""
    assert GABORTAG is not None
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [GABORTAG, "vad", str(inputs), "-f", fmt, "-q"],
            stdout=full,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    stderr = done.stderr.decode()
    assert done.returncode == 1
    assert stderr.splitlines() == ["error: <stdout>: cannot write (No space left on device)"]


# --------------------------------------------------------------------------- folders and files


@needs_script
@pytest.mark.skipif(IS_ROOT, reason="root writes into a read-only folder")
def test_read_only_output_folder(tmp_path: Path, inputs: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        before = snapshot(inputs)
        done = run("vad", inputs, "-o", locked / "out", cwd=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        lines = failure_lines(done.stderr)
        assert len(lines) == 3 and all("cannot write (Permission denied)" in x for x in lines)
        combined = run("vad", inputs, "-o", locked / "all.json", cwd=tmp_path)
        assert combined.returncode == 2 and "is not writable" in combined.stderr
        assert os.listdir(locked) == []
        assert snapshot(inputs) == before
    finally:
        locked.chmod(0o755)


@needs_script
def test_existing_outputs_need_force_or_skip(tmp_path: Path, inputs: Path) -> None:
    out = tmp_path / "out"
    first = run("vad", inputs, "-o", out, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "all.csv").write_text("mine\n", encoding="utf-8")
    before_in, before = snapshot(inputs), snapshot(tmp_path)

    again = run("vad", inputs, "-o", out, cwd=tmp_path)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    lines = failure_lines(again.stderr)
    assert len(lines) == 3
    assert all("exists (use --force or --skip-existing)" in line for line in lines)
    combined = run("vad", inputs, "-f", "csv", "-o", "all.csv", cwd=tmp_path)
    assert combined.returncode == 2 and "add --force to overwrite it" in combined.stderr
    assert snapshot(tmp_path) == before  # nothing rewritten, nothing added
    assert snapshot(inputs) == before_in


@needs_script
def test_an_output_folder_in_the_way_of_a_file(tmp_path: Path, inputs: Path) -> None:
    """``out/sub`` is a file where the outputs of ``in/sub/`` need a folder: those inputs fail
    with the reason, the others are written."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").write_text("a file\n", encoding="utf-8")
    done = run("vad", inputs, "-o", out, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = failure_lines(done.stderr)
    assert line.startswith(f"failed {inputs}/sub/b.wav: {out}/sub/b.json: cannot write")
    assert sorted(os.listdir(out)) == ["a.json", "speech.json", "sub"]


def test_only_temporaries_of_processes_gone_are_removed(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(gone.stdout)
    kept = {
        f".x.json.abcd_123.{os.getpid()}.tmp",  # this process is still writing it
        ".x.json.abcd_123.tmp",  # names no process
        f"notes.{pid}.tmp",  # not a temporary output
        "x.json",
    }
    stale = {f".x.json.abcd_123.{pid}.tmp", f".a b.selections.txt.z9_x0y1w.{pid}.tmp"}
    for name in kept | stale:
        (tmp_path / name).write_text("x", encoding="utf-8")
    removed = gabortag.io.atomic.remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == sorted(stale)
    assert set(os.listdir(tmp_path)) == kept
    assert gabortag.io.atomic.remove_stale_temporaries(tmp_path / "missing") == []


@needs_script
def test_long_file_names(tmp_path: Path) -> None:
    """An output whose name fits the 255-byte limit is written, however little room is left
    for its temporary file's name; one that does not fit fails with the reason."""
    fits = ["a" * 245 + ".wav", "é" * 125 + ".wav"]  # outputs of 250 and 255 bytes
    too_long = "b" * 251 + ".wav"  # 255 bytes; its output would be 256
    (tmp_path / "in").mkdir()
    try:
        for name in [*fits, too_long]:
            shutil.copy(SPEECH, tmp_path / "in" / name)
    except OSError as err:
        pytest.skip(f"this file system refuses long names ({err})")
    done = run("vad", "in", "-o", "out", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = failure_lines(done.stderr)
    assert line.startswith(f"failed in/{too_long}: out/{'b' * 251}.json: cannot write (")
    assert "name too long" in line
    assert sorted(os.listdir(tmp_path / "out")) == sorted(n[:-4] + ".json" for n in fits)
