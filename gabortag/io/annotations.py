"""Reading reference annotations (numpy only): RTTM speaker turns, UEM scored regions, CSV
tables of speech segments, and event tables (typed calls or notes) for training and evaluating
event models.

Speech segment tables (:func:`read_speech_segments`) are CSV with the columns ``file``,
``start``, ``end`` (seconds; in any order, other columns ignored; comma- or tab-separated as
below); :func:`read_speech_reference` reads either an RTTM file or such a table.

Event tables (:func:`read_event_annotations`) come in three layouts, told apart by their
header:

* **CSV** with the columns ``file``, ``onset_s``, ``offset_s``, ``label`` (in any order; other
  columns are ignored). Comma-separated, or tab-separated when the header holds a tab and no
  comma. ``file`` is the audio file's path relative to the audio folder.
* **gabortag's own event CSV** (``gabortag birdcalls -f csv``): the columns ``path``,
  ``start``, ``end``, ``label`` (the others ignored), so that a model's output, checked and
  corrected by hand, trains or evaluates the next model.
* **Raven selection table** (Raven Pro, tab-separated), recognised by a ``Begin Time (s)``
  column; ``End Time (s)`` is required too. The label is the first column found among
  :data:`RAVEN_LABEL_COLUMNS` (``Type``, ``Annotation``, ``Label``, ``label``, ``type``); the
  file is the ``Begin File`` column, else the base name of ``Begin Path`` (the annotator's
  absolute paths rarely exist elsewhere). A single-file table has neither: pass its audio
  file as ``file=``. Raven writes one row per view (``Waveform 1``, ``Spectrogram 1``) of
  each selection: with a ``Selection`` column, only the first row of each selection number
  is read. ``gabortag birdcalls -f raven`` writes such tables.

gabortag's outputs name each input as it was given (``recordings/site4/a.wav``). With an
audio folder, a file name not found inside it but naming, from the working folder, a file
that lies inside it is read as that file's path relative to the folder.

Files are read as UTF-8 (a byte-order mark is skipped); blank lines are skipped. Every problem
raises :class:`~gabortag.errors.AnnotationError` naming the file and the line (the header is
line 1).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import AnnotationError


def read_rttm(path: str | os.PathLike[str]) -> dict[str, list[tuple[float, float]]]:
    """RTTM ``SPEAKER`` lines → {file id: [(onset s, offset s), ...]} in file order.

    Other lines (comments ``;;``, other types) are skipped. Raises
    :class:`~gabortag.errors.AnnotationError` (file and line) when the file cannot be read or a
    turn's onset or duration is not a finite number >= 0.
    """
    name = str(path)
    turns: dict[str, list[tuple[float, float]]] = {}
    for number, line in enumerate(_read_text(Path(path)).splitlines(), 1):
        parts = line.split()
        if len(parts) >= 5 and parts[0] == "SPEAKER":
            onset = _time(name, number, "onset", parts[3])
            dur = _time(name, number, "duration", parts[4])
            turns.setdefault(parts[1], []).append((onset, onset + dur))
    return turns


def read_uem(path: str | os.PathLike[str]) -> dict[str, list[tuple[float, float]]]:
    """UEM lines ``file channel start end`` → {file id: [(start s, end s), ...]}.

    Comment lines (``;``) and lines of fewer than four fields are skipped; errors as for
    :func:`read_rttm`.
    """
    name = str(path)
    regions: dict[str, list[tuple[float, float]]] = {}
    for number, line in enumerate(_read_text(Path(path)).splitlines(), 1):
        parts = line.split()
        if len(parts) >= 4 and not line.startswith(";"):
            start = _time(name, number, "start", parts[2])
            end = _time(name, number, "end", parts[3])
            regions.setdefault(parts[0], []).append((start, end))
    return regions


#: Columns of a speech segment table (:func:`read_speech_segments`).
SPEECH_COLUMNS = ("file", "start", "end")


def read_speech_segments(path: str | os.PathLike[str]) -> dict[str, list[tuple[float, float]]]:
    """A CSV of speech segments (``file,start,end``) → {file as written: [(start s, end s)]}.

    Raises :class:`~gabortag.errors.AnnotationError` (file and line) when the table cannot be
    read, a column is missing, a time is not a finite number >= 0, an end is not after its
    start, or a file name is empty.
    """
    table = Path(path)
    name = str(table)
    text = _read_text(table)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise AnnotationError(name, "is empty: no header line")
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header: list[str] = []
        for row in reader:
            if any(cell.strip() for cell in row):
                header = [cell.strip() for cell in row]
                break
        missing = [c for c in SPEECH_COLUMNS if c not in header]
        if missing:
            found = ", ".join(repr(h) for h in header)
            raise AnnotationError(
                name,
                f"missing column{'s' * (len(missing) > 1)} {', '.join(missing)}; found: {found} "
                f"(a speech table needs {', '.join(SPEECH_COLUMNS)}; or give an RTTM file)",
                reader.line_num,
            )
        column = {c: i for i, c in reversed(list(enumerate(header)))}
        out: dict[str, list[tuple[float, float]]] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            cells = {c: row[column[c]].strip() if column[c] < len(row) else "" for c in column}
            audio = cells["file"]
            if not audio:
                raise AnnotationError(name, "empty file: which audio file?", line)
            start = _time(name, line, "start", cells["start"])
            end = _time(name, line, "end", cells["end"])
            if end <= start:
                raise AnnotationError(name, f"end ({end:g}) must be after start ({start:g})", line)
            out.setdefault(audio, []).append((start, end))
    except csv.Error as err:
        raise AnnotationError(name, f"not a readable table ({err})") from err
    return out


def is_rttm(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an RTTM file: extension ``.rttm``, or a first non-blank, non-comment
    line that starts with ``SPEAKER``."""
    table = Path(path)
    if table.suffix.lower() == ".rttm":
        return True
    for line in _read_text(table).splitlines():
        if line.strip() and not line.startswith(";"):
            return line.split()[0] == "SPEAKER"
    return False


