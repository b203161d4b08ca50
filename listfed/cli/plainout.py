"""Output and failures without typer: what `emit` and `guarded` (cli/base.py) do, shared
with the quick `archive search` (cli/quicksearch.py), which must not import typer (about
35 ms of a search from the shell)."""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Callable

from listfed.errors import ListfedError
from listfed.records import TYPE_CHECKING

if TYPE_CHECKING:  # not typing itself: 3 ms of a search from the shell
    from typing import Any, NoReturn

Say = Callable[[str], None]

# what typer's echo removes from text written to anything but a terminal (compiled by
# the first text that holds an escape: a search from the shell does without re)
_ANSI = r"\033\[[;?0-9]*[a-zA-Z]"


def _ascii(stream: Any) -> bool:
    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "ascii"
    except LookupError:
        return False


def plain_streams() -> bool:
    """Whether `echo` writes as typer's echo would: both streams there and not ASCII-only
    (typer writes UTF-8 to those; the full command line is left to do that)."""
    return all(s is not None and not _ascii(s) for s in (sys.stdout, sys.stderr))


def echo(text: str) -> None:
    """A line on stdout, as typer.echo writes it (on `plain_streams`)."""
    _write(sys.stdout, text)


def echo_err(text: str) -> None:
    """A line on stderr, as typer.echo(..., err=True) writes it (on `plain_streams`)."""
    _write(sys.stderr, text)


def _write(stream: Any, text: str) -> None:
    out = text + "\n"
    if "\033" in out and not stream.isatty():
        import re

        out = re.sub(_ANSI, "", out)
    stream.write(out)
    stream.flush()


def emit(as_json: bool, data: Any, text: Callable[[], str], say: Say) -> None:
    """Print JSON (an array or object) or the human text, through `say`."""
    if as_json:
        import json

        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        out = text()
        if out:
            say(out)


def leave(code: int) -> NoReturn:
    """End a command that has closed what it opened: its output flushed, the process ends
    with `code` at once, leaving the interpreter's teardown (every module and object
    freed one by one: about 7 ms of a search from the shell) to the kernel. Should the
    flush fail, Python's own exit deals with it (and says so) as it would have."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def status_of(exc: Exception, say_err: Say) -> int:
    """The exit status of a command that raised `exc`, said in one line on stderr, never
    a traceback (LISTFED_DEBUG=1: raised again, to see where)."""
    if isinstance(exc, ListfedError):
        say_err(f"listfed: {exc}")
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):  # the reader went away (`... -o - | head`): say
        import contextlib  # here only: a search from the shell does without it

        with contextlib.suppress(OSError, ValueError):  # nothing, and write nothing at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if os.environ.get("LISTFED_DEBUG"):
        raise exc
    say_err(
        f"listfed: internal error: {type(exc).__name__}: {exc} (set LISTFED_DEBUG=1 to see where)"
    )
    return 1
