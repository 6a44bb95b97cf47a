"""Fixtures shared by test modules: ``bird_model``, a bird-call model (see ``_bird_model``)."""

from __future__ import annotations

from _bird_model import bird_model

__all__ = ["bird_model"]
