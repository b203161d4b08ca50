"""How a GNU Mailman 3 and a Sympa list change a post, and the notices they write: the
other styles of tests/foreignlist.py's ForeignList.

Mailman 3 (3.3, its default posting pipeline): cook-headers (X-Mailman-Version,
Precedence, Reply-To the list with `reply_goes_to_list = point_to_list`), subject-prefix
(`[Atl-coc] ` in front, one `Re: ` after it), rfc-2369 (List-*), dmarc (munge_from:
From `"Name via Atl-coc" <list>`, the original From added to Reply-To, or to Cc when
replies go to the list; wrap_message: a new message with the munged From and a new
Message-ID, keeping only Date, Subject, To, In-Reply-To, References, Precedence, List-*
and X-Mailman-*, whose body is the post as message/rfc822), then at delivery decorate
(the footer inline in text/plain, as a part of multipart/mixed, else the whole becomes
a multipart/mixed of [the post, the footer]).

Sympa (6.2): `[atl-coc] ` in front unless the tag is there, List-*, X-Loop, the footer
always as a MIME part after the post (footer_type mime), and with dmarc "munge" From
`"Name via atl-coc" <list>` with the author in X-Original-From and Reply-To.
"""

from __future__ import annotations

import copy
import hashlib
import re
from email.header import Header
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.foreignlist import Arrival, ForeignList, Held

VERSION = "3.3.10"
# Mailman 3's dmarc.KEEPERS: what the wrapper keeps of the post (matched as prefixes)
_KEEPERS = (
    "archived-at", "date", "in-reply-to", "list-", "precedence", "references", "subject",
    "to", "x-mailman-",
)  # fmt: skip


def mailman3(fl: ForeignList, msg: Message) -> Message:
    """The post as a Mailman 3 list delivers it; a wrapped post is a new Message."""
    mid = str(msg.get("Message-ID", ""))
    digest = hashlib.sha1(mid.encode()).hexdigest()[:32].upper()  # an id, not a secret
    msg["Message-ID-Hash"] = digest
    msg["X-Message-ID-Hash"] = digest
    if "X-Mailman-Version" not in msg:
        msg["X-Mailman-Version"] = VERSION
    if "Precedence" not in msg:
        msg["Precedence"] = "list"
    if fl.reply_to_list:
        pairs = _unique([*getaddresses(msg.get_all("Reply-To") or []), ("", fl.address)])
        del msg["Reply-To"]
        msg["Reply-To"] = ", ".join(formataddr(p) for p in pairs)
    fl._prefix_subject(msg)
    fl.list_fields(msg)
    if fl.dmarc == "munge":
        for name, value in _munged(fl, msg):
            del msg[name]
            msg[name] = value
    elif fl.dmarc == "wrap":
        msg = _wrapped(fl, msg)
    msg["X-BeenThere"] = fl.address
    fl._add_footer(msg)
    return msg


def _munged(fl: ForeignList, msg: Message) -> list[tuple[str, str]]:
    """Mailman 3's dmarc.munged_headers."""
    froms = [p for p in getaddresses(msg.get_all("From") or []) if "@" in p[1]]
    original = froms[0] if len(froms) == 1 else ("", "")
    name, address = original
    shown = re.sub(r"@([^ .]+\.)+[^ .]+$", "---", _text(name) or address)
    via = f"{shown} via {fl.display_name}"
    found = [("From", formataddr((via, fl.address), charset="utf-8"))]
    add_to, other = ("Cc", "Reply-To") if fl.reply_to_list else ("Reply-To", "Cc")
    where = getaddresses(msg.get_all(add_to) or [])
    if address not in [a for _, a in where]:
        where.append(original)
    found.append((add_to, ", ".join(formataddr(p) for p in where)))
    if msg.get(other) is not None:
        found.append((other, str(msg[other])))
    return found


def _wrapped(fl: ForeignList, msg: Message) -> Message:
    """Mailman 3's dmarc.wrap_message."""
    original = copy.deepcopy(msg)
    for name in {k.lower() for k in msg.keys()}:
        if not name.startswith(_KEEPERS):
            del msg[name]
    msg["MIME-Version"] = "1.0"
    msg["Message-ID"] = make_msgid("mm3wrap", fl.domain)
    for name, value in _munged(fl, original):
        msg[name] = value
    if fl.wrapped_text:
        text = MIMEText(fl.wrapped_text, "plain", "us-ascii")
        text["Content-Disposition"] = "inline"
        inside = MIMEMessage(original)
        inside["Content-Disposition"] = "inline"
        msg["Content-Type"] = "multipart/mixed"
        msg.set_payload([text, inside])
    else:
        msg["Content-Type"] = "message/rfc822"
        msg["Content-Disposition"] = "inline"
        msg.set_payload([original])
    return msg


