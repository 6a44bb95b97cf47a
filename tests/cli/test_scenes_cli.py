"""``gabortag scenes`` through the installed console script: formats, batches, options, exit codes.

Exit codes: 0 every input done, 1 some input failed, 2 usage error. The model is the tiny
graph of ``_scenes_model`` (8 kHz, 1 s windows every 0.5 s, top 2 labels scoring 0.1 or more).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gabortag.io.formats import formats
from gabortag.models import manifest

import _scenes_model as tiny  # isort: skip
from _cli_helpers import (  # isort: skip
    assert_bad_inputs_reported,
    assert_help,
    assert_resumes,
    assert_stdin_like_file,
    assert_usage_error,
    needs_script,
    run,
)
from _writer_helpers import parse_raven  # isort: skip

pytestmark = needs_script

TOL = 1e-3 + 1e-9


def street(path: Path, sr: int, seconds: float = 3.3, seed: int = 0) -> Path:
    """Silence, speech-like noise, loud noise and a positive offset, in equal parts."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    part = n // 4
    x = np.zeros(n)
    x[part : 2 * part] = 0.2 * rng.standard_normal(part)
    x[2 * part : 3 * part] = 0.8 * rng.standard_normal(part).clip(-0.99, 0.99)
    x[3 * part :] = 0.3
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), sr)
    return path


@pytest.fixture
def clips(tmp_path: Path) -> list[str]:
    """Two recordings in the working folder: 16 kHz WAV (resampled) and 8 kHz FLAC."""
    street(tmp_path / "a16.wav", 16_000)
    street(tmp_path / "b8.flac", 8_000, seconds=2.2, seed=1)
    return ["a16.wav", "b8.flac"]


Row = tuple[float, float, str, float]


def json_rows(doc: dict[str, object]) -> dict[str, list[Row]]:
    """(start, end, label, score) per window and label, per path, from the JSON document."""
    return {
        f["path"]: [
            (w["start"], w["end"], lab["label"], lab["score"])
            for w in f["windows"]
            for lab in w["labels"]
        ]
        for f in doc["files"]  # type: ignore[attr-defined]
    }


def parse(fmt: str, text: str) -> dict[str, list[Row]]:
    """Rows per path from the text of ``fmt`` (one row per window and label)."""
    out: dict[str, list[Row]] = {}
    if fmt == "jsonl":
        for line in text.splitlines():
            record = json.loads(line)
            assert record["schema_version"] == "1.0"
            out |= json_rows({"files": [record]})
    elif fmt == "csv":
        for r in csv.DictReader(io.StringIO(text)):
            row = (float(r["start"]), float(r["end"]), r["label"], float(r["score"]))
            out.setdefault(r["path"], []).append(row)
    elif fmt == "raven":
        header, rows = parse_raven(text)
        assert header[-3:] == ["Label", "Score", "Begin File"]
        assert [int(r["Selection"]) for r in rows] == list(range(1, len(rows) + 1))
        for r in rows:
            assert r["Low Freq (Hz)"] == "0.0"
            nyquist = 8000.0 if r["Begin File"] == "a16.wav" else 4000.0
            assert float(r["High Freq (Hz)"]) == nyquist
            begin, end = float(r["Begin Time (s)"]), float(r["End Time (s)"])
            out.setdefault(r["Begin File"], []).append((begin, end, r["Label"], float(r["Score"])))
    else:
        raise AssertionError(fmt)
    return out


def assert_same_rows(got: list[Row], want: list[Row]) -> None:
    assert [g[2] for g in got] == [w[2] for w in want]
    assert [t for g in got for t in g[:2]] == pytest.approx(
        [t for w in want for t in w[:2]], abs=TOL
    )
    assert [g[3] for g in got] == pytest.approx([w[3] for w in want], abs=1e-4 + 1e-9)


# --------------------------------------------------------------------------- formats


def test_json_default(tmp_path: Path, clips: list[str], scenes_model: str) -> None:
    done = run("scenes", *clips, "-m", scenes_model, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["schema_version"], doc["task"], doc["errors"]) == ("1.0", "scenes", [])
    a, b = doc["files"]
    assert (a["path"], a["sample_rate"], a["duration"], a["model"]) == (
        "a16.wav",
        16_000,
        3.3,
        "scenes-tiny",
    )
    assert (b["path"], b["sample_rate"], b["duration"]) == ("b8.flac", 8_000, 2.2)
    assert (a["window"], a["hop"]) == (1.0, 0.5)
    assert [w["start"] for w in a["windows"]] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert [w["end"] for w in a["windows"]] == [1.0, 1.5, 2.0, 2.5, 3.0, 3.3]
    for f in doc["files"]:
        for w in f["windows"]:
            assert 1 <= len(w["labels"]) <= tiny.POSTPROCESS["top_k"]  # the model's default
            scores = [lab["score"] for lab in w["labels"]]
            assert scores == sorted(scores, reverse=True) and min(scores) >= 0.1
        assert {s["label"] for s in f["summary"]} == {
            lab["label"] for w in f["windows"] for lab in w["labels"]
        }
    assert a["windows"][0]["labels"][0]["label"] == "background"
    assert a["windows"][-1]["labels"][0]["label"] == "music"
    for f in doc["files"]:  # the file's top label leads the summary, ranked by file score
        assert f["top"]["label"] in tiny.LABELS and 0.0 <= f["top"]["score"] <= 1.0
        scores = [s["score"] for s in f["summary"]]
        assert scores == sorted(scores, reverse=True)
        assert (f["summary"][0]["label"], scores[0]) == (f["top"]["label"], f["top"]["score"])
    assert "2 inputs: 2 done, 0 skipped, 0 failed" in done.stderr


