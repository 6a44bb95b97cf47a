"""``gabortag eval`` and the evaluation library behind it: references (RTTM, UEM, CSV), the
collar, per-type event matching, file matching and failures, the CLI's output and exit codes,
and the two model cards reproduced (skipped where ``../shared/data`` is absent)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from gabortag.cli.eval import eval_command
from gabortag.errors import AnnotationError, ModelError
from gabortag.inference import load_model
from gabortag.io.annotations import read_rttm, read_speech_reference, read_uem
from gabortag.io.audio import load_audio
from gabortag.tasks.birdcalls.decode import decode_events
from gabortag.tasks.birdcalls.evaluate import (
    evaluate_bird_files,
    evaluate_events,
    frame_classes,
    typed_matches,
)
from gabortag.tasks.vad.api import default_options, detect_speech
from gabortag.tasks.vad.evaluate import (
    FRAME_S,
    Reference,
    evaluate,
    evaluate_vad_files,
    merge_intervals,
    reference_id,
    reference_labels,
)

from _paths import DATA, SHARED  # isort: skip

CLIP = DATA / "speech_noise.flac"
MEETINGS = SHARED / "meetings"
FINCH = SHARED / "bengalese_finch"

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("eval")(eval_command)


@app.callback()
def _root() -> None:
    """Local app: registers only ``eval``."""


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["eval", *map(str, args)], env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def clip_speech() -> list[tuple[float, float]]:
    truth = json.loads((DATA / "speech_noise.json").read_text())
    return [(s["start"], s["end"]) for s in truth["speech"]]


@pytest.fixture
def rttm(tmp_path: Path) -> Path:
    """An RTTM of the clip's true speech (file id ``speech_noise``), two turns per segment that
    overlap, so that only the union's boundaries are boundaries."""
    lines = ["SPKR-INFO speech_noise 1 <NA> <NA> <NA> unknown A <NA> <NA>"]
    for start, end in clip_speech():
        mid = (start + end) / 2
        lines.append(f"SPEAKER speech_noise 1 {start:.3f} {mid + 0.2 - start:.3f} <NA> <NA> A")
        lines.append(f"SPEAKER speech_noise 1 {mid:.3f} {end - mid:.3f} <NA> <NA> B")
    path = tmp_path / "ref.rttm"
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- references


def test_merge_intervals_joins_overlapping_and_touching() -> None:
    assert merge_intervals([(3, 4), (1, 2), (1.5, 2.5), (2.5, 3)]) == [(1, 4)]
    assert merge_intervals([(0, 1), (2, 3)]) == [(0, 1), (2, 3)]
    assert merge_intervals([]) == []


def test_reference_labels_collar_uem_and_union() -> None:
    n = 400  # 4 s
    # two overlapping turns: one speech region [1.0, 3.0); the turn end at 2.0 is no boundary
    plain = reference_labels([(1.0, 2.0), (1.5, 3.0)], n)
    assert plain.dtype == np.int8
    assert (
        plain[100:300].tolist() == [1] * 200 and plain[:100].sum() == 0 and plain[300:].sum() == 0
    )
    collared = reference_labels([(1.0, 2.0), (1.5, 3.0)], n, collar=0.1)
    unscored = np.flatnonzero(collared == -1)
    # centres within 0.1 s of 1.0 and 3.0: frames 90..109 and 290..309
    assert unscored.tolist() == [*range(90, 110), *range(290, 310)]
    assert (collared[collared >= 0] == plain[collared >= 0]).all()
    # a UEM region limits the scored frames; the collar applies inside it
    uem = reference_labels([(1.0, 3.0)], n, regions=[(0.5, 2.0)], collar=0.1)
    assert np.flatnonzero(uem >= 0).tolist() == [*range(50, 90), *range(110, 200)]
    with pytest.raises(ValueError, match="collar"):
        reference_labels([], n, collar=-0.1)


def test_reference_id_is_the_stem_rttm_writers_use() -> None:
    assert reference_id("../x/tst00.flac") == "tst00"
    assert reference_id("C:\\rec\\tst00.wav") == "tst00"
    assert reference_id("a b.flac") == "a_b"
    assert reference_id("noext") == "noext"


