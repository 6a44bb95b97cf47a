"""Running the installed ``gabortag`` console script in a subprocess (for the CLI tests)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _find_script() -> str | None:
    beside = Path(sys.executable).parent / "gabortag"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("gabortag")


GABORTAG = _find_script()

#: ``pytestmark = needs_script`` skips a module when the console script is not installed.
needs_script = pytest.mark.skipif(
    GABORTAG is None, reason="the gabortag console script is not installed (pip install -e .)"
)


def run(
    *args: str | Path,
    cwd: Path,
    stdin: bytes | None = None,
    timeout: float = 60,
    columns: int = 200,
) -> subprocess.CompletedProcess[str]:
    """Run the console script in a terminal ``columns`` wide (``COLUMNS``); stdout and stderr
    are decoded text (bytes that are not UTF-8, such as a file name's, become lone surrogates,
    as ``os.fsdecode`` makes them)."""
    assert GABORTAG is not None
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [GABORTAG, *map(str, args)],
        cwd=cwd,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "surrogateescape"),
        done.stderr.decode("utf-8", "surrogateescape"),
    )


def assert_usage_error(done: subprocess.CompletedProcess[str], pattern: str) -> None:
    """Exit code 2 with ``pattern`` (a regular expression) on stderr, nothing on stdout, and no
    traceback."""
    assert done.returncode == 2, done.stderr
    assert re.search(pattern, done.stderr), done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr


def assert_bad_inputs_reported(
    task: str, good: list[str], *options: str | Path, cwd: Path
) -> dict[str, Any]:
    """Run ``task`` on the ``good`` inputs mixed with a file that is not audio, a missing one
    and an empty one: exit code 1, each failure on stderr, the good ones in the JSON ``files``
    and the bad ones in its ``errors``. Returns the JSON document."""
    (cwd / "broken.wav").write_text("not audio\n", encoding="utf-8")
    (cwd / "empty.flac").write_bytes(b"")
    inputs = [good[0], "broken.wav", "missing.wav", "empty.flac", *good[1:]]
    done = run(task, *inputs, *options, cwd=cwd)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert re.search(r"failed broken\.wav: .*not a readable audio file", done.stderr)
    assert re.search(r"failed empty\.flac: .*empty file", done.stderr)
    assert f"{len(inputs)} inputs: {len(good)} done, 0 skipped, 3 failed" in done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    assert [f["path"] for f in doc["files"]] == good
    assert {e["path"] for e in doc["errors"]} == {"broken.wav", "missing.wav", "empty.flac"}
    return doc


def assert_resumes(*args: str | Path, cwd: Path, n_inputs: int) -> None:
    """Run ``args`` (which write ``-o DIR``) again: existing outputs fail the inputs (exit 1)
    unless ``--skip-existing`` skips them (exit 0)."""
    again = run(*args, cwd=cwd)
    assert again.returncode == 1 and "exists (use --force or --skip-existing)" in again.stderr
    skip = run(*args, "--skip-existing", cwd=cwd)
    assert skip.returncode == 0 and f"{n_inputs} skipped" in skip.stderr


def assert_stdin_like_file(task: str, clip: str, key: str, *options: str, cwd: Path) -> None:
    """``task`` on ``clip`` piped to stdin (``-``) gives the ``key`` results of the file."""
    reference = run(task, clip, *options, "-q", cwd=cwd)
    done = run(task, "-", *options, "-q", cwd=cwd, stdin=(cwd / clip).read_bytes())
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)["files"]
    assert item["path"] == "-"
    assert item[key] == json.loads(reference.stdout)["files"][0][key]


def assert_help(task: str, *words: str, cwd: Path) -> None:
    """``gabortag --help`` lists ``task``, and ``gabortag TASK --help`` holds ``words``."""
    done = run("--help", cwd=cwd)
    assert done.returncode == 0 and task in done.stdout
    done = run(task, "--help", cwd=cwd)
    assert done.returncode == 0
    missing = [word for word in words if word not in done.stdout]
    assert not missing, done.stdout
