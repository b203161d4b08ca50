"""`listfed doctor`: the DNS records a node's domains need, and what can be checked locally.

Nothing here touches the network or changes a file: the advice is built from the config
alone, and the checks only look at what exists (no database is opened, since opening
one upgrades its schema). The CLI renders the result as zone-file lines or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from listfed.config import Config
from listfed.errors import ConfigError

# The key's readers (OpenSSL, dkimpy) and the node's setup (SQLAlchemy) are imported when
# a check needs them: `doctor` on a node without DKIM answers at once.

KEYGEN = "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim.pem"
DKIM_OFF = (
    f"DKIM signing is off. To turn it on: `{KEYGEN}`, then in the config "
    '[dkim] private_key = "file:dkim.pem", and run `listfed doctor` again'
)
SPF = "SPF: a suggestion; list your smarthost's IPs (ip4:... ip6:...) or include: its own"
DMARC = "v=DMARC1; p=none; rua=mailto:postmaster@{}"
DMARC_WHY = "DMARC: a start; read the reports, then tighten p= to quarantine or reject"
RETIRING = (
    "DKIM: the retiring key (selector {selector}), which signs nothing now: keep it published "
    "until mail and relays signed with it have arrived (a few days), then remove it here "
    "and from [dkim]"
)
MX = "MX: {}'s MX must point at the host where listfed (or Postfix before it) receives mail"


@dataclass(frozen=True)
class Record:
    """A DNS record to publish; value is the TXT text before any splitting or quoting."""

    domain: str
    name: str
    type: str
    value: str
    purpose: str
    comment: str = ""


@dataclass(frozen=True)
class Note:
    """Advice that is no record (MX, how to turn DKIM on); domain "" is the whole node."""

    domain: str
    text: str


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str


@dataclass(frozen=True)
class Report:
    records: list[Record]
    notes: list[Note]
    checks: list[Check]

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)


def examine(config: Config) -> Report:
    """Everything `doctor` says, gathered without side effects."""
    keys, dkim_checks = _dkim(config)
    signing = config.dkim.domains or config.node.domains
    records: list[Record] = []
    off = not config.dkim.enabled and all(c.ok for c in dkim_checks)
    notes = [Note("", DKIM_OFF)] if off else []
    for domain in config.node.domains:
        for n, (selector, value) in enumerate(keys if domain in signing else []):
            name = f"{selector}._domainkey.{domain}."
            if n == 0:
                why = f"DKIM: the public key that signs {domain}'s mail"
            else:
                why = RETIRING.format(selector=selector)
            purpose = "dkim" if n == 0 else "dkim-retiring"
            records.append(Record(domain, name, "TXT", value, purpose, why))
        records += [
            Record(domain, f"{domain}.", "TXT", "v=spf1 a mx ~all", "spf", SPF),
            Record(domain, f"_dmarc.{domain}.", "TXT", DMARC.format(domain), "dmarc", DMARC_WHY),
        ]
        notes.append(Note(domain, MX.format(domain)))
    return Report(records, notes, [*_checks(config), *dkim_checks])


def _dkim(config: Config) -> tuple[list[tuple[str, str]], list[Check]]:
    """(selector, TXT value) of each usable key, the signing one first (none when that
    one is not usable), and a check of each key."""
    try:
        config.need_secrets("dkim")
    except ConfigError as exc:
        return [], [Check(False, f"the DKIM key cannot be read: {exc}")]
    if not config.dkim.enabled:
        return [], [Check(True, "DKIM signing is off: no [dkim] private_key (see above)")]
    from listfed.delivery.dkim import key_bits, load_key, public_key_record

    keys, checks = [], []
    for n, (selector, pem) in enumerate(config.dkim.keys):
        which = "the DKIM key" if n == 0 else f"the retiring DKIM key (selector {selector})"
        try:
            key = load_key(pem)
        except ConfigError as exc:
            checks.append(Check(False, f"{which} cannot be used: {exc}"))
            if n == 0:
                return [], checks
            continue
        bits = key_bits(key)
        advice = "" if bits >= 2048 else "; 2048 bits are recommended"
        checks.append(Check(True, f"{which} is usable (RSA, {bits} bits{advice})"))
        keys.append((selector, public_key_record(key)))
    return keys, checks


def _checks(config: Config) -> list[Check]:
    from listfed.ops.node import secret_path

    where = str(config.path) if config.path else "the built-in defaults"
    data, init = config.node.data_dir, "run `listfed init`"
    database, secret = data / "listfed.db", secret_path(config)
    checks = [
        Check(True, f"the config loads ({where})"),
        *(
            Check(False, f"{u.key}: {u.problem} (`listfed serve` needs it)")
            for u in config.unresolved
            if not u.key.startswith("dkim.")
        ),
        Check(True, f"the data dir is {data}")
        if data.is_dir()
        else Check(False, f"no data dir at {data}: {init}"),
        _database(database, init),
    ]
    if database.exists():
        checks.append(_search_index(database, config.storage.busy_timeout))
    try:
        usable = len(secret.read_text().strip()) >= 16
        state = "exists" if usable else "is too short (16 characters at least)"
        checks.append(Check(usable, f"the node secret {secret} {state}"))
    except OSError as exc:
        checks.append(
            Check(False, f"cannot read the node secret {secret} ({exc.strerror}): {init}")
        )
    out = config.delivery
    if out.smtp_host:
        checks.append(
            Check(True, f"mail goes out through the smarthost {out.smtp_host}:{out.smtp_port}")
        )
    else:
        checks.append(
            Check(
                True,
                f"mail goes into the maildir {out.maildir} (set [delivery] smarthost to send it)",
            )
        )
    return checks


def _search_index(database: Path, busy_timeout: float) -> Check:
    """Where the web face's ranked search index is, and whether it holds the archive
    (read-only: the database is not upgraded here). Never a failure: FTS5 answers the
    web face's searches until the index holds every post."""
    import sqlite3
    import time

    from listfed.archive import opendb
    from listfed.archive.topk.index import LAG, folder_of, open_reader
    from listfed.errors import StorageError

    folder = folder_of(database)
    if open_reader(folder) is None:
        return Check(True, f"no search index at {folder} yet: `listfed serve` makes it")
    try:
        conn = opendb.connect(database, busy_timeout, readonly=True)
        try:
            waiting, oldest = conn.execute(
                "SELECT count(*), min(at) FROM search_pending"
            ).fetchone()
        finally:
            conn.close()
    except (sqlite3.Error, StorageError) as exc:
        return Check(True, f"the search index is {folder} (its notes unread: {exc})")
    if not waiting:
        return Check(True, f"the search index is {folder}, holding every archived post")
    behind = time.time() - float(oldest)
    if behind <= LAG:
        return Check(True, f"the search index is {folder}, {waiting} posts a moment behind")
    return Check(
        True,
        f"the search index {folder} lacks {waiting} posts (being made, or `listfed serve` "
        "is not running): the web face searches with FTS5 until it has them",
    )


def _database(path: Path, init: str) -> Check:
    try:
        with path.open("rb") as fh:
            header = fh.read(16)
    except OSError:
        return Check(False, f"no database at {path}: {init}")
    if header != b"SQLite format 3\x00":
        return Check(False, f"{path} is not an SQLite database")
    return Check(True, f"the database is {path}")
