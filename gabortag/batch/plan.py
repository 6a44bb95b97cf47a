"""Where a batch's outputs go, decided once, before any audio is read (:func:`plan_output`):

- ``stream``: one combined output on stdout (``-o -`` or no ``-o``), written as results arrive;
- ``file``: one combined output file (``-o results.json``: a path whose name ends in the format's
  extension, compared case-insensitively; extensions may hold several dots, such as Raven's
  ``.selections.txt``), written to a temporary file and renamed into place at the end;
- ``dir``: one output file per input (``-o DIR``: an existing folder, a path ending in ``/``,
  or a path without the format's extension), mirroring the input tree, each written atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import OptionError
from ..io.discover import InputItem
from ..io.formats import get_writer


@dataclass(frozen=True)
class OutputPlan:
    """Where results go: ``mode`` is ``stream``, ``file`` or ``dir``; ``path`` for the last two."""

    mode: str
    path: Path | None = None


def _has_extension(name: str, ext: str) -> bool:
    """Whether file ``name`` ends in ``ext`` (case-insensitive) and has a stem before it."""
    return len(name) > len(ext) and name.lower().endswith(ext.lower())


def plan_output(
    output: str | None, fmt: str, n_inputs: int, force: bool = False, task: str = "vad"
) -> OutputPlan:
    """Decide the output mode; raises ``ValueError`` (a usage error) on an impossible request."""
    writer = get_writer(fmt, task)
    ext = writer.extension
    if output is None or output == "-":
        plan = OutputPlan("stream")
    else:
        path = Path(output)
        if path.is_dir() or output.endswith(("/", os.sep)) or not _has_extension(path.name, ext):
            if path.exists() and not path.is_dir():
                raise OptionError(
                    "output",
                    f"{{output}} {output}: exists and is not a folder; for one combined {fmt} "
                    f"file give a name ending in {ext}",
                )
            return OutputPlan("dir", path)
        if path.exists() and not force:
            raise OptionError(
                "output",
                f"{{output}} {output}: file exists; add {{force}} to overwrite it",
                ("force",),
            )
        if not path.parent.exists():
            raise OptionError("output", f"{{output}} {output}: folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise OptionError(
                "output", f"{{output}} {output}: folder {path.parent} is not writable"
            )
        plan = OutputPlan("file", path)
    if not writer.combinable and n_inputs > 1:
        raise OptionError(
            "fmt",
            f"format {fmt} holds one file only; with {n_inputs} inputs use {{output}} DIR "
            "to write one output per input",
            ("output",),
        )
    return plan


def output_path(plan: OutputPlan, item: InputItem, fmt: str, task: str = "vad") -> Path:
    """Per-input output path in ``dir`` mode: the input's relative path with its suffix (if any)
    replaced by the format's extension (``a/x.wav`` → ``a/x.selections.txt``)."""
    assert plan.path is not None
    rel = Path(item.relative)
    ext = get_writer(fmt, task).extension
    return plan.path / rel.with_name((rel.stem if rel.suffix else rel.name) + ext)
