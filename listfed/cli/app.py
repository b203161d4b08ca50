"""The whole command line: every command group on one typer app (cli/main.py decides
whether a command needs it or only the archive's)."""

from __future__ import annotations

from listfed.cli import (
    archive,
    bridges,
    digests,
    doctor,
    held,
    lists,
    members,
    mta,
    node,
    peers,
    queue,
    report,
    routes,
)
from listfed.cli.base import HELP, new_app, root

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
app.add_typer(mta.app, name="mta")
app.command("doctor")(doctor.doctor)
app.command("report")(report.report)
app.command()(node.init)
app.command()(node.serve)


app.callback()(root)
