"""Devices and onnxruntime installs: the provider that ran is in the results; CUDA requests
and a broken onnxruntime / onnxruntime-gpu mix give errors that say what to do."""

from __future__ import annotations

import builtins
import json
import sys
import types
from typing import Any

import pytest

from gabortag import runtime
from gabortag.errors import ModelError
from gabortag.tasks.results import VadResult
from gabortag.tasks.vad.api import detect_speech

from _paths import SPEECH  # isort: skip

CLIP = SPEECH


def test_results_name_the_provider_that_ran() -> None:
    result = detect_speech(CLIP, threads=1)
    assert result.provider == "CPUExecutionProvider"
    doc = result.to_dict()
    assert doc["provider"] == "CPUExecutionProvider"
    assert list(doc)[:6] == ["path", "duration", "sample_rate", "channels", "model", "provider"]
    assert VadResult.from_dict(json.loads(json.dumps(doc))).provider == "CPUExecutionProvider"


def test_results_without_a_provider_leave_it_out() -> None:
    assert "provider" not in VadResult("a.wav", 1.0, "m", ()).to_dict()


def _installed(monkeypatch: pytest.MonkeyPatch, names: list[str]) -> None:
    monkeypatch.setattr(runtime, "installed_runtimes", lambda: names)


def _without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.SimpleNamespace(
        InferenceSession=object, get_available_providers=lambda: ["CPUExecutionProvider"]
    )
    monkeypatch.setattr(runtime, "_ort", lambda: fake)


def test_cuda_without_a_provider_says_how_to_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_cuda(monkeypatch)
    _installed(monkeypatch, ["onnxruntime"])
    with pytest.raises(ModelError, match="no CUDA provider") as err:
        runtime.providers_for("cuda")
    assert runtime.GPU_SWAP in str(err.value) and "use device cpu" in str(err.value)
    assert isinstance(err.value, ModelError) and err.value.field == "device"
    assert "--device" in err.value.render(lambda name: "--" + name)  # as the CLI says it
    assert runtime.providers_for("auto") == ["CPUExecutionProvider"]


def test_cuda_with_both_packages_names_the_mix(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_cuda(monkeypatch)
    _installed(monkeypatch, ["onnxruntime", "onnxruntime-gpu"])
    with pytest.raises(ModelError, match="both installed") as err:
        runtime.providers_for("cuda")
    assert runtime.GPU_SWAP in str(err.value)
    assert runtime.providers_for("cpu") == ["CPUExecutionProvider"]


def test_unimportable_mix_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uninstalling one of the two packages deletes files the other needs."""
    _installed(monkeypatch, ["onnxruntime", "onnxruntime-gpu"])
    real_import = builtins.__import__

    def broken(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "onnxruntime":
            raise ImportError("cannot import name 'InferenceSession'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "onnxruntime", raising=False)
    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(ModelError, match="not importable") as err:
        runtime.providers_for("cpu")
    assert runtime.GPU_SWAP in str(err.value)


def test_half_removed_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", types.ModuleType("onnxruntime"))
    with pytest.raises(ModelError, match="broken") as err:
        runtime.providers_for("cpu")
    assert runtime.GPU_SWAP in str(err.value)


def test_installed_runtimes_reads_pip_metadata() -> None:
    assert "onnxruntime" in runtime.installed_runtimes() or "onnxruntime-gpu" in (
        runtime.installed_runtimes()
    )
