"""The `listfed` entry point: it loads only the command asked for (cli/commands.py), and
`archive search` not even typer nor the full config check (cli/quicksearch.py)."""

from __future__ import annotations

import gc
import sys

_GLOBAL_WITH_VALUE = ("--config", "-c")


def command_of(argv: list[str]) -> str | None:
    """The command word after the global options, if any."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _GLOBAL_WITH_VALUE:
            i += 2
        elif word.startswith("-"):
            i += 1
        else:
            return word
    return None


def main() -> None:
    word = command_of(sys.argv[1:])
    if word == "archive":
        # A search from the shell makes few objects and no cycles worth collecting; the
        # collections its imports set off take 1 to 2 ms of the 50 it may take.
        gc.disable()
        from listfed.cli import plainout, quicksearch

        code = quicksearch.search(sys.argv[1:])
        if code is not None:
            plainout.leave(code)
        gc.enable()
    from listfed.cli.commands import build

    build({word} if word else set())()
