"""The bundled ``urban`` model: its ONNX file matches its checkpoint, its metadata and manifest
entry state its non-commercial licence, ``gabortag models`` shows it, and (where an
UrbanSound8K folder is given in ``GABORTAG_URBANSOUND8K``) it reproduces its card's fold-10
accuracy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from _cli_helpers import needs_script, run

from gabortag.inference import load_model
from gabortag.models import find_entry, models_dir

URBAN = Path(os.environ.get("GABORTAG_URBANSOUND8K", "/nonexistent"))


def test_licence_is_in_manifest_card_and_metadata() -> None:
    entry = find_entry("urban")
    model = load_model("urban", threads=1)
    assert "non-commercial" in entry.licence
    assert "non-commercial" in model.card["licence"]
    assert find_entry("scenes").licence == ""  # the default model: permissive data only


@needs_script
def test_models_command_shows_the_licence(tmp_path: Path) -> None:
    listing = run("models", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "licence" in listing.stdout and "urban" in listing.stdout
    info = run("models", "info", "urban", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "non-commercial" in json.loads(info.stdout)["licence"]


def test_onnx_matches_checkpoint() -> None:
    torch = pytest.importorskip("torch")
    from gabortag.training.nets.scenenet import from_checkpoint

    model = load_model("urban", threads=1)
    ck = torch.load(models_dir() / model.card["checkpoint"], weights_only=False)
    net = from_checkpoint(ck)
    rng = np.random.default_rng(0)
    batch = (0.05 * rng.standard_normal((2, 64000))).astype(np.float32)
    with torch.no_grad():
        ref = torch.softmax(net(torch.from_numpy(batch)), -1).numpy()
    np.testing.assert_allclose(model.run(batch), ref, atol=1e-4)
    assert list(model.info.labels) == ck["labels"]


@pytest.mark.skipif(not (URBAN / "fold10").is_dir(), reason="set GABORTAG_URBANSOUND8K")
def test_card_fold10_accuracy_is_reproduced() -> None:
    from gabortag.training.recipes.release_urban import fold_files, measure

    model = load_model("urban", threads=1)
    report = measure(model, *fold_files(URBAN, 10))
    card = model.card["metrics"]["urbansound8k_fold10"]
    assert report["accuracy"] == pytest.approx(card["accuracy"], abs=1e-4)