def read_speech_reference(path: str | os.PathLike[str]) -> dict[str, list[tuple[float, float]]]:
    """Speech of an RTTM file (:func:`read_rttm`, keys are file ids) or of a CSV speech table
    (:func:`read_speech_segments`, keys are the ``file`` column as written)."""
    return read_rttm(path) if is_rttm(path) else read_speech_segments(path)


def intervals_to_mask(
    intervals: list[tuple[float, float]], n_frames: int, frame_s: float = 0.01
) -> np.ndarray:
    """Union of intervals as a frame mask ``(n_frames,)``: frame ``i`` is True if its centre
    ``(i + 0.5) · frame_s`` seconds lies inside one interval ``[onset, offset)``."""
    centres = (np.arange(n_frames) + 0.5) * frame_s
    mask = np.zeros(n_frames, dtype=bool)
    for on, off in intervals:
        mask |= (centres >= on) & (centres < off)
    return mask


#: Columns of the CSV layout of :func:`read_event_annotations`.
CSV_COLUMNS = ("file", "onset_s", "offset_s", "label")

#: Columns of gabortag's own event CSV (``gabortag birdcalls -f csv``).
OUTPUT_COLUMNS = ("path", "start", "end", "label")

#: Columns a Raven selection table may hold its label in, in order of preference.
RAVEN_LABEL_COLUMNS = ("Type", "Annotation", "Label", "label", "type")

#: Columns a Raven selection table may name its audio file in, in order of preference.
RAVEN_FILE_COLUMNS = ("Begin File", "Begin Path")

RAVEN_BEGIN, RAVEN_END = "Begin Time (s)", "End Time (s)"

#: At most this many unknown audio files are named in an error message.
MAX_LISTED = 5


@dataclass(frozen=True)
class AnnotatedEvent:
    """One annotated call: ``file`` as written in the table (relative to the audio folder),
    ``onset_s < offset_s`` seconds from the file's start, and its ``label`` (type)."""

    file: str
    onset_s: float
    offset_s: float
    label: str


@dataclass(frozen=True)
class _Layout:
    """Where the four fields are in a table: column names, or a fixed file name."""

    onset: str
    offset: str
    label: str
    file_column: str | None
    selection: str | None = None