def test_rttm_uem_and_csv_readers(tmp_path: Path) -> None:
    rttm = tmp_path / "r.rttm"
    rttm.write_text(";; comment\nSPEAKER f1 1 1.0 0.5 <NA> <NA> A <NA> <NA>\n")
    assert read_rttm(rttm) == {"f1": [(1.0, 1.5)]}
    rttm.write_text("SPEAKER f1 1 1.0 x <NA> <NA> A\n")
    with pytest.raises(AnnotationError, match=r"r\.rttm:1: duration 'x' is not a number"):
        read_rttm(rttm)
    uem = tmp_path / "u.uem"
    uem.write_text(";; c\nf1 1 0.000 30.000\n")
    assert read_uem(uem) == {"f1": [(0.0, 30.0)]}
    with pytest.raises(AnnotationError, match="does not exist"):
        read_uem(tmp_path / "missing.uem")
    csv_path = tmp_path / "speech.csv"
    csv_path.write_text("end,file,start\n2.5,sub/a.wav,1\n4,sub/a.wav,3\n")
    assert read_speech_reference(csv_path) == {"sub/a.wav": [(1.0, 2.5), (3.0, 4.0)]}
    csv_path.write_text("file,start,end\na.wav,2,1\n")
    with pytest.raises(AnnotationError, match=r"speech\.csv:2: end \(1\) must be after start"):
        read_speech_reference(csv_path)
    csv_path.write_text("file,onset_s,offset_s\na.wav,1,2\n")
    with pytest.raises(AnnotationError, match="missing columns start, end"):
        read_speech_reference(csv_path)


# --------------------------------------------------------------------------- vad, library


def test_vad_files_equal_the_frame_protocol_by_hand(rttm: Path) -> None:
    """The files-level evaluation is the frame protocol applied to what ``gabortag vad``
    decides: same scores, same segments, reference from the RTTM."""
    got = evaluate_vad_files("vad", [CLIP], rttm)
    assert got.failures == () and len(got.files) == 1
    assert got.files[0].reference_id == "speech_noise"
    model = load_model("vad")
    wav, info = load_audio(CLIP, model.sample_rate)
    result = detect_speech(CLIP, model=model)
    n = round(info.duration / FRAME_S)
    ref = Reference("speech_noise", CLIP, reference_labels(clip_speech(), n))
    expected = evaluate([ref], [model.score(wav)], model.hop_seconds, [result.segments])
    assert got.overall == expected
    assert got.options == default_options(model)
    # sanity: the bundled model finds this clip's speech
    assert expected.roc_auc > 0.9 and expected.f1 > 0.8
    assert expected.speech_seconds == pytest.approx(3.852, abs=0.021)


def test_csv_reference_equals_rttm(rttm: Path, tmp_path: Path) -> None:
    table = tmp_path / "speech.csv"
    rows = [f"data/speech_noise.flac,{s},{e}" for s, e in clip_speech()]
    table.write_text("file,start,end\n" + "\n".join(rows) + "\n")
    assert evaluate_vad_files("vad", [CLIP], table).overall == (
        evaluate_vad_files("vad", [CLIP], rttm).overall
    )


def test_collar_removes_boundary_frames_and_never_adds_errors(rttm: Path) -> None:
    plain = evaluate_vad_files("vad", [CLIP], rttm).overall
    collared = evaluate_vad_files("vad", [CLIP], rttm, collar=0.25).overall
    assert plain is not None and collared is not None
    # 2 speech regions → 4 boundaries (the overlapping turns add none) × 0.5 s each
    assert plain.scored_seconds - collared.scored_seconds == pytest.approx(2.0, abs=0.025)
    errors = plain.detection_error_rate * plain.speech_seconds
    errors_collared = collared.detection_error_rate * collared.speech_seconds
    assert errors_collared <= errors + 1e-9
    assert errors_collared < errors  # this clip's errors are at the boundaries
    with pytest.raises(ValueError, match="collar"):
        evaluate_vad_files("vad", [CLIP], rttm, collar=-1.0)


