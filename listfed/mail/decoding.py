"""Lenient decoding of mail: transfer encodings, charsets, RFC 2047 encoded words.

Every function here returns its best effort and notes what was wrong in ``defects``;
none raises on any input.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import re

# Codecs that are not charsets a mail can honestly declare, or that cost quadratic time
# on hostile input (punycode): treated as unknown.
_REFUSED = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined"})
# Declared charsets that mailers really mean as their superset (as web browsers do).
_SUPERSETS = {"iso8859-1": "cp1252", "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949"}
_REAL_UTF8 = re.compile(r"[^\x00-\x7f\ufffd]")
_B64_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_B64_TEXT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n\f\v"
_B64_PADS = re.compile(rb"=+")
_B64_NOT_ALPHABET = bytes(sorted(set(range(256)) - set(_B64_TEXT[:64])))
_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def label(value: str) -> str:
    """A charset or encoding name as it may appear in a defect: one short line."""
    return " ".join(value.strip("\"'").split())[:40].lower()


@functools.lru_cache(maxsize=256)
def _codecs_for(charset: str) -> tuple[str, ...] | None:
    """Codec names to try for a declared charset, best first; None when unknown."""
    name = charset.strip().strip("\"'").partition("*")[0]  # RFC 2231 language suffix
    if not name or len(name) > 64:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        if not name.lower().startswith("x-"):
            return None
        return _codecs_for(name[2:])  # x-mac-roman and friends
    found = info.name
    if found in _REFUSED or not getattr(info, "_is_text_encoding", True):  # base64, rot13
        return None
    superset = _SUPERSETS.get(found)
    return (superset, found) if superset else (found,)


def codec(charset: str) -> str | None:
    """The codec of a declared charset, as declared (no superset); None when it is
    unknown, not text, or one that costs quadratic time on hostile input (punycode)."""
    found = _codecs_for(charset)
    return found[-1] if found else None


def guess(data: bytes) -> str:
    """Bytes of no known charset: UTF-8 if that is what they are, else cp1252 or Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    if _REAL_UTF8.search(text):  # mostly UTF-8 with damage: keep the good characters
        return text
    return decode_8bit(data)


def decode_8bit(data: bytes) -> str:
    """Undeclared 8-bit bytes (headers): UTF-8 when valid, else cp1252, else Latin-1."""
    for codec in ("utf-8", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def decode_bytes(data: bytes, charset: str, defects: list[str]) -> str:
    """Text of ``data`` in the declared charset; an unknown or wrong one falls back to a guess."""
    if not charset:
        return guess(data)
    names = _codecs_for(charset)
    if names is None:
        defects.append(f"unknown charset {label(charset)}")
        return guess(data)
    for name in names:
        try:
            return data.decode(name)
        except (UnicodeError, LookupError):  # LookupError: a codec that is not a text codec
            continue
    defects.append(f"bytes not valid {label(charset)}")
    return guess(data)


def decode_cte(payload: bytes, cte: str, defects: list[str]) -> bytes:
    """Undo a Content-Transfer-Encoding; an unknown one leaves the bytes as they are."""
    if cte == "base64":
        return _base64(payload, defects)
    if cte == "quoted-printable":
        return binascii.a2b_qp(payload)
    if cte not in ("", "7bit", "8bit", "binary"):
        defects.append(f"unknown transfer encoding {label(cte)}")
    return payload


def _base64(data: bytes, defects: list[str]) -> bytes:
    if not data.translate(None, _B64_TEXT):  # nothing but base64 and white space
        try:
            if b"=" not in data.rstrip(b"=\r\n\t "):  # the usual case: one padded block
                return binascii.a2b_base64(data)
        except binascii.Error:
            defects.append("broken base64")
        return _lenient_base64(data)
    defects.append("broken base64")
    # Text appended after the encoded lines (a footer added by some list software) is
    # kept as text rather than decoded into noise.
    lines = data.splitlines(keepends=True)
    cut = next((i for i, line in enumerate(lines) if not _B64_LINE.fullmatch(line.strip())), 0)
    if cut == 0:
        return _lenient_base64(data)
    return _lenient_base64(b"".join(lines[:cut])) + b"\n" + b"".join(lines[cut:])


def _lenient_base64(data: bytes) -> bytes:
    """Decode what can be decoded: junk dropped, padding repaired, concatenated blocks joined."""
    out = bytearray()
    chunks = _B64_PADS.split(data)
    if len(chunks) > 64:  # not concatenated blocks but noise: read it as one block
        chunks = [b"".join(chunks)]
    for chunk in chunks:
        clean = chunk.translate(None, _B64_NOT_ALPHABET)
        clean = clean[: len(clean) - (len(clean) % 4 == 1)]  # a lone sextet makes no byte
        out += binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
    return bytes(out)


def decode_words(text: str, defects: list[str], *, collapse: bool = True) -> str:
    """A header value's RFC 2047 encoded words decoded: listfed's one decoder of them.

    Adjacent encoded words in one charset are joined as bytes before decoding, because
    mailers split multi-byte characters across words; the blanks between encoded words
    are dropped (RFC 2047 §6.2). ``collapse``: runs of white space made one space, as
    readers show a subject; without it the rest of the value keeps its blanks.
    """
    if "=?" not in text:
        return " ".join(text.split()) if collapse else text
    pieces: list[str] = []
    run = bytearray()
    run_charset = ""
    pos = 0
    for match in _WORD.finditer(text):
        gap = text[pos : match.start()]
        if gap and not (pos and gap.isspace()):  # space between encoded words is dropped
            if run:
                pieces.append(decode_bytes(bytes(run), run_charset, defects))
                run.clear()
            pieces.append(gap)
        charset, encoding, encoded = match.groups()
        if run and charset.lower() != run_charset:
            pieces.append(decode_bytes(bytes(run), run_charset, defects))
            run.clear()
        run += _word_bytes(encoding.lower(), encoded)
        run_charset = charset.lower()
        pos = match.end()
    if run:
        pieces.append(decode_bytes(bytes(run), run_charset, defects))
    pieces.append(text[pos:])
    return " ".join("".join(pieces).split()) if collapse else "".join(pieces)


def _word_bytes(encoding: str, encoded: str) -> bytes:
    data = encoded.encode("utf-8", errors="surrogateescape")
    if encoding == "q":
        return binascii.a2b_qp(data, header=True)
    return _lenient_base64(data)
