"""What every ``gabortag`` command shares: the one error printer, the one device option, and
the map from the library's option fields to the command-line flags.

Library errors name fields (:class:`gabortag.errors.OptionError` ``.field``: ``thresholds``,
``labels``, ``window_s``); only the CLI knows its flags, so :func:`flag_message` turns
``"thresholds: ..."`` into ``"--threshold: ..."`` here and nowhere else.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

#: The ``--device`` option of every command that runs a model.
DeviceOption = Annotated[
    str, typer.Option(help="Where the model runs: cpu, cuda or auto (cuda when available).")
]


def check_device(device: str) -> str:
    """``device`` when it is one of :data:`gabortag.runtime.DEVICES`, else a usage error."""
    from ..runtime import check_device as check

    try:
        return check(device).value
    except ValueError as err:
        raise error(str(err)) from None


#: The flag of each library option field that a command exposes under another name.
OPTION_FLAGS = {
    "output": "-o",
    "fmt": "-f",
    "thresholds": "--threshold",
    "window_s": "--window",
    "hop_s": "--hop",
    "threshold": "--energy-threshold",  # the segmenter's, not a call type's
    "ignore_labels": "--ignore-label",
    "label_map": "--map-label",
}


def flag_of(field: str) -> str:
    """The command-line flag of library option ``field`` (``min_gap`` → ``--min-gap``)."""
    return OPTION_FLAGS.get(field, "--" + field.replace("_", "-"))


def flag_message(err: Exception) -> str:
    """``str(err)``, with the option field an :class:`~gabortag.errors.OptionError` names
    written as the command's flag."""
    from ..errors import OptionError

    if isinstance(err, OptionError):
        return err.render(flag_of)
    return str(err)


def stderr() -> Console:
    """A rich console on standard error, no highlighting, long lines kept whole."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


# Characters that would break a message's line or drive the terminal: C0 and C1 controls,
# and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with its control characters written as Python escapes (a newline in a file
    name becomes ``\\n``), so that a message stays on one line."""
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def escape(text: str) -> str:
    """User text (paths, reasons) inside rich markup: brackets are literal, and control
    characters are escaped (:func:`one_line`)."""
    from rich.markup import escape as rich_escape

    return rich_escape(one_line(text))


def error(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: MESSAGE`` (one line) on standard error; the exit to raise with ``code``
    (2: a usage error, 1: the work failed). Usage: ``raise error("...")``."""
    stderr().print(f"[bold red]error:[/] {escape(message)}", markup=True)
    return typer.Exit(code)
