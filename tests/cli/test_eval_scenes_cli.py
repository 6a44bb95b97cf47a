"""``gabortag eval scenes`` through the console script: its tables fit the terminal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf

import _scenes_model as tiny  # isort: skip
from _cli_helpers import needs_script, run  # isort: skip

pytestmark = needs_script


#: Labels longer than a confusion column can hold in 80 columns.
LONG_LABELS = [
    "speech_of_people_talking",
    "music_from_a_radio_far_away",
    "birdsong_of_the_dawn_chorus",
    "chainsaw_cutting_down_trees",
    "background_of_a_quiet_room",
]


def test_eval_scenes_tables_fit_80_columns(tmp_path: Path) -> None:
    """Every line of the tables fits 80 columns and no label is cut (``…``): the confusion
    table numbers its labels, a legend names the predicted labels that are no row."""
    model = tiny.build(tmp_path / "long.onnx", **{"gabortag.labels": json.dumps(LONG_LABELS)})
    rng = np.random.default_rng(0)
    kinds = {
        "speech_of_people_talking": 0.2 * rng.standard_normal(8000),
        "music_from_a_radio_far_away": np.full(8000, 0.3),
        "chainsaw_cutting_down_trees": np.zeros(8000),  # silence: predicted background
    }
    for label, x in kinds.items():
        (tmp_path / "clips" / label).mkdir(parents=True)
        sf.write(tmp_path / "clips" / label / "x.wav", x.astype(np.float32), 8000)
    done = run("eval", "scenes", "clips", "-m", str(model), cwd=tmp_path, columns=80)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(map(len, lines)) <= 80, done.stdout
    assert "…" not in done.stdout
    assert "background_of_a_quiet_room" in done.stdout  # predicted, not a true label
    for label in kinds:
        assert label in done.stdout
    assert "columns: predicted labels, numbered as the rows; 4 background_of_a_quiet_room" in (
        " ".join(done.stdout.split())
    )
    (row,) = [line for line in lines if line.split()[:2] == ["3", "chainsaw_cutting_down_trees"]]
    assert row.split()[2:] == [".", ".", "1"]  # predicted 4: background


def test_a_confusion_too_wide_for_the_console_is_listed() -> None:
    from rich.console import Console

    from gabortag.cli.eval import _confusion_table

    conf = {
        "labels": LONG_LABELS[:3],
        "predicted_labels": LONG_LABELS,
        "rows": [[1, 0, 0, 0, 2], [0, 3, 0, 0, 0], [0, 1, 1, 1, 1]],
    }
    wide, narrow = (Console(width=w, record=True, file=io.StringIO()) for w in (80, 30))
    for console in (wide, narrow):
        _confusion_table(console, conf)
    text = wide.export_text()
    assert "…" not in text and "5 background_of_a_quiet_room" in " ".join(text.split())
    listed = " ".join(narrow.export_text().split())  # long lines wrap at spaces
    assert "…" not in listed
    assert "speech_of_people_talking → background_of_a_quiet_room: 2" in listed
    assert listed.count(" → ") == 1 + 7  # the heading, and every non-empty cell


def test_eval_scenes_json_has_the_envelope_of_the_other_tasks(
    tmp_path: Path, scenes_model: str
) -> None:
    rng = np.random.default_rng(1)
    (tmp_path / "speech").mkdir()
    sf.write(tmp_path / "speech" / "a.wav", (0.2 * rng.standard_normal(8000)).astype("f4"), 8000)
    done = run("eval", "scenes", "speech", "-m", scenes_model, "--json", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["schema_version"], doc["tool"], doc["task"]) == ("1.0", "gabortag", "scenes")
    assert doc["metrics"]["accuracy"] == 1.0 and doc["overall"] == doc["metrics"]
    assert doc["errors"] == [] and [f["predicted"] for f in doc["files"]] == ["speech"]
