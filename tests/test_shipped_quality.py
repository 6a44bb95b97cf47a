"""The bundled VAD model on the real meetings recordings (skipped where ../shared/data is absent).

These re-measure the card's numbers with the same evaluation code and hold the model to the
project's quality bar on meetings test: ROC-AUC >= 0.975 and F1 >= 0.86.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gabortag.audio import load_audio
from gabortag.evaluation import evaluate, meetings_split
from gabortag.inference import load_model
from gabortag.postprocess import segments_from_scores
from gabortag.vad import default_options

DATA = Path(os.environ.get("GABORTAG_DATA", Path(__file__).parents[1] / ".." / "shared" / "data"))

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