def _layout(name: str, header: Sequence[str], file: str | None) -> _Layout:
    found = ", ".join(repr(h) for h in header) or "nothing"
    if RAVEN_BEGIN in header:
        missing = [RAVEN_END] if RAVEN_END not in header else []
        label = next((c for c in RAVEN_LABEL_COLUMNS if c in header), "")
        if not label:
            missing.append("a label column (" + " or ".join(RAVEN_LABEL_COLUMNS) + ")")
        file_column = next((c for c in RAVEN_FILE_COLUMNS if c in header), None)
        if missing:
            raise AnnotationError(
                name, f"Raven selection table lacks {'; '.join(missing)}; found: {found}", 1
            )
        if file_column is None and file is None:
            raise AnnotationError(
                name,
                "Raven selection table names no audio file (no 'Begin File' or 'Begin Path' "
                "column): pass the audio file it describes (file=...)",
                1,
            )
        selection = "Selection" if "Selection" in header else None
        return _Layout(RAVEN_BEGIN, RAVEN_END, label, file_column, selection)
    if all(c in header for c in OUTPUT_COLUMNS) and not all(c in header for c in CSV_COLUMNS):
        return _Layout("start", "end", "label", "path")
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(
            name,
            f"missing column{'s' * (len(missing) > 1)} {', '.join(missing)}; found: {found} "
            f"(a CSV needs {', '.join(CSV_COLUMNS)}, or {', '.join(OUTPUT_COLUMNS)} as "
            f"gabortag birdcalls writes; a Raven selection table needs '{RAVEN_BEGIN}', "
            f"'{RAVEN_END}' and a label column)",
            1,
        )
    return _Layout("onset_s", "offset_s", "label", "file")


