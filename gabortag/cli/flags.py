"""Help that shows a flag by its names alone.

The rich help of recent typer versions gives every option a type column, flags included, so
that ``--from-scratch`` reads ``--from-scratch <bool>``, as if it took a value. The commands
and groups made with these classes leave that column empty for flags (an empty metavar), as
typer's help long showed them: ``--from-scratch / --no-from-scratch``, ``--help``. Parsing is
unchanged.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup


def _untyped_flags(params: list[Any]) -> list[Any]:
    """``params``, each flag's metavar (the help's type column) set to empty."""
    for param in params:
        if getattr(param, "is_flag", False) and getattr(param, "metavar", "") is None:
            param.metavar = ""
    return params


class FlagHelpCommand(TyperCommand):
    """A typer command whose help shows flags without a type (see the module docstring)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


class FlagHelpGroup(TyperGroup):
    """A typer group whose help shows flags without a type (see the module docstring)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))
