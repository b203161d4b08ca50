"""Creating, changing and deleting lists, with plain SQL (db/listrows.py): the commands
that do it answer without loading SQLAlchemy; a Session serves as well (db/plain.py)."""

from __future__ import annotations

import time
from typing import Any

from listfed import listvalues
from listfed.addresses import split_address
from listfed.db import listrows
from listfed.db.plain import Db, connection
from listfed.errors import AlreadyExists, InvalidAddress, UsageError
from listfed.listinfo import (
    DigestFormat,
    DigestPeriod,
    ListInfo,
    NonmemberAction,
    Policy,
    Visibility,
)
from listfed.units import parse_size

_RESERVED_SUFFIXES = ("-request", "-join", "-leave", "-owner", "-bounces", "-confirm")


def create(
    db: Db,
    address: str,
    domains: tuple[str, ...],
    policy: Policy = Policy.MEMBERS,
    description: str = "",
) -> ListInfo:
    """A new list at a hosted domain; its name must not be read as another list's address."""
    local, domain = split_address(address)
    local = local.lower()
    if domain not in domains:
        raise InvalidAddress(f"{domain} is not a domain this node hosts ({', '.join(domains)})")
    if "+" in local or local.endswith(_RESERVED_SUFFIXES):
        raise InvalidAddress(f"{local}: a list name may not contain '+' or end in a robot suffix")
    conn = connection(db)
    if listrows.id_of(conn, local, domain) is not None:
        raise AlreadyExists(f"list {local}@{domain} exists already")
    info = ListInfo(id=0, local=local, domain=domain, policy=policy, description=description)
    return listrows.by_id(conn, listrows.insert(conn, info, time.time()))


def parse_bool(value: str) -> bool:
    """A yes/no setting as an admin types it."""
    words = {
        "true": True,
        "yes": True,
        "on": True,
        "1": True,
        "false": False,
        "no": False,
        "off": False,
        "0": False,
    }
    if value.lower() not in words:
        raise UsageError(f"expected true or false, not {value!r}")
    return words[value.lower()]


def _choice(*allowed: str) -> Any:
    def check(value: str) -> str:
        if value not in allowed:
            raise UsageError(f"expected one of {', '.join(allowed)}, not {value!r}")
        return value

    return check


def _size(value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _positive(value: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise UsageError(f"expected a whole number of at least 1, not {value!r}")
    return int(value)


def _text_block(value: str) -> str:
    """Multi-line text as typed on one command line: a literal \\n is a line break."""
    return value.replace("\\n", "\n")


# Settable keys and how each value is read; later issues add theirs here.
SETTINGS: dict[str, Any] = {
    "policy": _choice(*[p.value for p in Policy]),
    "nonmember_action": _choice(*[a.value for a in NonmemberAction]),
    "subject_prefix": str,
    "footer": _text_block,
    "description": str,
    "archive": parse_bool,
    "visibility": _choice(*[v.value for v in Visibility]),
    "max_message_size": _size,
    "reply_to": listvalues.reply_to,
    "reply_to_override": parse_bool,
    "one_click": parse_bool,
    "notify_owners": parse_bool,
    "dmarc": _choice("munge", "wrap", "none"),
    "bounce_threshold": _positive,
    "digest_size": _size,
    "digest_period": _choice(*[p.value for p in DigestPeriod]),
    "digest_format": _choice(*[f.value for f in DigestFormat]),
    "welcome_message": _text_block,
    "goodbye_message": _text_block,
    "emergency": parse_bool,
    "accept_these_nonmembers": listvalues.patterns,
    "hold_types": listvalues.mime_types,
    "dmarc_always": listvalues.domains,
    "dmarc_never": listvalues.domains,
    "hold_expiry": listvalues.duration,
}


def set_value(db: Db, address: str, key: str, value: str) -> ListInfo:
    if key not in SETTINGS:
        raise UsageError(f"unknown list setting {key!r}; known: {', '.join(sorted(SETTINGS))}")
    conn = connection(db)
    list_id = listrows.find(conn, address).id
    listrows.update(conn, list_id, key, SETTINGS[key](value))
    return listrows.by_id(conn, list_id)


def delete(db: Db, address: str) -> None:
    """Delete a list with its members, held posts, queue and archive."""
    conn = connection(db)
    listrows.delete(conn, listrows.find(conn, address).id)