def test_files_without_reference_or_unreadable_are_failures(rttm: Path, tmp_path: Path) -> None:
    broken = tmp_path / "speech_noise.wav"  # matches the RTTM, but is not audio
    broken.write_bytes(b"not audio at all")
    got = evaluate_vad_files("vad", [DATA / "noise.flac", CLIP, broken], rttm)
    assert [f.path for f in got.files] == [str(CLIP)]
    assert [f.path for f in got.failures] == [str(DATA / "noise.flac"), str(broken)]
    assert "no reference entry: file id 'noise'" in got.failures[0].reason
    doc = got.to_dict()
    assert doc["schema_version"] and doc["task"] == "vad"
    assert [e["path"] for e in doc["errors"]] == [str(DATA / "noise.flac"), str(broken)]
    nothing = evaluate_vad_files("vad", [DATA / "noise.flac"], rttm)
    assert nothing.overall is None and nothing.to_dict()["metrics"] is None


def test_uem_only_file_is_all_non_speech_and_nan_becomes_null(rttm: Path, tmp_path: Path) -> None:
    uem = tmp_path / "ref.uem"
    uem.write_text("noise 1 0.000 2.000\n")
    got = evaluate_vad_files("vad", [DATA / "noise.flac"], rttm, uem)
    assert got.failures == () and got.overall is not None
    assert got.overall.scored_seconds == pytest.approx(2.0)
    assert got.overall.speech_seconds == 0.0
    assert math.isnan(got.overall.roc_auc)  # one class only
    assert got.to_dict()["metrics"]["roc_auc"] is None
    json.dumps(got.to_dict(), allow_nan=False)


