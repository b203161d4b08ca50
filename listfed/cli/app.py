"""The whole command line, every command loaded: for tests and for programs that drive
listfed in-process. The `listfed` command loads only the one it runs (cli/main.py)."""

from __future__ import annotations

from listfed.cli.commands import EVERY, build

app = build(EVERY)
