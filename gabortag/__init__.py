"""gabortag: audio tagging with small, interpretable Gabor (STRF) networks.

Python API::

    import gabortag
    result = gabortag.detect_speech("meeting.wav")          # bundled "vad" model
    for seg in result.segments:
        print(seg.start, seg.end)
    model = gabortag.load_model("vad", threads=1)
    probs = model.score(wav16k)                              # frame probabilities, 20 ms hop
    calls = gabortag.detect_calls("dawn.flac")               # bird calls: typed events
    for e in calls.events:
        print(e.start, e.end, e.label, e.confidence, e.low_freq, e.high_freq)
    scenes = gabortag.tag_scenes("street.wav", model="scenes.onnx")  # labels per window
    for w in scenes.windows:
        print(w.start, w.end, [(lab.label, lab.score) for lab in w.labels])

Heavy modules (numpy, onnxruntime) are imported on first use, so ``gabortag --help`` is instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AnnotationError",
    "AudioError",
    "Event",
    "EventOptions",
    "EventResult",
    "GabortagError",
    "ModelError",
    "SceneOptions",
    "SceneResult",
    "Segment",
    "VadOptions",
    "VadResult",
    "__version__",
    "detect_calls",
    "detect_speech",
    "load_model",
    "tag_scenes",
]

_LAZY = {
    "detect_speech": "gabortag.vad",
    "detect_calls": "gabortag.birdcalls",
    "EventOptions": "gabortag.events",
    "Event": "gabortag.results",
    "EventResult": "gabortag.results",
    "AnnotationError": "gabortag.errors",
    "load_model": "gabortag.inference",
    "VadOptions": "gabortag.postprocess",
    "VadResult": "gabortag.results",
    "Segment": "gabortag.results",
    "AudioError": "gabortag.errors",
    "GabortagError": "gabortag.errors",
    "ModelError": "gabortag.errors",
    "tag_scenes": "gabortag.scenes",
    "SceneOptions": "gabortag.scenes",
    "SceneResult": "gabortag.results",
}

if TYPE_CHECKING:
    from .birdcalls import detect_calls
    from .errors import AnnotationError, AudioError, GabortagError, ModelError
    from .events import EventOptions
    from .inference import load_model
    from .postprocess import VadOptions
    from .results import Event, EventResult, SceneResult, Segment, VadResult
    from .scenes import SceneOptions, tag_scenes
    from .vad import detect_speech


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gabortag' has no attribute {name!r}")
