"""Replies to a bridged post come home (issue 19): on our members' copies of a post taken
in through a bridge, the foreign list's address becomes our list's wherever it stands
among the fields mail programs answer to: From, Reply-To, To, Cc, Mail-Followup-To.

Why rewrite those fields rather than add a Reply-To or a Mail-Followup-To: Reply uses
Reply-To, else From; Reply-All uses those and every To and Cc, in every mail program.
A Reply-To of our own would leave the foreign list in To (and in From, where it munged
From), so Reply-All would still go there, where our members are not members and are
held; and it would take Reply away from the author. Mail-Followup-To is honoured by
mutt, Gnus, Claws and Thunderbird, and ignored by Gmail, Outlook, Apple Mail and phones.
Rewriting the foreign list's address where it stands works in all of them and leaves
the author where the foreign list put them (From, or Reply-To or Cc when it munged
From), so Reply reaches the author as the foreign list meant and Reply-All reaches our
list, which sends it on through the bridge.
"""

from __future__ import annotations

from collections.abc import Collection

from listfed.delivery.rewrite import Mailbox, mailboxes, put
from listfed.listinfo import ListInfo
from listfed.mail.rawmail import RawMessage

FIELDS = ("From", "Reply-To", "To", "Cc", "Mail-Followup-To")


def readdress(msg: RawMessage, lst: ListInfo, away: Collection[str]) -> None:
    """Put `lst`'s address where an address of `away` (the foreign lists bridged to it)
    stands in the reply fields, keeping the display name; each address once per field.
    A field without one of them is left byte for byte."""
    foreign = {a.lower() for a in away}
    if not foreign:
        return
    for name in FIELDS:
        boxes = mailboxes(msg.get_all(name))
        if not any(box.address.lower() in foreign for box in boxes):
            continue
        seen: set[str] = set()
        kept: list[Mailbox] = []
        for box in boxes:
            if box.address.lower() in foreign:
                box = Mailbox(box.name, lst.address)
            if box.address.lower() not in seen:
                seen.add(box.address.lower())
                kept.append(box)
        if name == "From":  # one author: the first mailbox
            kept = kept[:1]
        put(msg, name, ", ".join(str(box) for box in kept))
