"""The installed ``gabortag`` console script, run in a subprocess: exit codes, outputs, errors.

Exit codes: 0 all inputs done, 1 some input failed, 2 usage error. Results go to stdout or
``-o``; progress, errors and the summary go to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import gabortag
from gabortag.io.formats import EXTENSIONS, FORMATS

from _cli_helpers import needs_script, run  # isort: skip
from _paths import DATA  # isort: skip

SPEECH = DATA / "speech_noise.flac"


pytestmark = needs_script


def python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def reference() -> gabortag.VadResult:
    """The library's result for the speech clip, to compare the CLI outputs with."""
    return gabortag.detect_speech(SPEECH)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A copy of the speech clip in the working folder, so that paths in outputs are short."""
    shutil.copy(SPEECH, tmp_path / "speech.flac")
    return tmp_path / "speech.flac"


def wav(path: Path, data: np.ndarray, rate: int = 16_000, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, rate, subtype=subtype)
    return path


def noise(n: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    shape = (n,) if channels == 1 else (n, channels)
    return np.random.default_rng(seed).normal(0.0, 0.02, shape).astype(np.float32)


# --------------------------------------------------------------------------- basics


def test_help_and_version(tmp_path: Path) -> None:
    started = time.perf_counter()
    done = run("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "vad" in done.stdout and "models" in done.stdout
    done = run("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"gabortag {gabortag.__version__}"
    assert time.perf_counter() - started < 10  # generous: the machine may be busy


def test_vad_without_inputs_is_a_usage_error(tmp_path: Path) -> None:
    done = run("vad", cwd=tmp_path)
    assert done.returncode == 2
    assert "Missing argument" in done.stderr
    assert done.stdout == ""


def test_unknown_format_names_the_valid_ones(tmp_path: Path, clip: Path) -> None:
    done = run("vad", clip, "-f", "xml", cwd=tmp_path)
    assert done.returncode == 2
    assert "'xml'" in done.stderr
    for fmt in FORMATS:
        assert fmt in done.stderr
    assert done.stdout == ""


def test_default_json_on_stdout_and_summary_on_stderr(
    tmp_path: Path, clip: Path, reference: gabortag.VadResult
) -> None:
    done = run("vad", clip.name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # stdout holds nothing but the result
    assert doc["schema_version"] == "1.0" and doc["task"] == "vad"
    assert doc["errors"] == []
    (item,) = doc["files"]
    assert item["path"] == "speech.flac"
    assert item["segments"] == reference.to_dict()["segments"]
    assert "scores" not in item
    assert "1 input: 1 done, 0 skipped, 0 failed" in done.stderr
    assert "Traceback" not in done.stderr


def test_scores(tmp_path: Path, clip: Path) -> None:
    done = run("vad", clip, "--scores", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)["files"]
    assert item["scores"]["hop"] == 0.02
    values = item["scores"]["values"]
    assert len(values) == math.ceil(sf.info(str(clip)).duration / 0.02)
    assert all(0.0 <= v <= 1.0 for v in values)


def test_options_reach_the_library(tmp_path: Path, clip: Path) -> None:
    done = run("vad", clip, "--onset", "1", "--offset", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"][0]["segments"] == []
    done = run("vad", clip, "--onset", "0.3", "--offset", "0.6", cwd=tmp_path)
    assert done.returncode == 2
    assert "offset" in done.stderr and "onset" in done.stderr


# --------------------------------------------------------------------------- formats


def check_format(fmt: str, text: str, reference: gabortag.VadResult) -> None:
    """Parse ``text`` back minimally and compare it with the reference segments."""
    expected = [(round(s.start, 3), round(s.end, 3)) for s in reference.segments]
    assert expected, "the speech clip should have speech"
    lines = text.splitlines()
    if fmt == "json":
        doc = json.loads(text)
        assert doc["schema_version"] == "1.0"
        got = [(s["start"], s["end"]) for s in doc["files"][0]["segments"]]
    elif fmt == "jsonl":
        records = [json.loads(line) for line in lines]
        assert len(records) == 1 and records[0]["schema_version"] == "1.0"
        got = [(s["start"], s["end"]) for s in records[0]["segments"]]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert all(r["path"] == "speech.flac" for r in rows)
        got = [(float(r["start"]), float(r["end"])) for r in rows]
        for r in rows:
            assert float(r["duration"]) == pytest.approx(float(r["end"]) - float(r["start"]))
    elif fmt == "rttm":
        fields = [line.split() for line in lines]
        assert all(len(f) == 10 and f[0] == "SPEAKER" and f[1] == "speech" for f in fields)
        assert all(f[7] == "speech" for f in fields)
        got = [(float(f[3]), round(float(f[3]) + float(f[4]), 3)) for f in fields]
    elif fmt == "audacity":
        cols = [line.split("\t") for line in lines]
        assert all(len(c) == 3 and c[2] == "speech" for c in cols)
        got = [(round(float(c[0]), 3), round(float(c[1]), 3)) for c in cols]
    elif fmt == "textgrid":
        assert "IntervalTier" in text
        xmax = float(re.search(r"^xmax = (\S+)", text, re.M).group(1))  # type: ignore[union-attr]
        assert xmax == pytest.approx(reference.duration, abs=1e-6)
        assert text.count('text = "speech"') == len(expected)
        return
    else:  # pragma: no cover
        raise AssertionError(fmt)
    assert len(got) == len(expected)
    assert [t for span in got for t in span] == pytest.approx(
        [t for span in expected for t in span], abs=1e-9
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_to_stdout_and_to_a_file(
    tmp_path: Path, clip: Path, fmt: str, reference: gabortag.VadResult
) -> None:
    done = run("vad", clip.name, "-f", fmt, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    check_format(fmt, done.stdout, reference)

    target = f"result{EXTENSIONS[fmt]}"
    done_file = run("vad", clip.name, "-f", fmt, "-o", target, "-q", cwd=tmp_path)
    assert done_file.returncode == 0, done_file.stderr
    assert done_file.stdout == "" and done_file.stderr == ""
    assert (tmp_path / target).is_file()
    text = (tmp_path / target).read_text(encoding="utf-8")
    assert text == done.stdout  # the same document either way
    check_format(fmt, text, reference)
    if fmt == "json":  # a second run refuses to overwrite the file, before doing any work
        again = run("vad", clip.name, "-f", fmt, "-o", target, cwd=tmp_path)
        assert again.returncode == 2 and "--force" in again.stderr


def test_output_file_extension_is_case_insensitive(tmp_path: Path, clip: Path) -> None:
    done = run("vad", clip.name, "-f", "textgrid", "-o", "result.textgrid", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "result.textgrid").is_file()  # one file, not a folder of that name
    assert "IntervalTier" in (tmp_path / "result.textgrid").read_text(encoding="utf-8")


def test_textgrid_with_two_inputs_to_stdout_is_a_usage_error(tmp_path: Path, clip: Path) -> None:
    other = wav(tmp_path / "other.wav", noise(16_000))
    done = run("vad", clip, other, "-f", "textgrid", cwd=tmp_path)
    assert done.returncode == 2
    assert "textgrid" in done.stderr and "-o DIR" in done.stderr
    assert done.stdout == ""


# --------------------------------------------------------------------------- folders


def leftover_tmp(root: Path) -> list[str]:
    return [name for _, _, files in os.walk(root) for name in files if name.endswith(".tmp")]


def test_output_dir_mirrors_the_input_tree(tmp_path: Path) -> None:
    (tmp_path / "in" / "a" / "b").mkdir(parents=True)
    shutil.copy(SPEECH, tmp_path / "in" / "a" / "b" / "x.flac")
    wav(tmp_path / "in" / "a" / "y.wav", np.zeros(8_000, np.float32))
    outputs = [tmp_path / "out" / "a" / "b" / "x.json", tmp_path / "out" / "a" / "y.json"]

    done = run("vad", "in", "-o", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file()) == sorted(outputs)
    for path in outputs:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["schema_version"] == "1.0" and len(doc["files"]) == 1
    assert json.loads(outputs[0].read_text())["files"][0]["segments"]
    assert json.loads(outputs[1].read_text())["files"][0]["segments"] == []
    assert leftover_tmp(tmp_path) == []

    # A marker in one output shows whether later runs rewrite it.
    outputs[1].write_text("stale", encoding="utf-8")
    again = run("vad", "in", "-o", "out", cwd=tmp_path)
    assert again.returncode == 1
    for path in ("in/a/b/x.flac", "in/a/y.wav"):
        assert re.search(rf"failed {re.escape(path)}: output .* exists", again.stderr)
    assert outputs[1].read_text(encoding="utf-8") == "stale"

    skip = run("vad", "in", "-o", "out", "--skip-existing", cwd=tmp_path)
    assert skip.returncode == 0, skip.stderr
    assert "2 skipped" in skip.stderr
    assert outputs[1].read_text(encoding="utf-8") == "stale"

    force = run("vad", "in", "-o", "out", "--force", cwd=tmp_path)
    assert force.returncode == 0, force.stderr
    assert "2 done" in force.stderr
    assert json.loads(outputs[1].read_text(encoding="utf-8"))["files"][0]["path"] == "in/a/y.wav"
    assert leftover_tmp(tmp_path) == []


def test_output_dir_name_clash_is_a_failure_not_an_overwrite(tmp_path: Path) -> None:
    wav(tmp_path / "in" / "x.wav", np.zeros(8_000, np.float32))
    shutil.copy(SPEECH, tmp_path / "in" / "x.flac")
    done = run("vad", "in", "-o", "out", "--force", cwd=tmp_path)
    assert done.returncode == 1
    assert "same name" in done.stderr
    # The first input in order (x.flac) keeps its output.
    doc = json.loads((tmp_path / "out" / "x.json").read_text(encoding="utf-8"))
    assert doc["files"][0]["path"] == "in/x.flac"


def test_skip_existing_needs_an_output_dir(tmp_path: Path, clip: Path) -> None:
    done = run("vad", clip, "--skip-existing", cwd=tmp_path)
    assert done.returncode == 2 and "-o DIR" in done.stderr


def test_stdin(tmp_path: Path, reference: gabortag.VadResult) -> None:
    done = run("vad", "-", cwd=tmp_path, stdin=SPEECH.read_bytes())
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)["files"]
    assert item["path"] == "-"
    assert item["segments"] == reference.to_dict()["segments"]


# --------------------------------------------------------------------------- bad inputs


def test_bad_inputs_do_not_stop_the_batch(tmp_path: Path, clip: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    data = SPEECH.read_bytes()
    (tmp_path / "truncated.flac").write_bytes(data[: len(data) // 2])
    (tmp_path / "x.wav").write_text("this is not audio\n", encoding="utf-8")
    nan = noise(16_000)
    nan[8_000] = np.nan
    wav(tmp_path / "nan.wav", nan, subtype="FLOAT")
    (tmp_path / "folder").mkdir()
    must_fail = {
        "empty.wav": "empty file",
        "truncated.flac": "truncated or corrupt",
        "x.wav": "not a readable audio file",
        "nan.wav": "non-finite samples",
        "folder": "no audio files",
    }
    wav(tmp_path / "silent.wav", np.zeros(48_000, np.float32))
    wav(tmp_path / "one.wav", np.array([0.1], np.float32))
    wav(tmp_path / "eight.wav", noise(16_000, channels=8))
    wav(tmp_path / "hi.wav", noise(192_000), rate=192_000)
    wav(tmp_path / "pcm24.wav", noise(16_000), subtype="PCM_24")
    must_pass = {"silent.wav", "one.wav", "eight.wav", "hi.wav", "pcm24.wav"}
    inputs = ["speech.flac", "empty.wav", "truncated.flac", "x.wav", "silent.wav", "nan.wav"]
    inputs += ["one.wav", "eight.wav", "hi.wav", "pcm24.wav", "folder"]

    done = run("vad", *inputs, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    for name, reason in must_fail.items():
        assert re.search(rf"failed {re.escape(name)}: .*{reason}", done.stderr), name
    assert f"{len(inputs)} inputs: 6 done, 0 skipped, 5 failed" in done.stderr

    doc = json.loads(done.stdout)
    files = {f["path"]: f for f in doc["files"]}
    assert set(files) == must_pass | {"speech.flac"}
    assert [f["path"] for f in doc["files"]] == [i for i in inputs if i in files]  # input order
    assert {e["path"] for e in doc["errors"]} == set(must_fail)
    for error in doc["errors"]:
        assert must_fail[error["path"]] in error["error"]
    assert files["speech.flac"]["segments"]
    assert files["silent.wav"]["segments"] == []
    assert files["silent.wav"]["duration"] == 3.0
    assert files["eight.wav"]["channels"] == 8
    assert files["hi.wav"]["sample_rate"] == 192_000
    assert files["one.wav"]["duration"] == pytest.approx(1 / 16_000, abs=1e-3)


def test_missing_files(tmp_path: Path, clip: Path) -> None:
    shutil.copy(clip, tmp_path / "second.flac")
    done = run("vad", "speech.flac", "missing.wav", "second.flac", cwd=tmp_path)
    assert done.returncode == 1
    assert "missing.wav: no such file" in done.stderr
    doc = json.loads(done.stdout)
    assert [f["path"] for f in doc["files"]] == ["speech.flac", "second.flac"]
    assert [e["path"] for e in doc["errors"]] == ["missing.wav"]

    done = run("vad", "missing.wav", "gone/*.flac", cwd=tmp_path)
    assert done.returncode == 2
    assert "missing.wav" in done.stderr and "gone/*.flac" in done.stderr
    assert done.stdout == ""


# --------------------------------------------------------------------------- models and device


def test_models_list_and_info(tmp_path: Path) -> None:
    done = run("models", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"\bvad\b", done.stdout)
    done = run("models", "info", "vad", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert "metrics" in card and card["task"] == "vad"
    assert re.fullmatch(r"[0-9a-f]{64}", card["sha256"])
    done = run("models", "info", "nope", cwd=tmp_path)
    assert done.returncode == 2
    assert "nope" in done.stderr and "vad" in done.stderr


def test_unknown_model_is_a_usage_error(tmp_path: Path, clip: Path) -> None:
    done = run("vad", clip, "-m", "nope", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown model 'nope'" in done.stderr and "vad" in done.stderr


def test_cuda_without_a_cuda_provider(tmp_path: Path, clip: Path) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has a CUDA provider")
    done = run("vad", clip, "--device", "cuda", cwd=tmp_path)
    assert done.returncode == 2
    assert "CUDA" in done.stderr and "--device cpu" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


# --------------------------------------------------------------------------- imports


def test_inference_imports_no_torch(tmp_path: Path, clip: Path) -> None:
    code = f"""
