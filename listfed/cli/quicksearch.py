"""`listfed [-c FILE] archive search QUERY [--list L] [--limit N] [--all] [--json]`
without typer.

Typer builds a pydantic validator for every parameter it parses, about 0.1 s of a
command that should answer in well under 0.3 s. The plain forms of the one command
people run interactively and from scripts are read here; anything else (help, a
misspelt option, a bad number) goes to typer, which explains it.
"""

from __future__ import annotations

from pathlib import Path

_VALUE = {"--list", "--limit"}


def _parse(argv: list[str]) -> tuple[Path | None, str, str | None, int, bool, bool] | None:
    config: Path | None = None
    words = list(argv)
    while words and words[0] in ("--config", "-c") and len(words) > 1:
        config = Path(words[1])
        words = words[2:]
    if words[:2] != ["archive", "search"]:
        return None
    query: str | None = None
    options: dict[str, str] = {}
    as_json = everything = positional_only = False
    rest = words[2:]
    while rest:
        word = rest.pop(0)
        if positional_only or not word.startswith("-") or word == "-":
            if query is not None:
                return None
            query = word
        elif word == "--":
            positional_only = True
        elif word == "--json":
            as_json = True
        elif word == "--all":
            everything = True
        elif word in _VALUE and rest:
            options[word] = rest.pop(0)
        elif word.startswith("--"):
            return None
        else:  # "-draft minutes": a query that excludes a word, as the full command reads it
            if query is not None:
                return None
            query = word
    limit = options.get("--limit", "20")
    if query is None or not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 1000:
        return None
    return config, query, options.get("--list"), int(limit), as_json, everything


def search(argv: list[str]) -> int | None:
    """Run the search if argv is a plain one; its exit status, else None."""
    parsed = _parse(argv)
    if parsed is None:
        return None
    import typer

    from listfed.cli.archive import run_search
    from listfed.cli.base import State, guarded

    config, query, list_address, limit, as_json, everything = parsed
    try:
        guarded(run_search)(
            State(config_path=config), query, list_address, limit, as_json, everything
        )
    except typer.Exit as done:
        return int(done.exit_code)
    return 0
