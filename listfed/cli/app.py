"""`listfed`: the entry point and the node-level commands (init, serve)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from listfed.cli import (
    archive,
    bridges,
    digests,
    doctor,
    held,
    lists,
    members,
    peers,
    queue,
    routes,
)
from listfed.cli.base import new_app, state
from listfed.cli.root import HELP, root
from listfed.config import load_config
from listfed.ops import node
from listfed.service import Node

app = new_app(HELP)
app.add_typer(lists.app, name="lists")
app.add_typer(members.app, name="members")
app.add_typer(held.app, name="held")
app.add_typer(queue.app, name="queue")
app.add_typer(routes.app, name="routes")
app.add_typer(peers.app, name="peers")
app.add_typer(bridges.app, name="bridges")
app.add_typer(digests.app, name="digests")
app.add_typer(archive.app, name="archive")
app.command("doctor")(doctor.doctor)


app.callback()(root)


@app.command()
def init(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="The node's name, used in trace headers.")] = (
        "localhost"
    ),
    domain: Annotated[
        list[str] | None,
        typer.Option(help="A mail domain whose lists this node hosts (repeat for several)."),
    ] = None,
) -> None:
    """Write listfed.toml (if absent) and create the data dir, database and node secret."""
    st = state(ctx)
    path = st.config_path or Path(os.environ.get("LISTFED_CONFIG") or "listfed.toml")
    if node.write_config(path, name, domain or [name]):
        typer.echo(f"wrote {path}")
    else:
        typer.echo(f"{path} exists; left as it is")
    st.config_path = path
    for created in node.prepare(st.config):
        typer.echo(f"created {created}")
    typer.echo("ready: `listfed serve` runs the node")


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT; SIGHUP reloads the config."""
    st = state(ctx)
    config = st.config
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    node.prepare(config)
    env = dict(os.environ)

    def reload() -> object:
        return load_config(config.path or st.config_path, env, Path.cwd())

    asyncio.run(Node(config).serve(reload))  # type: ignore[arg-type]


def main() -> None:
    """Kept for `python -m listfed` and old entry points: the quick path lives in main.py."""
    from listfed.cli.main import main as entry

    entry()
