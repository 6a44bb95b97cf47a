"""Exceptions of gabortag. Every message says what was wrong, with which value, and what to do."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any, TextIO


class GabortagError(Exception):
    """Base class of every error gabortag raises on purpose."""


class AudioError(GabortagError):
    """An input could not be turned into audio (missing, unreadable, not audio, empty, NaN...).

    ``str(err)`` is one line: ``"<path>: <reason>"``.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ModelError(GabortagError):
    """A model could not be found, verified or loaded."""


class ClusterError(GabortagError):
    """A dask cluster cannot be used (dask not installed, scheduler unreachable, no workers)."""


class OutputError(GabortagError):
    """An output could not be written (exists, unwritable folder, disk error)."""


class OptionError(GabortagError, ValueError):
    """An option is out of range, names something the model lacks, or cannot be met (an
    output that exists).

    ``field`` is the option's name in the library (``thresholds``, ``labels``, ``window_s``,
    ``output``), never a command-line flag: the CLI maps names to its flags. ``reason`` may
    name ``field`` and the options in ``refers`` as ``{name}`` (``"add {force} to overwrite
    it"``): :meth:`render` writes each name as the caller calls it. ``str(err)`` is one line:
    the reason with the library's names, after ``"<field>: "`` unless it names ``{field}``.
    """

    def __init__(self, field: str, reason: str, refers: tuple[str, ...] = ()) -> None:
        self.field = field
        self.reason = reason
        self.refers = refers
        super().__init__(self.render(lambda name: name))

    def render(self, name_of: Callable[[str], str]) -> str:
        """The message with each option called ``name_of(name)`` (a flag, in the CLI)."""
        text = self.reason
        for name in (self.field, *self.refers):
            text = text.replace("{" + name + "}", name_of(name))
        if "{" + self.field + "}" in self.reason:
            return text
        return f"{name_of(self.field)}: {text}"


class DeviceError(OptionError, ModelError):
    """The device asked for cannot run the model here (no CUDA provider, no GPU): a
    :class:`ModelError` whose message names the ``device`` option as an :class:`OptionError`
    does, so that the CLI can say ``--device``."""


class AnnotationError(GabortagError):
    """An annotation file could not be read (missing columns, bad times, unknown audio files).

    ``str(err)`` is one line: ``"<path>:<line>: <reason>"``, or ``"<path>: <reason>"`` when the
    problem is not on one line. ``line`` is 1-based (the header is line 1), ``None`` if none.
    """

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class GabortagWarning(UserWarning):
    """Base class of gabortag's warnings: something odd that did not stop the work."""


class AudioWarning(GabortagWarning):
    """An input was read, but its decoder complained (e.g. libmpg123: ``Xing stream size off
    by more than 1%``): at most one per file. ``str(warning)`` is one line:
    ``"<path>: <reason>"``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def show_warnings_as_lines() -> None:
    """Print gabortag's warnings as one line each, ``warning: <message>``, on standard error
    (Python's default adds the source line that warned); other warnings are shown as before.
    The command line and its worker processes call it; calling it again changes nothing."""
    previous = warnings.showwarning
    if getattr(previous, "_gabortag_lines", False):
        return

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if not issubclass(category, GabortagWarning):
            previous(message, category, filename, lineno, file, line)
            return
        stream = file if file is not None else sys.stderr
        text = " ".join(str(message).split())
        try:
            stream.write(f"warning: {text}\n")
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass  # no standard error to warn on

    marked: Any = show
    marked._gabortag_lines = True
    warnings.showwarning = marked