def test_wrong_task_model_and_bad_reference_raise(rttm: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a vad model"):
        evaluate_vad_files("birdcalls", [CLIP], rttm)
    dup = tmp_path / "dup.csv"
    dup.write_text("file,start,end\na/x.wav,0,1\nb/x.flac,0,1\n")
    with pytest.raises(AnnotationError, match="same stem 'x'"):
        evaluate_vad_files("vad", [CLIP], dup)


# --------------------------------------------------------------------------- events


LABELS = ["background", "a", "b"]


def test_typed_matches_are_one_to_one_same_label_greedy_by_overlap() -> None:
    truth = [(0.0, 1.0, "a"), (1.0, 2.0, "a"), (3.0, 4.0, "b")]
    decoded = [
        (0.5, 1.9, "a"),  # overlaps note 0 by 0.5, note 1 by 0.9: goes to note 1
        (0.1, 0.4, "a"),  # then note 0 is free for this one (overlap 0.3)
        (3.0, 4.0, "a"),  # wrong type: no match
        (3.5, 3.6, "b"),
    ]
    assert typed_matches(truth, decoded) == [(0, 1), (1, 0), (2, 3)]
    # one-to-one: two events on one note, only the larger overlap matches
    assert typed_matches([(0.0, 1.0, "a")], [(0.0, 0.3, "a"), (0.3, 1.0, "a")]) == [(0, 1)]
    assert typed_matches([(0.0, 1.0, "a")], [(1.0, 2.0, "a")]) == []  # touching is no overlap
    assert typed_matches([], decoded) == [] and typed_matches(truth, []) == []


def test_per_type_precision_and_recall() -> None:
    hop = 0.01
    truth = [(0.10, 0.20, "a"), (0.30, 0.45, "a"), (0.50, 0.55, "a")]
    decoded = [(0.11, 0.19, "a"), (0.30, 0.45, "b"), (0.50, 0.55, "a"), (0.57, 0.59, "a")]
    probs = np.full((60, 3), 1 / 3, np.float32)
    result = evaluate_events([(probs, truth, decoded)], LABELS, hop)
    a, b = result.per_type
    assert (a.label, a.true_notes, a.decoded_events, a.matched) == ("a", 3, 3, 2)
    assert a.precision == pytest.approx(2 / 3) and a.recall == pytest.approx(2 / 3)
    assert a.f1 == pytest.approx(2 / 3)
    assert (b.true_notes, b.decoded_events, b.matched) == (0, 1, 0)
    assert b.precision == 0.0 and math.isnan(b.recall)
    as_dict = result.to_dict()
    assert as_dict["per_type"]["a"]["precision"] == pytest.approx(0.6667)
    assert as_dict["note_error_rate"] == pytest.approx(result.note_error_rate, abs=1e-4)


def _synthetic_song(path: Path) -> None:
    """3 s at 32 kHz: five rising chirps (80 ms, 2-4 kHz) in faint noise."""
    sr = 32000
    t = np.arange(3 * sr) / sr
    x = 0.003 * np.random.default_rng(0).standard_normal(len(t))
    for k, start in enumerate([0.3, 0.8, 1.3, 1.9, 2.4]):
        m = (t >= start) & (t < start + 0.08)
        u = t[m] - start
        x[m] += 0.3 * np.sin(2 * np.pi * ((2000 + 500 * k) * u + 8000 * u**2)) * np.hanning(m.sum())
    sf.write(path, x.astype(np.float32), sr)


def test_bird_files_equal_event_metrics_by_hand(bird_model: str, tmp_path: Path) -> None:
    song = tmp_path / "song.flac"
    _synthetic_song(song)
    model = load_model(bird_model)
    types = list(model.info.labels[1:])
    table = tmp_path / "notes.csv"
    notes = [(0.3, 0.38, types[0]), (0.8, 0.88, types[1]), (1.9, 1.98, types[0])]
    table.write_text(
        "file,onset_s,offset_s,label\n" + "".join(f"x/song.wav,{a},{b},{c}\n" for a, b, c in notes)
    )
    got = evaluate_bird_files(model, [song, DATA / "noise.flac"], table)
    assert [f.path for f in got.failures] == [str(DATA / "noise.flac")]
    assert "no reference entry: no file 'noise'" in got.failures[0].reason
    wav, info = load_audio(song, model.sample_rate)
    probs = model.score(wav)
    labels = list(model.info.labels)
    opts = got.options
    decoded = [
        (d.start, d.end, d.label)
        for d in decode_events(probs, model.hop_seconds, info.duration, labels, opts)
    ]
    assert got.overall == evaluate_events([(probs, notes, decoded)], labels, model.hop_seconds)
    doc = got.to_dict()
    assert doc["task"] == "birdcalls" and set(doc["metrics"]["per_type"]) == set(types)
    json.dumps(doc, allow_nan=False)


def test_bird_files_scored_against_their_own_events_are_perfect(
    bird_model: str, tmp_path: Path
) -> None:
    from gabortag.tasks.birdcalls.api import detect_calls

    song = tmp_path / "song.flac"
    _synthetic_song(song)
    events = detect_calls(song, model=bird_model).events
    if not events:
        pytest.skip(f"model {bird_model} finds no event in the synthetic song")
    table = tmp_path / "own.csv"
    table.write_text(
        "file,onset_s,offset_s,label\n"
        + "".join(f"song.flac,{e.start},{e.end},{e.label}\n" for e in events)
    )
    got = evaluate_bird_files(bird_model, [song], table).overall
    assert got is not None
    assert got.note_error_rate == 0.0 and got.true_notes == got.decoded_events == len(events)
    assert got.onset_error_ms_median == 0.0 and got.offset_error_ms_median == 0.0
    for t in got.per_type:
        if t.true_notes:
            assert t.precision == t.recall == 1.0


def test_bird_labels_unknown_to_the_model_are_scored_and_counted(
    bird_model: str, tmp_path: Path
) -> None:
    song = tmp_path / "song.flac"
    _synthetic_song(song)
    model = load_model(bird_model)
    known = model.info.labels[1]
    table = tmp_path / "notes.csv"
    rows = [(0.3, 0.38, "trill"), (0.8, 0.88, known), (1.3, 1.38, "0?"), (1.9, 1.98, "trill")]
    table.write_text(
        "file,onset_s,offset_s,label\n" + "".join(f"song.flac,{a},{b},{c}\n" for a, b, c in rows)
    )
    got = evaluate_bird_files(model, [song], table)
    assert got.overall is not None and got.failures == ()
    assert got.overall.untyped_notes == (("0?", 1), ("trill", 2))
    assert got.overall.true_notes == 1
    assert got.overall.segmentation is not None and got.overall.segmentation.true_notes == 4
    ignored = evaluate_bird_files(model, [song], table, ignore_labels=["trill", "0?"])
    assert ignored.overall is not None and ignored.ignored_notes == 3
    assert ignored.overall.untyped_notes == ()
    assert ignored.overall.segmentation is not None
    assert ignored.overall.segmentation.true_notes == 1
    mapped = evaluate_bird_files(model, [song], table, label_map={"trill": known})
    assert mapped.overall is not None and mapped.overall.true_notes == 3
    assert mapped.to_dict()["label_map"] == {"trill": known}
    with pytest.raises(ValueError, match="'nope' is not among the call types"):
        evaluate_bird_files(model, [song], table, label_map={"trill": "nope"})


def test_cli_bird_unknown_labels_ignore_and_segmentation(bird_model: str, tmp_path: Path) -> None:
    song = tmp_path / "song.flac"
    _synthetic_song(song)
    known = load_model(bird_model).info.labels[1]
    table = tmp_path / "notes.csv"
    table.write_text(
        "file,onset_s,offset_s,label\n"
        f"song.flac,0.3,0.38,{known}\nsong.flac,0.8,0.88,0\nsong.flac,1.3,1.38,zz\n"
    )
    code, stdout, stderr = invoke(
        "birdcalls", song, "--reference", table, "-m", bird_model, "--json", "-"
    )
    assert code == 0, stderr
    doc = json.loads(stdout)
    seg = doc["metrics"]["segmentation"]
    assert seg["tolerance_ms"] == 20.0 and seg["true_notes"] == 3
    assert doc["metrics"]["untyped_notes"] == ({"0": 1, "zz": 1} if known != "0" else {"zz": 1})
    assert "segmentation F1 (onset and offset within 20 ms)" in stderr
    assert "'zz' (1 note)" in stderr and "Traceback" not in stderr
    code, stdout, stderr = invoke(
        "birdcalls",
        song,
        "-r",
        table,
        "-m",
        bird_model,
        "--ignore-label",
        "zz",
        "--ignore-label",
        "0",
        "--tolerance",
        "0.05",
        "--json",
        "-",
    )
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["metrics"]["untyped_notes"] == {} and doc["ignored_labels"] == ["0", "zz"]
    assert doc["metrics"]["segmentation"]["tolerance_ms"] == 50.0
    assert "within 50 ms" in stderr
    code, _, stderr = invoke("birdcalls", song, "-r", table, "-m", bird_model, "--map-label", "zz")
    assert code == 2 and "expected REF=TYPE" in stderr


def test_frame_classes_still_refuses_unknown_labels() -> None:
    with pytest.raises(KeyError):
        frame_classes([(0.0, 0.1, "zzz")], LABELS, 10, 0.01)


# --------------------------------------------------------------------------- CLI


def test_cli_vad_table_on_stdout_and_json_file(rttm: Path, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "eval.json"
    code, stdout, stderr = invoke("vad", CLIP, "--reference", rttm, "--json", out)
    assert code == 0, stderr
    for name in ("ROC-AUC", "F1", "detection error rate", "missed", "false alarm"):
        assert name in stdout
    assert "1 evaluated, 0 failed" in stderr
    doc = json.loads(out.read_text())
    expected = evaluate_vad_files("vad", [CLIP], rttm).to_dict()
    assert doc == expected
    assert f"{doc['metrics']['roc_auc']:.4f}" in stdout


def test_cli_json_to_stdout_moves_the_table_to_stderr(rttm: Path) -> None:
    code, stdout, stderr = invoke("vad", CLIP, "-r", rttm, "--collar", "0.25", "--json", "-")
    assert code == 0
    doc = json.loads(stdout)
    assert doc["collar"] == 0.25 and doc["files"][0]["reference_id"] == "speech_noise"
    assert "ROC-AUC" in stderr


def test_cli_file_without_reference_is_reported_and_exits_1(rttm: Path) -> None:
    code, stdout, stderr = invoke("vad", CLIP, DATA / "noise.flac", "-r", rttm)
    assert code == 1
    assert "failed" in stderr and "noise.flac" in stderr and "no reference entry" in stderr
    assert "ROC-AUC" in stdout  # the others are still evaluated
    code, stdout, stderr = invoke("vad", DATA / "noise.flac", "-r", rttm)
    assert code == 1 and "no file could be evaluated" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["speech", "CLIP", "-r", "RTTM"], "unknown task 'speech'"),
        (["vad", "CLIP"], "--reference"),
        (["vad", "CLIP", "-r", "MISSING"], "does not exist"),
        (["birdcalls", "CLIP", "-r", "RTTM", "--collar", "0.5"], "for vad only"),
        (["birdcalls", "CLIP", "-r", "RTTM", "--uem", "RTTM"], "for vad only"),
        (["vad", "CLIP", "-r", "RTTM", "-m", "birdcalls"], "not a vad model"),
        (["vad", "-", "-r", "RTTM"], "standard input"),
        (["vad", "nowhere/*.flac", "-r", "RTTM"], "no audio to evaluate"),
        (["vad", "CLIP", "-r", "RTTM", "--collar", "-1"], "--collar"),
    ],
)
def test_cli_usage_errors_exit_2(rttm: Path, tmp_path: Path, args: list[str], message: str) -> None:
    subst = {"CLIP": str(CLIP), "RTTM": str(rttm), "MISSING": str(tmp_path / "none.rttm")}
    code, _, stderr = invoke(*[subst.get(a, a) for a in args])
    assert code == 2
    assert message in stderr