import sys
sys.argv = ["gabortag", "vad", "-q", {str(clip)!r}]
from gabortag.cli import main
try:
    main()
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
assert "onnxruntime" in sys.modules
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx"))
assert not heavy, heavy[:10]
print("ok", file=sys.stderr)
"""
    done = python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"][0]["segments"]


def test_help_imports_neither_numpy_nor_onnxruntime(tmp_path: Path) -> None:
    code = """
import sys
from gabortag.cli import app
for args in (["--help"], ["vad", "--help"], ["models", "--help"], ["--version"]):
    try:
        app(args)
    except SystemExit as exit:
        assert exit.code in (0, None), (args, exit.code)
heavy = [m for m in ("numpy", "onnxruntime", "torch", "soundfile", "soxr") if m in sys.modules]
assert not heavy, heavy
"""
    done = python(code, tmp_path)
    assert done.returncode == 0, done.stderr


def test_library_option_errors_become_flags_in_the_cli(tmp_path: Path) -> None:
    """The library names options (``output``, ``force``); the command names its flags."""
    import gabortag

    target = tmp_path / "taken.json"
    target.write_text("{}")
    with pytest.raises(gabortag.errors.OptionError) as err:
        gabortag.tag_files(gabortag.TaskSpec("vad"), [str(SPEECH)], str(target), "json")
    assert err.value.field == "output" and "--" not in str(err.value)
    assert str(err.value) == f"output {target}: file exists; add force to overwrite it"
    done = run("vad", SPEECH, "-o", target, cwd=tmp_path)
    assert done.returncode == 2
    assert f"error: -o {target}: file exists; add --force to overwrite it" in done.stderr
