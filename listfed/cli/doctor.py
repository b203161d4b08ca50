"""`listfed doctor`: the records to publish as zone-file lines (or JSON), then the checks."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from listfed.cli.base import JsonOption, emit, state

if TYPE_CHECKING:
    from listfed.config import Config
    from listfed.ops.doctor import Record, Report

MAX_STRING = 255  # a DNS character-string; longer TXT values are several of them


def doctor(
    ctx: typer.Context,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not ask DNS what the domains publish.")
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Print the DNS records each domain needs, ask DNS what they publish, check the node.

    DNS is asked through [dns] nameservers for each domain's MX, SPF, DKIM key and
    DMARC; each problem is one line with the record to publish. Exits 1 when a check
    finds a problem.
    """
    from listfed.ops.doctor import examine

    config = state(ctx).config
    report = examine(config)
    if not offline:
        report = published(config, report)
    data = {
        "records": [asdict(r) for r in report.records],
        "notes": [asdict(n) for n in report.notes],
        "checks": [asdict(c) for c in report.checks],
    }
    emit(as_json, data, lambda: render(report))
    if not report.healthy:
        raise typer.Exit(1)


def published(config: Config, report: Report) -> Report:
    """The report with what DNS says of each domain added to its checks."""
    from listfed import dns as resolvers
    from listfed.ops import dnscheck
    from listfed.ops.doctor import Report

    ask = dnscheck.asker(resolvers.sync_resolver(config.dns.nameservers, config.dns.timeout))
    found = [
        check
        for domain in config.node.domains
        for check in dnscheck.compare(ask, dnscheck.needs(report.records, domain))
    ]
    return Report(report.records, report.notes, [*report.checks, *found])


def render(report: Report) -> str:
    lines = [f"; {n.text}" for n in report.notes if not n.domain]
    for domain in dict.fromkeys(r.domain for r in report.records):
        lines += ["", f"; --- {domain}"]
        for record in report.records:
            if record.domain == domain:
                lines += [f"; {record.comment}", zone_line(record)]
        lines += [f"; {n.text}" for n in report.notes if n.domain == domain]
    lines.append("")
    lines += [f"{'ok' if c.ok else 'problem'}: {c.what}" for c in report.checks]
    return "\n".join(lines).lstrip("\n")


def zone_line(record: Record) -> str:
    """`NAME IN TXT "..." "..."`: quoted strings of at most 255 characters each."""
    value = record.value
    chunks = [value[i : i + MAX_STRING] for i in range(0, len(value), MAX_STRING)] or [""]
    quoted = ('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
    return f"{record.name} IN {record.type} " + " ".join(quoted)
