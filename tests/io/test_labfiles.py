"""The lab's own annotation files, read through crowsetta (evsonganaly ``.not.mat``, Praat
TextGrid, Audacity labels, crowsetta CSVs) beside gabortag's tables, one file or a folder, the
format given (``--annot-format``) or inferred; recordings found by the name an annotation gives
or by stem; and a folder of evTAF ``.cbin`` + ``.cbin.not.mat`` evaluated and trained on as is.
All files are generated here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gabortag.errors import AnnotationError
from gabortag.io.annotations import AnnotatedEvent, read_event_annotations
from gabortag.io.labfiles import annotated_stem, infer_format

from _cli_helpers import needs_script, run  # isort: skip
from test_evtaf import song, write_cbin  # isort: skip

RAVEN_ONE_FILE = (
    "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)"
    "\tAnnotation\n1\tSpectrogram 1\t1\t0.5\t0.75\t2000\t6000\tchip\n"
)

TEXTGRID = """File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2
tiers? <exists>
size = 1
item []:
    item [1]:
        class = "IntervalTier"
        name = "syllables"
        xmin = 0
        xmax = 2
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.5
            text = ""
        intervals [2]:
            xmin = 0.5
            xmax = 0.75
            text = "a"
        intervals [3]:
            xmin = 0.75
            xmax = 2
            text = "b"
