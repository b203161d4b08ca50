"""Is this message a post of the foreign list, or something else sent to the bridge?

A foreign list's post names the list: its List-Id (``<local.domain>``, as Mailman,
Sympa and Google Groups write it), List-Post, X-BeenThere, or its posting address in
To or Cc. Mail From the list's own robots (``LIST-request@``, ``LIST-owner@``,
``LIST+noreply@``, ``mailman@``: confirmations, welcomes, reminders) and automatic mail
(RFC 3834) is not a post even when it names the list; nor is mail whose envelope sender
is not at the list's domain (anyone can name a list in To). Only the header block is
read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from listfed.mail.authors import addresses
from listfed.mail.rawmail import RawMessage

_MAX_HEAD = 256 * 1024
_MAX_FIELD = 8 * 1024  # characters of a List-* field read
_LIST_ID = re.compile(r"<([^<>\s]+)>")
# Mailman 2/3 and Sympa service addresses of a list: LIST-request@, LIST-confirm+TOKEN@ ...
_ROBOT_SUFFIXES = frozenset(
    {"request", "owner", "owners", "admin", "bounces", "bounce", "confirm", "join", "leave",
     "subscribe", "unsubscribe", "editor", "noreply"}
)  # fmt: skip
_SERVICE = frozenset(
    {"mailman", "sympa", "listmaster", "noreply", "no-reply", "mailer-daemon", "postmaster"}
)


@dataclass(frozen=True)
class Judgement:
    post: bool
    reason: str  # for the log and the owners' notice


def judge(
    raw: bytes, foreign: str, envelope: str | None = None, *, return_path: bool = False
) -> Judgement:
    """Whether `raw` is a post of the list whose posting address is `foreign`. With
    `envelope` (the SMTP envelope sender, or the Return-Path a mailbox has), it must be
    at the list's domain: mail sent to the bridge by anyone else is not the list's.
    `return_path`: take it from the Return-Path field the delivering server wrote (a
    mailbox), when there is one."""
    msg = RawMessage.parse(raw[:_MAX_HEAD])  # the header block is what is read
    if return_path and envelope is None:
        envelope = msg.get("Return-Path")
    local, _, domain = foreign.lower().rpartition("@")
    named = _names_list(msg, foreign.lower(), f"{local}.{domain}")
    if not named:
        return Judgement(False, f"it does not name {foreign} (List-Id, List-Post, To or Cc)")
    auto = (msg.get("Auto-Submitted") or "no").strip().lower()
    if not auto.startswith("no"):
        return Judgement(False, f"it is automatic mail (Auto-Submitted: {auto[:40]})")
    # From only: Mailman 2.1 writes Sender: LIST-bounces@ on every post
    for sender in addresses(msg.get_all("From")):
        if _robot(sender, local, domain):
            return Judgement(False, f"it comes from the list's robot {sender}")
    if envelope is not None and not _from_list_host(envelope, domain):
        shown = envelope or "<> (a bounce)"
        return Judgement(
            False, f"its envelope sender {shown} is not at {domain}, where the list sends from"
        )
    return Judgement(True, f"its {named} names {foreign}")


def _robot(sender: str, local: str, domain: str) -> bool:
    """Mailman's, Sympa's and Google Groups' service addresses for the list, and the
    list servers' own (mailman@, sympa@, noreply@ ...)."""
    s_local, _, s_domain = sender.rpartition("@")
    if s_domain != domain and not s_domain.endswith("." + domain):
        return False
    if s_local in _SERVICE:
        return True
    if s_local.startswith(f"{local}+"):  # Google Groups: LIST+noreply, +owners, +bnc...
        return True
    if not s_local.startswith(f"{local}-"):
        return False
    suffix = s_local[len(local) + 1 :].partition("+")[0]
    return suffix in _ROBOT_SUFFIXES


def _from_list_host(envelope: str, domain: str) -> bool:
    """Is the envelope sender at the foreign list's domain (or a parent or child of it)?
    Mailman (LIST-bounces@), Sympa (LIST-owner@) and Google Groups (LIST+bnc...@) all
    send from there."""
    e_domain = envelope.strip().strip("<>").rpartition("@")[2].lower()
    if not e_domain:
        return False
    return e_domain == domain or e_domain.endswith("." + domain) or domain.endswith("." + e_domain)


def _names_list(msg: RawMessage, address: str, list_id: str) -> str:
    for value in msg.get_all("List-Id"):
        if any(m.lower() == list_id for m in _LIST_ID.findall(value[:_MAX_FIELD])):
            return "List-Id"
    for value in msg.get_all("List-Post"):
        if f"<mailto:{address}>" in value[:_MAX_FIELD].lower().replace(" ", ""):
            return "List-Post"
    if any(v.strip().lower() == address for v in msg.get_all("X-BeenThere")):
        return "X-BeenThere"
    if address in addresses(msg.get_all("To") + msg.get_all("Cc")):
        return "To/Cc"
    return ""
