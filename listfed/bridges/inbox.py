"""What reaches the local list through a bridge.

A post of the foreign list is queued as a post on the bridge's local list with a trace
entry ``NODE FOREIGN`` that says this node took it from the foreign list (routes then
never send it back there), and with origin ``bridge:NAME`` when proof.py proves it is the
foreign list's: it is trusted as a relay (federation/inbound.py). Without a proof its
origin is ``bridged:NAME``: the list's policy decides, as for any stranger's post, and
no notice goes back through the bridge. Anything else sent to an SMTP bridge's address
(the foreign list's confirmation requests, welcomes, reminders) goes to the local list's
owners, never to the list; an IMAP bridge leaves such mail in the mailbox.

A foreign member's Reply-All reaches the bridge straight from their mail program too
(the foreign list put the bridge's address in Cc or Reply-To): unproven, naming the
foreign list only in To or Cc. Such a direct copy whose Message-ID the list has already
(archived, held, relayed, or queued from the foreign list) is dropped at once; one that
came first waits `direct_wait` for the foreign list's own copy, which then makes it a
duplicate (the pipeline's rule), before it is judged on its own.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from sqlmodel import Session

from listfed.addresses import Kind
from listfed.bridges import feedback, foreign, proof, state
from listfed.bridges.imapwatch import Cursor, Fetched
from listfed.config.settings import BridgeConfig
from listfed.context import Context, NodeSettings
from listfed.db import lists, posts, queue
from listfed.db.queue import NewItem
from listfed.errors import ListfedError
from listfed.listinfo import ListInfo
from listfed.mail.message import message_ids_of, normalise_message_id
from listfed.mail.rawmail import RawMessage
from listfed.mail.trace import TRACE_HEADER, TraceEntry
from listfed.notices import owners
from listfed.post import Incoming, Origin

log = logging.getLogger("listfed.bridges")

NOTE_HEADER = "X-Listfed-Bridge"


def queue_post(
    session: Session,
    node: NodeSettings,
    bridge: BridgeConfig,
    list_id: int,
    raw: bytes,
    now: float,
    *,
    proven: bool,
    wait: float = 0.0,
) -> None:
    """Queue a foreign list's post on the bridge's list, with this hop's trace, to be
    taken `wait` seconds from now. No envelope sender: nothing the local list says about
    it goes to the foreign list."""
    msg = RawMessage.parse(raw)
    msg.append(TRACE_HEADER, TraceEntry(node.name, bridge.foreign).format())
    mid = normalise_message_id(msg.get("Message-ID") or "")
    item = NewItem(
        kind=Kind.POST.value,
        list_id=list_id,
        rcpt=bridge.list,
        received=now,
        message_id=mid,
        origin=str(Origin.bridge(bridge.name) if proven else Origin.bridged(bridge.name)),
        not_before=now + wait if wait > 0 else 0.0,
    )
    queue.insert(session, msg.to_bytes(), [item])


def known(session: Session, list_id: int, raw: bytes) -> str:
    """Where the list has this message already, by its Message-ID or that of the post
    it wraps, for the log ("" when nowhere): what makes a direct copy a duplicate."""
    for mid in message_ids_of(raw):
        found = posts.where(session, list_id, mid, queued=True)
        if found:
            return f"<{mid}> {found}"
    return ""


def waits(bridge: BridgeConfig, judged: foreign.Judgement, how: str) -> float:
    """How long a post taken in waits before the pipeline: a direct copy (unproven, the
    list named only as a person's mail program names it) waits for the list's own."""
    return bridge.direct_wait if judged.by_hand and not how else 0.0


def handle(ctx: Context, mail: Incoming) -> str:
    """The robot of an SMTP bridge's address (queue kind "bridge", detail = its name)."""
    session, node, now = ctx.session, ctx.node, ctx.now()
    bridge = node.bridge(mail.detail)
    if bridge is None:
        return _to_owners(ctx, mail, f"bridge {mail.detail} is not configured now")
    judged = foreign.judge(mail.raw, bridge.foreign, mail.mail_from)
    how = proof.proven(node.secret, bridge, [mail.rcpt], mail.facts.signers) if judged.post else ""
    duplicate = "" if how else known(session, mail.lst.id, mail.raw)
    if duplicate:
        return f"bridge {bridge.name}: a copy of what {bridge.list} has: {duplicate}: dropped"
    if not judged.post:
        bounce = mail.mail_from.strip() in ("", "<>")
        told = feedback.handle(session, node, bridge, mail.lst, mail.raw, bounce, now)
        why = f"not a post of {bridge.foreign}: {judged.reason}{f'; {told}' if told else ''}"
        return _to_owners(ctx, mail, why)
    if not bridge.takes_in:
        return f"bridge {bridge.name}: a post of {bridge.foreign}, not taken (direction = out)"
    wait = waits(bridge, judged, how)
    queue_post(session, node, bridge, mail.lst.id, mail.raw, now, proven=bool(how), wait=wait)
    state.taken(session, bridge.name, 1, now)
    if wait:
        return (
            f"bridge {bridge.name}: a direct copy ({judged.reason}, unproven): queued on "
            f"{bridge.list}, waiting {wait:.0f}s for {bridge.foreign}'s own copy"
        )
    if not how:
        log.warning("bridge %s: %s", bridge.name, proof.unproven_reason(bridge))
        return (
            f"bridge {bridge.name}: queued on {bridge.list} as a stranger's post "
            f"({judged.reason}, but {proof.unproven_reason(bridge)})"
        )
    return f"bridge {bridge.name}: queued on {bridge.list} ({judged.reason}; {how})"


def _to_owners(ctx: Context, mail: Incoming, why: str) -> str:
    note = f"{NOTE_HEADER}: {mail.detail}; not posted: {' '.join(why.split())[:300]}\r\n"
    said = owners.forward(
        ctx, dataclasses.replace(mail, raw=note.encode("ascii", "replace") + mail.raw)
    )
    return f"{why}: {said}"


def take(
    session: Session,
    node: NodeSettings,
    bridge: BridgeConfig,
    at: Cursor,
    fetched: list[Fetched],
    now: float,
    signers: Mapping[int, tuple[str, ...]] | None = None,
) -> int:
    """An IMAP bridge's batch, with the cursor after it, in the caller's transaction: the
    foreign list's posts are queued, the rest left in the mailbox. Messages at or below a
    cursor that someone else (`listfed bridges sync`) already stored are not taken again.
    `signers`: by UID, the domains whose DKIM signatures on it verify. Returns how many
    posts were queued."""
    local, _, domain = bridge.list.rpartition("@")
    list_id = lists.id_of(session.connection(), local.lower(), domain.lower())
    if list_id is None:
        raise ListfedError(f"bridge {bridge.name}: the list {bridge.list} does not exist")
    stored = state.cursor(session, bridge.name)
    floor = stored.last_uid if stored and stored.uidvalidity == at.uidvalidity else 0
    count = 0
    lst: ListInfo | None = None  # read for the first notice about a post of ours
    for item in fetched:
        if item.uid <= floor:
            continue
        judged = foreign.judge(item.raw, bridge.foreign, return_path=True)
        if not judged.post:
            log.info("bridge %s: UID %s left alone: %s", bridge.name, item.uid, judged.reason)
            path = RawMessage.parse(item.raw).get("Return-Path")
            bounce = path is not None and path.strip() in ("", "<>")
            lst = lst or lists.by_id(session, list_id)
            told = feedback.handle(session, node, bridge, lst, item.raw, bounce, now, shared=True)
            if told:
                log.info("bridge %s: UID %s %s", bridge.name, item.uid, told)
        elif bridge.takes_in:
            found = (signers or {}).get(item.uid, ())
            how = proof.proven(node.secret, bridge, proof.delivered_to(item.raw), found)
            duplicate = "" if how else known(session, list_id, item.raw)
            if duplicate:
                log.info("bridge %s: UID %s a copy: %s", bridge.name, item.uid, duplicate)
                continue
            if not how:
                log.warning(
                    "bridge %s: UID %s %s", bridge.name, item.uid, proof.unproven_reason(bridge)
                )
            wait = waits(bridge, judged, how)
            queue_post(session, node, bridge, list_id, item.raw, now, proven=bool(how), wait=wait)
            count += 1
    if at.last_uid > floor or floor == 0:
        state.set_cursor(session, bridge.name, at, now)
    if count:
        state.taken(session, bridge.name, count, now)
    return count
