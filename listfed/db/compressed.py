"""How the archive keeps a message's bytes: zlib-compressed, restored byte for byte.

Mail compresses to about 0.52–0.55 of itself alone; with a preset dictionary made of
the archive's own messages (schema v18, archive/zdict.py) to 0.35–0.42, since a list's
messages share their header fields, names and words. A blob packed with a dictionary
names it itself: zlib's header then carries the dictionary's Adler-32 (RFC 1950,
FDICT), so a row needs no column for it, rows packed without one stay readable, and the
dictionary can change.
"""

from __future__ import annotations

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
    """The id of the dictionary `blob` was packed with, None if it had none."""
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
