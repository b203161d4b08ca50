"""`archive export`: a list's archive as one mboxrd file, oldest first.

Written beside the target and renamed into place, so a failed export never leaves half a
file under the name asked for. Each message is written as it was archived, byte for byte,
except that relay signatures are left out (see `stage.store`).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import BinaryIO

from listfed.archive import zdict
from listfed.archive.mbox import write_entry
from listfed.db import compressed
from listfed.errors import ListfedError
from listfed.mail.message import without_signatures

_ROWS = "SELECT sender, date, raw, body_text FROM archive WHERE list_id = ? ORDER BY date, id"


def write_mbox(conn: sqlite3.Connection, list_id: int, out: BinaryIO) -> int:
    """Write the list's archive to an open stream (`archive export -o -`: stdout); how
    many messages were written."""
    count = 0
    cursor = conn.execute(_ROWS, (list_id,))
    find = zdict.lookup(conn)
    while rows := cursor.fetchmany(200):
        for sender, date, blob, text in rows:
            raw = compressed.unpack_message(blob, text, find)
            write_entry(out, without_signatures(raw), sender, date)
            count += 1
    return count


def export_mbox(conn: sqlite3.Connection, list_id: int, target: Path) -> int:
    """Write the list's archive to `target`; returns how many messages were written."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as out:
            count = write_mbox(conn, list_id, out)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ListfedError(f"cannot write {target}: {exc.strerror or exc}") from None
    return count
