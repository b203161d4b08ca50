"""`listfed init` and `listfed serve`: the node itself."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from listfed.cli.base import state


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
    from listfed.ops import node

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


def serve(ctx: typer.Context) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT; SIGHUP reloads the config."""
    import asyncio  # here: `init`, in this module too, needs neither
    import logging

    from listfed.config import load_config
    from listfed.ops import node
    from listfed.service import Node

    st = state(ctx)
    config = st.config.need_secrets()  # the daemon starts with every secret or not at all
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    node.prepare(config)
    env = dict(os.environ)

    def reload() -> object:
        return load_config(config.path or st.config_path, env, Path.cwd())

    asyncio.run(Node(config).serve(reload))  # type: ignore[arg-type]
