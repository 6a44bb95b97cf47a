"""gabortag: audio tagging with small, interpretable Gabor (STRF) networks.

Python API::

    import gabortag
    result = gabortag.detect_speech("meeting.wav")          # bundled "vad" model
    for seg in result.segments:
        print(seg.start, seg.end)
    model = gabortag.load_model("vad", threads=1)
    probs = model.score(wav16k)                              # frame probabilities, 20 ms hop

Heavy modules (numpy, onnxruntime) are imported on first use, so ``gabortag --help`` is instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "GabortagError",
    "ModelError",
    "Segment",
    "VadOptions",
    "VadResult",
    "__version__",
    "detect_speech",
    "load_model",
]

_LAZY = {
    "detect_speech": "gabortag.vad",
    "load_model": "gabortag.inference",
    "VadOptions": "gabortag.postprocess",
    "VadResult": "gabortag.results",
    "Segment": "gabortag.results",
    "AudioError": "gabortag.errors",
    "GabortagError": "gabortag.errors",
    "ModelError": "gabortag.errors",
}

if TYPE_CHECKING:
    from .errors import AudioError, GabortagError, ModelError
    from .inference import load_model
    from .postprocess import VadOptions
    from .results import Segment, VadResult
    from .vad import detect_speech


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gabortag' has no attribute {name!r}")
