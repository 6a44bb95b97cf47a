"""The bundled `scenes` model: it hears speech in the project's synthesised speech clip and not
in synthesised noise, its ONNX file matches its torch checkpoint, and (where ../shared/data is
present) it reproduces its card's ESC-10 fold-5 accuracy; its card quotes the committed
cross-validation of its recipe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _cli_helpers import needs_script, run

from gabortag.inference import load_model
from gabortag.models import models_dir

from _paths import REPO, SHARED  # isort: skip

ROOT = REPO
CLIPS = ROOT / "tests" / "data"
DATA = SHARED


def _top_labels(path: Path) -> list[str]:
    from gabortag.tasks.scenes.api import tag_scenes

    result = tag_scenes(str(path), model="scenes")
    return [w.labels[0].label for w in result.windows if w.labels]


def test_speech_clip_is_speech() -> None:
    tops = _top_labels(CLIPS / "speech_noise.flac")
    assert tops and tops.count("speech") > len(tops) / 2, tops


def test_noise_clip_is_not_speech() -> None:
    tops = _top_labels(CLIPS / "noise.flac")
    assert tops and "speech" not in tops, tops


@needs_script
def test_cli_summary_names_speech(tmp_path: Path) -> None:
    done = run("scenes", CLIPS / "speech_noise.flac", "--top-k", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["files"][0]["summary"]
    assert summary[0]["label"] == "speech"


def test_onnx_matches_checkpoint() -> None:
    torch = pytest.importorskip("torch")
    from gabortag.io.audio import load_audio
    from gabortag.training.nets.scenenet import from_checkpoint

    model = load_model("scenes", threads=1)
    ck = torch.load(models_dir() / model.card["checkpoint"], weights_only=False)
    net = from_checkpoint(ck)
    wav, _ = load_audio(str(CLIPS / "speech_noise.flac"), model.sample_rate)
    rng = np.random.default_rng(0)
    batch = np.stack([wav[:80000], (0.05 * rng.standard_normal(80000)).astype(np.float32)])
    with torch.no_grad():
        ref = torch.softmax(net(torch.from_numpy(batch)), -1).numpy()
    np.testing.assert_allclose(model.run(batch), ref, atol=1e-4)
    assert list(model.info.labels) == ck["labels"]


@pytest.mark.skipif(not (DATA / "esc10" / "meta.csv").is_file(), reason=f"no ESC-10 at {DATA}")
def test_card_fold5_accuracy_is_reproduced(tmp_path: Path) -> None:
    from gabortag.tasks.scenes.evaluate import evaluate_scene_files

    result = evaluate_scene_files("scenes", _fold5(), threads=1)
    assert result.overall is not None
    card = load_model("scenes").card["metrics"]["esc10_fold5"]
    assert result.overall["accuracy"] == pytest.approx(card["accuracy"], abs=1e-4)


def _fold5() -> list[Path]:
    rows = (DATA / "esc10" / "meta.csv").read_text().splitlines()[1:]
    return [DATA / "esc10" / r.split(",")[0] for r in rows if r.split(",")[2] == "5"]


@pytest.mark.skipif(not (DATA / "esc10" / "meta.csv").is_file(), reason=f"no ESC-10 at {DATA}")
def test_per_file_top_is_what_eval_scores(tmp_path: Path) -> None:
    """On the 80 held-out ESC-10 clips (77 of them 5.001 s long), the ``top`` label that
    ``gabortag scenes`` writes for each file, through the batch the command runs, is the label
    ``gabortag eval scenes`` predicts for it, with the same score; and the summary leads with
    it."""
    import gabortag
    from gabortag.tasks.scenes.evaluate import evaluate_scene_files

    files = _fold5()
    out = tmp_path / "fold5.json"
    report = gabortag.tag_files(gabortag.TaskSpec("scenes", threads=1), files, str(out), jobs=1)
    assert (report.summary.processed, report.summary.failed) == (80, 0)
    tagged = json.loads(out.read_text())["files"]
    scored = evaluate_scene_files("scenes", files, threads=1)
    assert [f["path"] for f in tagged] == [f.path for f in scored.files]
    for f, e in zip(tagged, scored.files, strict=True):
        assert f["top"]["label"] == e.predicted, f["path"]
        assert f["top"]["score"] == pytest.approx(e.score, abs=1e-4), f["path"]
        assert f["summary"][0]["label"] == f["top"]["label"], f["path"]
        # no window of the 1 ms that most clips have beyond 5 s
        assert all(w["end"] - w["start"] >= 2.5 for w in f["windows"]), f["path"]


def test_card_quotes_the_committed_cross_validation() -> None:
    """The card's cross-validation of its recipe is the committed benchmark result, which
    measures that recipe (``--recipe shipped``) on all five folds."""
    results = ROOT / "benchmarks" / "results" / "esc10.json"
    doc = json.loads(results.read_text())
    assert doc["recipe"] == "shipped"
    (gabor,) = [r for r in doc["cross_validation"] if r["first_layer"] == "gabor"]
    card = load_model("scenes").card
    quoted = card["recipe_cross_validation"]
    assert quoted["fold_accuracy"] == gabor["fold_accuracy"]
    assert quoted["folds"] == [1, 2, 3, 4, 5]
    assert quoted["mean_accuracy"] == pytest.approx(sum(gabor["fold_accuracy"]) / 5, abs=1e-4)
    assert gabor["parameters"] == card["parameters"]
