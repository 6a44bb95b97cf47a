"""Writing results of any task to text, and reading Raven tables back (for the writer tests)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from gabortag.io.formats import Result, get_writer


def write_one(fmt: str, result: Result, *, task: str) -> str:
    """The complete ``fmt`` output of one ``task`` result."""
    buf = io.StringIO()
    get_writer(fmt, task).write_one(result, buf)
    return buf.getvalue()


def write_combined(
    fmt: str, results: Sequence[Result], errors: Sequence[str] = (), *, task: str
) -> str:
    """One combined ``fmt`` output of ``results``, then a failure for each path in ``errors``."""
    buf = io.StringIO()
    writer = get_writer(fmt, task)
    writer.begin(buf, n_files=len(results) + len(errors))
    for result in results:
        writer.write_item(result, buf)
    for path in errors:
        writer.write_error(path, f"{path}: not audio", buf)
    writer.end(buf)
    return buf.getvalue()


def parse_raven(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a Raven selection table."""
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = list(reader)
    return list(reader.fieldnames or []), rows
