"""Fixtures shared by test modules: ``bird_model``, a bird-call model (see ``_bird_model``), and
``scenes_model``, a tiny sound-scenes model (see ``_scenes_model``)."""

from __future__ import annotations

from _bird_model import bird_model
from _scenes_model import scenes_model

__all__ = ["bird_model", "scenes_model"]
