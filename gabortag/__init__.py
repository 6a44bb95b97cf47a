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
    report = gabortag.tag_files(spec, ["calls/"], "out/", "csv", jobs=4)  # what the CLI runs
    print(report.summary.processed, report.summary.failed)

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
    "OptionError",
    "SceneOptions",
    "SceneResult",
    "Segment",
    "SegmentOptions",
    "TaskSpec",
    "VadOptions",
    "VadResult",
    "__version__",
    "detect_calls",
    "detect_speech",
    "load_model",
    "process_files",
    "tag_files",
    "tag_scenes",
]

_LAZY = {
    "detect_speech": "gabortag.tasks.vad.api",
    "detect_calls": "gabortag.tasks.birdcalls.api",
    "EventOptions": "gabortag.tasks.birdcalls.decode",
    "SegmentOptions": "gabortag.tasks.birdcalls.segment_options",
    "Event": "gabortag.tasks.results",
    "EventResult": "gabortag.tasks.results",
    "AnnotationError": "gabortag.errors",
    "load_model": "gabortag.inference",
    "VadOptions": "gabortag.tasks.vad.decode",
    "VadResult": "gabortag.tasks.results",
    "Segment": "gabortag.tasks.results",
    "AudioError": "gabortag.errors",
    "GabortagError": "gabortag.errors",
    "ModelError": "gabortag.errors",
    "OptionError": "gabortag.errors",
    "tag_scenes": "gabortag.tasks.scenes.api",
    "SceneOptions": "gabortag.tasks.scenes.api",
    "SceneResult": "gabortag.tasks.results",
    "TaskSpec": "gabortag.batch.spec",
    "Failure": "gabortag.batch.run",
    "process_files": "gabortag.batch",
    "tag_files": "gabortag.batch",
}

if TYPE_CHECKING:
    from .batch import process_files, tag_files
    from .batch.run import Failure
    from .batch.spec import TaskSpec
    from .errors import AnnotationError, AudioError, GabortagError, ModelError, OptionError
    from .inference import load_model
    from .tasks.birdcalls.api import detect_calls
    from .tasks.birdcalls.decode import EventOptions
    from .tasks.birdcalls.segment_options import SegmentOptions
    from .tasks.results import Event, EventResult, SceneResult, Segment, VadResult
    from .tasks.scenes.api import SceneOptions, tag_scenes
    from .tasks.vad.api import detect_speech
    from .tasks.vad.decode import VadOptions


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gabortag' has no attribute {name!r}")