def _time(name: str, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(name, f"{column} {text!r} is not a number", line) from None
    if not math.isfinite(value):
        raise AnnotationError(name, f"{column} {text!r} is not a finite number", line)
    if value < 0:
        raise AnnotationError(name, f"{column} {text} is negative", line)
    return value


def _base_name(path: str) -> str:
    """Last component of a POSIX or Windows path."""
    return re.split(r"[\\/]", path)[-1]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AnnotationError(str(path), "does not exist") from None
    except IsADirectoryError:
        raise AnnotationError(str(path), "is a folder, not an annotation table") from None
    except UnicodeDecodeError as err:
        raise AnnotationError(
            str(path), f"is not UTF-8 text (byte {err.start}); save it as UTF-8"
        ) from None
    except OSError as err:
        raise AnnotationError(str(path), f"cannot be read ({err.strerror or err})") from None


def read_event_annotations(
    path: str | os.PathLike[str],
    audio_dir: str | os.PathLike[str] | None = None,
    *,
    file: str | None = None,
    fmt: str | None = None,
) -> list[AnnotatedEvent]:
    """Annotated events of a CSV or Raven selection table (layouts in the module docstring),
    or of any annotation file or folder of them that :mod:`gabortag.io.labfiles` reads
    (evsonganaly ``.not.mat``, Praat TextGrid, Audacity labels, ... through crowsetta).

    Args:
        path: the table, or an annotation file or folder (:mod:`gabortag.io.labfiles`).
        audio_dir: when given, every annotated file must exist there (``audio_dir / file``);
            a recording an annotation file does not name is the one of its stem there.
        file: the audio file of a single-file Raven table, one without a ``Begin File`` or
            ``Begin Path`` column; an error for a table that names its files.
        fmt: the annotation format (:data:`gabortag.io.labfiles.ANNOT_FORMATS`); ``None``:
            inferred from each file's name and first line.

    Returns:
        the events in table order.

    Raises:
        AnnotationError: the table cannot be read; a column is missing (the message says which
            are missing and which were found); a time is not a number, negative or not finite;
            an offset is not after its onset; a label or file name is empty; ``file`` is given
            for a table that names its files; an annotated file is not in ``audio_dir`` (up to
            :data:`MAX_LISTED` are named, with the line of their first event).
    """
    if file is None and (fmt is not None or audio_dir is not None or _lab_file(path)):
        from .labfiles import read_annotation_files

        return read_annotation_files(path, audio_dir, fmt=fmt)
    return read_gabortag_table(path, audio_dir, file=file)


def _lab_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder, or a file in a format crowsetta reads."""
    from .labfiles import CROWSETTA_FORMATS, infer_format

    return Path(path).is_dir() or infer_format(path) in CROWSETTA_FORMATS


def read_gabortag_table(
    path: str | os.PathLike[str],
    audio_dir: str | os.PathLike[str] | None = None,
    *,
    file: str | None = None,
) -> list[AnnotatedEvent]:
    """:func:`read_event_annotations` of one table in a layout of the module docstring."""
    try:
        return _read_table(Path(path), audio_dir, file)
    except csv.Error as err:
        raise AnnotationError(str(path), f"not a readable table ({err})") from err


def _read_table(
    table: Path, audio_dir: str | os.PathLike[str] | None, file: str | None
) -> list[AnnotatedEvent]:
    name = str(table)
    text = _read_text(table)
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise AnnotationError(name, "is empty: no header line")
    delimiter = "\t" if "\t" in lines[first] and "," not in lines[first] else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    for row in reader:
        if any(cell.strip() for cell in row):
            header = [cell.strip() for cell in row]
            break
    header_line = reader.line_num
    layout = _layout(name, header, file)
    if file is not None and layout.file_column is not None:
        raise AnnotationError(
            name,
            f"the table names its files in column {layout.file_column!r}; "
            f"do not pass file={file!r}",
            header_line,
        )
    column = {c: i for i, c in reversed(list(enumerate(header)))}  # first of duplicate names
    events: list[AnnotatedEvent] = []
    first_line: dict[str, int] = {}  # file -> line of its first event
    seen: set[tuple[str, str]] = set()  # (file, selection) of Raven rows already read
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue

        def cell(col: str, row: list[str] = row) -> str:
            i = column[col]
            return row[i].strip() if i < len(row) else ""

        audio = cell(layout.file_column) if layout.file_column else str(file)
        if layout.file_column == "Begin Path":
            audio = _base_name(audio)
        if not audio:
            raise AnnotationError(name, f"empty {layout.file_column}: which audio file?", line)
        if layout.selection is not None:
            key = (audio, cell(layout.selection))
            if key[1] and key in seen:
                continue
            seen.add(key)
        onset = _time(name, line, layout.onset, cell(layout.onset))
        offset = _time(name, line, layout.offset, cell(layout.offset))
        if offset <= onset:
            raise AnnotationError(
                name,
                f"{layout.offset} ({offset:g}) must be after {layout.onset} ({onset:g})",
                line,
            )
        label = cell(layout.label)
        if not label:
            raise AnnotationError(name, f"empty label (column {layout.label!r})", line)
        events.append(AnnotatedEvent(audio, onset, offset, label))
        first_line.setdefault(audio, line)
    if audio_dir is not None:
        inside = _check_files(name, Path(audio_dir), first_line)
        events = [replace(e, file=inside.get(e.file, e.file)) for e in events]
    return events


def _locate(audio_dir: Path, name: str) -> str | None:
    """How a table's file ``name`` is found from ``audio_dir``: ``name`` itself (a path in
    the folder, or an absolute path), or, for a path from the working folder that lies inside
    the folder, its path relative to the folder; ``None`` when there is no such file."""
    path = Path(name)
    if path.is_file() and (path.is_absolute() or not (audio_dir / name).is_file()):
        try:
            return path.resolve().relative_to(audio_dir.resolve()).as_posix()
        except ValueError:
            pass
    return name if (audio_dir / name).is_file() else None


def _check_files(name: str, audio_dir: Path, first_line: dict[str, int]) -> dict[str, str]:
    """Check that every file of ``first_line`` is found from ``audio_dir`` (:func:`_locate`);
    return those found under another name, each with that name."""
    if not audio_dir.is_dir():
        raise AnnotationError(name, f"audio folder {audio_dir} does not exist")
    found = {f: _locate(audio_dir, f) for f in first_line}
    unknown = [(f, n) for f, n in first_line.items() if found[f] is None]
    if unknown:
        listed = ", ".join(f"{f!r} (line {n})" for f, n in unknown[:MAX_LISTED])
        more = f" and {len(unknown) - MAX_LISTED} more" if len(unknown) > MAX_LISTED else ""
        raise AnnotationError(
            name,
            f"{len(unknown)} annotated file{'s' * (len(unknown) > 1)} not found in "
            f"{audio_dir}: {listed}{more}",
        )
    return {f: where for f, where in found.items() if where is not None and where != f}
