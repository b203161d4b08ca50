"""`listfed archive ...`: search, threads, one message, mbox export and import, delete,
reindex.

Imported on its own for a quick `archive search` (see cli/main.py): nothing here may
import the SQLAlchemy layer at module level.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from listfed.archive import answers
from listfed.cli import hits
from listfed.cli.base import JsonOption, State, emit, new_app, say_err, state
from listfed.cli.commands import GROUPS
from listfed.errors import ListfedError, UsageError
from listfed.ops import archive as archive_ops

if TYPE_CHECKING:
    from listfed.ops import netsearch

app = new_app(GROUPS["archive"])

ListOption = Annotated[str | None, typer.Option("--list", help="Only this list (LIST@DOMAIN).")]
MessageId = Annotated[str, typer.Argument(help="A Message-ID, with or without <>.")]


def _connection(st: State, readonly: bool) -> AbstractContextManager[sqlite3.Connection]:
    return st.plain(readonly)


def _locate(conn: sqlite3.Connection, message_id: str, lst: str | None) -> archive_ops.Located:
    found = archive_ops.locate(conn, message_id, lst)
    if found.also_on:
        mid = message_id.strip().strip("<>").strip()
        others = ", ".join(found.also_on)
        typer.echo(
            f"<{mid}> is also on {others}; showing {found.list_address} (see --list)", err=True
        )
    return found


# A query may start with a minus ("-draft minutes"): an unknown option is the query.
@app.command(context_settings={"ignore_unknown_options": True})
def search(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            help='Words, "phrases", OR, -word, from:, list:, subject:, after:YYYY-MM-DD, '
            "before:YYYY-MM-DD."
        ),
    ],
    list_address: ListOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Rank every match. Without it, a query that matches more than 10,000 "
            "posts is ranked among the newest 10,000 of them (and says so on stderr).",
        ),
    ] = False,
    network: Annotated[
        bool,
        typer.Option(
            "--network",
            help="Search the public lists of the whole network: this node's and those of "
            "every [[peer]] with a web face (its `web` key), merged by rank then date, "
            "each hit with its node, list and link. Peers that do not answer within "
            "[web] network_deadline (default 3s) are left out and named on stderr, "
            "with the reason. Use list:NAME in the query instead of --list.",
        ),
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Search the archive; best matches first (bm25, then newest)."""
    if network:
        if list_address or everything:
            raise UsageError("--network takes no --list or --all (use list:NAME in the query)")
        run_network_search(state(ctx), query, limit, as_json)
        return
    run_search(state(ctx), query, list_address, limit, as_json, everything)


def run_network_search(st: State, query: str, limit: int, as_json: bool) -> None:
    """`archive search --network`: this node's public hits and its peers', merged."""
    from listfed.ops import netsearch

    config = st.config
    net = netsearch.Network(
        config.node.name, config.node.base_url, config.peers, config.web.network_deadline
    )
    with _connection(st, readonly=True) as conn:
        found = netsearch.network_search(conn, query, net, limit)
    if as_json:
        emit(True, _network_json(found), str)
    else:
        emit(False, None, lambda: _network_text(found))
    for m in found.missing:
        typer.echo(f"(no results from {m.peer} ({m.node}): {m.reason})", err=True)


def _network_json(found: netsearch.NetworkFound) -> dict[str, object]:
    hits = [
        {
            "node": h.node,
            "rank": h.rank,
            "list": h.list,
            "message_id": h.message_id,
            "from": h.author,
            "subject": h.subject,
            "date": answers.iso(h.date),
            "snippet": h.snippet,
            "url": h.url,
        }
        for h in found.hits
    ]
    missing = [{"peer": m.peer, "node": m.node, "reason": m.reason} for m in found.missing]
    return {"hits": hits, "missing": missing}


def _network_text(found: netsearch.NetworkFound) -> str:
    blocks = [
        f"{answers.short_date(h.date)}  {h.list} on {h.node}  {h.author}\n"
        f"  {h.subject or '(no subject)'}\n  {h.url or f'<{h.message_id}>'}\n  {h.snippet}"
        for h in found.hits
    ]
    return "\n\n".join(blocks) if blocks else f"no messages found on {found.nodes} node(s)"


def run_search(
    st: State,
    query: str,
    list_address: str | None,
    limit: int,
    as_json: bool,
    everything: bool = False,
) -> None:
    """The search command's work (cli/quicksearch.py runs cli/hits.py without typer)."""
    with _connection(st, readonly=True) as conn:
        found = hits.find(conn, query, list_address, limit, everything)
    hits.show(found, as_json, typer.echo, say_err)


