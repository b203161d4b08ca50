"""Who a post appears to be from and where replies go: Reply-To policy and DMARC mitigation.

Pure byte-level rewrites on `rawmail.RawMessage`: the caller has already decided whether
the From domain needs mitigation. The caller uses either `reply_to` alone (no mitigation)
or `munge`/`wrap`, which apply the reply policy themselves. Bad input never raises; it
gets less done to it, and the log says why.

Two things `munge` deliberately does not do:
- Remove DKIM-Signature fields. They will fail, and receivers ignore failing signatures;
  the node re-signs with its own key later, and an ARC sealer needs the original
  signatures as evidence of what arrived.
- Add X-Original-From. The author's mailbox is in Reply-To or Cc, where mail programs
  show it and use it, and the archive keeps the post's original bytes. A second copy of
  a From value in an unauthenticated field is only something for spam filters to doubt.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from listfed.listinfo import ListInfo
from listfed.mail import authors
from listfed.mail.rawmail import RawMessage, crlf, decode_words, encode_words, fold, to_text

log = logging.getLogger("listfed.delivery")

# Fields a wrapper copies from the post: what readers see and thread by, what replies
# use, and what stops loops and auto-responders (RFC 3834) at the outer level.
_OUTER = frozenset({
    "date", "message-id", "subject", "to", "cc", "reply-to", "in-reply-to", "references",
    "auto-submitted", "x-listfed-trace",
})  # fmt: skip
# A dot-atom-ish address, UTF-8 allowed (RFC 6532): no blanks, controls or specials that
# would change how the field we write is read. Quoted local parts do not qualify.
_ADDRESS = re.compile(r'[^\s@<>()\[\],;:\\"\x00-\x1f\x7f]+@[^\s@<>()\[\],;:\\"\x00-\x1f\x7f]+')
_MAX_NAME = 200  # a display name is for people; anything longer is an attack on line limits
_MAX_LINE = 998  # RFC 5322 §2.1.1, and what RFC 2045 allows a 7bit or 8bit body


@dataclass(frozen=True)
class Mailbox:
    name: str  # decoded display name, "" when there is none
    address: str

    def __str__(self) -> str:
        return f"{_phrase(self.name)} <{self.address}>" if self.name else self.address


def reply_to(msg: RawMessage, lst: ListInfo) -> None:
    """Point Reply-To at the list or its explicit address, unless the poster chose one
    (kept unless `reply_to_override`): the poster knows best where their replies go."""
    target = _target(msg, lst)
    if target is not None and not _theirs_stands(msg, lst):
        put(msg, "Reply-To", target)


def munge(msg: RawMessage, lst: ListInfo) -> None:
    """From becomes ``"Name via LIST" <LIST@DOMAIN>``, so the list's own domain answers
    for it; the author goes to Reply-To or Cc so that replies still reach them."""
    author = _author(msg)
    if author is None:
        log.warning("%s %s: no usable From address: not munged", _mid(msg), lst.address)
        reply_to(msg, lst)  # the list's reply policy holds all the same
        return
    if author.address.lower() == lst.address.lower():  # already the list's (munged before)
        reply_to(msg, lst)
        return
    put(msg, "From", _via(author, lst))
    _credit(msg, lst, author)


def as_subscriber(msg: RawMessage, address: str, label: str) -> None:
    """For a bridge: From becomes ``"Name via LABEL" <ADDRESS>``, the address subscribed
    to the foreign list (which checks its members by From); the author goes to Reply-To
    unless the poster set one. Sender goes: it would name someone else again."""
    author = _author(msg)
    msg.remove("Sender")
    if author is None:
        put(msg, "From", address)
        return
    if author.address.lower() == address.lower():
        return
    name = author.name or author.address.replace("@", " at ")
    put(msg, "From", f"{_phrase(f'{name} via {label}')} <{address}>")
    if not mailboxes(msg.get_all("Reply-To")):
        put(msg, "Reply-To", str(author))


def wrap(raw: bytes, lst: ListInfo) -> RawMessage:
    """A new message From the list (as `munge`) whose body is the post, byte for byte, as
    message/rfc822: the post's own DKIM signature still verifies inside."""
    inner = RawMessage.parse(raw)
    outer = RawMessage([(name, data) for name, data in inner.fields if name.lower() in _OUTER])
    author = _author(inner)
    outer.fields.insert(0, ("From", fold("From", _via(author, lst) if author else lst.address)))
    if author is None:
        log.warning("%s %s: no usable From address: wrapped as the list", _mid(inner), lst.address)
        reply_to(outer, lst)
    else:
        _credit(outer, lst, author)
    outer.body = crlf(raw)
    outer.append("MIME-Version", "1.0")
    outer.append("Content-Type", "message/rfc822")
    outer.append("Content-Disposition", "inline")
    cte = _identity_encoding(outer.body)
    if cte:  # RFC 2046 §5.2.1: 7bit, 8bit or binary only, never a real encoding
        outer.append("Content-Transfer-Encoding", cte)
    return outer


