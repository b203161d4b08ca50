"""What `GET /metrics` reports (SPEC §11), read from the node's database and /proc.

Everything here is a gauge of the node's state as stored: queues by kind with their
oldest item's age, the outbox by state, held posts, lists and members, the archive, the
ranked search index's backlog, the bridges, the database's size, and the memory of the
daemon and the web face; and the daemon's counts (db/stats.py): messages taken in by
kind, refusals by reply code, deliveries by recipient domain and outcome, relays by
route. Each query reads an index or a small table (the index's backlog is a whole
archive only while a new index is made); nothing reads the archive's messages.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections import Counter
from pathlib import Path

from listfed import __version__
from listfed.db import stats
from listfed.db.version import SCHEMA_VERSION
from listfed.prometheus import Family, Sample


def _rows(conn: sqlite3.Connection, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(sql).fetchall()]


def _one(conn: sqlite3.Connection, sql: str) -> float:
    row = conn.execute(sql).fetchone()
    return float(row[0] or 0) if row else 0.0


def _by(rows: list[tuple[object, ...]], *labels: str) -> list[Sample]:
    """Samples from rows of (label values..., number)."""
    return [
        Sample(float(str(row[-1])), tuple(zip(labels, map(str, row[:-1]), strict=True)))
        for row in rows
    ]


def _queues(conn: sqlite3.Connection, now: float) -> list[Family]:
    depth = _rows(conn, "SELECT kind, state, COUNT(*) FROM queue GROUP BY kind, state")
    oldest = _rows(conn, "SELECT kind, MIN(received) FROM queue WHERE state = 'new' GROUP BY kind")
    outbox = _rows(conn, "SELECT state, COUNT(*) FROM outbox GROUP BY state")
    first = _one(
        conn, "SELECT MIN(created) FROM outgoing WHERE id IN (SELECT MIN(outgoing_id) FROM outbox)"
    )
    return [
        Family(
            "listfed_queue_messages",
            "gauge",
            "Messages accepted at intake and waiting for a worker, by kind and state.",
            _by(depth, "kind", "state"),
        ),
        Family(
            "listfed_queue_oldest_seconds",
            "gauge",
            "Age of the oldest message waiting in the intake queue, by kind.",
            [Sample(max(0.0, now - float(str(t))), (("kind", str(k)),)) for k, t in oldest],
        ),
        Family(
            "listfed_outbox_recipients",
            "gauge",
            "Copies waiting to be handed to the smarthost, by state (pending, failed).",
            _by(outbox, "state"),
        ),
        Family(
            "listfed_outbox_oldest_seconds",
            "gauge",
            "Age of the oldest message with copies still in the outbox (0: empty).",
            [Sample(max(0.0, now - first) if first else 0.0)],
        ),
        Family(
            "listfed_held_posts",
            "gauge",
            "Posts held for a moderator.",
            [Sample(_one(conn, "SELECT COUNT(*) FROM held"))],
        ),
    ]


def _lists(conn: sqlite3.Connection) -> list[Family]:
    members = _rows(
        conn,
        "SELECT CASE WHEN delivery_disabled THEN 'disabled' ELSE 'enabled' END, COUNT(*) "
        "FROM member GROUP BY 1",
    )
    return [
        Family(
            "listfed_lists",
            "gauge",
            "Lists on this node.",
            [Sample(_one(conn, "SELECT COUNT(*) FROM mlist"))],
        ),
        Family(
            "listfed_members",
            "gauge",
            "Memberships over all lists, by delivery (disabled: by bounces or an admin).",
            _by(members, "delivery"),
        ),
        Family(
            "listfed_archive_messages",
            "gauge",
            "Posts in the archive.",
            [Sample(_one(conn, "SELECT COUNT(*) FROM archive"))],
        ),
    ]


def _search_index(conn: sqlite3.Connection, now: float) -> list[Family]:
    """The posts archived, changed or removed that the ranked index (archive/topk) has
    not taken yet; a new index's notes (`at` 0, as of long ago) are counted, not aged."""
    waiting, oldest = conn.execute(
        "SELECT COUNT(*), MIN(CASE WHEN at > 0 THEN at END) FROM search_pending"
    ).fetchone()
    return [
        Family(
            "listfed_search_index_waiting_posts",
            "gauge",
            "Archive changes not yet in the web face's ranked search index.",
            [Sample(float(waiting))],
        ),
        Family(
            "listfed_search_index_oldest_seconds",
            "gauge",
            "How long the oldest of them has waited (0: none).",
            [Sample(max(0.0, now - float(oldest)) if oldest is not None else 0.0)],
        ),
    ]


