"""A bird-call model for the tests that need one: the bundled ``birdcalls`` model when the
manifest has it, else a tiny random network exported with torch (the ``train`` extra), else the
test is skipped with the reason.

``tests/conftest.py`` registers the fixture, so a test just names it (``bird_model``: a
session-scoped fixture giving a model name or an ``.onnx`` path for ``-m``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from gabortag.models import manifest

#: Labels of the tiny model: background, then nine call types named "0".."8".
TINY_LABELS = ["background", *map(str, range(9))]

#: ``gabortag.freq_range`` of the tiny model (Hz): its mel filterbank's range.
TINY_FREQ_RANGE = (500.0, 12000.0)


def _export_tiny(path: Path) -> None:
    """Export a random 10-class network at 32 kHz, 10 ms hop, with the runtime's metadata."""
    from gabortag.training.export import export_onnx, gabor_parameters, json_meta
    from gabortag.training.nets.framenet import VadConfig, VadNet

    config = VadConfig(
        sample_rate=32000,
        win_length=640,
        mel_hop=320,
        n_mels=64,
        f_min=TINY_FREQ_RANGE[0],
        f_max=TINY_FREQ_RANGE[1],
        kernel_size=(9, 15),
        gabor_stride=1,
        n_outputs=len(TINY_LABELS),
        n_kernels=4,
        channels=8,
        dilations=(1,),
    )
    net = VadNet(config, seed=0).eval()
    metadata = {
        "gabortag.task": "birdcalls",
        "gabortag.name": "bird-tiny",
        "gabortag.version": "0",
        "gabortag.sample_rate": str(config.sample_rate),
        "gabortag.hop": str(net.hop),
        "gabortag.receptive_field": str(net.receptive_field),
        "gabortag.left_pad": str(net.left_pad),
        "gabortag.labels": json.dumps(TINY_LABELS),
        "gabortag.freq_range": json.dumps(list(TINY_FREQ_RANGE)),
        "gabortag.postprocess": json.dumps(
            {"min_confidence": 0.5, "min_duration": 0.02, "min_gap": 0.01, "thresholds": {}}
        ),
        "gabortag.config": json_meta(config.to_dict()),
        "gabortag.gabor": json_meta(gabor_parameters(net.gabor)),  # type: ignore[arg-type]
    }
    export_onnx(net, path, metadata, net.receptive_field + net.hop * 50)


@pytest.fixture(scope="session")
def bird_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``-m`` argument of a bird-call model (see the module docstring)."""
    if any(e.name == "birdcalls" for e in manifest()):
        return "birdcalls"
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("onnx") is None:
        pytest.skip("no bundled birdcalls model, and no torch/onnx to build a tiny one")
    path = tmp_path_factory.mktemp("bird_model") / "bird-tiny.onnx"
    _export_tiny(path)
    return str(path)
