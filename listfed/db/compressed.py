"""How the archive keeps a message's bytes: zlib-compressed, restored byte for byte.

Mail compresses about 3:1, which keeps the database (raw bytes, extracted text and the
full-text index together) near the size of the mbox it came from.
"""

from __future__ import annotations

import zlib

from listfed.errors import StorageError

LEVEL = 6


def pack(raw: bytes) -> bytes:
    return zlib.compress(raw, LEVEL)


def unpack(blob: bytes) -> bytes:
    try:
        return zlib.decompress(blob)
    except zlib.error as exc:
        raise StorageError(f"an archived message is damaged in the database: {exc}") from None
