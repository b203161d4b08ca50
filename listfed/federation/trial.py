"""What `listfed routes test` finds: one message run, as a new post on a list, through
the loop and duplicate rules and the route plan, as the intake worker would; nothing is
sent or written. It reads through a plain connection (db/plain.py), so that the command
loads no SQLAlchemy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from listfed import checks
from listfed.context import NodeSettings
from listfed.db.plain import Db
from listfed.federation.plan import Hop, plan
from listfed.listinfo import ListInfo
from listfed.mail.rawmail import RawMessage
from listfed.post import Post, make_post


@dataclass
class Trial:
    post: Post
    drop: str | None  # why the list would drop it as a loop or duplicate
    hops: list[Hop]


def trial(
    db: Db,
    node: NodeSettings,
    lst: ListInfo,
    raw: bytes,
    clock: Callable[[], float] = time.time,
) -> Trial:
    """`raw` as a new post on `lst`, built as the intake worker builds it (the envelope sender
    from Return-Path, when the file has one);
    what the loop and duplicate rules say, and every route's hop."""
    envelope = RawMessage.parse(raw).get("Return-Path") or ""
    now = clock()
    post = make_post(0, lst, raw, envelope.strip().strip("<>"), node.name, now)
    verdict = checks.loop_at(node, post) or checks.duplicate_in(db, post)
    return Trial(post, None if verdict is None else verdict.reason, plan(db, node, post, now))
