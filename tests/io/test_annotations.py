"""Reading event annotations (CSV and Raven selection tables), and every error they can raise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gabortag.errors import AnnotationError, GabortagError
from gabortag.io.annotations import AnnotatedEvent, read_event_annotations

RAVEN_HEADER = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tType"


def write(tmp_path: Path, text: str, name: str = "notes.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def error_of(path: Path, **kwargs: object) -> AnnotationError:
    with pytest.raises(AnnotationError) as info:
        read_event_annotations(path, **kwargs)  # type: ignore[arg-type]
    return info.value


# --------------------------------------------------------------------------- CSV


def test_csv_columns_in_any_order_extra_columns_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "label,offset_s,annotator,onset_s,file\n"
        "A,1.5,me,1.0,bird1.wav\n"
        "\n"
        'B,3.25,"you, too",2.0,sub/bird 2.wav\n',
    )
    assert read_event_annotations(path) == [
        AnnotatedEvent("bird1.wav", 1.0, 1.5, "A"),
        AnnotatedEvent("sub/bird 2.wav", 2.0, 3.25, "B"),
    ]


def test_csv_with_a_byte_order_mark_or_tabs(tmp_path: Path) -> None:
    bom = write(tmp_path, "\ufefffile,onset_s,offset_s,label\r\nx.wav,0,1,A\r\n", "bom.csv")
    assert read_event_annotations(bom) == [AnnotatedEvent("x.wav", 0.0, 1.0, "A")]
    tabs = write(tmp_path, "file\tonset_s\toffset_s\tlabel\nx.wav\t0\t1\tA\n", "tabs.tsv")
    assert read_event_annotations(tabs) == [AnnotatedEvent("x.wav", 0.0, 1.0, "A")]


def test_header_only_gives_no_events(tmp_path: Path) -> None:
    assert read_event_annotations(write(tmp_path, "file,onset_s,offset_s,label\n")) == []


def test_missing_columns_are_named_with_the_ones_found(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "file,start,offset_s\nx.wav,0,1\n"))
    assert err.line == 1
    assert re.search(
        r"notes\.csv:1: missing columns onset_s, label; found: 'file', 'start'", str(err)
    )
    assert "Raven" in str(err)  # says what the other layout needs
    err = error_of(write(tmp_path, "file,onset_s,offset_s,lable\n"))
    assert "missing column label;" in str(err) and "'lable'" in str(err)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x.wav,abc,1,A", "onset_s 'abc' is not a number"),
        ("x.wav,0,,A", "offset_s '' is not a number"),
        ("x.wav,nan,1,A", "onset_s 'nan' is not a finite number"),
        ("x.wav,0,inf,A", "offset_s 'inf' is not a finite number"),
        ("x.wav,-0.5,1,A", "onset_s -0.5 is negative"),
        ("x.wav,2,1.5,A", r"offset_s \(1.5\) must be after onset_s \(2\)"),
        ("x.wav,2,2,A", r"offset_s \(2\) must be after onset_s \(2\)"),
        ("x.wav,0,1, ", "empty label"),
        ("x.wav,0,1", "empty label"),
        (",0,1,A", "empty file"),
    ],
)
def test_bad_csv_rows_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path, f"file,onset_s,offset_s,label\ny.wav,0,1,A\n\n{row}\n")
    err = error_of(path)
    assert isinstance(err, GabortagError)
    assert err.line == 4 and err.path == str(path)
    assert re.search(rf"^{re.escape(str(path))}:4: {message}", str(err)), str(err)


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    """A quoted field may hold a line break: the error still names the right line."""
    path = write(tmp_path, 'file,onset_s,offset_s,label\n"a\nb.wav",0,1,A\nx.wav,1,0,A\n')
    assert error_of(path).line == 4


def test_unknown_files_are_listed_up_to_five(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    (audio / "sub").mkdir(parents=True)
    (audio / "ok.wav").write_bytes(b"")
    (audio / "sub" / "ok2.wav").write_bytes(b"")
    rows = ["ok.wav,0,1,A", "sub/ok2.wav,0,1,A", "ok.wav,2,3,B"]
    rows += [f"gone{i}.wav,0,1,A" for i in range(7)] + ["gone0.wav,5,6,A"]
    path = write(tmp_path, "file,onset_s,offset_s,label\n" + "\n".join(rows) + "\n")
    assert len(read_event_annotations(path)) == len(rows)  # no audio_dir: no check
    err = error_of(path, audio_dir=audio)
    text = str(err)
    assert text.startswith(f"{path}: 7 annotated files not found in {audio}: ")
    assert "'gone0.wav' (line 5)" in text and "'gone4.wav' (line 9)" in text
    assert "gone5.wav" not in text and text.endswith("and 2 more")
    only = write(tmp_path, "file,onset_s,offset_s,label\nok.wav,0,1,A\nnope.wav,0,1,A\n", "b.csv")
    assert str(error_of(only, audio_dir=audio)).endswith(
        f"1 annotated file not found in {audio}: 'nope.wav' (line 3)"
    )
    good = write(tmp_path, "file,onset_s,offset_s,label\nok.wav,0,1,A\n", "c.csv")
    assert len(read_event_annotations(good, audio_dir=audio)) == 1
    assert "audio folder" in str(error_of(good, audio_dir=tmp_path / "nowhere"))


def test_unreadable_tables(tmp_path: Path) -> None:
    assert str(error_of(tmp_path / "none.csv")).endswith("none.csv: does not exist")
    assert "is a folder" in str(error_of(tmp_path))
    assert "is empty: no header line" in str(error_of(write(tmp_path, "\n  \n")))
    latin = write(tmp_path, "file,onset_s,offset_s,label\nk\xe9.wav,0,1,A\n", encoding="latin-1")
    assert "not UTF-8" in str(error_of(latin))


# --------------------------------------------------------------------------- Raven


def raven(tmp_path: Path, header: str, *rows: str, name: str = "t.selections.txt") -> Path:
    return write(tmp_path, "\n".join([header, *rows]) + "\n", name)


def test_raven_multi_file_table_one_row_per_selection(tmp_path: Path) -> None:
    path = raven(
        tmp_path,
        RAVEN_HEADER + "\tBegin File",
        "1\tWaveform 1\t1\t0.5\t0.75\t2000\tchip\ta.wav",
        "1\tSpectrogram 1\t1\t0.5\t0.75\t2000\tchip\ta.wav",
        "2\tSpectrogram 1\t1\t1.0\t1.5\t3000\ttrill\ta.wav",
        "1\tSpectrogram 1\t1\t0.1\t0.2\t3000\tchip\tb.wav",  # numbering restarts per file
    )
    assert read_event_annotations(path) == [
        AnnotatedEvent("a.wav", 0.5, 0.75, "chip"),
        AnnotatedEvent("a.wav", 1.0, 1.5, "trill"),
        AnnotatedEvent("b.wav", 0.1, 0.2, "chip"),
    ]


def test_raven_begin_path_gives_the_base_name(tmp_path: Path) -> None:
    path = raven(
        tmp_path,
        "Begin Time (s)\tEnd Time (s)\tAnnotation\tBegin Path",
        "0.5\t0.75\tchip\tC:\\Users\\me\\birds\\a.wav",
        "1.0\t1.5\tchip\t/home/me/birds/b.wav",
    )
    assert [e.file for e in read_event_annotations(path)] == ["a.wav", "b.wav"]


@pytest.mark.parametrize(
    ("columns", "used"),
    [
        (("Type", "Annotation"), "Type"),
        (("Annotation", "Label"), "Annotation"),
        (("label", "Label"), "Label"),
        (("type", "label"), "label"),
        (("type",), "type"),
    ],
)
def test_raven_label_column_preference(tmp_path: Path, columns: tuple[str, ...], used: str) -> None:
    header = "\t".join(["Begin Time (s)", "End Time (s)", *columns])
    values = "\t".join(["0", "1", *columns])  # each column holds its own name
    (event,) = read_event_annotations(raven(tmp_path, header, values), file="x.wav")
    assert event == AnnotatedEvent("x.wav", 0.0, 1.0, used)


def test_single_file_raven_table_needs_file(tmp_path: Path) -> None:
    path = raven(tmp_path, RAVEN_HEADER, "1\tSpectrogram 1\t1\t0.5\t0.75\t2000\tchip")
    err = error_of(path)
    assert err.line == 1 and "no 'Begin File' or 'Begin Path'" in str(err)
    assert "file=" in str(err)
    assert read_event_annotations(path, file="x.wav") == [
        AnnotatedEvent("x.wav", 0.5, 0.75, "chip")
    ]


def test_file_is_refused_for_tables_that_name_their_files(tmp_path: Path) -> None:
    path = raven(tmp_path, RAVEN_HEADER + "\tBegin File", "1\tS\t1\t0\t1\t0\tchip\ta.wav")
    assert "column 'Begin File'; do not pass file='x.wav'" in str(error_of(path, file="x.wav"))
    csv_path = write(tmp_path, "file,onset_s,offset_s,label\na.wav,0,1,A\n")
    assert "column 'file'" in str(error_of(csv_path, file="x.wav"))


def test_raven_missing_columns(tmp_path: Path) -> None:
    err = error_of(raven(tmp_path, "Selection\tBegin Time (s)\tLow Freq (Hz)\tBegin File"))
    text = str(err)
    assert err.line == 1 and "Raven selection table lacks End Time (s)" in text
    assert "a label column (Type or Annotation or Label or label or type)" in text
    assert "found: 'Selection', 'Begin Time (s)', 'Low Freq (Hz)', 'Begin File'" in text


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("x\t1\tchip", r"Begin Time \(s\) 'x' is not a number"),
        ("1\t0.5\tchip", r"End Time \(s\) \(0.5\) must be after Begin Time \(s\) \(1\)"),
        ("-1\t0.5\tchip", r"Begin Time \(s\) -1 is negative"),
        ("0\t1\t", r"empty label \(column 'Type'\)"),
    ],
)
def test_bad_raven_rows(tmp_path: Path, values: str, message: str) -> None:
    path = raven(tmp_path, "Begin Time (s)\tEnd Time (s)\tType", "0\t1\tchip", values)
    err = error_of(path, file="x.wav")
    assert err.line == 3
    assert re.search(message, str(err)), str(err)


def test_raven_unknown_files(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"")
    path = raven(tmp_path, "Begin Time (s)\tEnd Time (s)\tType\tBegin File", "0\t1\tc\tb.wav")
    assert "'b.wav' (line 2)" in str(error_of(path, audio_dir=tmp_path))
    single = raven(tmp_path, "Begin Time (s)\tEnd Time (s)\tType", "0\t1\tc", name="s.txt")
    assert read_event_annotations(single, tmp_path, file="a.wav")[0].file == "a.wav"
    assert "'zz.wav'" in str(error_of(single, audio_dir=tmp_path, file="zz.wav"))


# ------------------------------------------------------------ gabortag's own outputs


def test_gabortag_event_csv_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gabortag birdcalls -f csv`` output names inputs as given, from the working folder:
    with an audio folder they become paths inside it."""
    audio = tmp_path / "recordings"
    (audio / "site4").mkdir(parents=True)
    for name in ("a.wav", "site4/b.wav"):
        (audio / name).write_bytes(b"")
    path = write(
        tmp_path,
        "path,start,end,label,confidence,low_freq,high_freq\n"
        "recordings/a.wav,0.5,0.75,A,0.91,500.0,8000.0\n"
        f"{audio / 'site4' / 'b.wav'},1.0,1.2,B,0.5,500.0,8000.0\n",
    )
    as_written = read_event_annotations(path)
    assert [e.file for e in as_written] == ["recordings/a.wav", str(audio / "site4" / "b.wav")]
    monkeypatch.chdir(tmp_path)
    assert read_event_annotations(path, audio) == [
        AnnotatedEvent("a.wav", 0.5, 0.75, "A"),
        AnnotatedEvent("site4/b.wav", 1.0, 1.2, "B"),
    ]
    outside = write(tmp_path, "path,start,end,label\nelsewhere/c.wav,0,1,A\n", "out.csv")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "c.wav").write_bytes(b"")
    assert "not found in" in str(error_of(outside, audio_dir=audio))
