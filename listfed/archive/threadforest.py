"""Each list's thread forest (kept by ``threads``; the table is in db/schema_v5.py):
reading it as a tree, dropping it."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from listfed.archive.threadkeys import bare_id


@dataclass
class TreeNode:
    message_id: str
    archived: bool  # False: a placeholder, mentioned by a reply but never seen
    children: list[TreeNode] = field(default_factory=list)
    depth: int = 0


def thread_of(conn: sqlite3.Connection, list_id: int, message_id: str) -> str | None:
    """The thread id of a message or placeholder, None if never seen."""
    row = conn.execute(
        "SELECT thread_id FROM thread_node WHERE list_id = ? AND message_id = ?",
        (list_id, bare_id(message_id)),
    ).fetchone()
    return None if row is None else str(row[0])


def forget(conn: sqlite3.Connection, list_id: int) -> None:
    """Drop a list's forest (before rethreading its archive)."""
    conn.execute("DELETE FROM thread_node WHERE list_id = ?", (list_id,))


def tree(
    conn: sqlite3.Connection, list_id: int, thread_id: str, limit: int = 5000
) -> list[TreeNode]:
    """The roots of a thread, children by date, at most ``limit`` nodes (the earliest).

    Iterative, never recursive: threads are user data and can be thousands deep. A node
    whose parent is past the limit is shown as a root.
    """
    rows = conn.execute(
        "SELECT message_id, parent, archived, date FROM thread_node"
        " WHERE list_id = ? AND thread_id = ? ORDER BY date, message_id LIMIT ?",
        (list_id, thread_id, limit),
    ).fetchall()
    nodes = {mid: TreeNode(mid, bool(archived)) for mid, _, archived, _ in rows}
    kids: dict[str, list[str]] = {}
    for mid, parent, _, _ in rows:
        if parent in nodes:
            kids.setdefault(parent, []).append(mid)
    starts = [mid for mid, parent, _, _ in rows if parent not in nodes]
    order: list[str] = []
    seen: set[str] = set()
    first = len(starts)
    for i, start in enumerate([*starts, *nodes]):  # then what a (corrupt) cycle hid
        if start in seen:
            continue
        if i >= first:
            starts.append(start)
        seen.add(start)
        stack = [start]
        while stack:  # parents before children in `order`
            order.append(mid := stack.pop())
            for kid in kids.get(mid, []):
                if kid not in seen:
                    seen.add(kid)
                    nodes[mid].children.append(nodes[kid])
                    stack.append(kid)
    when = {mid: date for mid, _, _, date in rows}
    for mid in reversed(order):  # children first: a placeholder dates from its earliest child
        node = nodes[mid]
        node.children.sort(key=lambda n: (when[n.message_id], n.message_id))
        if not node.archived and node.children:
            when[mid] = when[node.children[0].message_id]
    roots = sorted((nodes[m] for m in starts), key=lambda n: (when[n.message_id], n.message_id))
    stack = list(roots)
    while stack:
        node = stack.pop()
        for kid in node.children:
            kid.depth = node.depth + 1
            stack.append(kid)
    return roots
