"""Is this message a post of the foreign list, or something else sent to the bridge?

A foreign list's post names the list: its List-Id (``<local.domain>``, as Mailman,
Sympa and Google Groups write it), List-Post, X-BeenThere, or its posting address in
To or Cc. Mail from the list's own robots (``LIST-request@``, ``LIST-owner@``,
``LIST+noreply@``: confirmations, welcomes, reminders) and automatic mail (RFC 3834) is
not a post even when it names the list. Only the header block is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from listfed.delivery.rawmail import RawMessage

_MAX_HEAD = 256 * 1024
_MAX_FIELD = 8 * 1024
_LIST_ID = re.compile(r"<([^<>\s]+)>")


@dataclass(frozen=True)
class Judgement:
    post: bool
    reason: str  # for the log and the owners' notice


def judge(raw: bytes, foreign: str) -> Judgement:
    """Whether `raw` is a post of the list whose posting address is `foreign`."""
    head = raw[:_MAX_HEAD]
    end = head.find(b"\n\n")
    end2 = head.find(b"\r\n\r\n")
    cut = min(x for x in (end, end2, len(head)) if x >= 0)
    msg = RawMessage.parse(head[:cut] + b"\r\n\r\n")
    local, _, domain = foreign.lower().rpartition("@")
    named = _names_list(msg, foreign.lower(), f"{local}.{domain}")
    if not named:
        return Judgement(False, f"it does not name {foreign} (List-Id, List-Post, To or Cc)")
    auto = (msg.get("Auto-Submitted") or "no").strip().lower()
    if not auto.startswith("no"):
        return Judgement(False, f"it is automatic mail (Auto-Submitted: {auto[:40]})")
    for sender in _addresses(msg.get_all("From") + msg.get_all("Sender")):
        s_local, _, s_domain = sender.rpartition("@")
        if (
            s_domain == domain
            and s_local != local
            and s_local.startswith((f"{local}-", f"{local}+"))
        ):
            return Judgement(False, f"it comes from the list's robot {sender}")
    return Judgement(True, f"its {named} names {foreign}")


def _names_list(msg: RawMessage, address: str, list_id: str) -> str:
    for value in msg.get_all("List-Id"):
        if any(m.lower() == list_id for m in _LIST_ID.findall(value[:_MAX_FIELD])):
            return "List-Id"
    for value in msg.get_all("List-Post"):
        if f"<mailto:{address}>" in value[:_MAX_FIELD].lower().replace(" ", ""):
            return "List-Post"
    if any(v.strip().lower() == address for v in msg.get_all("X-BeenThere")):
        return "X-BeenThere"
    if address in _addresses(msg.get_all("To") + msg.get_all("Cc")):
        return "To/Cc"
    return ""


def _addresses(values: list[str]) -> set[str]:
    try:
        pairs = getaddresses([v[:_MAX_FIELD] for v in values])
    except Exception:  # getaddresses has choked on adversarial input before
        return set()
    return {addr.lower() for _, addr in pairs if "@" in addr}
