"""Every command word of `listfed`, what it is for, and how a command line is built
with only the commands a run needs imported.

`listfed --help` is written from this table without importing any command module, and
`listfed lists ls` imports cli/lists.py alone: a command starts in a fraction of a
second, Python's start-up included (bench/cli.py measures it).
"""

from __future__ import annotations

import importlib
from collections.abc import Collection

from listfed.cli.base import HELP, App, new_app, root

# Command groups: `listfed WORD ...` is the typer app `app` of listfed/cli/WORD.py.
GROUPS: dict[str, str] = {
    "lists": "Create, list, show, change and delete mailing lists.",
    "members": "Add, list, change and remove the members of a list.",
    "held": "Posts waiting for a moderator: list, show, approve, reject, discard.",
    "queue": "What waits in the queues, and why; retry it now.",
    "routes": "Show the [[route]] entries of the config, check them, try a message on them.",
    "peers": "The listfed nodes this node exchanges signed relays with ([[peer]]).",
    "bridges": "The [[bridge]] entries of the config (lists on other software, reached "
    "through a subscription): their state, and one pass of an IMAP bridge now.",
    "digests": "Digests: the posts collected for members with delivery = digest.",
    "archive": "The archive: search it, read threads, export and import mbox files.",
    "mta": "Settings for the mail server in front of this node.",
}

# Single commands: `listfed WORD` is the function WORD of listfed/cli/MODULE.py; the
# text is the first line of its docstring (tests/test_cli_startup.py checks).
SINGLE: dict[str, tuple[str, str]] = {
    "doctor": (
        "doctor",
        "Print the DNS records each domain needs, ask DNS what they publish, check the node.",
    ),
    "report": (
        "report",
        "How the node's mail fares at each recipient domain, and who bounces.",
    ),
    "init": (
        "node",
        "Write listfed.toml (if absent) and create the data dir, database and node secret.",
    ),
    "serve": (
        "node",
        "Run the daemon in the foreground until SIGTERM or SIGINT; SIGHUP reloads the config.",
    ),
}

EVERY = (*GROUPS, *SINGLE)


def _listed() -> None:
    """A command not loaded in this run: only named in the help (never run)."""


def build(words: Collection[str]) -> App:
    """The command line with the commands in `words` loaded; every other one is listed
    by name and help (for `--help`, and for typer to suggest a misspelt one)."""
    app = new_app(HELP)
    app.callback()(root)
    for word, text in GROUPS.items():
        if word in words:
            module = importlib.import_module(f"listfed.cli.{word}")
            app.add_typer(module.app, name=word)
        else:
            app.add_typer(new_app(text), name=word)
    for word, (name, text) in SINGLE.items():
        if word in words:
            module = importlib.import_module(f"listfed.cli.{name}")
            app.command(word)(getattr(module, word))
        else:
            app.command(word, short_help=text)(_listed)
    return app