"""


def write_notmat(path: Path, labels: str, onsets_ms: list[float], offsets_ms: list[float]) -> Path:
    """An evsonganaly ``.not.mat`` (times in ms, labels one character each)."""
    scipy_io = pytest.importorskip("scipy.io")
    scipy_io.savemat(
        str(path),
        {
            "Fs": 32000.0,
            "fname": path.name.removesuffix(".not.mat"),
            "labels": labels,
            "onsets": np.array(onsets_ms, dtype=float),
            "offsets": np.array(offsets_ms, dtype=float),
            "min_int": 5.0,
            "min_dur": 20.0,
            "threshold": 2000.0,
            "sm_win": 2.0,
        },
    )
    return path


@pytest.fixture
def crowsetta() -> None:
    pytest.importorskip("crowsetta")


def test_formats_are_inferred_from_names_and_first_lines(tmp_path: Path) -> None:
    files = {
        "a.cbin.not.mat": b"MATLAB",
        "a.TextGrid": TEXTGRID.encode(),
        "a.txt": b"0.5\t0.75\ta\n1.0\t1.2\tb\n",
        "f.txt": b"0.5\t0.75\ta\n\\\t2000\t6000\n",
        "a.Table.1.selections.txt": RAVEN_ONE_FILE.encode(),
        "mine.csv": b"path,start,end,label,confidence\nx.wav,0,1,a,0.9\n",
        "notes.csv": b"file,onset_s,offset_s,label\nx.wav,0,1,a\n",
        "simple.csv": b"onset_s,offset_s,label\n0,1,a\n",
        "generic.csv": b"label,onset_s,offset_s,notated_path,annot_path,sequence,annotation\n",
        "README.txt": b"some words\n",
        "a.wav": b"RIFF",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    found = {name: infer_format(tmp_path / name) for name in files}
    assert found == {
        "a.cbin.not.mat": "notmat",
        "a.TextGrid": "textgrid",
        "a.txt": "aud-seq",
        "f.txt": "aud-bbox",
        "a.Table.1.selections.txt": "raven",
        "mine.csv": "table",
        "notes.csv": "table",
        "simple.csv": "simple-seq",
        "generic.csv": "generic-seq",
        "README.txt": None,
        "a.wav": None,
    }
    assert annotated_stem("x/a.cbin.not.mat") == "a.cbin"
    assert annotated_stem("a.Table.1.selections.txt") == "a"
    assert annotated_stem("b.138.TextGrid") == "b.138"


def test_a_folder_of_cbin_and_notmat_reads_as_is(tmp_path: Path, crowsetta: None) -> None:
    for stem, labels in (("bird.138", "ab"), ("bird.141", "ba")):
        write_cbin(tmp_path, stem, song(6400))
        write_notmat(tmp_path / f"{stem}.cbin.not.mat", labels, [10.0, 100.5], [50.0, 150.0])
    (tmp_path / "bird.138.tmp").write_bytes(b"\0" * 4)
    events = read_event_annotations(tmp_path, tmp_path)
    times = [(0.01, 0.05), (0.1005, 0.15)] * 2
    files = ["bird.138.cbin"] * 2 + ["bird.141.cbin"] * 2
    assert events == [
        AnnotatedEvent(f, on, off, label)
        for f, (on, off), label in zip(files, times, "abba", strict=True)
    ]
    # one file, no audio folder: the recording it names, matched by stem
    (first, *_) = read_event_annotations(tmp_path / "bird.141.cbin.not.mat", fmt="notmat")
    assert Path(first.file).name == "bird.141.cbin"
    # the annotations elsewhere than the audio: the recording is found by its name
    other = tmp_path / "labels"
    other.mkdir()
    write_notmat(other / "bird.138.cbin.not.mat", "a", [10.0], [50.0])
    assert read_event_annotations(other, tmp_path)[0].file == "bird.138.cbin"


def test_textgrid_audacity_and_raven_files_find_their_recording_by_stem(
    tmp_path: Path, crowsetta: None
) -> None:
    audio, labels = tmp_path / "audio", tmp_path / "labels"
    audio.mkdir()
    labels.mkdir()
    for name in ("one.138.wav", "two.flac", "three.wav"):
        sf.write(str(audio / name), np.zeros(3200, dtype=np.float32), 16000)
    (labels / "one.138.TextGrid").write_text(TEXTGRID)
    (labels / "two.txt").write_text("0.5\t0.75\tc\n1.0\t1.25\td\n")
    (labels / "three.Table.1.selections.txt").write_text(RAVEN_ONE_FILE)
    (labels / "notes.md").write_text("not an annotation\n")
    events = read_event_annotations(labels, audio)
    assert events == [
        AnnotatedEvent("one.138.wav", 0.5, 0.75, "a"),
        AnnotatedEvent("one.138.wav", 0.75, 2.0, "b"),
        AnnotatedEvent("three.wav", 0.5, 0.75, "chip"),
        AnnotatedEvent("two.flac", 0.5, 0.75, "c"),
        AnnotatedEvent("two.flac", 1.0, 1.25, "d"),
    ]
    only = read_event_annotations(labels, audio, fmt="aud-seq")
    assert {e.file for e in only} == {"two.flac"}
    # no audio folder: named by stem, so that evaluation matches them by stem
    assert read_event_annotations(labels / "one.138.TextGrid")[0].file == "one.138.TextGrid"


def test_problems_are_one_line_naming_the_file(tmp_path: Path, crowsetta: None) -> None:
    bad = tmp_path / "x.cbin.not.mat"
    bad.write_bytes(b"this is no MATLAB file")
    with pytest.raises(AnnotationError) as caught:
        read_event_annotations(bad)
    assert str(caught.value).startswith(f"{bad}: not a readable notmat file (")
    assert "\n" not in str(caught.value)
    (tmp_path / "lost.txt").write_text("0.5\t0.75\ta\n")
    with pytest.raises(AnnotationError, match=r"lost\.txt: its recording is not in"):
        read_event_annotations(tmp_path / "lost.txt", tmp_path)
    (tmp_path / "back.txt").write_text("0.75\t0.5\ta\n")
    sf.write(str(tmp_path / "back.wav"), np.zeros(320, dtype=np.float32), 16000)
    with pytest.raises(AnnotationError, match=r"segment 1: onset 0\.75 s, offset 0\.5 s"):
        read_event_annotations(tmp_path / "back.txt", tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AnnotationError, match="holds no notmat files"):
        read_event_annotations(empty, fmt="notmat")
    with pytest.raises(ValueError, match="unknown annotation format 'praat'"):
        read_event_annotations(empty, fmt="praat")


def test_without_crowsetta_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "crowsetta", None)  # import crowsetta raises ImportError
    (tmp_path / "a.TextGrid").write_text(TEXTGRID)
    with pytest.raises(AnnotationError) as caught:
        read_event_annotations(tmp_path / "a.TextGrid")
    assert "needs crowsetta" in str(caught.value)
    assert "pip install 'gabortag[annotations]'" in str(caught.value)
    # gabortag's own tables need nothing more
    table = tmp_path / "notes.csv"
    table.write_text("path,start,end,label\na.wav,0.5,0.75,a\n")
    assert read_event_annotations(table) == [AnnotatedEvent("a.wav", 0.5, 0.75, "a")]


def _song_folder(folder: Path) -> None:
    """Three evTAF songs of the bundled model's types "0" and "1", labelled in .not.mat files."""
    rng = np.random.default_rng(5)
    for i in range(3):
        data = song(32000 * 2)
        data[:, 0] = (rng.standard_normal(len(data)) * 30).astype(np.int16)
        t = np.arange(3200) / 32000
        for k, start in enumerate((0.3, 0.8, 1.3)):
            tone = 8000 * np.sin(2 * np.pi * (2000 + 1500 * k) * t) * np.hanning(len(t))
            s = int(start * 32000)
            data[s : s + len(t), 0] += tone.astype(np.int16)
        stem = f"gy6or6_baseline_230312_08{10 + i}.{138 + i}"
        write_cbin(folder, stem, data)
        write_notmat(
            folder / f"{stem}.cbin.not.mat", "010", [300.0, 800.0, 1300.0], [400.0, 900.0, 1400.0]
        )


@needs_script
def test_eval_birdcalls_on_a_folder_of_cbin_and_notmat(tmp_path: Path, crowsetta: None) -> None:
    _song_folder(tmp_path)
    done = run(
        "eval", "birdcalls", ".", "-r", ".", "--json", "eval.json", cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "3 evaluated, 0 failed" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    again = run("eval", "birdcalls", ".", "-r", ".", "--annot-format", "textgrid", cwd=tmp_path)
    assert again.returncode == 2 and "holds no textgrid files" in again.stderr, again.stderr


@needs_script
def test_train_birdcalls_on_a_folder_of_cbin_and_notmat(tmp_path: Path, crowsetta: None) -> None:
    pytest.importorskip("torch")
    _song_folder(tmp_path)
    tiny = ["--kernels", "4", "--kernel-size", "5x9", "--channels", "8", "--epochs", "1"]
    done = run(
        "train",
        "birdcalls",
        "--audio",
        ".",
        "--annotations",
        ".",
        "--annot-format",
        "notmat",
        "--out",
        "run",
        "--from-scratch",
        "--threads",
        "1",
        *tiny,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "2 training files, 1 validation files" in done.stderr, done.stderr
    assert (tmp_path / "run" / "model.onnx").is_file()
