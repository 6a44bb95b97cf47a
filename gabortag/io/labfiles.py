"""The annotation files labs already have, read through crowsetta (vocalpy's library of animal
sound annotation formats), beside gabortag's own tables (:mod:`gabortag.io.annotations`).

Formats (the names ``--annot-format`` takes, :data:`ANNOT_FORMATS`):

* read by gabortag (numpy only): ``table``, the CSV layouts ``file,onset_s,offset_s,label`` and
  ``path,start,end,label`` (what ``gabortag birdcalls -f csv`` writes); ``raven``, Raven
  selection tables, also those of several recordings (``Begin File``) that Raven and
  ``gabortag birdcalls -f raven`` write, which crowsetta's reader does not take;
* read by crowsetta (the ``[annotations]`` extra: ``pip install 'gabortag[annotations]'``;
  it brings pandas, pandera and scipy): :data:`CROWSETTA_FORMATS`, among them ``notmat``
  (evsonganaly ``.not.mat``), ``textgrid`` (Praat; its first interval tier), ``aud-seq``
  (Audacity labels), ``aud-bbox`` (Audacity labels with frequencies), ``generic-seq``
  (crowsetta's own CSV), ``simple-seq`` (a CSV ``onset_s,offset_s,label`` per recording).

Without a format, each file's is inferred (:func:`infer_format`): ``.not.mat`` → notmat,
``.TextGrid`` → textgrid, ``.xml`` → birdsong-recognition-dataset, ``.phn``/``.wrd`` → timit,
another ``.mat`` → yarden; a text file by its first line: a ``Begin Time (s)`` column → raven,
gabortag's columns → table, crowsetta's ``annot_path``/``notated_path`` → generic-seq,
``onset_s,offset_s,label`` → simple-seq, ``<start><TAB><end>...`` → aud-seq (aud-bbox when
frequency lines follow).

The annotations may be one file or a folder, searched recursively (hidden names skipped) for
the files of the format (or, without one, for files whose format is recognised): the
``.cbin.not.mat`` files beside a lab's ``.cbin`` recordings, for instance.

Each annotation file's recording is the one it names (``notated_path``: ``a.cbin`` for
``a.cbin.not.mat``), else the one with its stem (``a.wav`` for ``a.TextGrid``, ``a.txt`` or
``a.Table.1.selections.txt``). With an audio folder, that recording must be found in it, as is
or by stem; without one, its name keeps the stem, so that files are matched by stem
(:func:`gabortag.tasks.vad.evaluate.reference_id`).
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import AnnotationError
from .annotations import (
    CSV_COLUMNS,
    MAX_LISTED,
    OUTPUT_COLUMNS,
    RAVEN_BEGIN,
    RAVEN_FILE_COLUMNS,
    AnnotatedEvent,
    read_gabortag_table,
)

#: Formats gabortag reads itself (:mod:`gabortag.io.annotations`).
NATIVE_FORMATS = ("table", "raven")

#: Formats read through crowsetta (5.x names; crowsetta's own ``raven`` is replaced by
#: gabortag's, which also reads tables of several recordings).
CROWSETTA_FORMATS = (
    "notmat",
    "textgrid",
    "aud-seq",
    "aud-bbox",
    "generic-seq",
    "simple-seq",
    "birdsong-recognition-dataset",
    "timit",
    "yarden",
)

#: Every name ``--annot-format`` takes.
ANNOT_FORMATS = NATIVE_FORMATS + CROWSETTA_FORMATS

#: The extra that installs crowsetta.
EXTRA = "annotations"

# What each format's files end with, to find them in a folder (lowercase).
_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "table": (".csv", ".tsv", ".txt"),
    "raven": (".txt",),
    "notmat": (".not.mat",),
    "textgrid": (".textgrid",),
    "aud-seq": (".txt",),
    "aud-bbox": (".txt",),
    "generic-seq": (".csv",),
    "simple-seq": (".csv", ".txt"),
    "birdsong-recognition-dataset": (".xml",),
    "timit": (".phn", ".wrd"),
    "yarden": (".mat",),
}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_AUDACITY_LINE = re.compile(rf"^\s*{_NUMBER}\t{_NUMBER}(?:\t|$)")
_SNIFF_BYTES = 1 << 16


def infer_format(path: str | os.PathLike[str]) -> str | None:
    """The annotation format of a file, from its name and, for text files, its first lines;
    ``None`` when it is not recognised (a file that cannot be read, too)."""
    name = Path(path).name.lower()
    if name.endswith(".not.mat"):
        return "notmat"
    for fmt in ("textgrid", "birdsong-recognition-dataset", "timit", "yarden"):
        if name.endswith(_EXTENSIONS[fmt]):
            return fmt
    if not name.endswith((".csv", ".tsv", ".txt")):
        return None
    return _sniff(Path(path))


def _sniff(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return None
    lines = [line for line in head.decode("utf-8-sig", "replace").splitlines() if line.strip()]
    if not lines:
        return None
    first = lines[0]
    if RAVEN_BEGIN in first:
        return "raven"
    delimiter = "\t" if "\t" in first and "," not in first else ","
    columns = {cell.strip().strip('"') for cell in first.split(delimiter)}
    if set(CSV_COLUMNS) <= columns or set(OUTPUT_COLUMNS) <= columns:
        return "table"
    if {"annot_path", "notated_path", "label"} <= columns:
        return "generic-seq"
    if {"onset_s", "offset_s", "label"} <= columns:
        return "simple-seq"
    if _AUDACITY_LINE.match(first):
        return "aud-bbox" if len(lines) > 1 and lines[1].startswith("\\") else "aud-seq"
    return None


def check_format(fmt: str) -> str:
    """``fmt`` when it names a format (case-insensitive), else ``ValueError`` listing them."""
    name = fmt.strip().lower()
    if name not in ANNOT_FORMATS:
        raise ValueError(
            f"unknown annotation format {fmt!r}; choose one of {', '.join(ANNOT_FORMATS)}"
        )
    return name


def read_annotation_files(
    path: str | os.PathLike[str],
    audio_dir: str | os.PathLike[str] | None = None,
    *,
    fmt: str | None = None,
) -> list[AnnotatedEvent]:
    """The annotated events of one annotation file or of a folder of them, in any format of
    the module docstring (``fmt``, else inferred per file).

    Returns the events file by file (a folder's files sorted by path), each file's in its
    order, ``file`` naming the recording as the module docstring says.

    Raises:
        AnnotationError: a file cannot be read in its format (with crowsetta's reason); a
            folder holds no annotation files; crowsetta is needed and not installed (the
            message names the ``[annotations]`` extra); a recording is not in ``audio_dir``.
        ValueError: ``fmt`` names no format.
    """
    root = Path(path)
    name = fmt if fmt is None else check_format(fmt)
    if root.is_dir():
        files = _annotation_files(root, name)
        if not files:
            wanted = f"{name} files" if name else "annotation files of a known format"
            raise AnnotationError(str(root), f"is a folder that holds no {wanted}")
    else:
        files = [root]
    audio = _AudioFolder(Path(audio_dir)) if audio_dir is not None else None
    events: list[AnnotatedEvent] = []
    for file in files:
        events.extend(_read_one(file, name or infer_format(file) or "table", audio))
    return events


def _annotation_files(root: Path, fmt: str | None) -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for n in sorted(names):
            if n.startswith("."):
                continue
            file = Path(folder) / n
            if _of_format(file, fmt):
                found.append(file)
    return found


def _of_format(file: Path, fmt: str | None) -> bool:
    """Whether a folder's ``file`` is to be read as annotations of ``fmt`` (``None``: of any
    format): text files (``.txt``, ``.csv``) must look like ``fmt``, since several formats
    share those extensions; others need the extension only."""
    guess = infer_format(file)
    if fmt is None or guess == fmt:
        return guess is not None
    name = file.name.lower()
    shared = name.endswith((".csv", ".tsv", ".txt")) or name.endswith(".not.mat")
    return not shared and name.endswith(_EXTENSIONS[fmt])


def annotated_stem(annotation: str | os.PathLike[str]) -> str:
    """The stem of the recording an annotation file describes, from the file's own name:
    ``a.cbin.not.mat`` → ``a.cbin``; ``a.Table.1.selections.txt`` → ``a``; ``a.TextGrid``,
    ``a.txt`` → ``a``."""
    name = Path(annotation).name
    if name.lower().endswith(".not.mat"):
        return name[: -len(".not.mat")]
    stem = Path(name).stem
    return re.sub(r"(?:\.Table\.\d+)?\.selections$", "", stem, flags=re.IGNORECASE)


class _AudioFolder:
    """The recordings of an audio folder, found by relative path or by stem."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stems: dict[str, list[str]] | None = None

    def find(self, annotation: Path, notated: str | None) -> str | None:
        """The path, relative to the folder (or absolute), of the recording ``annotation``
        describes (``notated``: the one it names); ``None`` if the folder holds none."""
        from .annotations import _locate

        if notated is not None:
            for candidate in (notated, Path(notated).name):
                where = _locate(self.root, candidate)
                if where is not None:
                    return where
        stem = annotated_stem(notated) if notated is not None else annotated_stem(annotation)
        matches = self._by_stem().get(_key(stem), [])
        if len(matches) > 1:
            raise AnnotationError(
                str(annotation),
                f"{len(matches)} recordings in {self.root} have the stem {stem!r} "
                f"({', '.join(matches[:MAX_LISTED])}): name the recording in the annotation",
            )
        return matches[0] if matches else None

    def _by_stem(self) -> dict[str, list[str]]:
        if self._stems is None:
            from .discover import discover

            items, _ = discover([str(self.root)])
            self._stems = {}
            for item in items:
                rel = Path(item.relative).as_posix()
                self._stems.setdefault(_key(Path(rel).stem), []).append(rel)
        return self._stems


def _key(stem: str) -> str:
    return re.sub(r"\s", "_", stem)


def _read_one(file: Path, fmt: str, audio: _AudioFolder | None) -> list[AnnotatedEvent]:
    if fmt in NATIVE_FORMATS:
        return _read_native(file, audio)
    out: list[AnnotatedEvent] = []
    missing: list[str] = []
    for notated, spans in _crowsetta_annotations(file, fmt):
        if audio is None:
            recording = notated if notated is not None else annotated_stem(file) + file.suffix
        else:
            found = audio.find(file, notated)
            if found is None:
                missing.append(notated or f"a recording of stem {annotated_stem(file)!r}")
                continue
            recording = found
        out.extend(AnnotatedEvent(recording, on, off, label) for on, off, label in spans)
    if missing and audio is not None:
        listed = ", ".join(repr(m) for m in missing[:MAX_LISTED])
        raise AnnotationError(str(file), f"its recording is not in {audio.root}: {listed}")
    return out


def _read_native(file: Path, audio: _AudioFolder | None) -> list[AnnotatedEvent]:
    """A gabortag table; a Raven table that names no recording describes the one of its stem."""
    audio_dir = None if audio is None else audio.root
    if _raven_names_no_file(file):
        if audio is None:
            recording = annotated_stem(file) + file.suffix
        else:
            found = audio.find(file, None)
            if found is None:
                raise AnnotationError(
                    str(file),
                    f"names no recording (no {' or '.join(RAVEN_FILE_COLUMNS)} column) and "
                    f"{audio.root} holds none of stem {annotated_stem(file)!r}",
                )
            recording = found
        return read_gabortag_table(file, audio_dir, file=recording)
    return read_gabortag_table(file, audio_dir)


def _raven_names_no_file(file: Path) -> bool:
    try:
        with open(file, encoding="utf-8-sig", errors="replace") as f:
            first = next((line for line in f if line.strip()), "")
    except OSError:
        return False
    columns = {c.strip() for c in first.split("\t")}
    return RAVEN_BEGIN in columns and not columns & set(RAVEN_FILE_COLUMNS)


Spans = list[tuple[float, float, str]]


def _crowsetta_annotations(file: Path, fmt: str) -> list[tuple[str | None, Spans]]:
    """(the recording it names or ``None``, its (onset s, offset s, label) spans) for each
    annotation crowsetta reads in ``file``."""
    crowsetta = _import_crowsetta(file, fmt)
    try:
        parsed = crowsetta.Transcriber(format=fmt).from_file(file)
        to_annot = parsed.to_annot
        kwargs = {"round_times": False} if "round_times" in _parameters(to_annot) else {}
        annots = to_annot(**kwargs)
    except Exception as err:  # crowsetta, pandas, pandera, scipy: each its own errors
        raise AnnotationError(str(file), f"not a readable {fmt} file ({_reason(err)})") from None
    out = []
    for annot in annots if isinstance(annots, list) else [annots]:
        notated = getattr(annot, "notated_path", None)
        out.append((None if notated is None else os.fspath(notated), _spans(file, fmt, annot)))
    return out


def _import_crowsetta(file: Path, fmt: str) -> Any:
    try:
        import crowsetta
    except ImportError:
        raise AnnotationError(
            str(file),
            f"reading {fmt} annotations needs crowsetta, which is not installed: "
            f"pip install 'gabortag[{EXTRA}]'",
        ) from None
    return crowsetta


def _parameters(function: Any) -> Iterable[str]:
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return ()


def _spans(file: Path, fmt: str, annot: Any) -> Spans:
    """The (onset s, offset s, label) of a crowsetta ``Annotation``, checked."""
    seq = getattr(annot, "seq", None)
    if isinstance(seq, list):  # a TextGrid of several interval tiers: the first
        seq = seq[0] if seq else None
    if seq is not None:
        if seq.onsets_s is None:
            raise AnnotationError(
                str(file), f"{fmt} annotation gives times in samples only, not in seconds"
            )
        triples: Iterable[tuple[Any, Any, Any]] = zip(
            seq.onsets_s, seq.offsets_s, seq.labels, strict=True
        )
    else:
        bboxes = getattr(annot, "bboxes", None) or []
        triples = ((b.onset, b.offset, b.label) for b in bboxes)
    spans: Spans = []
    for number, (on, off, label) in enumerate(triples, 1):
        onset, offset, text = float(on), float(off), str(label).strip()
        if not (0 <= onset < offset < float("inf")):
            raise AnnotationError(
                str(file), f"segment {number}: onset {onset:g} s, offset {offset:g} s"
            )
        if not text:
            raise AnnotationError(str(file), f"segment {number}: empty label")
        spans.append((onset, offset, text))
    return spans


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(err).__name__}: {text}"
