"""Reading bounces: which addresses failed, and whether for good. Pure functions over raw bytes.

`detect` is flufl.bounce's reading (its DSN parser and its detectors for non-standard formats),
made safe: addresses become validated lower-case strings, and odd input gives an empty report
instead of an exception. `failure_kind` answers the one question VERP leaves open: the member is
known, but was it a delay notice or a real failure?
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from enum import StrEnum

from flufl.bounce import all_failures

from listfed.addresses import normalise
from listfed.errors import InvalidAddress
from listfed.mail import authors, mimeparse
from listfed.mail.message import decode_text

log = logging.getLogger("listfed.bounces")

# Subjects of delay notices as MTAs write them: Postfix, Exim, Sendmail, Gmail, Exchange.
_DELAY_SUBJECT = re.compile(
    r"delayed mail\b|^warning: message \S+ delayed\b|^warning: could not send message for past"
    r"|delivery status notification \(delay\)|^delivery delayed:",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


class Failure(StrEnum):
    PERMANENT = "permanent"
    TEMPORARY = "temporary"


@dataclass(frozen=True)
class BounceReport:
    permanent: frozenset[str]  # addresses, lower-cased, validated; junk dropped
    temporary: frozenset[str]  # never holds an address that is also in permanent

    @property
    def recognised(self) -> bool:
        return bool(self.permanent or self.temporary)


EMPTY = BounceReport(frozenset(), frozenset())


def _parse(raw: bytes) -> Message:
    return mimeparse.parse(raw)


def _clean(addresses: Iterable[bytes | str]) -> frozenset[str]:
    """flufl's bytes (or header text) → the addresses that are addresses, lower-cased."""
    found: set[str] = set()
    for item in addresses:
        text = item.decode("utf-8", errors="replace") if isinstance(item, bytes) else item
        text = text.strip().strip("<>").strip().lower()
        try:
            found.add(normalise(text))
        except InvalidAddress:
            continue
    return frozenset(found)


def _failures(msg: Message) -> BounceReport:
    try:
        temporary, permanent = all_failures(msg)
    except Exception as exc:
        log.debug("flufl.bounce could not read a bounce: %r", exc)
        return EMPTY
    hard = _clean(permanent)
    return BounceReport(hard, _clean(temporary) - hard)


def detect(raw: bytes) -> BounceReport:
    """What flufl.bounce finds in a bounce; never raises (an empty report instead)."""
    try:
        return _failures(_parse(raw))
    except Exception as exc:  # the parser is lenient, but never trust odd input
        log.debug("unreadable bounce: %r", exc)
        return EMPTY


def _dsn_blocks(msg: Message) -> Iterator[Message]:
    """The per-recipient header blocks of every message/delivery-status part."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        payload = part.get_payload()
        blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
        # One block describes the message (Reporting-MTA...), the others one recipient each.
        yield from (b for b in blocks if b.get("final-recipient") or b.get("action"))


def _block_recipients(block: Message) -> frozenset[str]:
    values = [str(block.get(h, "")) for h in ("original-recipient", "final-recipient")]
    # "rfc822; user@host": the address type is a parameter-like prefix before the ";".
    return _clean(address for _, address in authors.pairs(v.rpartition(";")[2] for v in values))


def _block_is_delay(block: Message) -> bool:
    action = str(block.get("action", "")).strip().lower()
    if action:
        return action.startswith("delayed")
    return str(block.get("status", "")).strip().startswith("4.")


def _subject(msg: Message) -> str:
    return decode_text(str(msg.get("subject", "")))


def _kind(msg: Message, address: str) -> Failure:
    blocks = list(_dsn_blocks(msg))
    mine = [b for b in blocks if address in _block_recipients(b)]
    if blocks:  # the member's own blocks decide; else the DSN as a whole, if all are delays
        if all(_block_is_delay(b) for b in mine or blocks):
            return Failure.TEMPORARY
        if mine:
            return Failure.PERMANENT
    if _DELAY_SUBJECT.search(_subject(msg).strip()):
        return Failure.TEMPORARY
    report = _failures(msg)
    return Failure.TEMPORARY if address in report.temporary else Failure.PERMANENT


def failure_kind(raw: bytes, address: str) -> Failure:
    """For a bounce already attributed to `address` (by VERP): was it temporary or permanent?

    A delay notice (DSN Action: delayed, or Status 4.x.x where there is no Action, for that
    recipient or for all; flufl's temporary set holding it; a subject like "Delayed Mail" or
    "Warning: message ... delayed") is temporary; everything else is permanent. A DSN's
    "Action: failed" wins over a 4.x.x Status: the MTA gave up (e.g. 4.4.7, expired in the
    queue), so the mail was lost. Ask only about bounces: an auto-reply sent to the VERP
    address is not one (see `is_bounce_like`). Never raises.
    """
    try:
        wanted = _clean([address])
        return _kind(_parse(raw), next(iter(wanted), address.strip().lower()))
    except Exception as exc:
        log.debug("unreadable bounce for %s: %r", address, exc)
        return Failure.PERMANENT


def is_bounce_like(raw: bytes) -> bool:
    """A delivery report, Exim's X-Failed-Recipients, mail from MAILER-DAEMON/postmaster or with a
    null return path. Out-of-office replies are none of these (Auto-Submitted alone tells nothing:
    MTAs set it on bounces too)."""
    try:
        msg = _parse(raw)
        if msg.get_content_type() == "multipart/report" or msg.get("x-failed-recipients"):
            return True
        if str(msg.get("return-path", "")).strip() == "<>":
            return True
        sender = authors.first(str(msg.get("from", "")))[1]
        return bool(_BOUNCE_SENDER.match(sender))
    except Exception:
        return False
