"""Writers of the ``birdcalls`` task round-trip through independent parsers; the batch runner
routes event results (multi-dot extension ``.selections.txt`` included)."""

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
from gabortag.io.formats import FORMATS, RAVEN_COLUMNS, extension, formats, get_writer
from gabortag.tasks.results import SCHEMA_VERSION, Event, EventResult

import _writer_helpers as writing  # isort: skip
from _writer_helpers import parse_raven  # isort: skip

TOL = 1e-3 + 1e-9

CHIP = Event(1.25, 1.5, "chip", 0.91234, 2500.0, 6000.25)
TRILL = Event(2.0004, 2.9996, "trill", 0.5, 3000.04, 7000.0)
ODD = Event(0.0, 0.5, "a b", 1.0, 500.0, 12000.0)
RESULTS = [  # path, duration, model, events, sample rate, channels
    EventResult("site1/dawn.wav", 60.0, "bird-tiny", (CHIP, TRILL), 44100, 2),
    EventResult("site1/quiet.flac", 5.0, "bird-tiny", ()),
    EventResult('odd\tname "é".wav', 2.5, "bird-tiny", (ODD,), 32000, 1),
]


write_one = functools.partial(writing.write_one, task="birdcalls")
write_combined = functools.partial(writing.write_combined, task="birdcalls")


def assert_events_close(got: Sequence[tuple[float, ...]], want: Sequence[Event]) -> None:
    assert len(got) == len(want)
    for g, e in zip(got, want, strict=True):
        assert g == pytest.approx((e.start, e.end, e.low_freq, e.high_freq), abs=0.05 + TOL)
        assert abs(g[0] - e.start) <= TOL and abs(g[1] - e.end) <= TOL


def test_formats_extensions_and_errors() -> None:
    assert formats("birdcalls") == ("json", "jsonl", "csv", "audacity", "raven")
    assert formats() == FORMATS == ("json", "jsonl", "rttm", "csv", "audacity", "textgrid")
    assert extension("raven", "birdcalls") == ".selections.txt"
    assert extension("audacity", "birdcalls") == ".txt"
    for fmt in formats("birdcalls"):
        writer = get_writer(fmt, "birdcalls")
        assert writer.format == fmt and writer.combinable
    with pytest.raises(ValueError, match=r"'rttm' for birdcalls; choose one of: json, .*raven"):
        get_writer("rttm", "birdcalls")
    with pytest.raises(ValueError, match="unknown task 'asr'; choose one of vad, birdcalls"):
        get_writer("json", "asr")


def test_result_dict_round_trip() -> None:
    for result in RESULTS:
        back = EventResult.from_dict(json.loads(json.dumps(result.to_dict())))
        assert back.path == result.path and back.model == result.model
        assert (back.sample_rate, back.channels) == (result.sample_rate, result.channels)
        for b, e in zip(back.events, result.events, strict=True):
            assert b.label == e.label
            assert b.confidence == pytest.approx(e.confidence, abs=1e-4)
            assert (b.start, b.end) == pytest.approx((e.start, e.end), abs=TOL)
    assert RESULTS[0].to_dict()["events"][0] == {
        "start": 1.25,
        "end": 1.5,
        "label": "chip",
        "confidence": 0.9123,
        "low_freq": 2500.0,
        "high_freq": 6000.2,
    }
    assert RESULTS[0].events[0].duration == 0.25


def test_json_envelope() -> None:
    text = write_combined("json", RESULTS, errors=["bad.wav"])
    doc = json.loads(text)
    assert list(doc) == ["schema_version", "tool", "version", "task", "files", "errors"]
    assert doc["schema_version"] == SCHEMA_VERSION and doc["task"] == "birdcalls"
    assert text == json.dumps(doc, indent=2) + "\n"
    assert doc["files"] == [r.to_dict() for r in RESULTS]
    assert doc["errors"] == [{"path": "bad.wav", "error": "bad.wav: not audio"}]
    assert write_one("json", RESULTS[0]) == write_combined("json", RESULTS[:1])


def test_jsonl() -> None:
    lines = [json.loads(line) for line in write_combined("jsonl", RESULTS, ["x"]).splitlines()]
    assert [d["path"] for d in lines] == [r.path for r in RESULTS] + ["x"]
    assert EventResult.from_dict(lines[0]).events[1].label == "trill"


def test_csv() -> None:
    rows = list(csv.DictReader(io.StringIO(write_combined("csv", RESULTS))))
    assert list(rows[0]) == ["path", "start", "end", "label", "confidence", "low_freq", "high_freq"]
    assert [r["path"] for r in rows] == ["site1/dawn.wav", "site1/dawn.wav", RESULTS[2].path]
    got = [tuple(float(r[k]) for k in ("start", "end", "low_freq", "high_freq")) for r in rows]
    assert_events_close(got, [e for r in RESULTS for e in r.events])
    assert [r["label"] for r in rows] == ["chip", "trill", "a b"]
    assert rows[0]["confidence"] == "0.9123"
    assert write_one("csv", RESULTS[1]) == "path,start,end,label,confidence,low_freq,high_freq\n"


