"""The `listfed` entry point. `listfed archive ...` loads only what the archive commands
need (a search answers in a fraction of a second, Python's start-up included); every
other command loads the whole command line."""

from __future__ import annotations

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
    if command_of(sys.argv[1:]) == "archive":
        from listfed.cli import quicksearch

        code = quicksearch.search(sys.argv[1:])
        if code is not None:
            sys.exit(code)
        from listfed.cli import archive
        from listfed.cli.base import HELP, new_app, root

        light = new_app(HELP)
        light.callback()(root)
        light.add_typer(archive.app, name="archive")
        light()
    else:
        from listfed.cli.app import app

        app()
