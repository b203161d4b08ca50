"""Incremental JWZ-style threading: each list's forest in ``thread_node``, one message at a time.

A message's own References/In-Reply-To set its parent ('own'); the ids it cites link one
another where nothing set a parent yet ('ref': first mention wins, over a subject guess
too); a message citing nothing may join by subject ('subject'). Ids only cited are
placeholders. With consistent References, any arrival order gives the same parents.

``thread_id`` is kept equal to the root's id: a root joining a tree is relabelled by one
indexed UPDATE; a non-root moving (own or ref parent replacing a guess) walks its subtree,
at most ``limit`` nodes: the rest keep a stale thread id until the list is rethreaded.
A message whose parent is known costs two queries. No cycle is stored: a link is skipped
when the child is among the new parent's ancestors (1000 steps, then the thread ids).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from listfed.archive.threadforest import TreeNode, forget, thread_of, tree
from listfed.archive.threadkeys import bare_id, parent_chain, subject_key

__all__ = ["Placement", "TreeNode", "forget", "place", "predict", "subject_key"]
__all__ += ["thread_of", "tree"]

MAX_WALK = 1000  # ancestors visited by the cycle check
SUBJECT_WINDOW = 60 * 86400.0  # subject-only messages join within this many seconds
MIN_SUBJECT = 3  # shorter subject keys ("hi", "?") never join
_MAX_DEPTH = 1_000_000  # guards predict()'s walk to a root against a corrupt table

_NODE = "SELECT message_id, parent, link, thread_id, archived FROM thread_node WHERE list_id = ?"
_KIDS = "SELECT message_id, archived, thread_id FROM thread_node WHERE list_id = ?"
_UP = """WITH RECURSIVE up(id, parent, n) AS (
  SELECT message_id, parent, 0 FROM thread_node WHERE list_id = ?1 AND message_id = ?2
  UNION ALL SELECT t.message_id, t.parent, up.n + 1 FROM up JOIN thread_node t
    ON t.list_id = ?1 AND t.message_id = up.parent WHERE up.parent != '' AND up.n < ?3)
SELECT id, parent FROM up"""
# A reply citing nothing joins its original (the newest message of that subject that is
# not a reply and cites nothing), else the thread of the newest message of that subject.
_MATCH = """SELECT message_id, thread_id, NOT reply AND link != 'own' FROM thread_node
WHERE list_id = ? AND subject_key = ? AND archived AND message_id != ? AND thread_id != ?
  AND date BETWEEN ? AND ? ORDER BY 3 DESC, date DESC, message_id LIMIT 1"""
# An original arriving adopts the replies that had to wait for it or settle for less, so
# that which came first does not matter.
_ORPHANS = """SELECT n.message_id FROM thread_node n LEFT JOIN thread_node p
  ON p.list_id = n.list_id AND p.message_id = n.parent
WHERE n.list_id = ? AND n.subject_key = ? AND n.archived AND n.reply AND n.message_id != ?
  AND n.date BETWEEN ? AND ? AND CASE n.link WHEN '' THEN n.parent = ''
    WHEN 'subject' THEN NOT (p.archived AND NOT p.reply AND p.link != 'own'
      AND p.subject_key = n.subject_key) ELSE 0 END
