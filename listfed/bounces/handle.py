"""LIST-bounces: attribute a bounce to members and keep their scores.

A VERP address (LIST-bounces+USER=HOST@DOMAIN) names the member with no parsing; the
bounce is only read to tell a delay from a failure. Other bounces go through the
flufl.bounce detectors. What nobody can attribute goes to the owners (once: see
notices/owners.py), except automatic replies, which are not bounces and are dropped.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import text
from sqlmodel import Session

from listfed.bounces import score
from listfed.bounces.detect import Failure, detect, failure_kind, is_bounce_like
from listfed.context import Context, NodeSettings
from listfed.db import lists
from listfed.notices import owners
from listfed.post import Incoming
from listfed.verp import verp_recipient

log = logging.getLogger("listfed.bounces")


def handle(ctx: Context, mail: Incoming) -> str:
    """Act on a message to -bounces; what happened, for the log."""
    session, node, now = ctx.session, ctx.node, ctx.now()
    if not is_bounce_like(mail.raw) and not _looks_like_a_bounce(mail):
        return "not a bounce (an automatic reply?): dropped"
    verp = verp_recipient(mail.detail) if mail.detail and node.verp != "never" else None
    if verp is not None:
        if failure_kind(mail.raw, verp) is Failure.TEMPORARY:
            return f"{verp}: temporary failure (delay), score unchanged"
        probe = node.verp == "probes" and score.quotes_probe(
            session, node, mail.lst, verp, mail.raw
        )
        said = score.record_permanent(
            session, node, mail.lst, verp, now, "bounced (VERP)", probe_bounced=probe
        )
        return f"{verp}: {said}"
    report = detect(mail.raw)
    if not report.recognised:
        return "unrecognised bounce: " + owners.forward(ctx, mail, null_sender=True)
    # The detectors can take a delay warning for a failure; the DSN fields and the
    # subject are asked again for each address before it counts.
    failed = {a for a in report.permanent if failure_kind(mail.raw, a) is Failure.PERMANENT}
    done = [
        f"{a}: " + score.record_permanent(session, node, mail.lst, a, now, "bounced")
        for a in sorted(failed)
    ]
    delayed = sorted((report.permanent - failed) | report.temporary)
    done += [f"{a}: temporary failure, score unchanged" for a in delayed]
    return "; ".join(done)


def _looks_like_a_bounce(mail: Incoming) -> bool:
    """Beyond what the detectors call bounce-like: a null envelope sender, unless the
    message says it is an RFC 3834 auto-reply (out of office, which also comes from <>)."""
    if mail.mail_from:
        return False
    head = mail.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].lower()
    return not (
        re.search(rb"^auto-submitted:[ \t]*auto-replied", head, re.MULTILINE)
        or re.search(rb"^x-auto(?:reply|respond)", head, re.MULTILINE)
    )


def delivery_failed(
    session: Session,
    node: NodeSettings,
    outgoing_id: int,
    address: str,
    error: str,
    kind: str,
    now: float,
) -> None:
    """A permanent refusal while sending (5xx from the smarthost) counts as a bounce."""
    if kind not in ("post", "digest", "probe"):
        return
    row = (
        session.connection()
        .execute(text("SELECT list_id FROM outgoing WHERE id = :o"), {"o": outgoing_id})
        .first()
    )
    if row is None or row[0] is None:
        return
    lst = lists.by_id(session, int(row[0]))
    said = score.record_permanent(
        session, node, lst, address, now, error, probe_bounced=kind == "probe"
    )
    log.info("%s: %s refused at delivery: %s", lst.address, address, said)
