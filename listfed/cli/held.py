"""`listfed held ...`"""

from __future__ import annotations

from typing import Annotated

import typer

from listfed.cli.base import JsonOption, emit, new_app, state, table
from listfed.cli.commands import GROUPS
from listfed.ops import listings

# Each command imports the operations it runs when it runs; they read and write with
# plain sqlite3 (state.plain, state.write_plain) and load no SQLAlchemy.

app = new_app(GROUPS["held"])

Id = Annotated[int, typer.Argument(help="The held message's id (see `held ls`).")]


@app.command("ls")
def ls(
    ctx: typer.Context,
    list_address: Annotated[str | None, typer.Argument(help="Only this list.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """List held posts with the reason each waits."""
    with state(ctx).plain() as conn:
        data = listings.held(conn, list_address)
    emit(
        as_json,
        data,
        lambda: (
            table(
                [
                    [str(d["id"]), d["list"], d["sender"], d["subject"][:40], d["reason"]]
                    for d in data
                ],
                ["ID", "LIST", "SENDER", "SUBJECT", "REASON"],
            )
            or "nothing is held"
        ),
    )


@app.command()
def show(ctx: typer.Context, held_id: Id, as_json: bool = JsonOption) -> None:
    """Show a held post: why it waits, its headers and the start of its body."""
    from listfed.db.listrows import by_id
    from listfed.mail.message import parse
    from listfed.ops import held

    with state(ctx).plain() as conn:
        row = held.get(conn, held_id)
        data = held.describe(row, by_id(conn, row.list_id).address)
        body = parse(held.raw(conn, row)).body_text
    data["body_start"] = body[:2000]
    emit(
        as_json,
        data,
        lambda: "\n".join(
            [f"{k}: {v}" for k, v in data.items() if k != "body_start"] + ["", body[:2000]]
        ),
    )


@app.command()
def approve(
    ctx: typer.Context,
    held_id: Id,
    always: Annotated[
        bool,
        typer.Option(
            "--always",
            help="Also let the sender post without moderation from now on (a member loses "
            "its moderation flag; a non-member joins accept_these_nonmembers).",
        ),
    ] = False,
) -> None:
    """Let the post through to the list (the running daemon delivers it)."""
    from listfed.ops import held

    with state(ctx).write_plain() as conn:
        approval = held.approve(conn, held_id, always=always)
    typer.echo(f"approved {held_id}: queued as q{approval.queue_id}")
    if approval.also:
        typer.echo(approval.also)


@app.command()
def reject(
    ctx: typer.Context,
    held_id: Id,
    reason: Annotated[str, typer.Option(help="Told to the sender.")] = "",
) -> None:
    """Refuse the post and tell its sender, with the reason."""
    from listfed.ops import held

    with state(ctx).write_plain() as conn:
        held.reject(conn, held_id, reason)
    typer.echo(f"rejected {held_id}")


@app.command()
def discard(ctx: typer.Context, held_id: Id) -> None:
    """Drop the post silently."""
    from listfed.ops import held

    with state(ctx).write_plain() as conn:
        held.discard(conn, held_id)
    typer.echo(f"discarded {held_id}")
