"""Worker targets for the ``--jobs`` tests: module-level functions, so that spawned worker
processes import them by name."""

from __future__ import annotations

import os

from gabortag.batch.run import Failure
from gabortag.batch.spec import TaskSpec, run_item
from gabortag.io.discover import InputItem
from gabortag.tasks.results import VadResult


def die_on_crash(spec: TaskSpec, item: InputItem) -> VadResult | Failure:
    """:func:`gabortag.batch.spec.run_item`, except that the worker process given an input whose
    name starts with ``crash`` dies at once, as one killed or out of memory does."""
    if os.path.basename(item.source).startswith("crash"):
        os._exit(3)
    return run_item(spec, item)  # type: ignore[return-value]
