"""Running the installed ``gabortag`` console script in a subprocess (for the CLI tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    *args: str | Path, cwd: Path, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the console script; stdout and stderr are decoded text (bytes that are not UTF-8,
    such as a file name's, become lone surrogates, as ``os.fsdecode`` makes them)."""
    assert GABORTAG is not None
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
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
