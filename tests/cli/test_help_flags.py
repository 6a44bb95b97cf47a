"""Help output: boolean flags read as flags (``--from-scratch / --no-from-scratch``,
``--force``, ``--help``), not as options taking a ``<bool>`` value, in ``gabortag train *
--help`` and in every other command's help."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from gabortag.cli import app

from _cli_helpers import needs_script, run  # isort: skip


def _commands(command: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every command and group under ``command`` (typer's click objects), by its words."""
    found = {path: command}
    for name, sub in getattr(command, "commands", {}).items():
        found |= _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_every_train_command_is_checked() -> None:
    assert {p[1] for p in COMMANDS if len(p) == 2 and p[0] == "train"} == {
        "birdcalls",
        "vad",
        "scenes",
    }


@needs_script
@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p) or "gabortag")
def test_flags_read_as_flags(tmp_path: Path, path: tuple[str, ...]) -> None:
    done = run(*path, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "<bool>" not in done.stdout, done.stdout
    command = COMMANDS[path]
    flags = [
        p
        for p in command.get_params(command.context_class(command))
        if getattr(p, "is_flag", False)
    ]
    assert any(p.name == "help" for p in flags)
    lines = done.stdout.splitlines()
    for flag in flags:
        names = [*flag.opts, *flag.secondary_opts]
        assert any(all(n in line.split() for n in names) for line in lines), (names, done.stdout)
    if path[:1] == ("train",) and len(path) == 2:  # typer's usual two-way boolean option
        (row,) = [line for line in lines if "--from-scratch" in line.split()]
        assert "--no-from-scratch" in row.split()
