"""`listfed mta postfix`: what Postfix in front of this node needs (SPEC §11)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from listfed.cli.base import JsonOption, State, emit, new_app, state
from listfed.cli.commands import GROUPS

if TYPE_CHECKING:
    from listfed.ops.mta import Tables

# `mta postfix` imports what it runs when it runs; it reads and writes with plain sqlite3.

app = new_app(GROUPS["mta"])


@app.command()
def postfix(
    ctx: typer.Context,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            metavar="DIR",
            help="Write the tables into DIR (e.g. /etc/postfix), run postmap on them, and "
            "write them again whenever `lists create` or `lists delete` changes them.",
        ),
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Print the Postfix settings that hand this node's domains to it: relay_domains, a
    transport table (LMTP when [smtp] lmtp = true, else SMTP, to [smtp] listen), and the
    tables of every address the node takes, so that Postfix refuses any other address at
    its RCPT with 550 instead of accepting it and bouncing it later. See README,
    "Postfix in front". --json: the tables by file, the main.cf lines, the commands,
    and what --write did."""
    from listfed.ops import mta

    st = state(ctx)
    found = _tables(st)
    where = write or Path("/etc/postfix")
    done: list[str] = []
    if write is not None:
        with st.write_plain() as conn:
            mta.remember(conn, write)
        done = mta.write(found, write)
    files = {str(where / name): content for name, content in found.files().items()}
    main_cf, then = mta.main_cf(st.config, where), mta.commands(where)
    data = {"files": files, "main_cf": main_cf, "commands": then, "written": done}

    def text() -> str:
        shown = done or [f"# ---- {path}\n{content}" for path, content in files.items()]
        return "\n".join([*shown, "# ---- main.cf", *main_cf, "# ---- then", *then])

    emit(as_json, data, text)


def _tables(st: State) -> Tables:
    from listfed.db import listrows
    from listfed.ops import mta

    with st.plain() as conn:
        addresses = [info.address for info, _count in listrows.all_lists(conn)]
    return mta.tables(st.config, addresses)


def refresh(st: State) -> None:
    """After a list came or went: the tables written by `mta postfix --write` again."""
    from listfed.ops import mta

    with st.plain() as conn:
        where = mta.written_to(conn)
    if where is None:
        return
    for line in mta.write(_tables(st), where):
        typer.echo(line)
    typer.echo(f"run `postfix reload` for the -bounces+ and -confirm+ forms ({where / mta.PLUS})")