def test_audacity() -> None:
    text = write_combined("audacity", RESULTS)
    cols = [line.split("\t") for line in text.splitlines()]
    assert all(len(c) == 3 for c in cols)
    assert [c[2] for c in cols] == ["chip", "trill", "a b"]
    assert cols[0][:2] == ["1.250000", "1.500000"]


def test_raven_single_file() -> None:
    header, rows = parse_raven(write_one("raven", RESULTS[0]))
    assert header == list(RAVEN_COLUMNS)
    assert "\t".join(header) == (
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\t"
        "High Freq (Hz)\tType\tConfidence"
    )
    assert [r["Selection"] for r in rows] == ["1", "2"]
    assert {r["View"] for r in rows} == {"Spectrogram 1"} and {r["Channel"] for r in rows} == {"1"}
    got = [
        tuple(
            float(r[k])
            for k in ("Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)")
        )
        for r in rows
    ]
    assert_events_close(got, RESULTS[0].events)
    assert [r["Type"] for r in rows] == ["chip", "trill"]
    assert [float(r["Confidence"]) for r in rows] == [0.9123, 0.5]


def test_raven_combined_adds_begin_file_and_numbers_on() -> None:
    header, rows = parse_raven(write_combined("raven", RESULTS, errors=["bad.wav"]))
    assert header == [*RAVEN_COLUMNS, "Begin File"]
    assert [r["Selection"] for r in rows] == ["1", "2", "3"]
    assert [r["Begin File"] for r in rows] == ["site1/dawn.wav"] * 2 + ['odd name "é".wav']
    # an unknown number of files is treated as several; a table without events is its header
    buf = io.StringIO()
    writer = get_writer("raven", "birdcalls")
    writer.begin(buf)
    writer.end(buf)
    assert buf.getvalue() == "\t".join([*RAVEN_COLUMNS, "Begin File"]) + "\n"
    assert write_one("raven", RESULTS[1]) == "\t".join(RAVEN_COLUMNS) + "\n"


# --------------------------------------------------------------------------- batch


def test_output_plan_with_a_multi_dot_extension(tmp_path: Path) -> None:
    out = tmp_path / "all.selections.txt"
    assert plan_output(str(out), "raven", 3, task="birdcalls").mode == "file"
    assert (
        plan_output(str(tmp_path / "ALL.Selections.TXT"), "raven", 3, task="birdcalls").mode
        == "file"
    )
    assert plan_output(str(tmp_path / "all.txt"), "raven", 3, task="birdcalls").mode == "dir"
    assert (
        plan_output(str(tmp_path / ".selections.txt"), "raven", 3, task="birdcalls").mode == "dir"
    )
    plan = plan_output(str(tmp_path / "out"), "raven", 3, task="birdcalls")
    assert plan.mode == "dir"
    for rel, name in (("a/x.wav", "a/x.selections.txt"), ("x.y.flac", "x.y.selections.txt")):
        item = InputItem(rel, rel)
        assert output_path(plan, item, "raven", "birdcalls") == tmp_path / "out" / name
    assert output_path(plan, InputItem("-", "stdin"), "csv", "birdcalls") == (
        tmp_path / "out" / "stdin.csv"
    )
    with pytest.raises(ValueError, match="rttm"):
        plan_output(None, "rttm", 1, task="birdcalls")


def test_run_batch_writes_event_results(tmp_path: Path) -> None:
    by_source = {r.path: r for r in RESULTS[:2]}
    items = [InputItem(p, p) for p in (*by_source, "site2/broken.wav")]

    def process(item: InputItem) -> EventResult:
        if item.source not in by_source:
            raise AudioError(item.source, "not a readable audio file")
        return by_source[item.source]

    plan = plan_output(str(tmp_path / "out"), "raven", len(items), task="birdcalls")
    summary = run_batch(items, process, "raven", plan, task="birdcalls")
    assert summary.processed == 2 and [f.path for f in summary.failures] == ["site2/broken.wav"]
    dawn = tmp_path / "out" / "site1" / "dawn.selections.txt"
    assert summary.outputs == [dawn, tmp_path / "out" / "site1" / "quiet.selections.txt"]
    header, rows = parse_raven(dawn.read_text(encoding="utf-8"))
    assert "Begin File" not in header and len(rows) == 2

    buf = io.StringIO()
    summary = run_batch(
        items, process, "json", plan_output(None, "json", 3), task="birdcalls", stdout=buf
    )
    doc = json.loads(buf.getvalue())
    assert doc["task"] == "birdcalls" and [f["path"] for f in doc["files"]] == list(by_source)
    assert doc["errors"] == [{"path": "site2/broken.wav", "error": "not a readable audio file"}]
