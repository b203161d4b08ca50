"""`listfed lists ...`"""

from __future__ import annotations

from typing import Annotated

import typer

from listfed.cli.base import JsonOption, emit, new_app, state, table
from listfed.cli.commands import GROUPS
from listfed.listinfo import Policy
from listfed.ops import listview

# Every command here reads or writes with plain sqlite3 (`state.plain`, `write_plain`) and
# answers without loading the SQLAlchemy layer.

app = new_app(GROUPS["lists"])

Address = Annotated[str, typer.Argument(help="The list's address, LIST@DOMAIN.")]


@app.command()
def create(
    ctx: typer.Context,
    address: Address,
    policy: Annotated[Policy, typer.Option(help="Who may post.")] = Policy.MEMBERS,
    owner: Annotated[
        list[str] | None,
        typer.Option(help="An owner's address (repeat for several); owners are members too."),
    ] = None,
    description: Annotated[str, typer.Option(help="Shown in List-Id.")] = "",
) -> None:
    """Create a list at a domain this node hosts."""
    from listfed.cli import mta
    from listfed.errors import UsageError
    from listfed.listinfo import Role
    from listfed.ops import lists, members

    st = state(ctx)
    with st.write_plain() as conn:
        info = lists.create(conn, address, st.config.node.domains, policy, description)
        if owner:
            result = members.add(conn, info.address, owner, role=Role.OWNER)
            if result.invalid:
                raise UsageError("; ".join(why for _, why in result.invalid))
    typer.echo(f"created {info.address} (policy {info.policy})")
    mta.refresh(st)


@app.command("ls")
def ls(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List every list with its policy and member count."""
    with state(ctx).plain() as conn:
        data = listview.every_list(conn)
    emit(
        as_json,
        data,
        lambda: (
            table(
                [[d["address"], d["policy"], str(d["members"]), d["description"]] for d in data],
                ["ADDRESS", "POLICY", "MEMBERS", "DESCRIPTION"],
            )
            or "no lists yet"
        ),
    )


@app.command()
def show(ctx: typer.Context, address: Address, as_json: bool = JsonOption) -> None:
    """Show a list's settings, written as `lists set` takes them."""
    with state(ctx).plain() as conn:
        data = listview.one_list(conn, address)
    emit(as_json, data, lambda: listview.show_text(data))


# A value may start with a dash (a footer's "-- " signature line): not an option.
@app.command("set", context_settings={"ignore_unknown_options": True})
def set_(
    ctx: typer.Context,
    address: Address,
    key: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(listview.SETTABLE))}.")],
    value: Annotated[
        str,
        typer.Argument(
            help="The new value (\\n in footer, welcome_message, goodbye_message: a newline)."
        ),
    ],
) -> None:
    """Change one setting of a list."""
    from listfed.ops import lists

    with state(ctx).write_plain() as conn:
        info = lists.set_value(conn, address, key, value)
    typer.echo(f"{info.address}: {key} set")


@app.command()
def delete(
    ctx: typer.Context,
    address: Address,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a list with its members, held posts, queue and archive."""
    from listfed.cli import mta
    from listfed.ops import lists

    if not yes and not typer.confirm(f"Delete {address} and its archive for good?"):
        raise typer.Exit(1)
    with state(ctx).write_plain() as conn:
        lists.delete(conn, address)
    typer.echo(f"deleted {address}")
    mta.refresh(state(ctx))
