"""Carrying the archive's changes into the ranked index: the daemon's task.

Triggers on the archive (schema v15) note each post archived, changed or removed in
`search_pending`. A pass takes the oldest of them, removes those posts from the index
and adds back the ones the archive still holds, commits the index, and then forgets
the notes it carried: a crash in between carries them again, which changes nothing.
tantivy's commit (it syncs its files) runs on the feeder's own thread, not the
database's, and outside any write transaction.

A new or unreadable index is made anew: every archived post is noted with the time 0,
so that searches go to FTS5 until the index has them all (index.Reader.current).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import tantivy

from listfed.archive import opendb
from listfed.archive.stemvocab import fold
from listfed.archive.topk.index import (
    PAIRED,
    RECENT,
    STEMMED,
    folder_of,
    mark_made,
    open_writable,
    pairs,
    splitter,
    stems,
)
from listfed.errors import StorageError
from listfed.wakeup import first_of

log = logging.getLogger("listfed.search")

BATCH = 2_000  # posts a pass
HEAP = 16_000_000  # bytes tantivy may buffer before it writes a segment (a pass: ~4 MB)


def forget(conn: sqlite3.Connection, last: int) -> None:
    """Forget the notes up to `last`, carried over (in the caller's write transaction)."""
    conn.execute("DELETE FROM search_pending WHERE seq <= ?", (last,))


def note_everything(conn: sqlite3.Connection) -> None:
    """A new index: every post waits to be carried over, as of long ago."""
    conn.execute("DELETE FROM search_pending")
    conn.execute("INSERT INTO search_pending (post, at) SELECT id, 0 FROM archive")


class Feeder:
    """The index's one writer. `write(fn)` runs fn(conn) in a write transaction on the
    daemon's database thread (service.py: Database.run with write_plain)."""

    def __init__(
        self,
        database: Path,
        busy_timeout: float,
        write: Callable[[Callable[[sqlite3.Connection], None]], Awaitable[None]],
    ) -> None:
        self.folder = folder_of(database)
        self.database = database
        self.busy_timeout = busy_timeout
        self.write = write
        self.writer: tantivy.IndexWriter | None = None
        self.conn: sqlite3.Connection | None = None
        self.split = splitter()

    async def start(self) -> None:
        index, made = await asyncio.to_thread(open_writable, self.folder)
        self.writer = index.writer(HEAP, 1)
        if made:
            await self.write(note_everything)
            await asyncio.to_thread(mark_made, self.folder)
            log.info("search index %s made anew: the archive is being indexed", self.folder)

    def pass_once(self) -> tuple[int, int]:
        """Carry over up to BATCH notes: (how many, the last one's seq)."""
        assert self.writer is not None
        if self.conn is None:  # kept: a pass with nothing to do is one indexed read
            self.conn = opendb.connect(self.database, self.busy_timeout, True, any_thread=True)
        conn = self.conn
        try:
            notes = conn.execute(
                "SELECT seq, post FROM search_pending ORDER BY seq LIMIT ?", (BATCH,)
            ).fetchall()
            if not notes:
                return 0, 0
            posts = sorted({int(post) for _seq, post in notes})
            marks = ",".join("?" * len(posts))
            sql = (
                "SELECT id, list_id, date, subject, sender, sender_name, listfed_text(body_text), "  # noqa: S608
                "attachments "
                f"FROM archive WHERE id IN ({marks})"
            )
            rows = conn.execute(sql, posts).fetchall()
        except sqlite3.Error:
            self.conn = None
            conn.close()
            raise
        for post in posts:
            self.writer.delete_documents_by_term("id", post)
        for post, list_id, date, subject, sender, name, body, attachments in rows:
            texts = {
                "subject": fold(subject or ""),
                "sender": fold(f"{sender or ''} {name or ''}"),
                "body": fold(body or ""),
                "attachments": fold(attachments or ""),
            }
            words = {field: self.split.analyze(text) for field, text in texts.items()}
            self.writer.add_document(
                tantivy.Document(
                    id=int(post),
                    list=int(list_id),
                    date=int(date // 1),
                    recent=max(0.0, float(date)) * RECENT,
                    **texts,
                    **{STEMMED[field]: stems(split) for field, split in words.items()},
                    **{paired: pairs(words[field]) for field, paired in PAIRED.items()},
                )
            )
        self.writer.commit()
        return len(notes), int(notes[-1][0])

    async def run(
        self, stop: asyncio.Event, poll: float = 1.0, after_failure: float = 10.0
    ) -> None:
        """Opens the index (`start`) unless open, then passes until `stop`: at once while
        there is more, else every `poll` seconds
        (a tantivy commit costs 14-18 ms of CPU whatever it holds: once a second under a
        steady flow of posts is 2 % of a core, and a post is searchable within 1-2 s);
        `after_failure` seconds after a pass that failed (a full disk says so in the
        log once in that time, not four times a second)."""
        while not stop.is_set():
            wait = poll
            try:
                if self.writer is None:  # at first, and after a failure let go of it
                    await self.start()
                carried, last = await asyncio.to_thread(self.pass_once)
                if carried:
                    await self.write(partial(forget, last=last))
            except (StorageError, sqlite3.Error) as exc:  # busy: the next pass will do
                log.error("search index pass failed (FTS5 answers meanwhile): %s", exc)
                carried, wait = 0, after_failure
            except Exception:  # tantivy's errors, or a bug: searches go to FTS5 meanwhile
                log.exception("search index pass failed (FTS5 answers meanwhile)")
                carried, wait = 0, after_failure
                with contextlib.suppress(Exception):  # a writer that failed may be spent
                    await asyncio.to_thread(self.close)
            if carried < BATCH:
                await first_of(stop, timeout=wait)
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Let go of the index (and its lock), its merges finished."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.wait_merging_threads()
