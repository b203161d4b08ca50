"""What the archive's full-text index needs from a message: `extract(raw)` → `Extract`.

Built for mbox imports of 100,000 messages: a single-part message with plain header
lines never meets the email package (our own header split and body decoding); multipart,
message/* and odd header blocks go through ``email`` with the compat32 policy. Both paths
read header values and decode bodies with the same functions, so they agree.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import Message

from listfed.mail import headers
from listfed.mail.decoding import decode_bytes, decode_cte, decode_words
from listfed.mail.htmltext import html_to_text
from listfed.mail.message import normalise_message_id
from listfed.mail.mimeparse import mime_depth, too_deep

MAX_BODY = 200_000  # characters of body_text
MAX_NAMES = 100  # attachment names
MAX_PARTS = 1_000  # MIME parts looked at
MAX_DEFECTS = 50
_MAX_PAYLOAD = 4_000_000  # encoded bytes of the chosen part that are decoded


@dataclass(frozen=True, slots=True)
class Extract:
    message_id: str  # normalised, no brackets; "" when absent
    subject: str
    sender: str  # From address, domain lower-cased; "" when none
    sender_name: str
    date: float | None
    references: tuple[str, ...]  # oldest first, no brackets
    in_reply_to: str
    body_text: str
    attachments: str  # file names joined by "\n"
    defects: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Part:
    ctype: str
    charset: str
    cte: str
    attachment: bool
    filename: str


def extract(raw: bytes, fast: bool = True) -> Extract:
    """Read what the index needs from a message; never raises, whatever the bytes.

    ``fast=False`` sends every message through the email package (for tests).
    """
    try:
        return _extract(bytes(raw), fast)
    except Exception as exc:  # a message the index cannot read must not stop an import
        return Extract("", "", "", "", None, (), "", "", "", (f"unreadable: {type(exc).__name__}",))


def _extract(raw: bytes, fast: bool) -> Extract:
    defects: list[str] = []
    if not raw:
        return Extract("", "", "", "", None, (), "", "", "", ("empty message",))
    head, body, separated = headers.split_message(raw)
    if not separated:
        defects.append("no header/body separator")
    fields = headers.read_fields(head)
    early: list[str] = []  # what describing the top part found, reported in its turn
    top = _describe(fields, early) if fields is not None and fast else None
    msg: Message | None = None
    if top is None or top.ctype.startswith(_CONTAINERS):
        depth = mime_depth(raw)
        if too_deep(raw, depth):
            # The email package tests every line against every open boundary: nesting
            # like this would take it minutes. The body is indexed as it stands.
            defects.append(f"MIME nested too deeply ({depth} levels)")
            top = _Part("text/x-multipart", "", "", False, "")
        else:
            try:
                msg = email.message_from_bytes(raw, policy=email.policy.compat32)
                fields = headers.fields_of(msg)
            except Exception as exc:  # e.g. RecursionError on deep message/rfc822 nesting
                defects.append(f"unparseable MIME: {type(exc).__name__}")
    fields = fields or {}
    name, sender = headers.address(headers.text(fields, "from", defects), defects)
    date_value = headers.text(fields, "date", defects)
    when = headers.date(date_value)
    if date_value and when is None:
        defects.append("unreadable date")
    if msg is None and top is not None:
        defects.extend(early)
        body_text, names = _single(top, body, defects)
    elif msg is None:
        body_text, names = "", []
    else:
        body_text, names = _walk(msg, defects)
    return Extract(
        message_id=normalise_message_id(headers.text(fields, "message-id", defects)),
        subject=_clean(decode_words(headers.text(fields, "subject", defects), defects)),
        sender=_clean(sender),
        sender_name=_clean(name),
        date=when,
        references=headers.message_ids(headers.text(fields, "references", defects, every=True)),
        in_reply_to=normalise_message_id(headers.text(fields, "in-reply-to", defects)),
        body_text=_clean(body_text),
        attachments=_clean("\n".join(names)),
        defects=tuple(dict.fromkeys(defects))[:MAX_DEFECTS],
    )


_CONTAINERS = ("multipart/", "message/")


def _describe(fields: headers.Fields, defects: list[str]) -> _Part:
    """How a part is to be read, from its own Content-* fields."""
    ctype, ct_params = headers.params(headers.text(fields, "content-type", defects), defects)
    if ctype.count("/") != 1:  # absent or invalid: RFC 2045's default, as the stdlib does
        ctype = "text/plain"
    disposition, cd_params = headers.params(
        headers.text(fields, "content-disposition", defects), defects
    )
    cte = headers.text(fields, "content-transfer-encoding", defects)
    filename = cd_params.get("filename") or ct_params.get("name") or ""
    if filename:
        filename = decode_words(filename, defects)
    return _Part(
        ctype=ctype,
        charset=ct_params.get("charset", ""),
        cte=(cte.split() or [""])[0].strip("\"'").lower(),
        attachment=disposition == "attachment",
        filename=filename,
    )


def _rank(part: _Part) -> int | None:
    """Which text a reader sees first: plain, then HTML, then any other inline text."""
    if part.attachment or not part.ctype.startswith("text/"):
        return None
    return {"text/plain": 0, "text/html": 1}.get(part.ctype, 2)


def _single(part: _Part, body: bytes, defects: list[str]) -> tuple[str, list[str]]:
    names = [part.filename] if part.filename else []
    readable = _rank(part) is not None and body.strip()
    return (_body(part, body, defects) if readable else ""), names


def _walk(msg: Message, defects: list[str]) -> tuple[str, list[str]]:
    """Body text and attachment names of a parsed message, depth first, without recursion
    (the structure is the sender's to choose)."""
    names: list[str] = []
    best: tuple[int, _Part, bytes] | None = None
    stack: list[tuple[Message, bool]] = [(msg, False)]
    for _ in range(MAX_PARTS):
        if not stack:
            break
        node, nested = stack.pop()
        defects.extend(type(d).__name__ for d in node.defects)
        part = _describe(headers.fields_of(node), defects)
        if part.filename and len(names) < MAX_NAMES:
            names.append(part.filename)
        # compat32's get_payload() would decode 8-bit bytes itself, replacing what does
        # not fit the declared charset: read the payload as the parser stored it.
        payload = vars(node).get("_payload")
        if isinstance(payload, list):
            inner = nested or part.ctype.startswith("message/")
            stack.extend((p, inner) for p in reversed(payload) if isinstance(p, Message))
            continue
        if part.ctype.startswith("multipart/"):  # no boundary found: read it as text
            part = _Part("text/x-multipart", part.charset, part.cte, False, part.filename)
        rank = _rank(part)
        if rank is None or not isinstance(payload, str):
            continue
        rank += 3 if nested else 0  # a forwarded message's text only if ours has none
        data = payload.encode("utf-8", errors="surrogateescape")  # the bytes as they came
        if data.strip() and (best is None or rank < best[0]):
            best = (rank, part, data)
    if stack:
        defects.append(f"more than {MAX_PARTS} MIME parts")
    return (_body(best[1], best[2], defects) if best else ""), names


def _body(part: _Part, payload: bytes, defects: list[str]) -> str:
    if len(payload) > _MAX_PAYLOAD:  # cut at a line end if there is one (base64 stays whole)
        payload = payload[: payload.rfind(b"\n", 0, _MAX_PAYLOAD) + 1 or _MAX_PAYLOAD]
    text = decode_bytes(decode_cte(payload, part.cte, defects), part.charset, defects)
    if part.ctype == "text/html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").removeprefix("\ufeff")[:MAX_BODY]


def _clean(value: str) -> str:
    """Text SQLite can store: NULs dropped, lone surrogates replaced."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", errors="replace").decode("utf-8")
    return value
