"""Recognising our own posts when a foreign list sends them back through a bridge.

A foreign list (Mailman 2/3, Sympa, Google Groups) returns what we sent it changed: a
subject prefix, a footer (inline, or as a MIME part after the original text), From
rewritten for DMARC with the author moved to Reply-To, Cc or X-Original-From, the
Message-ID sometimes replaced, the body re-encoded. What survives all of that:

- the Date and the subject without list tags and reply prefixes → `Fingerprint.key`, the
  lookup key (an arrival's `lookup_key` finds the candidates that were sent);
- the author's address, somewhere among the address fields;
- the body text we sent, normalised, as the *start* of the arrival's first text part:
  a footer after it does not matter, while a reply that quotes the original under new
  text, or with ``> `` marks, does not start with it.

A message without a Date is keyed on its subject alone (with a marker), so every sent
post with that subject is a candidate and the author and body checks carry the decision.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from listfed.archive.threadkeys import subject_key
from listfed.mail import headers
from listfed.mail.authors import every_address
from listfed.mail.decoding import decode_8bit
from listfed.mail.rawmail import RawMessage
from listfed.mail.text import Extract, extract

# Where lists put the original author once From names the list.
AUTHOR_FIELDS = frozenset(
    {"from", "reply-to", "cc", "sender", "x-original-from", "x-original-sender"}
)
NO_DATE = "no-date"
# What Mailman (2 and 3) writes for a post that had no subject, before its prefix.
_NO_SUBJECT = frozenset({"(no subject)"})
_MAX_HEAD = 256 * 1024  # bytes of header block read for addresses


@dataclass(frozen=True)
class Fingerprint:
    key: str  # hex digest over (date, subject with list tags and reply prefixes removed)
    author: str  # the original author address, lower-cased
    body_len: int  # length of the normalised body text that was hashed
    body_hash: str  # hex sha256 of that normalised text


def fingerprint(raw: bytes) -> Fingerprint:
    """The fingerprint of a message as we sent it out; never raises."""
    try:
        found = extract(raw)
        body = normalise(found.body_text)
        return Fingerprint(_key(found), found.sender.lower(), len(body), _sha256(body))
    except Exception:  # a message we cannot read is one we will not recognise: no match
        return Fingerprint(_sha256("unreadable"), "", 0, _sha256(""))


def lookup_key(raw: bytes) -> str:
    """The key of an arrival, to find candidate Fingerprints; never raises."""
    try:
        return _key(extract(raw))
    except Exception:
        return _sha256("unreadable")


def is_echo(sent: Fingerprint, raw: bytes) -> bool:
    """Whether this arrival is `sent` coming back from the foreign list; never raises."""
    try:
        return _is_echo(sent, raw)
    except Exception:  # an arrival we cannot judge is taken as new: the archive dedups
        return False


def normalise(text: str) -> str:
    """Body text as compared: LF line ends, no trailing blanks on lines, no runs of blank
    lines, none at either end, NFC."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip()
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _is_echo(sent: Fingerprint, raw: bytes) -> bool:
    found = extract(raw)
    if _key(found) != sent.key:
        return False
    if not sent.author or sent.author not in author_addresses(raw):
        return False
    body = normalise(found.body_text)
    if len(body) < sent.body_len or _sha256(body[: sent.body_len]) != sent.body_hash:
        return False
    # The sent text must end where a line ends ("+1" is not the start of "+10"); a list
    # puts its footer on a line of its own. An empty sent body has nothing to end.
    return sent.body_len == 0 or body[sent.body_len : sent.body_len + 1] in ("", "\n")


def author_addresses(raw: bytes) -> set[str]:
    """Every address in the From, Reply-To, Cc, Sender and X-Original-* fields, lower-cased."""
    head = RawMessage.parse(headers.split_message(raw)[0][:_MAX_HEAD])
    found: set[str] = set()
    for name in AUTHOR_FIELDS:
        for value in head.get_all(name):
            found |= every_address(decode_8bit(value.encode("utf-8", "surrogateescape")))
    return found


def _key(found: Extract) -> str:
    subject = subject_key(unicodedata.normalize("NFC", found.subject))[0]
    if subject in _NO_SUBJECT:
        subject = ""
    when = NO_DATE if found.date is None else str(int(found.date))
    return _sha256(f"{when}\n{subject}")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
