"""`listfed digests ...`"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from listfed.cli.base import new_app, state
from listfed.cli.commands import GROUPS

app = new_app(GROUPS["digests"])


@app.command()
def send(
    ctx: typer.Context,
    list_address: Annotated[
        str | None, typer.Argument(help="Only this list (LIST@DOMAIN); default: every list.")
    ] = None,
) -> None:
    """Send pending digests now, whatever their size and period; the daemon delivers them."""
    from listfed.digests import collect

    with state(ctx).write_plain() as conn:
        sent = collect.send_pending(conn, list_address, time.time())
    for address, count in sent.items():
        if count:
            typer.echo(f"{address}: digest of {count} post(s) queued")
    if not any(sent.values()):
        typer.echo("no digest pending")
