"""`listfed bridges ...`"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from listfed.cli.base import JsonOption, emit, new_app, state
from listfed.cli.commands import GROUPS

# Each command imports the operations it runs (and SQLAlchemy with them) when it runs.

app = new_app(GROUPS["bridges"])

_ARROWS = {"both": "<->", "in": "<-", "out": "->"}


def _block(d: dict[str, Any]) -> str:
    arrow = _ARROWS.get(d["direction"], "<->")
    lines = [f"{d['name']} ({d['kind']}): {d['list']} {arrow} {d['foreign']}"]
    if d["kind"] == "imap":
        lines.append(f"  mailbox       {d['imap']} as {d['username']}")
        lines.append(f"  sends as      {d['post_as'] or '(nobody: direction = in)'}")
    else:
        lines.append(f"  address       {d['address']}")
    if d["direction"] != "out":
        lines.append(f"  subscribe as  {d['subscribe']}")
    lines.append(f"  direction     {d['direction']}")
    lines.append(f"  state         {d['state']}")
    if d["kind"] == "imap":
        last_uid = (
            f"{d['last_uid']} (UIDVALIDITY {d['uidvalidity']})" if d["uidvalidity"] else "none"
        )
        lines.append(f"  last UID      {last_uid}")
    lines.append(f"  last message  {d['last_message'] or 'never'}")
    lines.append(f"  taken / sent  {d['taken']} / {d['sent']}")
    error = f"{d['last_error_at']} {d['last_error']}" if d["last_error"] else "none"
    lines.append(f"  last error    {error}")
    return "\n".join(lines)


@app.command("ls")
def ls(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List every [[bridge]]: its kind (smtp or imap), the lists it joins, the address to
    subscribe to the foreign list (with the secret tag that proves the foreign list's
    posts: keep it between you and the foreign list's admins), its state, the last UID
    taken from its mailbox, when a message of the foreign list last came in, and its last
    error: a connection's, or the foreign list's latest hold, rejection or bounce of a
    post of ours (whose author is told). Never the password."""
    from listfed.ops import bridgestatus
    from listfed.ops.node import node_secret

    st = state(ctx)
    configured = st.config.bridges
    if configured:
        secret = node_secret(st.config)
        with st.plain() as conn:
            data = bridgestatus.status(conn, configured, secret)
    else:
        data = []  # no database needed to say there is nothing

    def text() -> str:
        if not data:
            return "no bridges: add [[bridge]] entries to the config"
        return "\n\n".join(_block(d) for d in data)

    emit(as_json, data, text)


@app.command()
def sync(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The [[bridge]]'s name (see `bridges ls`).")
    ],
    as_json: bool = JsonOption,
) -> None:
    """Read an IMAP bridge's mailbox once now and queue the foreign list's new posts on the
    local list; other mail is left in the mailbox, and nothing is marked as read. The
    daemon, if it runs, picks the queued posts up within a second; it is safe while the
    daemon watches the same mailbox (nothing is taken twice). SMTP bridges receive their
    mail by SMTP and have nothing to sync."""
    from listfed.context import node_settings
    from listfed.dns import txt_lookup
    from listfed.mailauth import signers
    from listfed.ops import bridges
    from listfed.ops.node import node_secret

    st = state(ctx)
    config = st.config
    bridge = bridges.syncable(bridges.find(config.bridges, name))
    config.need_secrets(f"bridge[{config.bridges.index(bridge)}]")  # its password
    node = node_settings(config, node_secret(config))
    dnsfunc = txt_lookup(config.dns.nameservers, config.dns.timeout)
    with st.plain():  # an older database is upgraded first; the pass opens its own
        pass
    with bridges.one_pass(st.database_path, config.storage.busy_timeout) as db:
        done = asyncio.run(bridges.sync(db, node, bridge, signers=signers(dnsfunc)))
    data = {"name": bridge.name, "fetched": done.fetched, "queued": done.queued}

    def text() -> str:
        if not done.fetched:
            return f"bridge {bridge.name}: nothing new in {bridge.imap}"
        left = done.fetched - done.queued
        return (
            f"bridge {bridge.name}: {done.queued} post(s) of {bridge.foreign} queued on "
            f"{bridge.list}; {left} other message(s) left in the mailbox"
        )

    emit(as_json, data, text)