def _bridges(conn: sqlite3.Connection) -> list[Family]:
    rows = _rows(conn, "SELECT name, state, taken, sent FROM bridge_state ORDER BY name")
    return [
        Family(
            "listfed_bridge_state",
            "gauge",
            "1 for each bridge's current state (connected, idle, polling, disconnected).",
            [
                Sample(1.0, (("bridge", str(n)), ("state", str(s) or "never")))
                for n, s, _t, _x in rows
            ],
        ),
        Family(
            "listfed_bridge_taken_total",
            "counter",
            "Messages of the foreign list a bridge took in.",
            [Sample(float(str(t)), (("bridge", str(n)),)) for n, _s, t, _x in rows],
        ),
        Family(
            "listfed_bridge_sent_total",
            "counter",
            "Local posts a bridge sent to the foreign list.",
            [Sample(float(str(x)), (("bridge", str(n)),)) for n, _s, _t, x in rows],
        ),
    ]


TOP_DOMAINS = 20  # label values of recipient domains; the rest count as "other"


def _counted(conn: sqlite3.Connection) -> list[Family]:
    """The daemon's counts (db/stats.py, written every few seconds): never decrease."""
    intake = stats.totals(conn, "intake")
    delivery = stats.totals(conn, "delivery")
    by_domain: Counter[str] = Counter()
    for domain, _outcome, _code, n in delivery:
        by_domain[domain] += n
    top = {d for d, _ in by_domain.most_common(TOP_DOMAINS)}
    deliveries: Counter[tuple[str, str]] = Counter()
    replies: Counter[tuple[str, str]] = Counter()
    for domain, outcome, code, n in delivery:
        deliveries[(domain if domain in top else "other", outcome)] += n
        replies[(outcome, code)] += n
    relays = _rows(  # the far list's domain names the peer (or the foreign list's host)
        conn,
        "SELECT direction, route, substr(target, instr(target, '@') + 1), COUNT(*) "
        "FROM relay GROUP BY 1, 2, 3",
    )
    return [
        Family(
            "listfed_intake_accepted_total",
            "counter",
            "Messages taken in, per recipient, by the kind of address (post, bounces, ...).",
            [Sample(n, (("kind", b),)) for a, b, _c, n in intake if a == "accepted"],
        ),
        Family(
            "listfed_intake_refused_total",
            "counter",
            "Commands and messages refused at intake, by reply code.",
            [Sample(n, (("code", b),)) for a, b, _c, n in intake if a == "refused"],
        ),
        Family(
            "listfed_deliveries_total",
            "counter",
            f"Copies handed on, by recipient domain (the busiest {TOP_DOMAINS}, the rest "
            "as other) and outcome (accepted, deferred, refused).",
            [Sample(n, (("domain", d), ("outcome", o))) for (d, o), n in deliveries.items()],
        ),
        Family(
            "listfed_delivery_replies_total",
            "counter",
            "Delivery outcomes by the reply code that decided them.",
            [Sample(n, (("outcome", o), ("code", c))) for (o, c), n in replies.items()],
        ),
        Family(
            "listfed_bounces_total",
            "counter",
            "Bounces: reports received at LIST-bounces (dsn), and copies a receiving "
            "server refused with a 5xx (refused).",
            [
                Sample(
                    sum(n for a, b, _c, n in intake if (a, b) == ("accepted", "bounces")),
                    (("how", "dsn"),),
                ),
                Sample(
                    sum(n for (_d, o), n in deliveries.items() if o == "refused"),
                    (("how", "refused"),),
                ),
            ],
        ),
        Family(
            "listfed_relays_total",
            "counter",
            "Relays sent (out) and taken in (in), by route and by the far list's domain.",
            _by(relays, "direction", "route", "domain"),
        ),
    ]


def resident_bytes(pid: int) -> int:
    """The resident memory of process `pid` (0 if it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _files(database: Path) -> int:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            total += os.stat(f"{database}{suffix}").st_size
    return total


def collect(conn: sqlite3.Connection, database: Path, now: float, daemon_pid: int) -> list[Family]:
    """Every family, read now; `daemon_pid` is the daemon's process (the web face's parent)."""
    memory = [Sample(float(resident_bytes(os.getpid())), (("process", "web"),))]
    if daemon_pid > 1:
        memory.insert(0, Sample(float(resident_bytes(daemon_pid)), (("process", "daemon"),)))
    return [
        Family(
            "listfed_info",
            "gauge",
            "This listfed's version and database schema.",
            [Sample(1.0, (("version", __version__), ("schema", str(SCHEMA_VERSION))))],
        ),
        *_counted(conn),
        *_queues(conn, now),
        *_lists(conn),
        *_search_index(conn, now),
        *_bridges(conn),
        Family(
            "listfed_database_bytes",
            "gauge",
            "Size of the database files (with the write-ahead log).",
            [Sample(float(_files(database)))],
        ),
        Family(
            "listfed_process_resident_memory_bytes",
            "gauge",
            "Resident memory of the daemon and of the web face.",
            memory,
        ),
    ]
