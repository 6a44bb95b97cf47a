"""Atomic, signal-safe output files: text or bytes go to a temporary file beside the target,
which is renamed into place only when everything was written (:func:`atomic_open`,
:func:`atomic_open_binary`); on any error, or Ctrl-C, the target is left as it was.

A temporary file is hidden and named after its target and the id of the process writing it
(``.NAME.<8 random characters>.<pid>.tmp``); SIGINT and SIGTERM are held while it is created,
so that it cannot exist without the code that removes it knowing its name. One left behind by
a process killed outright is removed by the next run that writes into its folder
(:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

from ..errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: How text outputs encode what UTF-8 cannot: file names that are not valid UTF-8 reach Python
#: as lone surrogates (PEP 383), and are written back as the bytes they came from.
TEXT_ERRORS = "surrogateescape"


# Temporary outputs are ``.NAME.<8 random characters of mkstemp>.<pid>.tmp`` beside NAME.
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.(\d+)\.tmp")


def _running(pid: int) -> bool:
    """Whether a process with id ``pid`` runs on this machine (``True`` when unsure)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none has it, or no process can
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary outputs that killed processes left in ``folder``; return them.

    Outputs are written to a temporary file that is renamed into place, or deleted on any
    error; only a process killed outright (``SIGKILL``, power loss) leaves one behind. Its
    name holds the id of the process that wrote it, and it is stale when no process of that id
    runs on this machine. Problems (a missing or unreadable folder, a file gone meanwhile) are
    ignored.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or _running(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


#: Longest file name, in bytes, of the usual file systems (ext4, XFS, APFS, NTFS, ...).
NAME_MAX = 255


def _temporary_affixes(path: Path) -> tuple[str, str]:
    """``mkstemp``'s prefix and suffix for a temporary file beside ``path``: hidden, named
    after it, and ending in this process's id; the name is shortened so that the temporary
    file's name fits :data:`NAME_MAX` whenever ``path``'s does."""
    suffix = f".{os.getpid()}.tmp"
    room = NAME_MAX - len(suffix) - len(".") - 8 - len(".")  # mkstemp adds 8 characters
    name = path.name[:room]
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}.", suffix


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM arriving inside the block are delivered on leaving it (main thread
    only: elsewhere the block runs as it is). Used so that a temporary file cannot be created
    without its name being known to the code that removes it."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    kinds = (signal.SIGINT, signal.SIGTERM)
    previous = {
        kind: signal.signal(kind, lambda signum, _frame: held.append(signum)) for kind in kinds
    }
    try:
        yield
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)  # runs the restored handler now


@contextlib.contextmanager
def _atomic(path: Path, mode: str) -> Iterator[IO[Any]]:
    tmp: str | None = None
    stream: IO[Any] | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix, suffix = _temporary_affixes(path)
        binary = "b" in mode
        with _signals_deferred():  # a signal lands once the file and its name are held here
            fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
            stream = os.fdopen(
                fd,
                mode,
                encoding=None if binary else "utf-8",
                errors=None if binary else TEXT_ERRORS,
                newline=None if binary else "",
            )
        with stream as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; outputs follow umask
        os.replace(tmp, path)
    except BaseException as err:
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()  # a no-op when the with block closed it
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"{path}: cannot write ({err.strerror or err})") from err
        raise


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[TextIO]:
    """Write text to a temporary file beside ``path``; rename it into place only on success.

    The text is UTF-8; a lone surrogate (a file name that is not valid UTF-8, as Python decodes
    it) is written as the byte it stands for, as Python writes it to a POSIX terminal.
    """
    with _atomic(path, "w") as f:
        yield f  # type: ignore[misc]


@contextlib.contextmanager
def atomic_open_binary(path: Path) -> Iterator[BinaryIO]:
    """Like :func:`atomic_open`, for bytes."""
    with _atomic(path, "wb") as f:
        yield f  # type: ignore[misc]
