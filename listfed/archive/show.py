"""`archive show`: one archived message, its headers and text, and what is wrong with it.

The defect report combines what our own reading noticed (unknown charsets, broken
encodings) with mail-parser's account of the MIME structure.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from listfed.archive import zdict
from listfed.archive.answers import iso, short_date, who
from listfed.db import compressed
from listfed.mail.message import without_signatures
from listfed.mail.mimeparse import mime_defects
from listfed.mail.text import extract

_ROW = (
    "SELECT a.message_id, m.local || '@' || m.domain, a.sender, a.sender_name, a.subject, "
    "a.date, a.thread_id, a.raw, m.visibility, a.body_text FROM archive a "
    "JOIN mlist m ON m.id = a.list_id "
    "WHERE a.list_id = ? AND a.message_id = ?"
)
_CHILDREN = (
    "SELECT message_id FROM thread_node WHERE list_id = ? AND parent = ? AND archived ORDER BY date"
)


@dataclass(frozen=True)
class Shown:
    message_id: str
    on_list: str
    sender: str
    sender_name: str
    subject: str
    date: float
    thread_id: str
    visibility: str
    raw: bytes
    body: str
    attachments: list[str]
    defects: list[str]
    children: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "list": self.on_list,
            "from": self.sender,
            "from_name": self.sender_name,
            "subject": self.subject,
            "date": iso(self.date),
            "thread_id": self.thread_id,
            "visibility": self.visibility,
            "attachments": self.attachments,
            "defects": self.defects,
            "children": self.children,
            "body": self.body,
        }

    def as_text(self) -> str:
        lines = [
            f"Message-ID: <{self.message_id}>",
            f"List: {self.on_list} (archive {self.visibility})",
            f"From: {who(self.sender_name, self.sender)}",
            f"Date: {short_date(self.date)} UTC",
            f"Subject: {self.subject}",
            f"Thread: <{self.thread_id}>",
        ]
        lines += [f"Attachment: {name}" for name in self.attachments]
        lines += [f"Defect: {d}" for d in self.defects]
        lines += [f"Reply: <{c}>" for c in self.children]
        return "\n".join(lines) + "\n\n" + self.body.rstrip("\n")


def load(conn: sqlite3.Connection, list_id: int, message_id: str) -> Shown:
    row = conn.execute(_ROW, (list_id, message_id)).fetchone()
    if row is None:
        from listfed.errors import NotFound

        raise NotFound(f"no archived message <{message_id}>")
    mid, lst, sender, name, subject, date, thread_id, blob, visibility, text = row
    unpacked = compressed.unpack_message(blob, text, zdict.lookup(conn))
    raw = without_signatures(unpacked)  # stored with it: see stage.store
    ex = extract(raw)
    defects = list(dict.fromkeys([*ex.defects, *mime_defects(raw)]))
    children = [r[0] for r in conn.execute(_CHILDREN, (list_id, mid))]
    return Shown(
        mid,
        lst,
        sender,
        name,
        subject,
        date,
        thread_id,
        visibility,
        raw,
        ex.body_text,
        [a for a in ex.attachments.split("\n") if a],
        defects,
        children,
    )
