"""Work that grows with a list's size stays in proportion to it (issue 18, the scale
curve): adding members, a post's fan-out and the delivery dispatcher's reads. Nothing
here times anything: the tests count statements and read query plans, and check that
each change gives what the old code gave."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlmodel import Session

from listfed.bounces import score
from listfed.context import Context, NodeSettings
from listfed.db import lists as stored_lists
from listfed.db.engine import Database, sqlite_of
from listfed.db.members import all_members
from listfed.db.models import Member
from listfed.delivery import outbox, worker
from listfed.digests import collect
from listfed.listinfo import DeliveryMode, Policy
from listfed.ops import lists, members
from listfed.ops.node import prepare
from listfed.post import Post
from tests.conftest import DOMAIN, make_config

TEAM = f"team@{DOMAIN}"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    config = make_config(tmp_path, None)
    prepare(config)
    database = Database(config.node.data_dir / "listfed.db")
    with database.write() as s:
        lists.create(s, TEAM, config.node.domains, Policy.OPEN)
    yield database
    database.close()


def _traced(session: Session) -> list[str]:
    """Every statement SQLite runs on the session's connection from now on (each row
    of an executemany is one)."""
    seen: list[str] = []
    sqlite_of(session).set_trace_callback(seen.append)
    return seen


def _people(n: int, start: int = 0) -> list[str]:
    return [f"user{i:05d}@example.net" for i in range(start, start + n)]


# -- adding members (`listfed members import`) -----------------------------------------------


def test_adding_many_members_looks_them_up_a_chunk_at_a_time(db: Database) -> None:
    n = 3 * members.ADD_CHUNK
    with db.write() as s:
        seen = _traced(s)
        result = members.add(s, TEAM, _people(n))
        sqlite_of(s).set_trace_callback(None)
    assert len(result.added) == n
    lookups = [q for q in seen if q.lstrip().upper().startswith("SELECT") and "member" in q]
    # it was one look-up (and one flush) per address: an import of a million took hours
    assert len(lookups) <= 3 + 1


def test_added_members_are_reported_as_before(db: Database) -> None:
    with db.write() as s:
        members.add(s, TEAM, ["Old@Example.net"])
    chunk = 501  # more than members.ADD_CHUNK: the rest fall into a later chunk
    entries = [
        "Ada <Ada@Example.org>",
        "not an address",
        "old@example.net",  # a member already, in another case
        "ada@example.org",  # earlier in this very call
        *_people(chunk),
        "ADA@example.org",
        "user00003@example.net",
        "bob@example.net",
        "",
    ]
    with db.write() as s:
        result = members.add(s, TEAM, entries)
    assert result.added == ["Ada@example.org", *_people(chunk), "bob@example.net"]
    assert result.skipped == [
        "old@example.net",
        "ada@example.org",
        "ADA@example.org",
        "user00003@example.net",
    ]
    assert [e for e, _why in result.invalid] == ["not an address", ""]


def test_an_added_member_has_every_default_of_the_model(db: Database) -> None:
    with db.write() as s:
        members.add(s, TEAM, ["Ada Lovelace <ada@example.org>"], now=1234.5)
    with db.read() as s:
        (row,) = all_members(s, TEAM)
        model = Member(
            list_id=row.list_id,
            address="ada@example.org",
            display_address="ada@example.org",
            name="Ada Lovelace",
            created=1234.5,
        )
    assert row.model_dump(exclude={"id"}) == model.model_dump(exclude={"id"})


# -- a post's fan-out ------------------------------------------------------------------------


def _fan_out(db: Database) -> tuple[int, list[str]]:
    """Fan a post out to TEAM; the statements it ran."""
    with db.write() as s:
        lst = SimpleNamespace(id=1, bounces_address=f"team-bounces@{DOMAIN}")
        post = SimpleNamespace(
            outgoing_data=b"Subject: hi\r\n\r\nhi\r\n",
            lst=lst,
            message=SimpleNamespace(message_id="<m1@example.net>"),
        )
        seen = _traced(s)
        outbox.fan_out(Context(s, NodeSettings(name="n")), cast(Post, post))
        sqlite_of(s).set_trace_callback(None)
        outgoing_id = sqlite_of(s).execute("SELECT max(id) FROM outgoing").fetchone()[0]
    return int(outgoing_id), seen


def _outbox(db: Database, outgoing_id: int) -> list[tuple[Any, ...]]:
    with db.read_plain() as conn:
        return conn.execute(
            "SELECT address, state, attempts, last_error FROM outbox WHERE outgoing_id = ? "
            "ORDER BY id",
            (outgoing_id,),
        ).fetchall()


def _old_recipients(session: Session, list_id: int, mode: str = "regular") -> list[str]:
    """How fan-out and the digest found their recipients before (delivery/outbox.py)."""
    rows = sqlite_of(session).execute(
        "SELECT display_address FROM member WHERE list_id = ? AND delivery = ? "
        "AND NOT delivery_disabled ORDER BY id",
        (list_id, mode),
    )
    return [r[0] for r in rows]


def test_fan_out_queues_what_enqueue_queued(db: Database) -> None:
    people = [*_people(5), "Carol@Example.com", "dana@example.net", "erin@example.net"]
    with db.write() as s:
        members.add(s, TEAM, people)
        members.set_value(s, TEAM, "dana@example.net", "delivery", "digest")
        members.set_value(s, TEAM, "erin@example.net", "delivery_disabled", "true")
        members.set_value(s, TEAM, "user00002@example.net", "delivery", "nomail")
    outgoing_id, _ = _fan_out(db)
    with db.write() as s:
        wanted = _old_recipients(s, 1)
        old_id = outbox.enqueue(s, b"x", "b@x", wanted, 1, now=0.0)
    assert wanted == [*_people(2), *_people(2, 3), "Carol@example.com"]
    got, old = _outbox(db, outgoing_id), _outbox(db, old_id)
    assert got == old
    assert [row[0] for row in got] == wanted


def test_fan_out_runs_the_same_statements_for_any_number_of_members(db: Database) -> None:
    with db.write() as s:
        members.add(s, TEAM, _people(3))
    _, few = _fan_out(db)
    with db.write() as s:
        members.add(s, TEAM, _people(1_000, 3))
    outgoing_id, many = _fan_out(db)
    # it read every member into a list and inserted them a row at a time (a million
    # rows held in memory three times over at a million members)
    assert len(many) == len(few)
    assert len(_outbox(db, outgoing_id)) == 1_003


def _digest(db: Database) -> tuple[list[tuple[Any, ...]], list[str]]:
    """Send TEAM's digest of one post; its outbox rows and the statements it ran."""
    with db.write() as s:
        lst = stored_lists.get(s, TEAM)
        conn = sqlite_of(s)
        conn.execute(
            "INSERT INTO digest_item (list_id, message_id, raw, size, created) "
            "VALUES (?, '<d@example.net>', ?, 20, 0)",
            (lst.id, b"Subject: d\r\n\r\nd\r\n"),
        )
        seen = _traced(s)
        assert collect.send(s, lst, 1.0) == 1
        conn.set_trace_callback(None)
        (outgoing_id,) = conn.execute("SELECT max(id) FROM outgoing").fetchone()
    return _outbox(db, int(outgoing_id)), seen


