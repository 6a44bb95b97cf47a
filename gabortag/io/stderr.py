"""What C libraries print on the process's standard error, captured around a call.

libsndfile's MP3 decoder (libmpg123) writes its complaints straight to file descriptor 2
(``Warning: Xing stream size off by more than 1%, fuzzy seeking may be even more fuzzy than by
design!``), where they would land between gabortag's own lines. :func:`captured_stderr`
points descriptor 2 at a temporary file for the length of a call, keeps the lines that look
like a library's message (:data:`LIBRARY_LINE`) and writes everything else back to the real
standard error when the call is done (a progress bar drawn by another thread meanwhile, for
instance). The audio reader turns the kept lines into at most one
:class:`~gabortag.errors.AudioWarning` per file.

Descriptor 2 belongs to the whole process, so captures are serialised by a lock: two threads
reading MP3 files at once take turns for each call (opening a file, reading a block).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

#: A line a C library printed: libmpg123's ``Warning: ...``, ``Note: ...``, ``Error: ...`` or
#: ``[src/libmpg123/parse.c:...] error: ...``.
LIBRARY_LINE = re.compile(r"^(?:(?:warning|note|error)\s*:|\[[^\]]*mpg123[^\]]*\])", re.IGNORECASE)

_LOCK = threading.Lock()
# (process id, descriptor of an unlinked temporary file) reused by every capture of a process
_SINK: tuple[int, int] | None = None


def _sink() -> int:
    global _SINK
    if _SINK is None or _SINK[0] != os.getpid():  # a forked child gets a file of its own
        handle = tempfile.TemporaryFile()  # unlinked at once on POSIX: nothing to clean up
        _SINK = (os.getpid(), os.dup(handle.fileno()))
        handle.close()
    return _SINK[1]


def _flush_python_stderr() -> None:
    with contextlib.suppress(Exception):
        sys.stderr.flush()


def _drain(sink: int) -> bytes:
    os.lseek(sink, 0, os.SEEK_SET)
    parts = []
    while chunk := os.read(sink, 1 << 16):
        parts.append(chunk)
    os.ftruncate(sink, 0)
    os.lseek(sink, 0, os.SEEK_SET)
    return b"".join(parts)


@contextlib.contextmanager
def captured_stderr(notes: list[str]) -> Iterator[None]:
    """Run the body with file descriptor 2 captured: each line a library printed meanwhile
    (:data:`LIBRARY_LINE`, stripped) is appended to ``notes``, and the other bytes are written
    to the real standard error afterwards, in their order.

    Where descriptor 2 is not open, or cannot be redirected, the body runs as is."""
    with _LOCK:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        try:
            sink = _sink()
            _flush_python_stderr()
            os.dup2(sink, 2)
        except OSError:
            os.close(saved)
            yield
            return
        try:
            yield
        finally:
            _flush_python_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            others = _keep_library_lines(_drain(sink), notes)
            if others:
                with contextlib.suppress(OSError):
                    os.write(2, others)


def _keep_library_lines(data: bytes, notes: list[str]) -> bytes:
    """Append the library lines of ``data`` to ``notes``; return the rest."""
    if not data:
        return b""
    rest = []
    for line in data.splitlines(keepends=True):
        text = line.decode("utf-8", "replace").strip()
        if text and LIBRARY_LINE.match(text):
            notes.append(text)
        else:
            rest.append(line)
    return b"".join(rest)
