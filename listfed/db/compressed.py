"""How the archive keeps a message's bytes and its text: zlib-compressed, restored byte
for byte.

Mail compresses to about 0.52–0.55 of itself alone; with a preset dictionary made of
the archive's own messages (schema v18, archive/zdict.py) to 0.35–0.42, since a list's
messages share their header fields, names and words. A blob packed with a dictionary
names it itself: zlib's header then carries the dictionary's Adler-32 (RFC 1950,
FDICT), so a row needs no column for it, rows packed without one stay readable, and the
dictionary can change.

From schema v19 the text (`archive.body_text`, what the search indexes read) is packed
the same way, and the message is packed *chained* to it: its preset dictionary is the
tail of the archive's dictionary followed by the text, so the body, which the text
repeats nearly word for word, costs a few back-references (on a text archive the
message falls from 0.35 to 0.09 of itself, the text to 0.35: bench/RESULTS.md, "The
text packed, the message chained to it"). A chained blob starts with CHAINED and the
shared dictionary's id (0: none), which a zlib stream never does (its first byte is
0x?8). Rows from before v19 (plain text, unchained messages) stay readable as they are.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Callable

from listfed.errors import StorageError

LEVEL = 6
# With a dictionary, level 6's longer match search costs about 60 µs more a message than
# level 4 (a 2.3 KB message: 188 against 129 µs; plain level 6: 103 µs) for 5 % less:
# 0.330 against 0.348 of the message (bench/RESULTS.md, "Messages packed with a dictionary")
DICTIONARY_LEVEL = 4
_FDICT = 0x20  # in zlib's second header byte: a dictionary's Adler-32 follows
# primed compressors by dictionary id: priming hashes the whole dictionary (~100 µs),
# copying a primed one is a memory copy
_PRIMED: dict[int, zlib._Compress] = {}

Lookup = Callable[[int], bytes | None]  # a dictionary by its id (Adler-32), None if unknown
CHAINED = b"\x01"  # a message packed chained to its text (see the module's text)
SHARED_TAIL = 4096  # bytes of the archive's dictionary before the text in a chain
WINDOW = 32 * 1024  # zlib looks back no further: a chain's older bytes are unused
TEXT_FUNCTION = "listfed_text"  # the SQL function that reads a stored text (`register`)
_DICTIONARIES: dict[int, bytes] = {}  # by id: a dictionary's bytes never change


def dictionary_id(zdict: bytes) -> int:
    return zlib.adler32(zdict)


def pack(raw: bytes, zdict: bytes | None = None) -> bytes:
    if not zdict:
        return zlib.compress(raw, LEVEL)
    key = dictionary_id(zdict)
    primed = _PRIMED.get(key)
    if primed is None:
        if len(_PRIMED) >= 4:  # a process sees one or two in its life
            _PRIMED.clear()
        primed = _PRIMED[key] = zlib.compressobj(DICTIONARY_LEVEL, zdict=zdict)
    packer = primed.copy()
    return packer.compress(raw) + packer.flush()


def packed_with(blob: bytes) -> int | None:
    """The id of the dictionary `blob` was packed with, None if it had none (for a
    message chained to its text: the archive's dictionary in the chain)."""
    if blob.startswith(CHAINED):
        return int.from_bytes(blob[1:5], "big") or None
    if len(blob) >= 6 and blob[1] & _FDICT:
        return int.from_bytes(blob[2:6], "big")
    return None


def unpack(blob: bytes, lookup: Lookup | None = None) -> bytes:
    try:
        wanted = packed_with(blob)
        if wanted is None:
            return zlib.decompress(blob)
        zdict = lookup(wanted) if lookup is not None else None
        if zdict is None:
            raise StorageError(
                f"an archived message needs compression dictionary {wanted}, "
                "which the database does not hold"
            )
        unpacker = zlib.decompressobj(zdict=zdict)
        raw = unpacker.decompress(blob)
        if not unpacker.eof:
            raise zlib.error("incomplete or truncated stream")
        return raw
    except zlib.error as exc:
        raise StorageError(f"an archived message is damaged in the database: {exc}") from None


def lookup(conn: sqlite3.Connection) -> Lookup:
    """The database's dictionaries by id (its `zdict` table, schema v18), read once per
    process: a dictionary is never changed once stored."""

    def find(key: int) -> bytes | None:
        data = _DICTIONARIES.get(key)
        return data if data is not None else _stored(conn, key)

    return find


def _stored(conn: sqlite3.Connection, key: int) -> bytes | None:
    """Dictionary `key` read from the database (and kept for this process), or None."""
    row = conn.execute("SELECT data FROM zdict WHERE id = ?", (key,)).fetchone()
    if row is None:
        return None
    data = _DICTIONARIES[key] = bytes(row[0])
    return data


def remember(data: bytes) -> None:
    """A dictionary just stored, for `lookup` in this process."""
    _DICTIONARIES[dictionary_id(data)] = data


def pack_text(text: str, zdict: bytes | None = None) -> bytes:
    """A message's text as `archive.body_text` keeps it (schema v19)."""
    return pack(text.encode("utf-8", "surrogatepass"), zdict)


def text_of(stored: str | bytes, lookup: Lookup | None = None) -> str:
    """The text `archive.body_text` holds: packed (v19), or plain in older rows."""
    if isinstance(stored, str):
        return stored
    return unpack(stored, lookup).decode("utf-8", "surrogatepass")


def _chain(shared: bytes | None, text: bytes) -> bytes:
    return ((shared or b"")[-SHARED_TAIL:] + text)[-WINDOW:]


def pack_message(raw: bytes, text: str, zdict: bytes | None = None) -> bytes:
    """A message as `archive.raw` keeps it from v19: chained to its text (`text` as
    stored with it, packed by `pack_text`), `zdict` the archive's dictionary or None."""
    key = dictionary_id(zdict) if zdict else 0
    chain = _chain(zdict, text.encode("utf-8", "surrogatepass"))
    packer = zlib.compressobj(DICTIONARY_LEVEL, zdict=chain)
    return CHAINED + key.to_bytes(4, "big") + packer.compress(raw) + packer.flush()


def unpack_message(blob: bytes, stored_text: str | bytes, lookup: Lookup | None = None) -> bytes:
    """The message of an archive row: `blob` its `raw`, `stored_text` its `body_text`
    (read only when the message was packed chained to it)."""
    if not blob.startswith(CHAINED):
        return unpack(blob, lookup)
    key = int.from_bytes(blob[1:5], "big")
    shared = None
    if key:
        shared = lookup(key) if lookup is not None else None
        if shared is None:
            raise StorageError(
                f"an archived message needs compression dictionary {key}, "
                "which the database does not hold"
            )
    text = text_of(stored_text, lookup).encode("utf-8", "surrogatepass")
    try:
        unpacker = zlib.decompressobj(zdict=_chain(shared, text))
        raw = unpacker.decompress(blob[5:])
        if not unpacker.eof:
            raise zlib.error("incomplete or truncated stream")
    except zlib.error as exc:
        raise StorageError(f"an archived message is damaged in the database: {exc}") from None
    return raw


def register(conn: sqlite3.Connection) -> None:
    """Give `conn` the SQL function listfed_text(body_text): a stored text as text. The
    archive's search indexes read the text through it (the `archive_text` view, schema
    v19), so every connection that writes the archive or makes snippets needs it.

    The function holds no reference to `conn` (a connection holding a function that
    holds it is a cycle Python never frees, with its file): a dictionary not yet seen in
    this process is read on a short connection of its own."""
    row = conn.execute("PRAGMA database_list").fetchone()
    path = str(row[2]) if row and row[2] else ""  # "" for a database in memory

    def find(key: int) -> bytes | None:
        data = _DICTIONARIES.get(key)
        return data if data is not None or not path else _read_dictionary(path, key)

    def text(stored: str | bytes | None) -> str | None:
        return None if stored is None else text_of(stored, find)

    conn.create_function(TEXT_FUNCTION, 1, text, deterministic=True)


def _read_dictionary(path: str, key: int) -> bytes | None:
    side = sqlite3.connect(path, timeout=5.0)
    try:
        return _stored(side, key)
    except sqlite3.Error:
        return None
    finally:
        side.close()