def _credit(msg: RawMessage, lst: ListInfo, author: Mailbox) -> None:
    """Put the author where a reply finds them: Reply-To when replies go to authors,
    else Cc (beside the list's Reply-To), so that reply-all still includes them."""
    target = _target(msg, lst)
    if not _theirs_stands(msg, lst):
        put(msg, "Reply-To", target or str(author))
    if target is None:
        return
    reached = mailboxes(msg.get_all("Reply-To") + msg.get_all("To") + msg.get_all("Cc"))
    if author.address.lower() not in {box.address.lower() for box in reached}:
        _add_cc(msg, author)


def _add_cc(msg: RawMessage, author: Mailbox) -> None:
    """Append to the first non-empty Cc, keeping its bytes; or start one."""
    for i, (name, data) in enumerate(msg.fields):
        if name.lower() == "cc" and data.partition(b":")[2].strip():
            head = data.rstrip(b" \t\r\n")
            comma = b"" if head.endswith(b",") else b","
            rest = fold("Cc", str(author)).partition(b":")[2]  # b" ..." continues the field
            msg.fields[i] = (name, head + comma + b"\r\n" + rest)
            return
    put(msg, "Cc", str(author))


def _target(msg: RawMessage, lst: ListInfo) -> str | None:
    """The list's Reply-To as a field value; None when replies go to the author."""
    policy = lst.reply_to.split(" ", 1)[0].strip().lower()
    if policy == "list":
        return lst.address
    if policy == "explicit":
        boxes = mailboxes([lst.reply_to_address])
        if boxes:
            return str(boxes[0])
        log.warning("%s %s: bad reply_to %r: none used", _mid(msg), lst.address, lst.reply_to)
    elif policy != "none":
        log.warning("%s %s: unknown reply_to %r: none used", _mid(msg), lst.address, lst.reply_to)
    return None


def _theirs_stands(msg: RawMessage, lst: ListInfo) -> bool:
    """Whether the poster's own Reply-To is kept: there is a usable one (an empty field is
    not one) and the list does not override it."""
    return not lst.reply_to_override and bool(mailboxes(msg.get_all("Reply-To")))


def _author(msg: RawMessage) -> Mailbox | None:
    """The first usable mailbox of From (RFC 5322 allows several, and groups)."""
    boxes = mailboxes(msg.get_all("From"))
    return boxes[0] if boxes else None


def mailboxes(values: list[str]) -> list[Mailbox]:
    """The usable mailboxes in raw field values, in order; junk is skipped.

    Every mailbox with its display name, not only `authors.author`'s first: a rewrite
    writes them back into fields (Reply-To, Cc), so each address must also be one we can
    write as it stands (`_ADDRESS`). Parsed before RFC 2047 decoding, so an encoded comma,
    quote or ``<`` in a name stays part of the name; the name is decoded afterwards.
    """
    pairs = authors.pairs(to_text(value.encode("utf-8", "surrogateescape")) for value in values)
    return [
        Mailbox(_display(name), address)
        for name, address in pairs
        if len(address) <= 254 and _ADDRESS.fullmatch(address)
    ]


def _display(name: str) -> str:
    """A display name as one line of text: encoded words decoded, controls gone."""
    text = decode_words(name.encode("utf-8"))
    text = "".join(" " if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 else c for c in text)
    return " ".join(text.split())[:_MAX_NAME]


def _via(author: Mailbox, lst: ListInfo) -> str:
    """``"Name via LIST" <LIST@DOMAIN>``. Without a name, the author's address written
    "ann at example.org": an address-like display name is what spam filters score as
    spoofing (rspamd's SPOOF_DISPLAY_NAME), as Mailman also found."""
    name = author.name or author.address.replace("@", " at ")
    return f"{_phrase(f'{name} via {lst.local}')} <{lst.address}>"


def _phrase(text: str) -> str:
    """A display name: a quoted string, or encoded words (which must not be quoted)."""
    if text.isascii():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return encode_words(text)


def put(msg: RawMessage, name: str, value: str) -> None:
    """`RawMessage.replace` for a value that is ready to write: unlike `replace`, an
    internationalised address (RFC 6532) stays UTF-8 instead of becoming encoded words."""
    key = name.lower()
    at = next((i for i, (n, _) in enumerate(msg.fields) if n.lower() == key), len(msg.fields))
    msg.remove(name)  # every such field sits at `at` or after it
    msg.fields.insert(at, (name, fold(name, value)))


def _identity_encoding(body: bytes) -> str:
    """What a message/rfc822 body must declare: "" (7bit), "8bit" or "binary"."""
    lines = body.split(b"\r\n")
    if b"\0" in body or b"\r" in body.replace(b"\r\n", b"") or max(map(len, lines)) > _MAX_LINE:
        return "binary"
    return "" if body.isascii() else "8bit"


def _mid(msg: RawMessage) -> str:
    """The Message-ID for log lines (decoded: no surrogates for a log handler to trip on)."""
    return " ".join((msg.get_decoded("Message-ID") or "<no Message-ID>").split())
