"""`listfed members ...`"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from listfed.cli.base import JsonOption, emit, new_app, state, table
from listfed.cli.commands import GROUPS
from listfed.listinfo import DeliveryMode, Role
from listfed.ops import listings

if TYPE_CHECKING:
    from listfed.ops.members import AddResult

# The commands import the operations they run when they run: `--help`, and a mistyped
# command, answer at once. Every command here works on a plain sqlite3 connection
# (state.plain, state.write_plain) and loads no SQLAlchemy.

app = new_app(GROUPS["members"])

ListArg = Annotated[str, typer.Argument(help="The list's address, LIST@DOMAIN.")]


def _report(result: AddResult, quiet: bool = False) -> None:
    for address in [] if quiet else result.added:
        typer.echo(f"added {address}")
    for address in [] if quiet else result.skipped:
        typer.echo(f"skipped {address} (already a member)")
    for _entry, why in result.invalid:
        typer.echo(f"invalid: {why}", err=True)
    typer.echo(
        f"{len(result.added)} added, {len(result.skipped)} skipped, {len(result.invalid)} invalid"
    )
    if result.invalid:
        raise typer.Exit(1)


@app.command()
def add(
    ctx: typer.Context,
    list_address: ListArg,
    addresses: Annotated[list[str], typer.Argument(help='Addresses; "Name <addr>" allowed.')],
    role: Annotated[Role, typer.Option(help="member, moderator or owner.")] = Role.MEMBER,
    delivery: Annotated[DeliveryMode, typer.Option(help="How they get posts.")] = (
        DeliveryMode.REGULAR
    ),
    welcome: Annotated[
        bool,
        typer.Option(help="Send each new member the list's welcome message (the daemon sends it)."),
    ] = False,
) -> None:
    """Add members directly, without confirmation. Invalid addresses are reported; exit 1."""
    from listfed.context import node_settings
    from listfed.ops import members
    from listfed.ops.node import node_secret

    st = state(ctx)
    with st.write_plain() as conn:
        node = node_settings(st.config, node_secret(st.config)) if welcome else None
        result = members.add(conn, list_address, addresses, role, delivery, welcome=node)
    if welcome and result.added:
        typer.echo(f"welcome queued for {len(result.added)}")
    _report(result)


@app.command("import")
def import_(
    ctx: typer.Context,
    list_address: ListArg,
    file: Annotated[
        Path,
        typer.Argument(
            help="One address per line; blank and # lines skipped.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only the summary (and invalid entries, on stderr)."
        ),
    ] = False,
) -> None:
    """Add every address in a file; reports added / skipped / invalid."""
    from listfed.ops import members

    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    entries = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    with state(ctx).write_plain() as conn:
        result = members.add(conn, list_address, entries)
    _report(result, quiet)


@app.command()
def remove(
    ctx: typer.Context,
    list_address: ListArg,
    addresses: Annotated[list[str], typer.Argument(help="Addresses to remove.")],
) -> None:
    """Remove members."""
    from listfed.ops import members

    with state(ctx).write_plain() as conn:
        members.remove(conn, list_address, addresses)
    typer.echo(f"removed {len(addresses)}")


@app.command("ls")
def ls(ctx: typer.Context, list_address: ListArg, as_json: bool = JsonOption) -> None:
    """List the members with role, delivery and bounce state."""
    with state(ctx).plain() as conn:
        data = listings.members(conn, list_address)
    emit(
        as_json,
        data,
        lambda: (
            table(
                [
                    [
                        d["address"],
                        d["name"],
                        d["role"],
                        d["delivery"],
                        str(d["bounce_score"]),
                        "disabled" if d["delivery_disabled"] else "",
                    ]
                    for d in data
                ],
                ["ADDRESS", "NAME", "ROLE", "DELIVERY", "BOUNCES", ""],
            )
            or "no members"
        ),
    )


# A value may start with a dash (a name such as "-ann-"): not an option.
@app.command("set", context_settings={"ignore_unknown_options": True})
def set_(
    ctx: typer.Context,
    list_address: ListArg,
    address: Annotated[str, typer.Argument(help="The member's address.")],
    key: Annotated[
        str, typer.Argument(help="role, delivery, delivery_disabled, moderated or name.")
    ],
    value: Annotated[str, typer.Argument(help="The new value.")],
) -> None:
    """Change one setting of a member."""
    from listfed.ops import members

    with state(ctx).write_plain() as conn:
        members.set_value(conn, list_address, address, key, value)
    typer.echo(f"{address}: {key} set")


@app.command()
def forget(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The address to forget.")],
    posts: Annotated[
        bool,
        typer.Option(
            "--posts",
            help="Also remove every post from this address from the archives (the search "
            'index too); threads keep a "post removed" placeholder.',
        ),
    ] = False,
) -> None:
    """Remove an address from every list, with its pending confirmations and sign-in
    links; with --posts, its archived posts too."""
    from listfed.ops import members

    with state(ctx).write_plain() as conn:
        left = members.forget(conn, address)
        removed = members.forget_posts(conn, address, time.time()) if posts else 0
    for list_address in left:
        typer.echo(f"removed from {list_address}")
    typer.echo(f"{address}: forgotten ({len(left)} list(s); pending confirmations revoked)")
    if posts:
        typer.echo(f"{address}: {removed} archived post(s) removed")