def test_cli_birdcalls_reports_per_type(bird_model: str, tmp_path: Path) -> None:
    song = tmp_path / "song.flac"
    _synthetic_song(song)
    types = list(load_model(bird_model).info.labels[1:])
    table = tmp_path / "notes.csv"
    table.write_text(f"file,onset_s,offset_s,label\nsong.flac,0.3,0.38,{types[0]}\n")
    code, stdout, stderr = invoke("birdcalls", song, "-m", bird_model, "-r", table)
    assert code == 0, stderr
    for name in ("note error rate", "note-type accuracy", "frame error rate", "per type"):
        assert name in stdout


# --------------------------------------------------------------------------- model cards


@pytest.mark.skipif(not (MEETINGS / "test.rttm").is_file(), reason=f"no meetings at {MEETINGS}")
def test_cli_reproduces_the_vad_card() -> None:
    code, stdout, stderr = invoke(
        "vad",
        "--model",
        "vad",
        MEETINGS / "tst00.flac",
        MEETINGS / "tst01.flac",
        "--reference",
        MEETINGS / "test.rttm",
        "--uem",
        MEETINGS / "test.uem",
        "--json",
        "-",
    )
    assert code == 0, stderr
    card = load_model("vad").card["metrics"]["test"]
    measured = json.loads(stdout)["metrics"]
    assert measured == card  # every number, to the card's 4 digits
    for key, label in (("roc_auc", "ROC-AUC"), ("f1", "F1"), ("detection_error_rate", "error")):
        assert any(label in line and f"{card[key]:.4f}" in line for line in stderr.splitlines())


@pytest.mark.skipif(not (FINCH / "notes.csv").is_file(), reason=f"no finch data at {FINCH}")
def test_cli_reproduces_the_birdcalls_card() -> None:
    card = load_model("birdcalls").card
    files = [FINCH / f for f in card["training"]["test_files"]]
    assert len(files) == 27
    code, stdout, stderr = invoke(
        "birdcalls", *files, "--reference", FINCH / "notes.csv", "--json", "-"
    )
    assert code == 0, stderr
    measured = json.loads(stdout)["metrics"]
    per_type = measured.pop("per_type")
    expected = dict(card["metrics"]["test"])
    assert per_type == expected.pop("per_type", per_type)
    assert {k: measured[k] for k in expected} == expected
    assert sum(t["true_notes"] for t in per_type.values()) == card["metrics"]["test"]["true_notes"]
