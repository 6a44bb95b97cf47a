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
    spec = gabortag.TaskSpec("vad", options={"pad": 0.1})   # many files, 4 processes
    for outcome in gabortag.process_files(spec, paths, jobs=4):
        print(outcome.path)                                  # a VadResult or a Failure

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
    "Failure",
    "GabortagError",
    "ModelError",
    "SceneOptions",
    "SceneResult",
    "Segment",
    "TaskSpec",
    "VadOptions",
    "VadResult",
    "__version__",
    "detect_calls",
    "detect_speech",
    "load_model",
    "process_files",
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
    "TaskSpec": "gabortag.tasks",
    "Failure": "gabortag.batch",
    "process_files": "gabortag.parallel",
}

if TYPE_CHECKING:
    from .batch import Failure
    from .birdcalls import detect_calls
    from .errors import AnnotationError, AudioError, GabortagError, ModelError
    from .events import EventOptions
    from .inference import load_model
    from .parallel import process_files
    from .postprocess import VadOptions
    from .results import Event, EventResult, SceneResult, Segment, VadResult
    from .scenes import SceneOptions, tag_scenes
    from .tasks import TaskSpec
    from .vad import detect_speech


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gabortag' has no attribute {name!r}")
