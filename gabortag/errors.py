"""Exceptions of gabortag. Every message says what was wrong, with which value, and what to do."""

from __future__ import annotations


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
