"""A tiny sound-scenes ONNX model for the tests, built with ``onnx.helper`` (no training).

The graph maps ``waveform`` ``(batch, samples)`` to ``scores`` ``(batch, 5)``: the softmax of
``[mean, rms, 1] @ WEIGHTS`` per row, where ``mean`` and ``rms`` are those of the row's samples.
It reads sample ``MIN_SAMPLES - 1`` of every row, so onnxruntime fails on a window shorter than
``gabortag.min_samples``: a runtime that forgets to fill short windows is caught.

Label behaviour (with the weights below): silence is ``background``; a loud zero-mean signal is
``chainsaw`` (rms above 0.55) or ``speech`` (rms 0.1-0.5); a positive offset is ``music``, a
negative one ``birdsong``. :func:`reference_scores` computes the same in NumPy.

``tests/conftest.py`` registers the ``scenes_model`` fixture: the path of the model file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

LABELS = ["speech", "music", "birdsong", "chainsaw", "background"]
SAMPLE_RATE = 8000
RECEPTIVE_FIELD = 8000  # default window: 1 s
HOP = 4000  # default hop: 0.5 s
MIN_SAMPLES = 2000  # 0.25 s
POSTPROCESS = {"top_k": 2, "min_score": 0.1}

#: Rows: mean, rms, bias; columns: LABELS.
WEIGHTS = np.array(
    [
        [0.0, 40.0, -40.0, 0.0, 0.0],
        [20.0, 0.0, 0.0, 40.0, -10.0],
        [-1.0, -3.0, -3.0, -12.0, 2.0],
    ],
    dtype=np.float32,
)


def reference_scores(windows: np.ndarray) -> np.ndarray:
    """What the graph computes, ``(batch, samples)`` → ``(batch, 5)``, in NumPy (float64)."""
    x = np.asarray(windows, dtype=np.float64)
    features = np.stack([x.mean(axis=1), np.sqrt((x * x).mean(axis=1)), np.ones(len(x))], axis=1)
    logits = features @ WEIGHTS.astype(np.float64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def metadata(**changes: str) -> dict[str, str]:
    """The model's ONNX metadata; ``changes`` replace entries (an empty string drops one)."""
    meta = {
        "gabortag.task": "scenes",
        "gabortag.name": "scenes-tiny",
        "gabortag.version": "0",
        "gabortag.sample_rate": str(SAMPLE_RATE),
        "gabortag.labels": json.dumps(LABELS),
        "gabortag.receptive_field": str(RECEPTIVE_FIELD),
        "gabortag.hop": str(HOP),
        "gabortag.left_pad": "0",
        "gabortag.min_samples": str(MIN_SAMPLES),
        "gabortag.postprocess": json.dumps(POSTPROCESS),
    }
    meta.update(changes)
    return {k: v for k, v in meta.items() if v}


def build(path: Path, **changes: str) -> Path:
    """Write the tiny model to ``path`` (metadata changed by ``changes``, see :func:`metadata`)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value: np.ndarray) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))

    nodes = [
        const("axis1", np.array([1], np.int64)),
        const("probe_index", np.array(MIN_SAMPLES - 1, np.int64)),
        const("zero", np.array(0.0, np.float32)),
        const("ones_col", np.ones((1, 1), np.float32)),
        const("weights", WEIGHTS),
        helper.make_node("ReduceMean", ["waveform"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["waveform", "waveform"], ["square"]),
        helper.make_node("ReduceMean", ["square"], ["mean_square"], axes=[1], keepdims=1),
        helper.make_node("Sqrt", ["mean_square"], ["rms"]),
        # sample MIN_SAMPLES - 1 of each row, times 0: out of range (an error) for short rows
        helper.make_node("Gather", ["waveform", "probe_index"], ["probe"], axis=1),
        helper.make_node("Mul", ["probe", "zero"], ["probe0"]),
        helper.make_node("Unsqueeze", ["probe0", "axis1"], ["probe_col"]),
        helper.make_node("Add", ["ones_col", "probe_col"], ["bias"]),
        helper.make_node("Concat", ["mean", "rms", "bias"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "weights"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["scores"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "scenes_tiny",
        [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch", "samples"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", len(LABELS)])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, metadata(**changes))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="session")
def scenes_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path (for ``-m``) of the tiny scenes model."""
    pytest.importorskip("onnx", reason="building the tiny scenes model needs onnx")
    return str(build(tmp_path_factory.mktemp("scenes_model") / "scenes-tiny.onnx"))
