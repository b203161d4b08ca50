"""`listfed queue ...`"""

from __future__ import annotations

from typing import Annotated

import typer

from listfed.cli.base import JsonOption, emit, new_app, state, table
from listfed.cli.commands import GROUPS
from listfed.ops import listings

# Each command imports the operations it runs (and SQLAlchemy with them) when it runs.

app = new_app(GROUPS["queue"])


@app.command("ls")
def ls(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Show intake items (q…) and deliveries (d…) that wait, with attempts and errors."""
    with state(ctx).plain() as conn:
        data = listings.queue(conn)

    def text() -> str:
        rows = [
            [
                d["id"],
                d["kind"],
                d["list"],
                str(len(d["recipients"])),
                str(d["attempts"]),
                d["next_attempt"],
                d["why"],
                d["last_error"][:60],
            ]
            for d in data
        ]
        header = ["ID", "KIND", "LIST", "RCPTS", "TRIES", "NEXT", "WHY", "LAST ERROR"]
        return table(rows, header) or "the queues are empty"

    emit(as_json, data, text)


@app.command()
def retry(
    ctx: typer.Context,
    ident: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="q12 or d34 from `queue ls`; all when left out."),
    ] = None,
) -> None:
    """Make waiting or failed items due now (the running daemon picks them up)."""
    from listfed.ops import queue

    with state(ctx).write_plain() as conn:
        count = queue.retry(conn, ident)
    typer.echo(f"{count} item(s) due now")
