"""How archive answers look: search hits, a message, a thread tree; as text and as JSON.

Thread trees can be thousands deep (a long chain of replies): nothing here recurses;
the JSON nests at most `MAX_JSON_DEPTH` levels, deeper replies hang at that level.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Iterable

from listfed.archive.search import Hit
from listfed.records import TYPE_CHECKING, NamedTuple  # not a dataclass: archive/querylex.py

if TYPE_CHECKING:  # the trees are built by archive/threads.py; a search has none
    from typing import Any

    from listfed.archive.threads import TreeNode

MAX_JSON_DEPTH = 100
MAX_TEXT_INDENT = 30
_META = (
    "SELECT a.message_id, m.local || '@' || m.domain, a.sender, a.sender_name, a.subject, "
    "a.date FROM archive a JOIN mlist m ON m.id = a.list_id "
    "WHERE a.list_id = ? AND a.message_id IN ({})"
)


class Meta(NamedTuple):
    list: str
    sender: str
    sender_name: str
    subject: str
    date: float


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def short_date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def who(name: str, address: str) -> str:
    return f"{name} <{address}>" if name and address else name or address or "(no sender)"


def hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "message_id": hit.message_id,
        "list": hit.list,
        "from": hit.sender,
        "from_name": hit.sender_name,
        "subject": hit.subject,
        "date": iso(hit.date),
        "thread_id": hit.thread_id,
        "snippet": hit.snippet,
        "visibility": hit.visibility,
    }


def hits_text(hits: list[Hit]) -> str:
    blocks = [
        f"{short_date(h.date)}  {h.list}  {who(h.sender_name, h.sender)}\n"
        f"  {h.subject or '(no subject)'}\n  <{h.message_id}>\n  {h.snippet}"
        for h in hits
    ]
    return "\n\n".join(blocks) if blocks else "no messages found"


def metadata(conn: sqlite3.Connection, list_id: int, ids: Iterable[str]) -> dict[str, Meta]:
    wanted = list(ids)
    found: dict[str, Meta] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        sql = _META.format(",".join("?" * len(chunk)))
        for mid, lst, sender, name, subject, date in conn.execute(sql, (list_id, *chunk)):
            found[mid] = Meta(lst, sender, name, subject, date)
    return found


def walk(roots: list[TreeNode]) -> Iterable[tuple[TreeNode, int, list[bool]]]:
    """Depth-first, iteratively: each node with its depth and, per ancestor level,
    whether that ancestor was the last of its siblings (for drawing the tree)."""
    stack: list[tuple[TreeNode, int, list[bool]]] = [
        (n, 0, [i == len(roots) - 1]) for i, n in reversed(list(enumerate(roots)))
    ]
    while stack:
        node, depth, lasts = stack.pop()
        yield node, depth, lasts
        kids = node.children
        for i in range(len(kids) - 1, -1, -1):
            stack.append((kids[i], depth + 1, [*lasts[-MAX_TEXT_INDENT:], i == len(kids) - 1]))


def tree_text(
    roots: list[TreeNode], meta: dict[str, Meta], focus: str, removed: Collection[str] = ()
) -> str:
    lines = []
    for node, depth, lasts in walk(roots):
        shown = lasts[-MAX_TEXT_INDENT:] if depth >= MAX_TEXT_INDENT else lasts
        prefix = "".join("   " if last else "│  " for last in shown[1:-1])
        if depth:
            prefix += "└─ " if shown[-1] else "├─ "
        if depth > MAX_TEXT_INDENT:
            prefix = f"[{depth}] " + prefix
        m = meta.get(node.message_id)
        if m is None:
            gone = "post removed" if node.message_id in removed else "not archived"
            line = f"({gone}) <{node.message_id}>"
        else:
            subject = m.subject or "(no subject)"
            line = f"{short_date(m.date)}  {who(m.sender_name, m.sender)}  {subject}"
            line += f"  <{node.message_id}>"
        lines.append(prefix + line + ("   ◀" if node.message_id == focus else ""))
    return "\n".join(lines)


def node_json(message_id: str, m: Meta | None, lst: str = "") -> dict[str, Any]:
    if m is None:  # a placeholder: replies name it, the archive does not have it
        return {
            "message_id": message_id,
            "list": lst,
            "from": "",
            "from_name": "",
            "subject": "",
            "date": None,
            "archived": False,
            "children": [],
        }
    return {
        "message_id": message_id,
        "list": m.list,
        "from": m.sender,
        "from_name": m.sender_name,
        "subject": m.subject,
        "date": iso(m.date),
        "archived": True,
        "children": [],
    }


def tree_json(
    roots: list[TreeNode], meta: dict[str, Meta], lst: str, removed: Collection[str] = ()
) -> list[dict[str, Any]]:
    top: list[dict[str, Any]] = []
    holders: list[list[dict[str, Any]]] = [top]  # children lists by depth, capped
    for node, depth, _lasts in walk(roots):
        level = min(depth, MAX_JSON_DEPTH)
        item = node_json(node.message_id, meta.get(node.message_id), lst)
        if not item["archived"]:
            item["removed"] = node.message_id in removed
        del holders[level + 1 :]
        holders[level].append(item)
        holders.append(item["children"] if level < MAX_JSON_DEPTH else holders[level])
    return top
