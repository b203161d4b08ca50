"""What `lists ls` and `lists show` say about a list: the JSON shape (SPEC §9), and the
text, where every value is written as `lists set` takes it (`14d`, `30KB`, `true`) and a
`0` that means "no limit" says so.

Read with plain sqlite3 (db/listrows.py): showing a list loads no SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from listfed.db import listrows
from listfed.listinfo import ListInfo
from listfed.units import format_duration, format_size

# What `lists set` changes (ops/lists.py's SETTINGS, which loads more: tests check they agree)
SETTABLE = (
    "policy", "nonmember_action", "subject_prefix", "footer", "description", "archive",
    "visibility", "max_message_size", "reply_to", "reply_to_override", "one_click",
    "notify_owners", "dmarc", "bounce_threshold", "digest_size", "digest_period",
    "digest_format", "welcome_message", "goodbye_message", "emergency",
    "accept_these_nonmembers", "hold_types", "dmarc_always", "dmarc_never", "hold_expiry",
)  # fmt: skip
SIZES = ("max_message_size", "digest_size")
DURATIONS = ("hold_expiry",)
TEXTS = ("footer", "welcome_message", "goodbye_message")  # `lists set` reads \n as a newline
# What 0 means where it is no number of bytes or seconds
ZERO = {
    "max_message_size": "no limit of its own: the node's [smtp] max_message_size applies",
    "digest_size": "no size to wait for: a digest goes out with every post",
    "hold_expiry": "never: a held post waits until someone decides",
}


def describe(info: ListInfo, members: int) -> dict[str, Any]:
    """The JSON shape of a list (SPEC §9)."""
    return {
        "address": info.address,
        "policy": info.policy.value,
        "description": info.description,
        "members": members,
        "nonmember_action": info.nonmember_action.value,
        "subject_prefix": info.prefix,
        "footer": info.footer,
        "archive": info.archive,
        "visibility": info.visibility.value,
        "max_message_size": info.max_message_size,
        "reply_to": info.reply_to,
        "dmarc": info.dmarc,
        "bounce_threshold": info.bounce_threshold,
        "digest_size": info.digest_size,
        "digest_period": info.digest_period.value,
        "digest_format": info.digest_format.value,
        "welcome_message": info.welcome_message,
        "goodbye_message": info.goodbye_message,
        "emergency": info.emergency,
        "accept_these_nonmembers": list(info.accept_these_nonmembers),
        "hold_types": list(info.hold_types),
        "dmarc_always": list(info.dmarc_always),
        "dmarc_never": list(info.dmarc_never),
        "hold_expiry": info.hold_expiry,
        "reply_to_override": info.reply_to_override,
        "one_click": info.one_click,
        "notify_owners": info.notify_owners,
    }


def every_list(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [describe(info, count) for info, count in listrows.all_lists(conn)]


def one_list(conn: sqlite3.Connection, address: str) -> dict[str, Any]:
    return describe(*listrows.get(conn, address))


def as_typed(key: str, value: Any) -> str:
    """A setting's value as `lists set` takes it, with what a 0 means where it means more."""
    if key in ZERO and not value:
        return f"0 ({ZERO[key]})"
    if key in SIZES:
        return format_size(int(value))
    if key in DURATIONS:
        return format_duration(float(value))
    if key in TEXTS:
        return str(value).replace("\n", "\\n")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(value)
    return str(value)


def show_text(data: dict[str, Any]) -> str:
    """`lists show`: one `key: value` line per setting."""
    return "\n".join(f"{key}: {as_typed(key, value)}" for key, value in data.items())
