"""Typer's conversion of parameter values, without pydantic for the plain cases.

Typer turns every value a command receives (an option left out too) into its type
through a pydantic TypeAdapter, built on first use: importing pydantic and building the
adapters takes about 0.15 s, half of what a command may take to start. The values our
commands take are plain (text, lists of text, paths, whole numbers, enum choices); a
valid one is converted here to exactly what typer makes of it, and anything else (every
value typer would refuse, any other type) goes to typer's own conversion, so that its
errors read as typer writes them. tests/test_cli_startup.py compares the two.

This leans on typer's internals (`_TyperParameter._runtime_param`, the type descriptor,
`coerce_cli_path`); should they change, `quicken` leaves the parameters as they are.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any

_WHOLE = re.compile(r"[0-9]{1,18}", re.ASCII)
_UNSURE = object()  # "let typer decide"


class QuickValue:
    """Stands in for typer's lazily built converter of one parameter."""

    def __init__(self, annotation: Any, info: Any, multiple: bool, check_path: Any) -> None:
        self.annotation = annotation
        self.info = info
        self.multiple = multiple
        self.check_path = check_path  # typer's coerce_cli_path

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:  # as typer's RuntimeParam.coerce
            return () if self.multiple else None
        done = self.convert(value, param, ctx)
        if done is not _UNSURE:
            return done
        param._runtime_param = None  # typer builds its own converter and says what is wrong
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        kind, info = self.annotation, self.info
        if info.parser is not None or getattr(ctx, "token_normalize_func", None) is not None:
            return _UNSURE
        if kind is str and not self.multiple:
            return value if isinstance(value, str) else _UNSURE
        if kind == list[str] and self.multiple:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                return _UNSURE
            return list(value)
        if kind is int and not self.multiple:
            return _whole(value, info)
        if isinstance(kind, type) and issubclass(kind, Enum) and not self.multiple:
            found = [c for c in kind if c is value or c.value == value]
            return found[0] if info.case_sensitive and len(found) == 1 else _UNSURE
        if kind is Path and not self.multiple:
            if not isinstance(value, str | Path) or info.path_type not in (None, Path):
                return _UNSURE
            return self.check_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        return _UNSURE


def _whole(value: Any, info: Any) -> Any:
    """A whole number typed in digits (or an int default) within the parameter's range."""
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        number = int(value)
    elif type(value) is int:
        number = value
    else:
        return _UNSURE
    low, high = info.min, info.max
    if info.clamp or (low is not None and number < low) or (high is not None and number > high):
        return _UNSURE
    return number


def quicken(command: Any) -> None:
    """Give every parameter of the command tree our converter, where typer's layout is
    the one this module knows."""
    try:
        from typer._click import Context
        from typer._param_types import coerce_cli_path
    except ImportError:  # another typer: its own conversion throughout
        return
    stack = [command]
    while stack:
        current = stack.pop()
        for param in [*getattr(current, "params", []), _help_option(current, Context)]:
            descriptor = getattr(param, "type_descriptor", None)
            if descriptor is None or getattr(param, "_runtime_param", _UNSURE) is not None:
                continue
            multiple = bool(param.multiple or param.nargs == -1)
            param._runtime_param = QuickValue(
                descriptor.annotation, descriptor.parameter_info, multiple, coerce_cli_path
            )
        stack.extend(getattr(current, "commands", {}).values())


def _help_option(command: Any, context: Any) -> Any:
    """The command's --help option, made now (typer makes it when a run first needs it,
    then keeps it), so that it gets our converter too."""
    try:
        return command.get_help_option(context(command, **(command.context_settings or {})))
    except Exception:  # a layout this module does not know
        return None