def test_a_short_tail_is_no_window_of_its_own(tmp_path: Path, scenes_model: str) -> None:
    """2.001 s in 1 s windows every 1 s: the last millisecond is merged into the second window,
    in every format, instead of being a window (and rows) of its own."""
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "c.wav", (0.2 * rng.standard_normal(16_008)).astype(np.float32), 8000)
    args = ("scenes", "c.wav", "-m", scenes_model, "--hop", "1", "--top-k", "5")
    done = run(*args, "--min-score", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)["files"]
    assert [(w["start"], w["end"]) for w in item["windows"]] == [(0.0, 1.0), (1.0, 2.001)]
    rows = parse("csv", run(*args, "--min-score", "0", "-f", "csv", cwd=tmp_path).stdout)
    assert {(r[0], r[1]) for r in rows["c.wav"]} == {(0.0, 1.0), (1.0, 2.001)}
    _, table = parse_raven(run(*args, "--min-score", "0", "-f", "raven", cwd=tmp_path).stdout)
    spans = {(float(r["Begin Time (s)"]), float(r["End Time (s)"])) for r in table}
    assert spans == {(0.0, 1.0), (1.0, 2.001)}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "raven"])
def test_formats_parse_back_to_the_json_windows(
    tmp_path: Path, clips: list[str], scenes_model: str, fmt: str
) -> None:
    reference = run("scenes", *clips, "-m", scenes_model, "-q", cwd=tmp_path)
    want = json_rows(json.loads(reference.stdout))

    done = run("scenes", *clips, "-m", scenes_model, "-f", fmt, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = parse(fmt, done.stdout)
    assert set(got) == set(want)
    for path in want:
        assert_same_rows(got[path], want[path])

    target = {"jsonl": "all.jsonl", "csv": "all.csv", "raven": "all.selections.txt"}[fmt]
    to_file = run("scenes", *clips, "-m", scenes_model, "-f", fmt, "-o", target, "-q", cwd=tmp_path)
    assert to_file.returncode == 0 and to_file.stdout == "" and to_file.stderr == ""
    assert (tmp_path / target).read_text(encoding="utf-8") == done.stdout


def test_audacity_labels(tmp_path: Path, clips: list[str], scenes_model: str) -> None:
    reference = run("scenes", clips[1], "-m", scenes_model, "-q", cwd=tmp_path)
    (want,) = json_rows(json.loads(reference.stdout)).values()
    done = run("scenes", clips[1], "-m", scenes_model, "-f", "audacity", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    cols = [line.split("\t") for line in done.stdout.splitlines()]
    assert_same_rows(
        [(float(c[0]), float(c[1]), c[2], 0.0) for c in cols], [(*w[:3], 0.0) for w in want]
    )


def test_one_table_per_input_and_resume(tmp_path: Path, scenes_model: str) -> None:
    street(tmp_path / "in" / "site1" / "x.wav", 16_000)
    street(tmp_path / "in" / "y.flac", 8_000)
    outputs = [
        tmp_path / "out" / "site1" / "x.selections.txt",
        tmp_path / "out" / "y.selections.txt",
    ]
    args = ("scenes", "in", "-m", scenes_model, "-f", "raven", "-o", "out")
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file()) == sorted(outputs)
    header = outputs[0].read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert header[-2:] == ["Label", "Score"]  # one file per table: no Begin File column

    assert_resumes(*args, cwd=tmp_path, n_inputs=2)
    forced = run(*args, "--force", "-q", cwd=tmp_path)
    assert forced.returncode == 0 and forced.stderr == ""


def test_stdin(tmp_path: Path, clips: list[str], scenes_model: str) -> None:
    assert_stdin_like_file("scenes", clips[0], "windows", "-m", scenes_model, cwd=tmp_path)


# --------------------------------------------------------------------------- failures


def test_bad_files_in_a_batch(tmp_path: Path, clips: list[str], scenes_model: str) -> None:
    doc = assert_bad_inputs_reported("scenes", clips, "-m", scenes_model, cwd=tmp_path)
    assert all(f["windows"] for f in doc["files"])

    inputs = [clips[0], "broken.wav", "missing.wav", "empty.flac", clips[1]]
    to_dir = run("scenes", *inputs, "-m", scenes_model, "-f", "csv", "-o", "out", cwd=tmp_path)
    assert to_dir.returncode == 1
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["a16.csv", "b8.csv"]  # the good inputs, and no temporary file


# --------------------------------------------------------------------------- options


def windows_of(tmp_path: Path, clip: str, model: str, *options: str) -> list[dict[str, object]]:
    done = run("scenes", clip, "-m", model, "-q", *options, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)["files"]
    return item["windows"]  # type: ignore[no-any-return]


def labels_of(windows: list[dict[str, object]]) -> list[list[str]]:
    return [[lab["label"] for lab in w["labels"]] for w in windows]  # type: ignore[attr-defined]


def test_top_k_min_score_and_labels(tmp_path: Path, clips: list[str], scenes_model: str) -> None:
    everything = windows_of(tmp_path, clips[0], scenes_model, "--top-k", "5", "--min-score", "0")
    assert all(len(labels) == 5 for labels in labels_of(everything))

    top1 = windows_of(tmp_path, clips[0], scenes_model, "--top-k", "1", "--min-score", "0")
    assert labels_of(top1) == [labels[:1] for labels in labels_of(everything)]

    strict = windows_of(tmp_path, clips[0], scenes_model, "--min-score", "0.9", "--top-k", "5")
    for w, all_w in zip(strict, everything, strict=True):
        assert w["labels"] == [lab for lab in all_w["labels"] if lab["score"] >= 0.9]  # type: ignore[attr-defined]
    none = windows_of(tmp_path, clips[0], scenes_model, "--min-score", "1")
    assert labels_of(none) == [[] for _ in none]

    chosen = windows_of(
        tmp_path,
        clips[0],
        scenes_model,
        "--labels",
        "music, speech",
        "--top-k",
        "1",
        "--min-score",
        "0",
    )
    for labels, all_labels in zip(labels_of(chosen), labels_of(everything), strict=True):
        assert labels == [name for name in all_labels if name in ("music", "speech")][:1]


def test_window_and_hop(tmp_path: Path, clips: list[str], scenes_model: str) -> None:
    done = run(
        "scenes", clips[1], "-m", scenes_model, "--window", "0.8", "--hop", "0.6", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)["files"]
    assert (item["window"], item["hop"]) == (0.8, 0.6)
    assert [(w["start"], w["end"]) for w in item["windows"]] == [
        (0.0, 0.8),
        (0.6, 1.4),
        (1.2, 2.0),
        (1.8, 2.2),
    ]
    # a window alone keeps the model's hop (0.5 s) unless that is longer than the window
    short = windows_of(tmp_path, clips[1], scenes_model, "--window", "0.3")
    assert [w["start"] for w in short][:3] == [0.0, 0.3, 0.6]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--window", "0"), r"--window must be a finite number of seconds > 0, got 0"),
        (("--hop", "0"), r"--hop must be a finite number of seconds > 0"),
        (("--hop", "inf"), r"--hop must be a finite number of seconds > 0, got inf"),
        (("--window", "nan"), r"Invalid value for '--window'"),
        (("--window", "-1"), r"Invalid value for '--window'"),
        (("--top-k", "0"), r"Invalid value for '--top-k'"),
        (("--min-score", "1.5"), r"Invalid value for '--min-score'"),
        (("--labels", "speech,,music"), r"--labels 'speech,,music': empty label name"),
        (("-f", "rttm"), r"unknown format 'rttm'; choose one of json, jsonl, csv, audacity, raven"),
    ],
)
def test_usage_errors_before_any_model(
    tmp_path: Path, clips: list[str], options: tuple[str, ...], message: str
) -> None:
    # checked before any model is loaded: the default model is not needed
    assert_usage_error(run("scenes", clips[0], *options, cwd=tmp_path), message)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ("--labels", "speech,dog"),
            r"--labels: unknown label 'dog'; the model's labels are: speech, music, birdsong, "
            r"chainsaw, background",
        ),
        (("--window", "0.2"), r"--window/--hop: a window of 0\.2 s is shorter than the 0\.25 s"),
        (("--hop", "0.00001"), r"--window/--hop: a hop of 1e-05 s is shorter than one sample"),
    ],
)
def test_usage_errors_of_the_model(
    tmp_path: Path, clips: list[str], scenes_model: str, options: tuple[str, ...], message: str
) -> None:
    assert_usage_error(run("scenes", *clips, "-m", scenes_model, *options, cwd=tmp_path), message)


def test_models_of_other_tasks_and_missing_models(tmp_path: Path, clips: list[str]) -> None:
    other_task = run("scenes", clips[0], "-m", "vad", cwd=tmp_path)
    assert_usage_error(other_task, "'vad' model, not a scenes model")
    no_file = run("scenes", clips[0], "-m", "nope.onnx", cwd=tmp_path)
    assert_usage_error(no_file, "model file 'nope.onnx' does not exist")
    if not any(e.name == "scenes" for e in manifest()):
        default = run("scenes", clips[0], cwd=tmp_path)
        assert_usage_error(default, "unknown model 'scenes'; bundled models:")


def test_help(tmp_path: Path) -> None:
    options = ("--window", "--hop", "--top-k", "--min-score", "--labels", "--skip-existing")
    assert_help("scenes", *options, *formats("scenes"), cwd=tmp_path)
