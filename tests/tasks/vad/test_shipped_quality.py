"""The bundled VAD model on the real meetings recordings (skipped where ../shared/data is absent).

These re-measure the card's numbers with the same evaluation code and hold the model to the
project's quality bar on meetings test: ROC-AUC >= 0.975 and F1 >= 0.86.
"""

from __future__ import annotations

import pytest

from gabortag.inference import load_model
from gabortag.io.audio import load_audio
from gabortag.tasks.vad.api import default_options
from gabortag.tasks.vad.decode import segments_from_scores
from gabortag.tasks.vad.evaluate import evaluate, meetings_split

from _paths import REPO, SHARED  # isort: skip

DATA = SHARED

pytestmark = pytest.mark.skipif(
    not (DATA / "meetings" / "test.lst").is_file(), reason=f"no meetings data at {DATA}"
)


def _measure(split: str) -> dict[str, float]:
    model = load_model("vad", threads=1)
    refs = meetings_split(DATA, split)
    opts = default_options(model)
    probs = [model.score(load_audio(r.audio, model.sample_rate)[0]) for r in refs]
    segs = [
        segments_from_scores(p, model.hop_seconds, len(r.labels) * 0.01, opts)
        for p, r in zip(probs, refs, strict=True)
    ]
    return evaluate(refs, probs, model.hop_seconds, segs).to_dict()


@pytest.mark.parametrize("split", ["development", "test"])
def test_card_metrics_are_reproduced(split: str) -> None:
    card = load_model("vad").card
    measured = _measure(split)
    for key in ("roc_auc", "f1", "detection_error_rate"):
        assert measured[key] == pytest.approx(card["metrics"][split][key], abs=2e-4), key


def test_quality_bar_on_meetings_test() -> None:
    measured = _measure("test")
    assert measured["roc_auc"] >= 0.975
    assert measured["f1"] >= 0.86


FINCH = DATA / "bengalese_finch"


@pytest.mark.skipif(not (FINCH / "notes.csv").is_file(), reason=f"no finch data at {FINCH}")
def test_bird_model_reproduces_its_card_and_meets_the_bar() -> None:
    from gabortag.io.annotations import read_event_annotations
    from gabortag.tasks.birdcalls.api import default_options as bird_options
    from gabortag.tasks.birdcalls.decode import decode_events
    from gabortag.tasks.birdcalls.evaluate import evaluate_events

    model = load_model("birdcalls", threads=1)
    test_files = model.card["training"]["test_files"]
    truth: dict[str, list[tuple[float, float, str]]] = {}
    for a in read_event_annotations(FINCH / "notes.csv"):
        truth.setdefault(a.file, []).append((a.onset_s, a.offset_s, a.label))
    opts = bird_options(model)
    labels = list(model.info.labels)
    files = []
    for f in test_files:
        probs = model.score(load_audio(FINCH / f, model.sample_rate)[0])
        duration = len(probs) * model.hop_seconds
        decoded = [
            (e.start, e.end, e.label)
            for e in decode_events(probs, model.hop_seconds, duration, labels, opts)
        ]
        files.append((probs, truth.get(f, []), decoded))
    measured = evaluate_events(files, labels, model.hop_seconds).to_dict()
    card = model.card["metrics"]["test"]
    for key in ("note_type_accuracy", "note_error_rate", "frame_error_rate"):
        assert measured[key] == pytest.approx(card[key], abs=2e-4), key
    assert measured["note_type_accuracy"] >= 0.98
    assert measured["note_error_rate"] <= 0.03


def test_vad_card_quotes_the_committed_benchmark() -> None:
    # The held-out suites are not in ../shared: the card's numbers must be the ones the
    # committed benchmark run printed (benchmarks/results/vad.json), not typed in by hand.
    import json

    bench = json.loads((REPO / "benchmarks/results/vad.json").read_text())
    ours = bench["all_decisions"]["gabortag"]
    card = load_model("vad").card["metrics"]
    names = {"auc": "roc_auc", "f1": "f1", "der": "detection_error_rate"}
    for suite in ("development", "test"):
        for group, measured in card["held_out"][suite].items():
            key = f"{suite} (pooled)" if group == "pooled" else f"{suite}/{group}"
            for b, c in names.items():
                assert round(ours[key]["segments"][b], 4) == measured[c], (key, b)
