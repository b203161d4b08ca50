"""`listfed routes ...`"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from listfed.cli.base import JsonOption, emit, new_app, state, table
from listfed.cli.commands import GROUPS
from listfed.config.settings import RouteConfig
from listfed.errors import ListfedError

# `routes check` and `routes test` import what they run when they run, on a plain
# connection (no SQLAlchemy); `routes ls` only reads the config.

app = new_app(GROUPS["routes"])


def _plain(value: object) -> object:
    """A match table (read-only mappings inside) as plain dicts, for JSON."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _inline(value: object) -> str:
    """A match value as it is written in TOML."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def describe(route: RouteConfig) -> dict[str, Any]:
    return {
        "name": route.name,
        "from": route.from_,
        "to": list(route.to),
        "match": _plain(route.match),
        "follow_thread": route.follow_thread,
        "forward": route.forward,
        "prefix": route.prefix,
    }


@app.command("ls")
def ls(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List every [[route]]: from which list, to which targets, on what match."""
    routes = state(ctx).config.routes
    data = [describe(r) for r in routes]

    def text() -> str:
        rows = [
            [
                r.name,
                r.from_,
                ", ".join(r.to),
                ", ".join(f"{k} = {_inline(v)}" for k, v in r.match.items())
                or "(none: shared threads only)",
                "yes" if r.follow_thread else "no",
                "yes" if r.forward else "no",
                r.prefix or "",
            ]
            for r in routes
        ]
        header = ["NAME", "FROM", "TO", "MATCH", "FOLLOW", "FORWARD", "PREFIX"]
        return table(rows, header) or "no routes: add [[route]] entries to the config"

    emit(as_json, data, text)


@app.command()
def check(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Check the routes against the lists here and the peers; exit 1 on any error."""
    from listfed.context import node_settings
    from listfed.federation import check as checking

    st = state(ctx)
    node = node_settings(st.config)
    with st.plain() as conn:
        report = checking.check(node, checking.lists_in(conn))
    if as_json:
        data = {"errors": report.errors, "warnings": report.warnings, "info": report.info}
        emit(True, data, str)
    else:
        for line in report.warnings:
            typer.echo(f"warning: {line}")
        for line in report.info:
            typer.echo(f"info: {line}")
        for line in report.errors:
            typer.echo(f"error: {line}", err=True)
        count = f"{report.routes} route{'' if report.routes == 1 else 's'}"
        if report.errors:
            typer.echo(f"{count}, {len(report.errors)} error(s)", err=True)
        else:
            typer.echo(f"ok: {count}, no errors")
    if report.errors:
        raise typer.Exit(1)


@app.command("test")
def try_message(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(metavar="FILE.eml", help="The message, as it would arrive.")
    ],
    address: Annotated[
        str,
        typer.Option("--list", metavar="LIST@DOMAIN", help="The list to try it on."),
    ],
    as_json: bool = JsonOption,
) -> None:
    """Show which routes would relay a message posted to a list, and why; sends nothing."""
    from listfed.context import node_settings
    from listfed.db import listrows
    from listfed.federation.trial import trial

    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ListfedError(f"cannot read {file}: {exc.strerror or exc}") from None
    st = state(ctx)
    node = node_settings(st.config.need_secrets("peer"))  # a signed relay is checked
    with st.plain() as conn:
        lst = listrows.find(conn, address)
        result = trial(conn, node, lst, raw)
    message = result.post.message
    data = {
        "list": lst.address,
        "message_id": message.message_id,
        "drop": result.drop,
        "hops": [
            {"route": h.route.name, "target": h.target, "relay": h.go, "reason": h.reason}
            for h in result.hops
        ],
    }

    def text() -> str:
        generated = " (generated: the file has no Message-ID)" if message.generated_id else ""
        lines = [
            f"message <{message.message_id}>{generated} tried on {lst.address}: "
            "a simulation, nothing is sent or stored"
        ]
        if result.drop is not None:
            lines.append(f"the list would drop it: {result.drop}")
            lines.append("so no route would run; were it new, the routes would say:")
        lines += [
            f"route {h.route.name} -> {h.target}: {'relay' if h.go else 'no'} ({h.reason})"
            for h in result.hops
        ]
        if not result.hops:
            lines.append(f"no route starts at {lst.address}")
        return "\n".join(lines)

    emit(as_json, data, text)