ORDER BY n.date, n.message_id"""


@dataclass(frozen=True)
class Placement:
    thread_id: str
    relabelled: dict[str, str]  # other archived message_ids → their new thread_id


@dataclass
class _Node:
    parent: str
    link: str
    tid: str
    archived: bool
    dirty: bool = False  # parent set by this call: predict() must not trust the table


def _marks(ids: Sequence[str]) -> str:
    return ",".join("?" * len(ids))


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    return (ids[i : i + size] for i in range(0, len(ids), size))


class _Forest:
    """One list's forest as one call sees it; ``write=False`` keeps every change in memory."""

    def __init__(self, conn: sqlite3.Connection, list_id: int, write: bool, limit: int) -> None:
        self.conn, self.list_id, self.write, self.limit = conn, list_id, write, limit
        self.nodes: dict[str, _Node] = {}
        self.new: set[str] = set()
        self.absent: set[str] = set()
        self.inner: set[str] = set()  # trees in which a non-root moved (predict walks them)
        self.moved: dict[str, str] = {}
        self.was: dict[str, str] = {}

    def sql(self, query: str, *args: object) -> list[tuple[object, ...]]:
        return self.conn.execute(query, args).fetchall()

    def load(self, ids: Iterable[str]) -> None:
        for part in _chunks([i for i in ids if i not in self.nodes and i not in self.absent]):
            q = f"{_NODE} AND message_id IN ({_marks(part)})"
            for mid, parent, link, tid, archived in self.sql(q, self.list_id, *part):
                self.nodes[str(mid)] = _Node(str(parent), str(link), str(tid), bool(archived))
            self.absent.update(i for i in part if i not in self.nodes)

    def get(self, mid: str) -> _Node | None:
        self.load([mid])
        return self.nodes.get(mid)

    def tid(self, mid: str) -> str:
        if self.write:
            return node.tid if (node := self.get(mid)) else mid
        for _ in range(_MAX_DEPTH):  # jump to the stored root where nothing inside moved
            node = self.get(mid)
            if node is None or not node.parent:
                break
            mid = node.parent if node.dirty or node.tid in self.inner else node.tid
        return mid

    def add(self, mid: str, parent: str, link: str, *extra: object) -> None:
        """Insert a node; ``extra`` = (subject_key, reply, date) for an archived message."""
        node = _Node(parent, link, self.tid(parent) if parent else mid, bool(extra), True)
        self.nodes[mid] = node
        self.new.add(mid)
        if self.write:
            self.sql(
                "INSERT INTO thread_node (list_id, message_id, parent, link, thread_id,"
                " archived, subject_key, reply, date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                *(self.list_id, mid, parent, link, node.tid, node.archived),
                *(extra or ("", False, 0.0)),
            )

    def archive(self, mid: str, key: str, reply: bool, date: float) -> None:
        self.nodes[mid].archived = True
        if self.write:
            self.sql(
                "UPDATE thread_node SET archived = 1, subject_key = ?, reply = ?, date = ?"
                " WHERE list_id = ? AND message_id = ?",
                *(key, reply, date, self.list_id, mid),
            )

    def is_ancestor(self, mid: str, of: str) -> bool:
        if mid == of or mid in self.new:
            return mid == of
        if self.write:
            path = [(str(a), str(b)) for a, b in self.sql(_UP, self.list_id, of, MAX_WALK)]
        else:
            path, up = [], of
            while up and len(path) <= MAX_WALK and (node := self.get(up)) is not None:
                path.append((up, node.parent))
                up = node.parent
        if any(a == mid for a, _ in path):
            return True
        return len(path) > MAX_WALK and bool(path[-1][1]) and self.tid(mid) == self.tid(of)

    def link(self, mid: str, parent: str, how: str) -> None:
        node = self.nodes[mid]
        moves = node.parent != parent
        if moves and self.is_ancestor(mid, parent):
            return
        if not self.write:
            if moves and node.parent and not node.dirty:
                self.inner.add(node.tid)
            node.parent, node.link, node.dirty = parent, how, node.dirty or moves
            return
        old, new, root = node.tid, self.tid(parent), not node.parent
        node.parent, node.link = parent, how
        self.sql(
            "UPDATE thread_node SET parent = ?, link = ? WHERE list_id = ? AND message_id = ?",
            *(parent, how, self.list_id, mid),
        )
        if old != new:
            self.relabel(mid, old, new, root)

    def relabel(self, mid: str, old: str, new: str, root: bool) -> None:
        set_tid = "UPDATE thread_node SET thread_id = ? WHERE list_id = ? AND"
        if root:  # the whole tree, by its thread id
            done = self.sql(f"{_KIDS} AND thread_id = ? AND archived", self.list_id, old)
            self.sql(f"{set_tid} thread_id = ?", new, self.list_id, old)
            for node in self.nodes.values():
                node.tid = new if node.tid == old else node.tid
        else:  # breadth first down the parent index, at most `limit` nodes
            level: list[tuple[object, ...]] = [(mid, self.nodes[mid].archived, old)]
            seen, done = {mid}, []
            while level and len(done) < self.limit:
                level = level[: self.limit - len(done)]
                done += level
                ids, level = [str(m) for m, _, _ in level], []
                for part in _chunks(ids):
                    self.sql(f"{set_tid} message_id IN ({_marks(part)})", new, self.list_id, *part)
                    for kid in self.sql(
                        f"{_KIDS} AND parent IN ({_marks(part)})", self.list_id, *part
                    ):
                        if kid[0] not in seen:
                            seen.add(str(kid[0]))
                            level.append(kid)
                for moved in ids:
                    if moved in self.nodes:
                        self.nodes[moved].tid = new
        for m, archived, was in done:
            if archived:
                self.was.setdefault(str(m), str(was))
                self.moved[str(m)] = new


def _place(f: _Forest, mid: str, refs: Sequence[str], irt: str, subject: str, date: float) -> str:
    chain = parent_chain(refs, irt, mid)
    key, reply = subject_key(subject)
    f.load([*chain, mid])
    me = f.get(mid)
    if me is not None and me.archived:
        return f.tid(mid)
    prev = ""  # a cited id's 'ref' parent replaces a subject guess: had it come first, no guess
    for cited in chain:
        if (node := f.get(cited)) is None:
            f.add(cited, prev, "ref" if prev else "")
        elif prev and (not node.parent or node.link == "subject"):
            f.link(cited, prev, "ref")
        prev = cited
    parent, how = (chain[-1], "own") if chain else ("", "")
    alone = not chain and len(key) >= MIN_SUBJECT
    lo, hi = date - SUBJECT_WINDOW, date + SUBJECT_WINDOW
    if alone and reply and (me is None or not me.parent):
        tid = me.tid if me else mid
        for found, thread, original in f.sql(_MATCH, f.list_id, key, mid, tid, lo, hi):
            parent, how = str(found if original else thread), "subject"
    if me is None:
        f.add(mid, parent, how, key, reply, date)
    else:
        f.archive(mid, key, reply, date)
        if parent:
            f.link(mid, parent, how)
    if f.write and alone and not reply:
        for (orphan,) in f.sql(_ORPHANS, f.list_id, key, mid, lo, hi):
            f.load([str(orphan)])
            f.link(str(orphan), mid, "subject")
    return f.tid(mid)


def place(
    conn: sqlite3.Connection,
    list_id: int,
    message_id: str,
    references: Sequence[str],
    in_reply_to: str,
    subject: str,
    date: float,
    *,
    limit: int = 5000,
) -> Placement:
    """Thread an archived message; ``limit`` bounds the nodes one subtree move relabels."""
    f = _Forest(conn, list_id, True, limit)
    tid = _place(f, bare_id(message_id), references, in_reply_to, subject, date)
    moved = {m: t for m, t in f.moved.items() if m != bare_id(message_id) and f.was[m] != t}
    return Placement(tid, moved)


def predict(
    conn: sqlite3.Connection,
    list_id: int,
    message_id: str,
    references: Sequence[str],
    in_reply_to: str,
    subject: str,
    date: float,
) -> str:
    """The thread id place() would give for a post dated `date`, writing nothing."""
    f = _Forest(conn, list_id, False, 0)
    return _place(f, bare_id(message_id), references, in_reply_to, subject, date)
