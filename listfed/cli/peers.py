"""`listfed peers ...`"""

from __future__ import annotations

import secrets

import typer

from listfed.cli.base import JsonOption, emit, new_app, state, table
from listfed.cli.commands import GROUPS

app = new_app(GROUPS["peers"])


@app.command("ls")
def ls(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List every [[peer]]: its node name, mail domains, how relays reach it and its web
    face, which network searches ask (never the secret)."""
    peers = state(ctx).config.peers
    data = [
        {
            "name": p.name,
            "node": p.node,
            "domains": list(p.domains),
            "smtp": p.smtp or "",
            "secret_set": bool(p.secret),
            "trust": p.trust,
            "web": p.web,
        }
        for p in peers
    ]

    def text() -> str:
        rows = [
            [
                p.name,
                p.node,
                ", ".join(p.domains) or "(none: nothing is signed for it)",
                p.smtp or "via smarthost",
                p.web or "-",
            ]
            for p in peers
        ]
        return table(rows, ["NAME", "NODE", "DOMAINS", "SMTP", "WEB"]) or "no peers in the config"

    emit(as_json, data, text)


@app.command()
def keygen() -> None:
    """Print a new random secret for a [[peer]] entry; both nodes use the same one."""
    typer.echo(secrets.token_urlsafe(32))
    typer.echo(
        'put it in [[peer]] secret on both nodes, best as "env:VAR" or "file:PATH"', err=True
    )