def test_a_digest_goes_to_its_members_in_the_same_statements_for_any_number(
    db: Database,
) -> None:
    with db.write() as s:
        members.add(s, TEAM, _people(4), delivery=DeliveryMode.DIGEST)
        members.add(s, TEAM, ["regular@example.net"])
        members.set_value(s, TEAM, "user00001@example.net", "delivery_disabled", "true")
        wanted = _old_recipients(s, 1, "digest")
    rows, few = _digest(db)
    assert [r[0] for r in rows] == wanted == ["user00000@example.net", *_people(2, 2)]
    with db.write() as s:
        members.add(s, TEAM, _people(600, 4), delivery=DeliveryMode.DIGEST)
    rows, many = _digest(db)
    assert len(rows) == 603
    assert len(many) == len(few)


# -- the delivery dispatcher's reads ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "params"),
    [
        (worker._FRESH, (0, 1.0, worker.PAGE)),
        (worker._RETRIES, (1.0, worker.PAGE)),
        (worker._NEXT, (1.0,)),
        (worker._GONE, (1, 1)),
    ],
)
def test_the_dispatcher_never_walks_the_whole_outbox(
    db: Database, query: str, params: tuple[Any, ...]
) -> None:
    # Every page of the dispatcher asks these: a walk of the outbox on each made
    # delivering one post to a million members take time in the square of its size.
    with db.read_plain() as conn:
        plan = _plan(conn, query, params)
    assert "SCAN outbox" not in plan, plan


def test_asking_whether_a_list_has_digest_members_reads_no_member_list(db: Database) -> None:
    # Every accepted post asks it; walking a million regular members to find no digest
    # member took 0.27 s a post.
    with db.read_plain() as conn:
        plan = _plan(conn, collect._DIGEST_MEMBER, (1, "digest"))
        fan_out = _plan(conn, outbox._FAN_OUT, (1, 0.0, 1, "regular"))
    assert "ix_member_list_delivery (list_id=? AND delivery=?)" in plan, plan
    assert "TEMP B-TREE" not in fan_out, fan_out  # the members come in id order as before


def test_the_minute_decay_of_bounce_scores_reads_only_members_who_bounced(
    db: Database,
) -> None:
    # housekeeping asks it once a minute: a walk of every member of the node took 0.13 s
    # at a million, in the write transaction that intake waits for
    with db.read_plain() as conn:
        plan = _plan(conn, score.DECAY.replace(":t", "?"), (0.0,))
    assert "ix_member_bouncing (last_bounce<?)" in plan, plan


def _plan(conn: sqlite3.Connection, query: str, params: tuple[Any, ...]) -> str:
    rows = conn.execute(f"EXPLAIN QUERY PLAN {query}", params).fetchall()
    return "\n".join(str(r[-1]) for r in rows)


def test_due_retries_come_in_the_order_they_fell_due(db: Database) -> None:
    with db.write() as s:
        outgoing_id = outbox.enqueue(s, b"x", "b@x", _people(4), 1, now=0.0)
        conn = sqlite_of(s)
        for address, when in zip(_people(4), [5.0, 3.0, 3.0, 9.0], strict=True):
            conn.execute(
                "UPDATE outbox SET attempts = 1, next_attempt = ? WHERE address = ?",
                (when, address),
            )
    with db.read_plain() as conn:
        rows = conn.execute(worker._RETRIES, (6.0, worker.PAGE)).fetchall()
    assert [(o, a) for _id, o, a in rows] == [
        (outgoing_id, "user00001@example.net"),
        (outgoing_id, "user00002@example.net"),
        (outgoing_id, "user00000@example.net"),
    ]
