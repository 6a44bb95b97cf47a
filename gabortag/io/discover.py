"""Turning command-line arguments into an ordered list of audio inputs.

Each argument is one of:

* ``"-"``: standard input (at most once; a repeat is dropped as a duplicate);
* an existing file: taken whatever its extension (a mislabelled file is the loader's business);
* an existing folder: searched recursively for files whose extension is in
  ``AUDIO_EXTENSIONS``; hidden files and folders (name starting with ``"."``) are skipped,
  symlinked files are taken, symlinked folders are not entered (no cycles);
* a glob pattern (``*``, ``?``, ``[...]``; ``**`` matches any depth): matched files are taken
  whatever their extension, matched folders are expanded like folder arguments.

Inputs keep the order of the arguments, and within one argument are sorted by relative path,
so the order is the same on every machine. The same file reached twice (same resolved path) is
kept once, at its first place. Problems never raise: each argument that yields nothing becomes
an :class:`~gabortag.errors.AudioError` in the second list returned by :func:`discover`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from gabortag.errors import AudioError

#: Extensions (lowercase, with the dot) of the files taken from folders: the containers that
#: libsndfile, hence soundfile, reads, and evTAF's ``.cbin``. Compared case-insensitively
#: (``.WAV`` is taken).
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".wav",
        ".wave",
        ".bwf",
        ".rf64",
        ".w64",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".mp2",
        ".aiff",
        ".aif",
        ".aifc",
        ".au",
        ".snd",
        ".caf",
        ".sd2",
        ".voc",
        ".sph",
        ".nist",
        ".cbin",  # evTAF, read with its .rec file (gabortag.io.evtaf)
    }
)

#: The argument meaning "read standard input", and the ``relative`` name given to it.
STDIN = "-"
STDIN_RELATIVE = "stdin"

_GLOB_MAGIC = frozenset("*?[")


@dataclass(frozen=True)
class InputItem:
    """One input to process.

    ``source`` is the path as a string, as given or as found under a folder argument (pass it to
    :func:`gabortag.io.audio.load_audio`), or ``"-"`` for standard input. ``relative`` is the path
    relative to the root of the argument it came from, with the platform's separator, used to
    mirror the input tree in an output folder: a file argument's base name; for a file found in a
    folder argument ``DIR``, its path under ``DIR``; for a glob match, its path under the
    pattern's fixed leading folder; ``"stdin"`` for standard input.
    """

    source: str
    relative: str


def is_audio_name(name: str) -> bool:
    """Whether a file name has one of ``AUDIO_EXTENSIONS`` (case-insensitive)."""
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def discover(args: Sequence[str]) -> tuple[list[InputItem], list[AudioError]]:
    """Expand command-line arguments into ``(inputs, errors)``; never raises for bad arguments.

    ``inputs`` is in argument order, sorted within each argument, without duplicates (the same
    resolved path, or ``"-"`` twice). ``errors`` holds one ``AudioError(arg, reason)`` per
    argument that yielded nothing (``"no such file or folder"``, ``"pattern matched no files"``,
    ``"folder contains no audio files"``, ...) and one per sub-folder that could not be read.
    """
    items: list[InputItem] = []
    errors: list[AudioError] = []
    seen: set[str] = set()
    for arg in args:
        arg = os.fsdecode(arg)
        found = _expand(arg, errors)
        for item in found:
            key = item.source if item.source == STDIN else _resolved(item.source)
            if key not in seen:
                seen.add(key)
                items.append(item)
    return items, errors


def _expand(arg: str, errors: list[AudioError]) -> list[InputItem]:
    """The inputs one argument stands for; appends to ``errors`` when it stands for none."""
    if arg == STDIN:
        return [InputItem(STDIN, STDIN_RELATIVE)]
    if arg == "":
        errors.append(AudioError(repr(arg), "no such file or folder (empty argument)"))
        return []
    if os.path.isdir(arg):
        found = list(_walk_folder(arg, errors))
        if not found and not any(err.path == arg for err in errors):
            errors.append(AudioError(arg, "folder contains no audio files"))
        return found
    if os.path.lexists(arg):
        # Files, broken symlinks, pipes such as <(cat a.wav): the loader says what is wrong.
        return [InputItem(arg, os.path.basename(arg) or arg)]
    if _GLOB_MAGIC.intersection(arg):
        return _expand_glob(arg, errors)
    errors.append(AudioError(arg, "no such file or folder"))
    return []


def _expand_glob(pattern: str, errors: list[AudioError]) -> list[InputItem]:
    """Files and folders matched by ``pattern``, relative to the pattern's fixed prefix."""
    try:
        matches = sorted(glob.glob(pattern, recursive=True))
    except (OSError, ValueError, RecursionError) as err:
        errors.append(AudioError(pattern, f"bad pattern ({err})"))
        return []
    if not matches:
        errors.append(AudioError(pattern, "pattern matched no files"))
        return []
    root = _glob_root(pattern)
    files: list[InputItem] = []
    folders: list[InputItem] = []
    for match in matches:
        if os.path.isdir(match):
            folders.extend(_walk_folder(match, errors, relative_to=root))
        else:
            files.append(InputItem(match, os.path.relpath(match, root)))
    found = sorted(files + folders, key=lambda item: _sort_key(item.relative))
    if not found:
        errors.append(AudioError(pattern, "pattern matched no audio files"))
    return found


def _glob_root(pattern: str) -> str:
    """The folder before the first component of ``pattern`` that holds a wildcard.

    ``"data/**/*.wav"`` -> ``"data"``; ``"/srv/x*/a.wav"`` -> ``"/srv"``; ``"*.wav"`` -> ``"."``.
    """
    fixed: list[str] = []
    for part in pattern.split(os.sep)[:-1]:
        if _GLOB_MAGIC.intersection(part):
            break
        fixed.append(part)
    root = os.sep.join(fixed)
    if root:
        return root
    return os.sep if pattern.startswith(os.sep) else os.curdir


def _walk_folder(
    folder: str, errors: list[AudioError], relative_to: str | None = None
) -> Iterator[InputItem]:
    """Audio files under ``folder``, recursively, sorted by their path relative to ``folder``.

    ``relative`` is computed from ``relative_to`` when given (glob matches), else from ``folder``.
    Hidden entries are skipped; folder symlinks are not followed; unreadable sub-folders become
    errors.
    """
    base = folder if relative_to is None else relative_to
    found: list[InputItem] = []

    def on_error(err: OSError) -> None:
        path = os.fsdecode(err.filename) if err.filename is not None else folder
        reason = "permission denied" if isinstance(err, PermissionError) else err.strerror
        errors.append(AudioError(path, f"cannot read folder ({reason or err})"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=on_error, followlinks=False):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in filenames:
            if name.startswith(".") or not is_audio_name(name):
                continue
            path = os.path.join(dirpath, name)
            found.append(InputItem(path, os.path.relpath(path, base)))
    found.sort(key=lambda item: _sort_key(item.relative))
    return iter(found)


def _sort_key(relative: str) -> tuple[str, ...]:
    """Sort by path components, so ``a/b.wav`` sorts with the folder ``a``, not after ``a b``."""
    return tuple(relative.split(os.sep))


def _resolved(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return os.path.abspath(path)