@app.command()
def thread(
    ctx: typer.Context,
    message_id: MessageId,
    list_address: ListOption = None,
    as_json: bool = JsonOption,
) -> None:
    """Print the thread a message belongs to, as a tree."""
    from listfed.archive import removal, threads

    with _connection(state(ctx), readonly=True) as conn:
        found = _locate(conn, message_id, list_address)
        roots = threads.tree(conn, found.list_id, found.thread_id)
        ids = [n.message_id for n, _d, _l in answers.walk(roots)]
        meta = answers.metadata(conn, found.list_id, ids)
        gone = removal.removed(conn, found.list_id, [i for i in ids if i not in meta])
    focus = message_id.strip().strip("<>").strip()
    emit(
        as_json,
        answers.tree_json(roots, meta, found.list_address, gone),
        lambda: answers.tree_text(roots, meta, focus, gone),
    )


@app.command()
def show(
    ctx: typer.Context,
    message_id: MessageId,
    list_address: ListOption = None,
    raw: Annotated[bool, typer.Option("--raw", help="The message exactly as archived.")] = False,
    as_json: bool = JsonOption,
) -> None:
    """Show one archived message: its headers, text and any defects found in it."""
    from listfed.archive import show

    with _connection(state(ctx), readonly=True) as conn:
        found = _locate(conn, message_id, list_address)
        shown = show.load(conn, found.list_id, message_id.strip().strip("<>").strip())
    if raw:
        sys.stdout.buffer.write(shown.raw)
        sys.stdout.buffer.flush()
        return
    emit(as_json, shown.as_json(), shown.as_text)


@app.command("export")
def export(
    ctx: typer.Context,
    list_address: Annotated[str, typer.Argument(help="The list (LIST@DOMAIN).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The mbox file to write; - for stdout.")
    ],
) -> None:
    """Write a list's archive to an mbox file (mboxrd), oldest first."""
    from listfed.archive.export import export_mbox, write_mbox

    with _connection(state(ctx), readonly=True) as conn:
        list_id = archive_ops.list_id(conn, list_address)
        if str(output) == "-":
            count = write_mbox(conn, list_id, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            count = export_mbox(conn, list_id, output)
    where = "stdout" if str(output) == "-" else output
    typer.echo(f"wrote {count} message(s) to {where}", err=str(output) == "-")


@app.command("import")
def import_(
    ctx: typer.Context,
    list_address: Annotated[str, typer.Argument(help="The list (LIST@DOMAIN).")],
    mbox: Annotated[
        Path,
        typer.Argument(
            help="An mbox file (.gz too): mbox, mboxrd, Mailman 2 pipermail, HyperKitty exports."
        ),
    ],
) -> None:
    """Import an mbox into a list's archive; messages already there are skipped."""
    from listfed.archive.importer import import_mbox
    from listfed.cli.progress import Meter

    st = state(ctx)
    with _connection(st, readonly=False) as conn:
        list_id = archive_ops.list_id(conn, list_address)
        if not mbox.is_file():
            raise ListfedError(f"cannot read {mbox}: no such file")
        meter = Meter(sys.stderr)
        report = import_mbox(conn, list_id, mbox, st.config.node.name, meter.update)
        meter.done()
    for number, why in report.damaged[:50]:
        typer.echo(f"entry {number}: skipped: {why}", err=True)
    if len(report.damaged) > 50:
        typer.echo(f"... and {len(report.damaged) - 50} more damaged entries", err=True)
    typer.echo(
        f"{report.read} read, {report.added} added, {report.present} already archived, "
        f"{len(report.damaged)} damaged (skipped)"
    )


@app.command()
def delete(
    ctx: typer.Context,
    message_id: MessageId,
    list_address: ListOption = None,
) -> None:
    """Remove a post from the archive (of every list that has it, unless --list): its
    text, its search entry, its downloads. Its thread keeps a "post removed" placeholder,
    the web face answers 410 Gone for it, and it is never archived again."""
    import time

    with _connection(state(ctx), readonly=False) as conn:
        lists = archive_ops.delete(conn, message_id, list_address, time.time())
    mid = message_id.strip().strip("<>").strip()
    for address in lists:
        typer.echo(f"<{mid}>: removed from the archive of {address}")


@app.command()
def reindex(ctx: typer.Context) -> None:
    """Rebuild the search index and the threads from the archived messages.

    Holds the database's write lock until done: mail arriving meanwhile is deferred
    (senders retry)."""
    from listfed.cli.progress import Meter

    with _connection(state(ctx), readonly=False) as conn:
        meter = Meter(sys.stderr)
        count = archive_ops.reindex(conn, meter.count)
        meter.done()
    typer.echo(f"reindexed {count} message(s)")
