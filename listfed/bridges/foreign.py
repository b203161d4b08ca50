"""Is this message a post of the foreign list, or something else sent to the bridge?

A foreign list's post names the list: its List-Id (``<local.domain>``, as Mailman,
Sympa and Google Groups write it), List-Post, X-BeenThere, or its posting address in
To or Cc. Mail From the list's own robots (``LIST-request@``, ``LIST-owner@``,
``LIST+noreply@``, ``mailman@``: confirmations, welcomes, reminders) and automatic mail
(RFC 3834) is not a post even when it names the list; nor is a bounce (a null envelope
sender). Only the header block is read. Whether a post is really the list's, and not a
stranger's naming it, is proof.py's question.
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
    named: str = ""  # the field that names the list: List-Id, List-Post, X-BeenThere, To/Cc

    @property
    def by_hand(self) -> bool:
        """Named only as a person's mail program names it (To or Cc), never as the list
        marks its own posts (List-*): a foreign member's copy sent straight here."""
        return self.named == "To/Cc"


def judge(
    raw: bytes, foreign: str, envelope: str | None = None, *, return_path: bool = False
) -> Judgement:
    """Whether `raw` looks like a post of the list whose posting address is `foreign`.
    `envelope`: the SMTP envelope sender, or with `return_path` the Return-Path field a
    mailbox's server wrote; a null one (a bounce) is not a post."""
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
    if envelope is not None and envelope.strip() in ("", "<>"):
        return Judgement(False, "it is a bounce (its envelope sender is <>)")
    return Judgement(True, f"its {named} names {foreign}", named)


def from_robot(raw: bytes, foreign: str) -> bool:
    """Is `raw` From one of the foreign list's robots (or its list server's)?"""
    local, _, domain = foreign.lower().rpartition("@")
    msg = RawMessage.parse(raw[:_MAX_HEAD])
    return any(_robot(sender, local, domain) for sender in addresses(msg.get_all("From")))


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
