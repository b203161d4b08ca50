"""Postfix in front of the node (SPEC §11): the domains it relays here, where it hands
them ([smtp] listen, over LMTP or SMTP), and every address the node takes, so that
Postfix refuses any other at its RCPT with 550 and never accepts mail it would have to
bounce later (backscatter to a forged sender).

The addresses go in two tables: a hash table of exact addresses (each list and its
-request, -join, -leave, -subscribe, -unsubscribe, -owner, -bounces, -confirm; each SMTP
bridge's address), which Postfix rereads by itself when `postmap` has rebuilt it, and a
regexp table for the forms with a code after `+` (LIST-bounces+USER=HOST,
LIST-confirm+TOKEN, a bridge's +TAG), which Postfix reads at `postfix reload`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from listfed.config import Config
from listfed.db.plain import Db, connection

TRANSPORT = "listfed_transport"
RECIPIENTS = "listfed_recipients"
PLUS = "listfed_recipients.regexp"
SUFFIXES = ("request", "join", "leave", "subscribe", "unsubscribe", "owner", "bounces", "confirm")
WITH_CODE = ("bounces", "confirm")  # LIST-bounces+USER=HOST, LIST-confirm+TOKEN
_WRITTEN = "mta_postfix_dir"  # meta key: where `--write` put the tables


@dataclass(frozen=True)
class Tables:
    transport: str
    recipients: str
    plus: str  # the regexp table

    def files(self) -> dict[str, str]:
        return {TRANSPORT: self.transport, RECIPIENTS: self.recipients, PLUS: self.plus}


def tables(config: Config, lists: Sequence[str]) -> Tables:
    """The three tables for these list addresses and the config's domains and bridges."""
    smtp = config.smtp
    host = f"[{smtp.host}]" if ":" not in smtp.host else f"[ipv6:{smtp.host}]"
    via = f"lmtp:inet:{host}:{smtp.port}" if smtp.lmtp else f"smtp:{host}:{smtp.port}"
    transport = [f"{domain}\t{via}" for domain in config.node.domains]
    exact: list[str] = []
    plus: list[str] = []
    for address in sorted(a.lower() for a in lists):
        local, _, domain = address.rpartition("@")
        exact.append(address)
        exact += [f"{local}-{suffix}@{domain}" for suffix in SUFFIXES]
        plus += [_pattern(f"{local}-{suffix}", domain) for suffix in WITH_CODE]
    for bridge in config.bridges:
        if bridge.address:
            local, _, domain = bridge.address.lower().rpartition("@")
            exact.append(bridge.address.lower())
            plus.append(_pattern(local, domain))
    head = "# written by `listfed mta postfix`: do not edit, it is written again\n"
    return Tables(
        head + "".join(f"{line}\n" for line in transport),
        head + "".join(f"{a}\tOK\n" for a in dict.fromkeys(exact)),
        head + "".join(f"{p}\tOK\n" for p in plus),
    )


_ERE_SPECIAL = re.compile(r"([.\[\]()*+?{}|^$\\/])")


def _ere(text: str) -> str:
    """`text` as a literal in a POSIX extended regular expression (Postfix regexp:)."""
    return _ERE_SPECIAL.sub(r"\\\1", text)


def _pattern(local: str, domain: str) -> str:
    return f"/^{_ere(local)}\\+[^@]+@{_ere(domain)}$/"


def main_cf(config: Config, where: Path) -> list[str]:
    """The main.cf lines that put the tables to use."""
    return [
        f"relay_domains = {', '.join(config.node.domains)}",
        f"transport_maps = hash:{where / TRANSPORT}",
        f"relay_recipient_maps = hash:{where / RECIPIENTS}, regexp:{where / PLUS}",
        "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
    ]


def commands(where: Path) -> list[str]:
    return [f"postmap {where / TRANSPORT}", f"postmap {where / RECIPIENTS}", "postfix reload"]


def write(found: Tables, where: Path) -> list[str]:
    """Write the tables into `where` and rebuild the hash tables with postmap where it
    is installed (outside any transaction: it runs a program). What was done."""
    where.mkdir(parents=True, exist_ok=True)
    for name, content in found.files().items():
        part = where / f".{name}.new"
        part.write_text(content)
        part.replace(where / name)  # never a half-written table
    done = [f"wrote {where / name}" for name in found.files()]
    return done + _postmap(where)


def remember(db: Db, where: Path) -> None:
    """`lists create` and `lists delete` write the tables here again from now on."""
    connection(db).execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_WRITTEN, str(where.resolve()))
    )


def written_to(db: Db) -> Path | None:
    row = connection(db).execute("SELECT value FROM meta WHERE key = ?", (_WRITTEN,)).fetchone()
    return Path(row[0]) if row else None


def _postmap(where: Path) -> list[str]:
    postmap = shutil.which("postmap") or shutil.which("postmap", path="/usr/sbin:/sbin")
    if postmap is None:
        return [f"postmap is not installed here: run `postmap {where / RECIPIENTS}` where it is"]
    done = []
    for name in (TRANSPORT, RECIPIENTS):
        result = subprocess.run(
            [postmap, str(where / name)], capture_output=True, text=True, timeout=30
        )
        if result.returncode:
            done.append(f"postmap {where / name} failed: {result.stderr.strip()[:300]}")
        else:
            done.append(f"postmap {where / name}")
    return done