def sympa(fl: ForeignList, msg: Message) -> None:
    """The post as a Sympa list delivers it."""
    subject = _text(str(msg.get("Subject", "")))
    if fl.prefix.lower() not in subject.lower():
        new = f"{fl.prefix} {subject}"
        del msg["Subject"]
        msg["Subject"] = new if new.isascii() else Header(new, "utf-8").encode()
    fl.list_fields(msg)
    msg["X-Loop"] = fl.address
    msg["X-Sequence"] = str(len(fl.distributed) + 1)
    msg["Errors-To"] = f"{fl.name}-owner@{fl.domain}"
    if fl.dmarc == "munge":
        original = str(msg["From"])
        name, address = (getaddresses([original]) or [("", "")])[0]
        del msg["From"]
        msg["From"] = formataddr((f"{_text(name) or address} via {fl.name}", fl.address), "utf-8")
        msg["X-Original-From"] = original
        if msg["Reply-To"] is None:
            msg["Reply-To"] = original
    footer = Message()
    footer["Content-Type"] = 'text/plain; charset="us-ascii"'
    footer["Content-Disposition"] = "inline"
    footer.set_payload(fl.footer)
    if msg.get_content_type() == "multipart/mixed":
        msg.attach(footer)
    else:  # the post becomes the first part, as Mailman's decorate does it
        fl._add_footer(msg, inline=False)


def held_notice(fl: ForeignList, msg: Message, sender: str) -> Arrival:
    """What the list tells a poster whose post it holds (Mailman 3's postheld.txt,
    sent from the list's -bounces address; Sympa's from sympa@)."""
    subject = _text(str(msg.get("Subject", "(no subject)")))
    if fl.style == "sympa":
        title = f"Your message for list {fl.name} has been forwarded to the moderator(s)"
        text = f"Your message for list {fl.name} (subject: {subject}) awaits moderation.\n"
        return _notice(fl, f"sympa@{fl.domain}", sender, title, text)
    text = (
        f"Your mail to '{fl.address}' with the subject\n\n    {subject}\n\n"
        "Is being held until the list moderator can review it for approval.\n\n"
        "The message is being held because:\n\n    The message comes from a moderated member\n\n"
        "Either the message will get posted to the list, or you will receive\n"
        "notification of the moderator's decision.\n"
    )
    title = f"Your message to {fl.address} awaits moderator approval"
    return _notice(fl, fl.bounces, sender, title, text)


def rejection(fl: ForeignList, held: Held, reason: str) -> Arrival:
    """Mailman 3's refuse.txt, after a moderator rejected a held post (without the
    original: Mailman 3 attaches it only when asked to forward it)."""
    from tests.foreignlist import parse

    subject = _text(str(parse(held.raw).get("Subject", "(no subject)")))
    text = (
        f"Your request to the {fl.address} mailing list\n\n"
        f'    Posting of your message titled "{subject}"\n\n'
        "has been rejected by the list moderator.  The moderator gave the\n"
        f'following reason for rejecting your request:\n\n"{reason}"\n\n'
        "Any questions or comments should be directed to the list administrator\n"
        f"at:\n\n    {fl.name}-owner@{fl.domain}\n"
    )
    title = f'Request to mailing list "{fl.display_name}" rejected'
    return _notice(fl, fl.bounces, held.sender, title, text)


def dsn(fl: ForeignList, arrival: Arrival, reason: str) -> Arrival:
    """A delivery status notification (RFC 3464) for `arrival`, from the list's MTA,
    with the returned message's header fields (text/rfc822-headers)."""
    from tests.foreignlist import Arrival

    head = arrival.raw.replace(b"\r\n", b"\n").partition(b"\n\n")[0].decode("utf-8", "replace")
    boundary = "dsn-boundary-1"
    raw = (
        f"From: Mail Delivery System <MAILER-DAEMON@{fl.domain}>\n"
        f"To: {arrival.mail_from}\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"Date: {formatdate()}\n"
        f"Message-ID: {make_msgid('dsn', fl.domain)}\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\n'
        "\n"
        f"--{boundary}\n"
        "Content-Type: text/plain\n\n"
        f"Your message to <{fl.address}> could not be delivered.\n\n    {reason}\n\n"
        f"--{boundary}\n"
        "Content-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; {fl.domain}\n\n"
        f"Final-Recipient: rfc822; {fl.address}\nAction: failed\nStatus: 5.7.1\n"
        f"Diagnostic-Code: smtp; {reason}\n\n"
        f"--{boundary}\n"
        "Content-Type: text/rfc822-headers\n\n"
        f"{head}\n"
        f"--{boundary}--\n"
    )
    return Arrival("", (arrival.mail_from,), raw.encode())


def _notice(fl: ForeignList, sender: str, to: str, subject: str, text: str) -> Arrival:
    from tests.foreignlist import Arrival, flatten

    msg = MIMEText(text, "plain", "us-ascii")
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid("notice", fl.domain)
    msg["Precedence"] = "bulk"
    msg["X-Mailman-Version"] = VERSION
    return Arrival(fl.bounces, (to,), flatten(msg))


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    found = []
    for name, address in pairs:
        if address.lower() not in seen:
            seen.add(address.lower())
            found.append((name, address))
    return found


def _text(value: str) -> str:
    from tests.foreignlist import _decoded

    return _decoded(value)
