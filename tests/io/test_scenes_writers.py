"""Writers of the ``scenes`` task: every format parses back to the same windows and labels;
the batch runner routes scene results (one file per input, ``.selections.txt`` included)."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from gabortag.batch.plan import output_path, plan_output
from gabortag.batch.run import run_batch
from gabortag.errors import AudioError
from gabortag.io.discover import InputItem
from gabortag.io.formats import (
    RAVEN_COLUMNS,
    SCENE_RAVEN_COLUMNS,
    extension,
    formats,
    get_writer,
    window_labels,
)
from gabortag.tasks.results import SCHEMA_VERSION, SceneLabel, SceneResult, SceneWindow
from gabortag.tasks.scenes.api import summarize

import _writer_helpers as writing  # isort: skip
from _writer_helpers import parse_raven  # isort: skip

TOL = 1e-3 + 1e-9

Row = tuple[float, float, str, float]  # start, end, label, score


#: File scores of the labels (the summary's ranking).
FILE_SCORES = {"speech": 0.5, "chainsaw": 0.3, "music": 0.05, "a b\tc": 1.0}


def result(path: str, windows: Sequence[SceneWindow], sample_rate: int = 44_100) -> SceneResult:
    duration = windows[-1].end if windows else 0.0
    summary = summarize(windows, FILE_SCORES)
    top = SceneLabel(summary[0].label, summary[0].score) if summary else None
    return SceneResult(
        path, duration, "scenes-tiny", 1.0, 0.5, tuple(windows), summary, sample_rate, 2, top=top
    )


SPEECH = SceneLabel("speech", 0.91234)
MUSIC = SceneLabel("music", 0.10004)
RESULTS = [
    result(
        "site1/street.wav",
        [
            SceneWindow(0.0, 1.0, (SPEECH, MUSIC)),
            SceneWindow(0.5, 1.5, ()),  # nothing reported: no row in csv, audacity, raven
            SceneWindow(1.0, 2.0, (SceneLabel("chainsaw", 0.5),)),
            SceneWindow(1.5, 2.0004, (SceneLabel("chainsaw", 0.75), SPEECH)),
        ],
    ),
    result("quiet.flac", [], sample_rate=16_000),
    result('odd\tname "é".wav', [SceneWindow(0.0, 0.3, (SceneLabel("a b\tc", 1.0),))], 32_000),
]


def rows_of(r: SceneResult) -> list[Row]:
    return [(w.start, w.end, lab.label, lab.score) for w, lab in window_labels(r)]


def assert_rows(got: Sequence[Row], want: Sequence[Row], labels_clean: bool = True) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[:2] == pytest.approx(w[:2], abs=TOL)
        assert g[2] == (w[2] if labels_clean else w[2].replace("\t", " "))
        assert g[3] == pytest.approx(w[3], abs=5e-5 + 1e-9)


writer_of = functools.partial(get_writer, task="scenes")
write_one = functools.partial(writing.write_one, task="scenes")
write_combined = functools.partial(writing.write_combined, task="scenes")


def test_formats_are_those_of_birdcalls() -> None:
    assert formats("scenes") == formats("birdcalls")
    assert [(w.format, w.extension, w.combinable) for w in map(writer_of, formats("scenes"))] == [
        (fmt, extension(fmt, "birdcalls"), True) for fmt in formats("birdcalls")
    ]
    with pytest.raises(ValueError, match=r"'rttm' for scenes; choose one of: json, .*raven"):
        writer_of("rttm")
    assert SCENE_RAVEN_COLUMNS == (*RAVEN_COLUMNS[:7], "Label", "Score")


def test_json_parses_back_to_the_results() -> None:
    doc = json.loads(write_combined("json", RESULTS, errors=["bad.wav"]))
    assert doc["schema_version"] == SCHEMA_VERSION and doc["task"] == "scenes"
    assert doc["errors"] == [{"path": "bad.wav", "error": "bad.wav: not audio"}]
    assert [SceneResult.from_dict(f).to_dict() for f in doc["files"]] == [
        r.to_dict() for r in RESULTS
    ]
    street = doc["files"][0]
    assert (street["window"], street["hop"]) == (1.0, 0.5)
    assert street["windows"][0] == {
        "start": 0.0,
        "end": 1.0,
        "labels": [{"label": "speech", "score": 0.9123}, {"label": "music", "score": 0.1}],
    }
    assert street["windows"][1]["labels"] == []
    assert [(s["label"], s["duration"], s["windows"]) for s in street["summary"]] == [
        ("speech", 1.5, 2),  # [0, 1) and [1.5, 2.0004): 1.5004 s
        ("chainsaw", 1.0, 2),  # [1, 2) and [1.5, 2.0004): 1.0004 s
        ("music", 1.0, 1),
    ]
    assert street["summary"][0]["best"][0] == {"start": 0.0, "end": 1.0, "score": 0.9123}
    one = json.loads(write_one("json", RESULTS[1]))
    assert one["files"] == [RESULTS[1].to_dict()] and one["errors"] == []


def test_jsonl_parses_back() -> None:
    lines = write_combined("jsonl", RESULTS, errors=["bad.wav"]).splitlines()
    records = [json.loads(line) for line in lines]
    assert records[-1] == {"path": "bad.wav", "error": "bad.wav: not audio"}
    for record, r in zip(records, RESULTS, strict=False):
        assert record.pop("schema_version") == SCHEMA_VERSION
        assert SceneResult.from_dict(record).windows == SceneResult.from_dict(r.to_dict()).windows


def test_csv_parses_back() -> None:
    rows = list(csv.DictReader(io.StringIO(write_combined("csv", RESULTS))))
    got: dict[str, list[Row]] = {}
    for row in rows:
        assert list(row) == ["path", "start", "end", "label", "score"]
        values = (float(row["start"]), float(row["end"]), row["label"], float(row["score"]))
        got.setdefault(row["path"], []).append(values)
    assert set(got) == {RESULTS[0].path, RESULTS[2].path}  # quiet.flac has no row
    for r in (RESULTS[0], RESULTS[2]):
        assert_rows(got[r.path], rows_of(r))
    assert write_one("csv", RESULTS[1]) == "path,start,end,label,score\n"


def test_audacity_parses_back() -> None:
    text = write_one("audacity", RESULTS[0])
    cols = [line.split("\t") for line in text.splitlines()]
    assert_rows(
        [(float(c[0]), float(c[1]), c[2], 0.0) for c in cols],
        [(s, e, label, 0.0) for s, e, label, _ in rows_of(RESULTS[0])],
    )
    odd = write_one("audacity", RESULTS[2])
    assert odd == "0.000000\t0.300000\ta b c\n"
    assert write_one("audacity", RESULTS[1]) == ""


def test_raven_one_file() -> None:
    header, rows = parse_raven(write_one("raven", RESULTS[0]))
    assert header == list(SCENE_RAVEN_COLUMNS)
    assert [int(r["Selection"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["View"] == "Spectrogram 1" and r["Channel"] == "1" for r in rows)
    assert {(r["Low Freq (Hz)"], r["High Freq (Hz)"]) for r in rows} == {("0.0", "22050.0")}
    got = [
        (float(r["Begin Time (s)"]), float(r["End Time (s)"]), r["Label"], float(r["Score"]))
        for r in rows
    ]
    assert_rows(got, rows_of(RESULTS[0]))
    assert rows[-1]["End Time (s)"] == "2.000400"  # microseconds


def test_raven_combined_numbers_on_and_names_files() -> None:
    header, rows = parse_raven(write_combined("raven", RESULTS))
    assert header == [*SCENE_RAVEN_COLUMNS, "Begin File"]
    assert [int(r["Selection"]) for r in rows] == list(range(1, 7))
    by_file: dict[str, list[Row]] = {}
    for r in rows:
        begin, end = float(r["Begin Time (s)"]), float(r["End Time (s)"])
        by_file.setdefault(r["Begin File"], []).append((begin, end, r["Label"], float(r["Score"])))
    assert set(by_file) == {RESULTS[0].path, 'odd name "é".wav'}
    assert_rows(by_file[RESULTS[0].path], rows_of(RESULTS[0]))
    assert_rows(by_file['odd name "é".wav'], rows_of(RESULTS[2]), labels_clean=False)
    assert rows[-1]["High Freq (Hz)"] == "16000.0"


def test_batch_writes_one_table_per_input(tmp_path: Path) -> None:
    items = [
        InputItem("in/site1/street.wav", "site1/street.wav"),
        InputItem("in/bad.wav", "bad.wav"),
        InputItem("in/quiet.flac", "quiet.flac"),
    ]
    by_source = {"in/site1/street.wav": RESULTS[0], "in/quiet.flac": RESULTS[1]}

    def process(item: InputItem) -> SceneResult:
        if item.source not in by_source:
            raise AudioError(item.source, "not a readable audio file")
        return by_source[item.source]

    plan = plan_output(str(tmp_path / "out"), "raven", len(items), task="scenes")
    assert plan.mode == "dir"
    summary = run_batch(items, process, "raven", plan, task="scenes")
    assert (summary.processed, summary.failed) == (2, 1)
    street = output_path(plan, items[0], "raven", task="scenes")
    assert street == tmp_path / "out" / "site1" / "street.selections.txt"
    assert street.read_text(encoding="utf-8") == write_one("raven", RESULTS[0])
    assert (tmp_path / "out" / "quiet.selections.txt").is_file()
    assert not (tmp_path / "out" / "bad.selections.txt").exists()

    combined = tmp_path / "all.json"
    plan = plan_output(str(combined), "json", len(items), task="scenes")
    assert plan.mode == "file"
    run_batch(items, process, "json", plan, task="scenes")
    doc = json.loads(combined.read_text(encoding="utf-8"))
    assert [f["path"] for f in doc["files"]] == [RESULTS[0].path, RESULTS[1].path]
    assert doc["errors"] == [{"path": "in/bad.wav", "error": "not a readable audio file"}]
