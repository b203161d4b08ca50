"""`listfed report`: deliverability by recipient domain (SPEC §11)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from listfed.cli.base import JsonOption, emit, state, table
from listfed.db.plain import transaction
from listfed.errors import UsageError
from listfed.ops import report as reporting
from listfed.units import parse_duration


def report(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--since", help="How far back: 1d, 7d (the default), 30d...")
    ] = "7d",
    as_json: bool = JsonOption,
) -> None:
    """How the node's mail fares at each recipient domain, and who bounces.

    Per recipient domain: copies accepted, deferred and refused, the commonest refusals
    with what they mean (a DMARC refusal 5.7.26, Microsoft's 5.7.515, rate limits); then
    the members whose delivery bounces disabled. Counts are kept for 35 days."""
    try:
        span = parse_duration(since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    # one read transaction on a plain connection: both answers from one moment, no SQLAlchemy
    with state(ctx).plain() as conn, transaction(conn, "BEGIN", "read"):
        found = reporting.domains(conn, time.time(), span)
        off = reporting.disabled(conn)
    data = {
        "since": since,
        "domains": [d.as_json() for d in found],
        "bounce_disabled": [
            {"list": d.list_address, "address": d.address, "last_failure": d.last_failure}
            for d in off
        ],
    }
    emit(as_json, data, lambda: _text(since, found, off))


def _text(since: str, found: list[reporting.DomainReport], off: list[reporting.Disabled]) -> str:
    if not found:
        lines = [f"no deliveries in the last {since}"]
    else:
        rows = [[d.domain, str(d.accepted), str(d.deferred), str(d.refused)] for d in found]
        lines = [table(rows, ["domain", "accepted", "deferred", "refused"])]
        for d in found:
            for code, n in d.codes.most_common(reporting.COMMON_CODES):
                lines.append(f"  {d.domain}: {n} x {code}: {reporting.meaning(code)}")
    if off:
        lines.append("delivery disabled by bounces:")
        lines += [f"  {d.list_address}  {d.address}  ({d.last_failure})" for d in off]
    return "\n".join(lines)
