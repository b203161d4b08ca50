"""The global options, shared by the full command line and the quick archive one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from listfed.cli.base import State

HELP = "listfed: mailing lists and committees of correspondence, in one process."


def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (else $LISTFED_CONFIG, ./listfed.toml, "
            "/etc/listfed/listfed.toml, else built-in defaults).",
        ),
    ] = None,
) -> None:
    """Global options."""
    ctx.obj = State(config_path=config)
